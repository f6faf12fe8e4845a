"""The trainer on tiny models: LoRA semantics, loss masks, resume, QLoRA, merge, config errors."""

import json
import os
import shutil
import signal
import subprocess
import sys
import warnings

import psutil
import pytest
import torch

from calltune.batching import collate, run_plan
from calltune.config import load_config
from calltune.errors import CalltuneError
from calltune.examples import parse_example
from calltune.render import labels_from, render_example

SEED_TRAIN = "seed:train"
TINY_RUN = ["data.max_length=1024", "train.batch_size=2", "train.lr=1e-2", "train.seed=3", "eval.generate=false"]


def cfg_for(model_dir, *overrides):
    return load_config(None, [f"model.name={model_dir}", *TINY_RUN, *overrides])


def read_log(out):
    with open(os.path.join(out, "train_log.jsonl")) as handle:
        return [json.loads(line) for line in handle]


# --- loss masks --------------------------------------------------------------------------------

def test_completion_mask_covers_exactly_the_answer_and_eos(tiny_gpt2):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    ex = parse_example({"id": "k", "instruction": "Weather in Oslo?", "tools": [
        {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "target": {"name": "get_weather", "arguments": {"city": "Oslo"}}})
    item = render_example(ex, tok, "paper", "completion")
    supervised = [t for t, m in zip(item.input_ids, item.loss_mask) if m]
    assert supervised[-1] == tok.eos_token_id
    assert tok.decode(supervised[:-1]) == '{"name": "get_weather", "arguments": {"city": "Oslo"}}'
    assert item.loss_mask == [0] * item.prompt_tokens + [1] * (len(item.input_ids) - item.prompt_tokens)
    assert tok.decode(item.input_ids[: item.prompt_tokens]).endswith("INSTRUCTION: Weather in Oslo?\n")
    full = render_example(ex, tok, "paper", "full")
    assert full.input_ids == item.input_ids and all(full.loss_mask)
    assert labels_from(item)[: item.prompt_tokens] == [-100] * item.prompt_tokens


def test_collator_masks_by_position_even_when_pad_is_eos():
    eos = 7
    batch = collate([[1, 2, eos], [3, eos, 4, 5, eos]], [[0, 1, 1], [0, 0, 1, 1, 1]], pad_id=eos)
    assert batch["labels"].tolist() == [[-100, 2, eos, -100, -100], [-100, -100, 4, 5, eos]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["input_ids"][0].tolist() == [1, 2, eos, eos, eos]


def test_run_plan_is_deterministic_and_covers_each_epoch():
    lengths = [5, 9, 3, 7, 2, 8, 4]
    plan = run_plan(lengths, batch_size=2, world_size=1, seed=1, epochs=2, max_steps=None, grad_accum=1,
                    group_by_length=True)
    assert plan == run_plan(lengths, 2, 1, 1, 2, None, 1, True)
    assert len(plan) == 8  # ceil(7 / 2) batches per epoch
    assert set(i for b in plan[:4] for i in b) == set(range(7))
    assert plan != run_plan(lengths, 2, 1, 2, 2, None, 1, True)


# --- training ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture, module", [("tiny_gpt2", "c_attn"), ("tiny_llama", "q_proj")])
def test_lora_keeps_base_bit_identical_and_trains_the_adapter(fixture, module, request, tmp_path, monkeypatch):
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file

    from calltune import lora
    from calltune.train import train

    real_add_lora, seen = lora.add_lora, {}

    def add_lora_and_snapshot(model, *args, **kwargs):
        seen["base"] = {k: v.detach().clone() for k, v in model.state_dict().items()}  # before training
        seen["model"] = real_add_lora(model, *args, **kwargs)
        seen["init"] = {k: v.detach().clone() for k, v in get_peft_model_state_dict(seen["model"]).items()}
        return seen["model"]

    monkeypatch.setattr(lora, "add_lora", add_lora_and_snapshot)  # train() imports it when called
    model_dir = request.getfixturevalue(fixture)
    out = str(tmp_path / "run")
    summary = train(cfg_for(model_dir, "train.max_steps=3"), out, progress=False)
    assert summary["steps"] == 3 and os.path.exists(os.path.join(out, "adapter", "adapter_config.json"))
    on_disk = load_file(os.path.join(model_dir, "model.safetensors"))
    assert on_disk and all(torch.equal(seen["base"][k], v) for k, v in on_disk.items())  # the snapshot is the base

    # the trained model in memory, not a reload: every base tensor is bit-identical to before training
    after = {k.replace("base_layer.", ""): v for k, v in seen["model"].get_base_model().state_dict().items()
             if "lora_" not in k}
    assert after.keys() == seen["base"].keys()
    for name, before in seen["base"].items():
        assert torch.equal(after[name], before), f"training changed base weight {name}"

    # the adapter holds LoRA weights only, as trained in memory, and every one of them moved from its init
    adapter = load_file(os.path.join(out, "adapter", "adapter_model.safetensors"))
    trained = get_peft_model_state_dict(seen["model"])
    assert adapter.keys() == trained.keys() == seen["init"].keys()
    assert all(".lora_A." in k or ".lora_B." in k for k in adapter)
    assert any(module in k for k in adapter)
    assert not any("mlp" in k for k in adapter)  # `attention` leaves GPT-2's mlp.c_proj alone
    for name, tensor in adapter.items():
        assert torch.equal(tensor, trained[name]), name
        assert not torch.equal(tensor, seen["init"][name]), f"adapter weight {name} never trained"
        if "lora_B" in name:
            assert not seen["init"][name].any()  # B starts at 0, so the adapter starts as a no-op


@pytest.mark.parametrize("method", ["lora", "full"])
def test_resume_reproduces_the_uninterrupted_loss_curve(method, tiny_llama, tmp_path, monkeypatch):
    from calltune import train as train_module

    full = str(tmp_path / "full")
    train_module.train(cfg_for(tiny_llama, "train.max_steps=6", f"train.method={method}"), full, progress=False)

    out = str(tmp_path / "interrupted")
    cfg = cfg_for(tiny_llama, "train.max_steps=6", "train.save_every=2", f"train.method={method}")
    real_step, calls = torch.optim.AdamW.step, []

    def step_then_maybe_stop(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 3:  # the user presses Ctrl-C during step 3
            os.kill(os.getpid(), __import__("signal").SIGINT)
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_maybe_stop)
    with pytest.raises(KeyboardInterrupt):
        train_module.train(cfg, out, progress=False)
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    assert not os.path.exists(os.path.join(out, "adapter"))  # never a half-written adapter
    assert not os.path.exists(os.path.join(out, "model"))
    assert os.path.exists(os.path.join(out, "checkpoints", "step-3", "state.json"))
    train_module.train(cfg, out, resume=True, progress=False)
    assert [r["loss"] for r in read_log(out)] == [r["loss"] for r in read_log(full)]
    assert [r["step"] for r in read_log(out)] == list(range(1, 7))
    assert train_module.train(cfg, out, resume=True, progress=False) == {}  # finished: nothing to resume


def test_training_is_deterministic_under_a_seed(tiny_gpt2, tmp_path):
    from calltune.train import train

    losses = []
    for name in ("a", "b"):
        train(cfg_for(tiny_gpt2, "train.max_steps=2"), str(tmp_path / name), progress=False)
        losses.append([r["loss"] for r in read_log(str(tmp_path / name))])
    assert losses[0] == losses[1]


@pytest.mark.parametrize("autocast", ["none", "bfloat16"])
def test_nf4_quantizes_and_trains_a_step_on_cpu(tiny_llama, tmp_path, autocast):
    pytest.importorskip("bitsandbytes")
    from calltune.lora import load_base
    from calltune.train import train

    cfg = cfg_for(tiny_llama, "model.quantization=nf4", "train.max_steps=1", "lora.targets=attention",
                  f"train.autocast={autocast}")
    model, _, _ = load_base(cfg.model)
    assert type(model.model.layers[0].self_attn.q_proj).__name__ == "Linear4bit"
    summary = train(cfg, str(tmp_path / "qlora"), progress=False)
    assert summary["steps"] == 1 and summary["base_model_bytes"] < model.get_memory_footprint() * 2


def test_merged_model_equals_base_plus_adapter(tiny_gpt2, tmp_path):
    from calltune.merge import merge
    from calltune.models import load_model
    from calltune.train import train

    out = str(tmp_path / "run")
    train(cfg_for(tiny_gpt2, "train.max_steps=3", "train.lr=5e-2"), out, progress=False)
    merged_dir = merge(tiny_gpt2, out, str(tmp_path / "merged"))
    with_adapter, tok, _ = load_model(tiny_gpt2, out)
    merged, _, _ = load_model(merged_dir)
    base, _, _ = load_model(tiny_gpt2)
    ids = tok("TOOL_SPEC: get_weather", return_tensors="pt").input_ids
    with torch.no_grad():
        a, m, b = with_adapter(ids).logits, merged(ids).logits, base(ids).logits
    assert torch.allclose(a, m, atol=1e-5) and not torch.allclose(a, b, atol=1e-3)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_save_dtype_halves_the_adapter_file_and_loads_back_into_the_models_dtype(dtype, tiny_llama, tmp_path):
    from safetensors import safe_open

    from calltune.models import load_model
    from calltune.train import train

    runs = {}
    for name in ("float32", dtype):
        runs[name] = str(tmp_path / name)
        train(cfg_for(tiny_llama, "train.max_steps=2", "lora.targets=all-linear", f"lora.save_dtype={name}"),
              runs[name], progress=False)
    weights = {name: os.path.join(run, "adapter", "adapter_model.safetensors") for name, run in runs.items()}
    losses = {name: [r["loss"] for r in read_log(run)] for name, run in runs.items()}
    assert losses["float32"] == losses[dtype]  # training itself is unchanged
    with safe_open(weights["float32"], "pt") as full, safe_open(weights[dtype], "pt") as half:
        assert sorted(full.keys()) == sorted(half.keys())
        for key in full.keys():
            exact, cast = full.get_tensor(key), half.get_tensor(key)
            assert exact.dtype == torch.float32 and cast.dtype == getattr(torch, dtype)
            assert torch.equal(cast, exact.to(cast.dtype))
    assert os.path.getsize(weights[dtype]) < 0.6 * os.path.getsize(weights["float32"])
    full_model, tok, _ = load_model(tiny_llama, runs["float32"])
    half_model, _, _ = load_model(tiny_llama, runs[dtype])
    assert all(p.dtype == torch.float32 for p in half_model.parameters())
    ids = tok("TOOL_SPEC: get_weather", return_tensors="pt").input_ids
    with torch.no_grad():
        a, b = full_model(ids).logits, half_model(ids).logits
    assert torch.allclose(a, b, atol=1e-2) and torch.equal(a.argmax(-1), b.argmax(-1))
    with pytest.raises(CalltuneError, match="lora.save_dtype: 'int8'"):
        cfg_for(tiny_llama, "lora.save_dtype=int8")


# Runs `calltune.cli` under torchrun and saves each rank's in-memory adapter to argv[1]/rank-N.safetensors
# (rank 0 alone writes the run directory, so a rank that drifted away would go unseen there).
DDP_DRIVER = """
import os, sys
from peft import get_peft_model_state_dict
from safetensors.torch import save_file
from calltune import lora
from calltune.cli import main

models, real_add_lora = [], lora.add_lora
lora.add_lora = lambda *args, **kwargs: models.append(real_add_lora(*args, **kwargs)) or models[-1]
code = main(sys.argv[2:])
state = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(models[0]).items()}
save_file(state, os.path.join(sys.argv[1], "rank-" + os.environ["RANK"] + ".safetensors"))
sys.exit(code)
"""


def _kill_launch(proc) -> tuple[str, str]:
    """SIGKILL a launch and every process under it, then read what it printed. torch's launcher starts each rank
    in a session of its own (start_new_session), so killing the launcher's process group leaves the ranks alive,
    holding the output pipes open: reading them would wait forever."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)  # before the launcher dies and they are orphaned
    except psutil.NoSuchProcess:
        family = []
    os.killpg(proc.pid, signal.SIGKILL)
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # something still holds the pipes: give up on the output, not the test
        proc.stdout.close()
        proc.stderr.close()
        return "", "(the output was lost: a process outside the launch's tree held its pipes)"


def run_launcher(cmd, env, out, attempts=2, timeout=180):
    """Run a torch.distributed launch, killing it and its ranks past `timeout` (the run takes
    20-35 s here). A launch that hangs (seen once on CI and once here; why a rank stalls is not known) is
    retried once from scratch with what it printed kept, so that a second hang fails with both outputs."""
    hung = []
    for _ in range(attempts):
        shutil.rmtree(out, ignore_errors=True)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
            if hung:  # shown in pytest's warnings summary
                warnings.warn(f"the 2-process launch hung once and passed on its retry:\n{hung[0]}")
            return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
        except subprocess.TimeoutExpired:
            stdout, stderr = _kill_launch(proc)
            hung.append(f"--- stdout ---\n{stdout[-3000:]}\n--- stderr ---\n{stderr[-6000:]}")
    pytest.fail(f"the 2-process launch hung {attempts} times (> {timeout} s each):\n" + "\n".join(hung))


HANGING_LAUNCH = """
import subprocess, sys, time
rank = subprocess.Popen([sys.executable, "-c", "import time; print('rank up', flush=True); time.sleep(300)"],
                        start_new_session=True)  # as torch's launcher starts its ranks
print("launcher", rank.pid, flush=True)
time.sleep(300)
"""


def test_a_hanging_launch_is_killed_with_its_ranks(tmp_path):
    """A launch that hangs, whose rank runs in a session of its own holding the output pipes, fails the test in
    seconds with what it printed, and leaves no rank behind (killing the launcher's group alone waited forever)."""
    import threading

    script = tmp_path / "launch.py"
    script.write_text(HANGING_LAUNCH)
    outcome = []

    def launch():
        try:
            run_launcher([sys.executable, str(script)], dict(os.environ), tmp_path / "out", attempts=1, timeout=3)
        except pytest.fail.Exception as err:
            outcome.append(str(err))

    waiter = threading.Thread(target=launch, daemon=True)  # a harness that waits forever fails here, not hangs
    waiter.start()
    waiter.join(60)
    assert not waiter.is_alive(), "the hung launch was not ended: its rank still holds the output pipes"
    (message,) = outcome
    assert "hung 1 times" in message and "rank up" in message
    rank = int(message.split("launcher ", 1)[1].split()[0])
    assert not psutil.pid_exists(rank) or psutil.Process(rank).status() == psutil.STATUS_ZOMBIE


def test_two_process_data_parallel_run(tiny_llama, tmp_path, monkeypatch):
    """Ranks see different data yet end with one adapter: the one a single process gets from the whole
    global batches, not the one from rank 0's share alone (what a rank without gradient sync holds)."""
    from safetensors.torch import load_file

    from calltune import train as train_module

    # a Llama without LoRA dropout has no dropout at all (GPT-2 has its own): same batches, same gradients
    common = ["train.max_steps=3", "lora.dropout=0.0"]
    out, ranks, driver = tmp_path / "ddp", tmp_path / "ranks", tmp_path / "driver.py"
    ranks.mkdir()
    driver.write_text(DDP_DRIVER)
    # one node over loopback (a c10d store on a free port of 127.0.0.1, gloo on `lo`): no name lookups
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--rdzv-backend", "c10d",
           "--rdzv-endpoint", "127.0.0.1:0", "--nproc_per_node", "2", str(driver),
           str(ranks), "train", "--out", str(out), "--no-progress", f"model.name={tiny_llama}", *TINY_RUN, *common,
           "train.threads=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    proc = run_launcher(cmd, env, out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads((out / "data_seen.json").read_text())
    assert len(seen) == 2 and len(seen[0]) == len(seen[1]) == 6
    assert seen[0] != seen[1] and not set(seen[0][:2]) & set(seen[1][:2])  # different data per step
    rank0, rank1 = load_file(ranks / "rank-0.safetensors"), load_file(ranks / "rank-1.safetensors")
    saved = load_file(out / "adapter" / "adapter_model.safetensors")
    assert rank0 and rank0.keys() == rank1.keys() == saved.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), f"ranks disagree on {key}: gradients were not synced"
        assert torch.equal(rank0[key], saved[key]), key

    real_plan = train_module.run_plan

    def one_process(name, share):
        """Train in this process on the first `share` of each 2-rank global batch of the run above."""
        def plan(lengths, _batch_size, _world_size, *rest):
            return [batch[:share] for batch in real_plan(lengths, 2, 2, *rest)]

        monkeypatch.setattr(train_module, "run_plan", plan)
        train_module.train(cfg_for(tiny_llama, *common, f"train.batch_size={share}"), str(tmp_path / name),
                           progress=False)
        return (json.loads((tmp_path / name / "data_seen.json").read_text())[0],
                load_file(tmp_path / name / "adapter" / "adapter_model.safetensors"))

    both_seen, both = one_process("both-shares", 4)
    assert both_seen == [i for lo in (0, 2, 4) for i in seen[0][lo: lo + 2] + seen[1][lo: lo + 2]]
    for key in rank0:
        assert torch.allclose(rank0[key], both[key], atol=1e-5), key
    own_seen, own = one_process("rank0-share", 2)
    assert own_seen == seen[0]
    assert max((rank0[k] - own[k]).abs().max().item() for k in rank0) > 1e-3  # rank 1's data counted


# --- bad input ---------------------------------------------------------------------------------

def test_overlong_examples_are_dropped_and_reported_or_refused(tiny_gpt2, tmp_path, capsys):
    from calltune.train import render_dataset
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    lengths = sorted(len(i.input_ids) for i in render_dataset(SEED_TRAIN, tok, cfg_for(tiny_gpt2))[0])
    cut = lengths[7]  # about half the examples are longer
    items, dropped = render_dataset(SEED_TRAIN, tok, cfg_for(tiny_gpt2, f"data.max_length={cut}"))
    assert len(dropped) == sum(n > cut for n in lengths) > 0 and len(items) + len(dropped) == 14
    assert all(len(i.input_ids) <= cut for i in items)
    with pytest.raises(CalltuneError, match=f"over data.max_length {cut}"):
        render_dataset(SEED_TRAIN, tok, cfg_for(tiny_gpt2, f"data.max_length={cut}", "data.overlong=error"))
    with pytest.raises(CalltuneError, match="all 14 examples are longer"):
        render_dataset(SEED_TRAIN, tok, cfg_for(tiny_gpt2, "data.max_length=20"))


def test_argument_order_schema_trains_on_the_order_constrained_decoding_writes(tiny_gpt2, write_jsonl_lines):
    from transformers import AutoTokenizer

    from calltune.train import render_dataset

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    tool = {"name": "book", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "guest": {"type": "object", "properties": {"name": {}, "phone": {}}},
        "nights": {"type": "integer"}}, "required": ["city"]}}
    mention = {"nights": 2, "guest": {"phone": "555", "name": "Ann"}, "city": "Oslo"}
    data = write_jsonl_lines("order.jsonl", [
        {"id": "one", "instruction": "2 nights in Oslo for Ann", "tools": [tool],
         "target": {"name": "book", "arguments": mention}},
        {"id": "talk", "tools": [tool], "messages": [
            {"role": "user", "content": "book Oslo"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
                "name": "book", "arguments": {"nights": 1, "city": "Oslo"}}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "user", "content": "and Bergen"}],
         "target": [{"name": "book", "arguments": {"nights": 3, "city": "Bergen"}}]}])

    def supervised(*overrides):
        items, _ = render_dataset(data, tok, cfg_for(tiny_gpt2, *overrides))
        return [tok.decode([t for t, m in zip(i.input_ids, i.loss_mask) if m]) for i in items]

    given, schema = supervised(), supervised("data.argument_order=schema")
    assert '{"nights": 2, "guest": {"phone": "555", "name": "Ann"}, "city": "Oslo"}' in given[0]
    assert '{"city": "Oslo", "guest": {"name": "Ann", "phone": "555"}, "nights": 2}' in schema[0]
    # history calls (supervised too) and parallel targets follow the schema as well
    assert '{"nights": 1, "city": "Oslo"}' in given[1] and '{"nights": 3, "city": "Bergen"}' in given[1]
    assert '{"city": "Oslo", "nights": 1}' in schema[1] and '{"city": "Bergen", "nights": 3}' in schema[1]
    with pytest.raises(CalltuneError, match="data.argument_order: 'mention' is not given or schema"):
        cfg_for(tiny_gpt2, "data.argument_order=mention")


def test_dataset_without_labels_is_refused(tiny_gpt2, tmp_path, write_jsonl_lines):
    from calltune.cli import main

    data = write_jsonl_lines("unlabeled.jsonl", [{"id": "u", "instruction": "hi",
                                                  "tools": [{"name": "f", "parameters": {"type": "object"}}]}])
    assert main(["train", "--out", str(tmp_path / "r"), f"model.name={tiny_gpt2}", f"data.train={data}",
                 "data.dev=null"]) == 2


@pytest.mark.parametrize("text, message", [
    ("train:\n  lr: fast\n", "cfg.yaml: train.lr: expected float"),
    ("train:\n  warp: 9\n", "cfg.yaml: train: unknown key 'warp'"),
    ("lora:\n  targets: everything\n", "lora.targets: 'everything'"),
    ("model:\n  quantization: int3\n", "model.quantization: 'int3'"),
    ("data:\n  loss: some\n", "data.loss: 'some'"),
    ("train: [1, 2\n", "cfg.yaml:2: invalid YAML"),
    ("train:\n  method: half\n", "train.method: 'half' is not lora or full"),
    ("train:\n  method: full\nmodel:\n  quantization: nf4\n", "train.method full .* needs model.quantization none"),
])
def test_config_errors_name_file_and_key(tmp_path, text, message):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    with pytest.raises(CalltuneError, match=message.replace(".", r"\.").replace("[", r"\[").replace(r"\.*", ".*")):
        load_config(str(path))


def test_shipped_configs_load():
    here = os.path.join(os.path.dirname(__file__), "..", "configs")
    paper = load_config(os.path.join(here, "paper.yaml"))
    assert (paper.model.quantization, paper.data.loss, paper.lora.r, paper.lora.alpha, paper.train.batch_size,
            paper.train.lr, paper.data.max_length, paper.train.epochs, paper.train.seed) == \
        ("nf4", "full", 8, 16, 2, 5e-5, 384, 3, 11711)


def test_gradient_accumulation_matches_a_bigger_batch(tiny_llama, tmp_path):
    from safetensors.torch import load_file

    from calltune.train import train

    common = ["lora.dropout=0.0", "train.max_steps=2", "train.group_by_length=false"]
    train(cfg_for(tiny_llama, *common, "train.batch_size=2", "train.grad_accum=1"), str(tmp_path / "a"),
          progress=False)
    train(cfg_for(tiny_llama, *common, "train.batch_size=1", "train.grad_accum=2"), str(tmp_path / "b"),
          progress=False)
    a = load_file(str(tmp_path / "a" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "b" / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key
    with open(tmp_path / "a" / "adapter" / "calltune.json") as handle:
        meta = json.load(handle)
    assert meta["data"]["train_sha256"] and meta["versions"]["peft"] and meta["config"]["lora"]["r"] == 8


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_llama"])
def test_top_layers_adapts_only_the_last_blocks(fixture, request):
    from calltune.lora import add_lora, load_base

    cfg = cfg_for(request.getfixturevalue(fixture), "lora.top_layers=1")
    model = add_lora(load_base(cfg.model)[0], cfg.lora, cfg.model, seed=0)
    adapted = {n.split(".")[4] for n, _ in model.named_parameters() if "lora_A" in n}
    assert adapted == {"1"}  # blocks 0 and 1; only the last one
    with pytest.raises(CalltuneError, match="only 2 blocks"):
        add_lora(load_base(cfg.model)[0], load_config(None, ["lora.top_layers=3"]).lora, cfg.model, seed=0)


@pytest.mark.parametrize("fixture, layers", [
    ("tiny_gpt2", {"c_attn", "c_proj", "c_fc"}),  # attention's and the MLP's c_proj alike
    ("tiny_llama", {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})])
def test_all_linear_with_top_layers_adapts_every_linear_layer_of_the_last_blocks(fixture, layers, request):
    from calltune.lora import add_lora, load_base

    cfg = cfg_for(request.getfixturevalue(fixture), "lora.top_layers=1", "lora.targets=all-linear")
    model = add_lora(load_base(cfg.model)[0], cfg.lora, cfg.model, seed=0)
    names = [n.split(".") for n, _ in model.named_parameters() if "lora_A" in n]
    assert {parts[4] for parts in names} == {"1"}  # the last of 2 blocks only
    assert {parts[-4] for parts in names} == layers  # ...q_proj.lora_A.default.weight  # every linear layer in it; the LM head is not one
    assert len(names) == (4 if fixture == "tiny_gpt2" else 7)


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_llama"])
def test_full_finetune_trains_the_top_blocks_and_saves_a_model_that_loads_by_run(fixture, request, tmp_path):
    from safetensors.torch import load_file

    from calltune.models import load_model, resolve_model_path, resolve_prompt_style
    from calltune.train import train

    model_dir = request.getfixturevalue(fixture)
    out = str(tmp_path / "run")
    cfg = cfg_for(model_dir, "train.method=full", "lora.top_layers=1", "train.max_steps=3")
    assert cfg.to_dict()["train"]["method"] == "full"
    assert "method" not in cfg_for(model_dir).to_dict()["train"]  # lora runs serialize as before
    summary = train(cfg, out, progress=False)
    assert summary["steps"] == 3 and not os.path.exists(os.path.join(out, "adapter"))
    base = load_file(os.path.join(model_dir, "model.safetensors"))
    tuned = load_file(os.path.join(out, "model", "model.safetensors"))
    assert tuned.keys() == base.keys()
    block = ".h.1." if fixture == "tiny_gpt2" else ".layers.1."
    changed = {name for name in base if not torch.equal(base[name], tuned[name])}
    top = {name for name in base if block in name and name.endswith("weight")}
    assert top and top <= changed  # every weight of the last block trained
    # only the last block and the final norm: embeddings (tied to the head) and block 0 are the base's
    assert all(block in name or "norm" in name or "ln_f" in name for name in changed), changed
    assert summary["trainable_params"] == sum(base[n].numel() for n in base if block in n or n.startswith(
        ("model.norm", "transformer.ln_f")))

    # `--model RUN` is the run's model/, with the chat template and prompt style it trained with
    assert resolve_model_path(out) == os.path.join(out, "model")
    assert resolve_prompt_style("auto", None, out) == "hermes"
    model, tokenizer, path = load_model(out)
    assert path == os.path.join(out, "model") and tokenizer.chat_template
    state = model.state_dict()
    assert all(torch.equal(state[name], tensor) for name, tensor in tuned.items())
    from calltune.cli import main

    pred = str(tmp_path / "pred.jsonl")
    assert main(["predict", "--model", out, "--data", "seed:dev", "--out", pred, "--max-new-tokens", "8"]) == 0
    with open(pred) as handle:
        assert len(handle.readlines()) == 4
    exported = tmp_path / "exported"  # `export --model RUN` writes the fine-tuned weights, not the base's
    assert main(["export", "--model", out, "--format", "hf", "--out", str(exported)]) == 0
    assert load_file(str(exported / "model.safetensors")).keys() == tuned.keys()
    assert all(torch.equal(load_file(str(exported / "model.safetensors"))[n], t) for n, t in tuned.items())
    with pytest.raises(CalltuneError, match="already holds a finished run \\(model/\\)"):
        train(cfg, out, progress=False)
    with pytest.raises(CalltuneError, match="has no config.json"):
        resolve_model_path(str(tmp_path))

    # predict's resume fingerprint sees the weights of a full fine-tune, as it does an adapter's
    from calltune.models import tuned_model_digest

    digest = tuned_model_digest(path)
    assert digest and tuned_model_digest(model_dir) is None
    with open(os.path.join(path, "model.safetensors"), "ab") as handle:
        handle.write(b"\0")  # other weights, as far as the digest knows
    assert tuned_model_digest(path) not in (None, digest)


# --- attention without the padding mask ---------------------------------------------------------

@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_llama"])
def test_no_pad_mask_gives_the_same_loss_and_gradients_on_right_padded_batches(fixture, request):
    from transformers import AutoModelForCausalLM

    from calltune.train import CausalLMLoss

    model = AutoModelForCausalLM.from_pretrained(request.getfixturevalue(fixture), dtype=torch.float32,
                                                 attn_implementation="sdpa")
    g = torch.Generator().manual_seed(0)
    lengths = (5, 9, 14)
    seqs = [torch.randint(3, 40, (n,), generator=g).tolist() for n in lengths]
    masks = [[0] * (n // 2) + [1] * (n - n // 2) for n in lengths]  # the second half of each is supervised
    batch = collate(seqs, masks, pad_id=0)
    results = []
    for pad_mask in (True, False):
        model.zero_grad()
        loss, count = CausalLMLoss(model, pad_mask)(**batch)
        loss.backward()
        results.append((loss.item(), int(count), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (with_mask, n_a, grads_a), (without, n_b, grads_b) = results
    assert n_a == n_b == sum(n - n // 2 for n in lengths)  # every supervised token, none of the padding
    assert with_mask == pytest.approx(without, rel=1e-5)
    assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(grads_a, grads_b))
    # what the mask is for: the same rows left-padded need it, so this comparison can tell the two paths apart
    pads = [len(batch["input_ids"][0]) - n for n in lengths]
    left = {k: torch.stack([torch.roll(row, p) for row, p in zip(v, pads)]) for k, v in batch.items()}
    assert CausalLMLoss(model, False)(**left)[0].item() != pytest.approx(CausalLMLoss(model, True)(**left)[0].item(),
                                                                         rel=1e-5)


def test_the_pad_mask_setting_reaches_the_loss_module(tiny_llama, tmp_path, monkeypatch):
    from calltune import train as train_module

    seen = []
    original = train_module.CausalLMLoss.__init__

    def spy(self, model, pad_mask=True, autocast=None):
        seen.append(pad_mask)
        original(self, model, pad_mask, autocast)

    monkeypatch.setattr(train_module.CausalLMLoss, "__init__", spy)
    common = ["train.max_steps=2", "train.method=full", "lora.top_layers=1"]
    train_module.train(cfg_for(tiny_llama, *common, "train.pad_mask=false"), str(tmp_path / "a"), progress=False)
    train_module.train(cfg_for(tiny_llama, *common), str(tmp_path / "b"), progress=False)
    assert seen == [False, True]
    a, b = read_log(str(tmp_path / "a")), read_log(str(tmp_path / "b"))
    assert [r["loss"] for r in a] == pytest.approx([r["loss"] for r in b], rel=1e-4)


# --- mixed precision (train.autocast) ---------------------------------------------------------------

def test_bfloat16_autocast_rounds_the_loss_but_keeps_weights_and_gradients_in_fp32(tiny_llama):
    from transformers import AutoModelForCausalLM

    from calltune.train import CausalLMLoss

    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randint(3, 40, (n,), generator=g).tolist() for n in (6, 11)]
    batch = collate(seqs, [[0] * 3 + [1] * (len(s) - 3) for s in seqs], pad_id=0)
    results = []
    for dtype in (None, torch.bfloat16):
        model.zero_grad()
        loss, count = CausalLMLoss(model, False, dtype)(**batch)
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert loss.dtype == torch.float32 and {p.dtype for p in grads} == {torch.float32}
        results.append((loss.item(), torch.cat([p.flatten() for p in grads])))
    (fp32, grads_a), (bf16, grads_b) = results
    assert bf16 == pytest.approx(fp32, rel=2e-2)  # the same loss to bfloat16's ~3 digits ...
    assert bf16 != fp32  # ... but computed in it: an autocast that did nothing would give fp32's bits
    assert torch.nn.functional.cosine_similarity(grads_a, grads_b, dim=0) > 0.99
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_train_autocast_reaches_the_loss_module_and_the_run_config(tiny_llama, tmp_path, monkeypatch):
    from calltune import train as train_module

    seen = []
    original = train_module.CausalLMLoss.forward

    def spy(self, *args, **kwargs):
        seen.append(self.autocast)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(train_module.CausalLMLoss, "forward", spy)
    common = ["train.max_steps=2", "train.method=full", "lora.top_layers=1"]
    out = str(tmp_path / "bf16")
    train_module.train(cfg_for(tiny_llama, *common, "train.autocast=bfloat16"), out, progress=False)
    assert set(seen) == {torch.bfloat16}
    with open(os.path.join(out, "config.yaml")) as handle:
        assert "autocast: bfloat16" in handle.read()
    seen.clear()
    train_module.train(cfg_for(tiny_llama, *common), str(tmp_path / "fp32"), progress=False)
    assert set(seen) == {None}
    assert [r["loss"] for r in read_log(out)] == pytest.approx([r["loss"] for r in read_log(str(tmp_path / "fp32"))],
                                                                rel=2e-2)


def test_train_autocast_is_checked_and_left_out_of_configs_that_do_not_use_it(tiny_llama):
    with pytest.raises(CalltuneError, match="train.autocast: 'float16' is not none or bfloat16"):
        cfg_for(tiny_llama, "train.autocast=float16")
    with pytest.raises(CalltuneError, match="needs model.compute_dtype float32 \\(got bfloat16\\)"):
        cfg_for(tiny_llama, "train.autocast=bfloat16", "model.compute_dtype=bfloat16")
    assert "autocast" not in cfg_for(tiny_llama).to_dict()["train"]  # experiment cache keys as before it existed
    assert cfg_for(tiny_llama, "train.autocast=bfloat16").to_dict()["train"]["autocast"] == "bfloat16"
