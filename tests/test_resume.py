"""Resume that cannot corrupt a run: finished runs, changed configs, what checkpoints carry,
stale partial predictions, and the embedded model's conversion under concurrent processes."""

import json
import multiprocessing
import os
import signal
import time

import pytest
import torch

from calltune.config import load_config
from calltune.errors import CalltuneError


def cfg_for(model_dir, *overrides):
    return load_config(None, [f"model.name={model_dir}", "data.prompt_style=paper", "data.max_length=1024",
                              "train.batch_size=2",
                              "train.lr=1e-2", "train.seed=3", "eval.generate=false", *overrides])


def stop_during_step(monkeypatch, step: int, how: str = "sigint"):
    """Make optimizer step `step` end with Ctrl-C (`sigint`: the trainer saves a checkpoint
    and stops) or with a crash (`crash`: only the periodic checkpoints survive)."""
    real_step, calls = torch.optim.AdamW.step, []

    def step_then_maybe_stop(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == step:
            if how == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise RuntimeError("simulated crash")
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_maybe_stop)
    return lambda: monkeypatch.setattr(torch.optim.AdamW, "step", real_step)


def snapshot(directory: str) -> dict:
    """Every file under `directory` with its mtime and bytes."""
    found = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, directory)] = (os.stat(path).st_mtime_ns, handle.read())
    return found


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


# --- a finished run ----------------------------------------------------------------------------

def test_resuming_a_finished_run_says_so_and_touches_nothing(tiny_gpt2, tmp_path, capsys):
    from calltune.train import train

    out = str(tmp_path / "run")
    cfg = cfg_for(tiny_gpt2, "train.max_steps=2")
    train(cfg, out, progress=False)
    before = snapshot(out)
    assert "adapter/adapter_model.safetensors" in before and "run.json" in before
    capsys.readouterr()
    assert train(cfg, out, resume=True, progress=False) == {}
    captured = capsys.readouterr()
    message = captured.out + captured.err
    assert f"run {out} finished at step 2" in message and "nothing to resume" in message
    assert snapshot(out) == before


# --- a changed config --------------------------------------------------------------------------

def test_config_changes_ignore_threads_only():
    from calltune.train import config_changes

    old = {"train.lr": 0.01, "train.threads": None, "data.max_length": 1024}
    assert config_changes(old, {**old, "train.threads": 2}) == []
    assert config_changes(old, {**old, "train.lr": 0.02, "data.max_length": 512}) == [
        "data.max_length 1024 -> 512", "train.lr 0.01 -> 0.02"]


def test_resume_with_a_changed_config_is_refused_unless_forced(tiny_gpt2, tmp_path, monkeypatch):
    from calltune.train import train

    out = str(tmp_path / "run")
    restore = stop_during_step(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg_for(tiny_gpt2, "train.max_steps=4"), out, progress=False)
    restore()
    before = snapshot(out)
    changed = cfg_for(tiny_gpt2, "train.max_steps=4", "train.lr=2e-2", "data.max_length=512", "train.threads=1")
    with pytest.raises(CalltuneError) as err:
        train(changed, out, resume=True, progress=False)
    message = str(err.value)
    assert message.startswith(f"{out}: config differs from the checkpoint's: ")
    assert "train.lr 0.01 -> 0.02" in message and "data.max_length 1024 -> 512" in message
    assert "threads" not in message and "pass --force to resume anyway" in message
    assert snapshot(out) == before  # a refused resume writes nothing

    threads = torch.get_num_threads()
    try:
        summary = train(changed, out, resume=True, force=True, progress=False)
    finally:
        torch.set_num_threads(threads)  # train.threads applies to the whole process
    assert summary["steps"] == 4
    assert summary["forced_resumes"] == [{"step": 2, "changes": ["data.max_length 1024 -> 512",
                                                                  "train.lr 0.01 -> 0.02"]}]


# --- what a checkpoint carries -----------------------------------------------------------------

@pytest.mark.parametrize("how, checkpoint", [("sigint", 3), ("crash", 2)])
def test_interrupted_run_records_the_whole_run(tiny_gpt2, tmp_path, monkeypatch, how, checkpoint):
    """run.json's evals and data_seen.json after interrupt + resume equal an uninterrupted run's.
    A crash at step 3 leaves only the periodic checkpoint of step 2, whose eval must be in it."""
    from calltune.train import train

    overrides = ("train.max_steps=6", "train.save_every=2", "eval.every=2")
    full = str(tmp_path / "full")
    train(cfg_for(tiny_gpt2, *overrides), full, progress=False)

    out = str(tmp_path / "interrupted")
    restore = stop_during_step(monkeypatch, 3, how)
    with pytest.raises(KeyboardInterrupt if how == "sigint" else RuntimeError):
        train(cfg_for(tiny_gpt2, *overrides), out, progress=False)
    restore()
    step_dir = os.path.join(out, "checkpoints", f"step-{checkpoint}")
    state = read_json(os.path.join(step_dir, "state.json"))
    assert [e["step"] for e in state["evals"]] == [2] and len(state["seen_by_rank"][0]) == 2 * checkpoint
    rng = torch.load(os.path.join(step_dir, "trainer.pt"), weights_only=False)["rng"]
    assert set(rng) == ({"cpu", "cuda"} if torch.cuda.is_available() else {"cpu"})

    train(cfg_for(tiny_gpt2, *overrides), out, resume=True, progress=False)
    expected, got = read_json(os.path.join(full, "run.json")), read_json(os.path.join(out, "run.json"))
    assert [e["step"] for e in expected["evals"]] == [2, 4, 6]
    assert got["evals"] == expected["evals"]
    assert got["examples_seen_per_rank"] == expected["examples_seen_per_rank"] == [12]
    assert read_json(os.path.join(out, "data_seen.json")) == read_json(os.path.join(full, "data_seen.json"))


# --- RNG state ---------------------------------------------------------------------------------

def test_rng_state_carries_cuda_when_there_is_one(monkeypatch, capsys):
    from calltune import train as train_module

    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [torch.tensor([1, 2], dtype=torch.uint8)])
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    state = train_module.rng_state()
    assert set(state) == {"cpu", "cuda"} and state["cuda"][0].tolist() == [1, 2]
    train_module.restore_rng(state)
    assert restored and restored[0][0].tolist() == [1, 2]

    # a checkpoint written without a GPU restores the CPU stream and says the GPU's cannot be
    restored.clear()
    cpu_only = {"cpu": torch.get_rng_state()}
    expected = torch.rand(3)
    train_module.restore_rng(cpu_only)
    assert restored == [] and torch.equal(torch.rand(3), expected)
    assert "no CUDA RNG state" in capsys.readouterr().err


def test_rng_state_without_cuda_and_old_checkpoints(monkeypatch):
    from calltune import train as train_module

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    state = train_module.rng_state()
    assert set(state) == {"cpu"}
    expected = torch.rand(3)
    train_module.restore_rng(state)
    assert torch.equal(torch.rand(3), expected)
    train_module.restore_rng(state["cpu"])  # checkpoints before the dict kept the bare CPU tensor
    assert torch.equal(torch.rand(3), expected)


# --- predict's partial output ------------------------------------------------------------------

def _save_adapter(model_dir: str, directory: str, seed: int) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["c_attn"], fan_in_fan_out=True,
                                      init_lora_weights=False))  # random B: the adapter changes outputs
    model.save_pretrained(directory)


def _interrupted_predict(cfg, monkeypatch, loaded=None):
    """Run predict (on `loaded`, if given) until its first batch is written to OUT.partial, then stop it."""
    from calltune import generate
    from calltune.predict import run_predict

    real = generate.generate_all

    def first_batch_only(*args, on_batch, **kwargs):
        def stop_after(indices, generations):
            on_batch(indices, generations)
            raise KeyboardInterrupt
        return real(*args, on_batch=stop_after, **kwargs)

    monkeypatch.setattr(generate, "generate_all", first_batch_only)
    with pytest.raises(KeyboardInterrupt):
        run_predict(cfg, loaded=loaded, progress=False)
    monkeypatch.setattr(generate, "generate_all", real)
    with open(cfg.out + ".partial", encoding="utf-8") as handle:
        assert len(handle.read().splitlines()) == 2  # fingerprint + one prediction


@pytest.mark.parametrize("retrain, resumed", [(False, 1), (True, 0)])
def test_partial_predictions_follow_the_adapter_contents(tiny_gpt2, tmp_path, monkeypatch, retrain, resumed):
    from calltune.predict import PredictConfig, run_predict

    adapter = str(tmp_path / "adapter")
    _save_adapter(tiny_gpt2, adapter, seed=1)
    cfg = PredictConfig(data="seed:dev", out=str(tmp_path / "pred.jsonl"), model=tiny_gpt2, adapter=adapter,
                        max_new_tokens=4, batch_size=1, engine=False)  # batches of generate (engine: test_predict_hermes)
    _interrupted_predict(cfg, monkeypatch)
    if retrain:
        _save_adapter(tiny_gpt2, adapter, seed=2)  # retrained in place: same path, new weights
    else:
        _save_adapter(tiny_gpt2, adapter, seed=1)  # rewritten with the same contents (new mtimes)
    stats = run_predict(cfg, progress=False)
    assert stats["resumed"] == resumed and not os.path.exists(cfg.out + ".partial")


def test_partial_predictions_follow_the_quantization(tiny_gpt2, tmp_path):
    from calltune.predict import PredictConfig, _fingerprint

    adapter = str(tmp_path / "adapter")
    _save_adapter(tiny_gpt2, adapter, seed=1)
    prints = {q: _fingerprint(PredictConfig(data="seed:dev", out="p.jsonl", adapter=adapter, quantization=q),
                              tiny_gpt2, ["a prompt"]) for q in ("auto", "none", "nf4")}
    assert prints["auto"] == prints["none"]  # the adapter's run trained on full precision
    assert prints["none"] != prints["nf4"]


def test_unenforceable_schema_leaves_no_partial_output(tiny_gpt2, tmp_path, write_jsonl_lines):
    from calltune.predict import PredictConfig, run_predict

    odd = {"name": "odd_tool", "description": "", "parameters": {
        "type": "object", "properties": {"x": {"if": {"type": "string"}, "then": {"minLength": 2}}}}}
    data = write_jsonl_lines("odd.jsonl", [{"id": "o1", "instruction": "hi", "tools": [odd]}])
    out = str(tmp_path / "pred.jsonl")
    cfg = PredictConfig(data=data, out=out, model=tiny_gpt2, decoding="constrained", max_new_tokens=8)
    with pytest.raises(CalltuneError, match="odd_tool"):
        run_predict(cfg, progress=False)
    assert not os.path.exists(out) and not os.path.exists(out + ".partial")


# --- the embedded model's one-time conversion --------------------------------------------------

def _slow_fake_conversion(calls: str):
    def convert(tmp):
        with open(calls, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        (tmp / "config.json").write_text("{}")
        time.sleep(1.0)  # a reader that does not wait would find config.json without weights
        (tmp / "model.safetensors").write_bytes(b"weights")
    return convert


def _load_embedded(results):
    from calltune import models

    path = models.embedded_model_dir()
    results.put((str(path), (path / "model.safetensors").read_bytes()))


def test_concurrent_processes_convert_the_embedded_model_once(tmp_path, monkeypatch):
    from calltune import models

    calls = str(tmp_path / "calls")
    monkeypatch.setenv("CALLTUNE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(models, "convert_embedded", _slow_fake_conversion(calls))
    context = multiprocessing.get_context("fork")  # children inherit the fake conversion
    results = context.Queue()
    procs = [context.Process(target=_load_embedded, args=(results,)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    got = [results.get(timeout=5) for _ in procs]
    target = str(tmp_path / "cache" / models.EMBEDDED_CACHE_NAME)
    assert got == [(target, b"weights")] * 3
    with open(calls) as handle:
        assert len(handle.read().splitlines()) == 1
    assert sorted(os.listdir(tmp_path / "cache")) == sorted([models.EMBEDDED_CACHE_NAME,
                                                             models.EMBEDDED_CACHE_NAME + ".lock"])
