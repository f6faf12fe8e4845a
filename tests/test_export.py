"""`calltune export` on tiny models: HF directories and GGUF files that reload with the same logits,
carry calltune's chat template, and (with llama-cpp-python) decode in llama.cpp as calltune does.

Tolerances, as max |logit difference| over the logits' max |logit|: HF export vs base+adapter
1e-5 absolute (fp32 merge); GGUF f32 exact; f16 0.5%; q8_0 3% (measured on these tiny models:
0.08% and 0.8%).
"""

import json
import os

import numpy as np
import pytest
import torch

from calltune.cli import main
from calltune.config import load_config
from calltune.errors import CalltuneError
from calltune.export import ExportConfig, run_export
from calltune.export.gguf_file import permute_rotary, pre_tokenizer_name, tokenizer_fields
from calltune.models import load_model

PROBE = 'Weather in Oslo? <tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 12}}'
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather forecast for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city"]}}}]
CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Weather in Oslo for 3 days?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}}]},
    {"role": "tool", "content": '{"temp": 3}'},
    {"role": "assistant", "content": "It is 3 degrees in Oslo."},
    {"role": "user", "content": "And Bergen?"},
]


def train_run(model_dir: str, out: str, *overrides) -> str:
    """A real calltune run (2 hermes steps at a high learning rate, so the adapter is far from zero)."""
    from calltune.train import train

    cfg = load_config(None, [f"model.name={model_dir}", "data.train=seed:train", "data.dev=seed:dev",
                             "data.prompt_style=hermes", "data.max_length=1024", "train.batch_size=2",
                             "train.lr=5e-2", "train.seed=3", "train.max_steps=2", "eval.generate=false",
                             *overrides])
    train(cfg, out, progress=False)
    return out


@pytest.fixture(scope="module")
def llama_run(tiny_llama, tmp_path_factory):
    return train_run(tiny_llama, str(tmp_path_factory.mktemp("runs") / "llama"))


@pytest.fixture(scope="module")
def gpt2_run(tiny_gpt2, tmp_path_factory):
    return train_run(tiny_gpt2, str(tmp_path_factory.mktemp("runs") / "gpt2"))


@pytest.fixture(scope="module")
def llama_hf(llama_run, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("hf") / "llama")
    assert main(["export", "--adapter", llama_run, "--format", "hf", "--out", out]) == 0
    return out


def logits(model, tokenizer, text=PROBE):
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        return model(ids).logits  # (1, T, vocab)


def relative_error(a, b) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


# --- HF directories --------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_hf_export_reloads_with_plain_transformers_as_base_plus_adapter(arch, request, tmp_path):
    from transformers import AutoModelForCausalLM

    run = request.getfixturevalue(f"{arch}_run")
    base_dir = request.getfixturevalue(f"tiny_{arch}")
    out = str(tmp_path / "export")
    assert main(["export", "--adapter", run, "--format", "hf", "--out", out]) == 0  # base: the run's own
    exported = AutoModelForCausalLM.from_pretrained(out).eval()
    with_adapter, tokenizer, _ = load_model(base_dir, run)
    base, _, _ = load_model(base_dir)
    got, want = logits(exported, tokenizer), logits(with_adapter, tokenizer)
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(got, logits(base, tokenizer), atol=1e-3)  # the adapter is in there
    assert {"model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja",
            "generation_config.json", "README.md"} <= set(os.listdir(out))
    assert not [p for p in os.listdir(tmp_path) if p != "export"]  # no temporary left beside it


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_exported_tokenizer_renders_tools_exactly_as_calltune(arch, request, tmp_path):
    from transformers import AutoTokenizer

    from calltune.chat.render import render_text
    from calltune.chat.template import CHAT_TEMPLATE

    base_dir = request.getfixturevalue(f"tiny_{arch}")
    out = str(tmp_path / "export")
    # no adapter: the base model alone gets calltune's template too (GPT-2 has none of its own)
    assert main(["export", "--model", base_dir, "--format", "hf", "--out", out]) == 0
    exported = AutoTokenizer.from_pretrained(out)
    _, calltune_tokenizer, _ = load_model(base_dir)
    assert exported.chat_template == CHAT_TEMPLATE
    for add in (False, True):
        text = exported.apply_chat_template(CONVERSATION, tools=TOOLS, tokenize=False, add_generation_prompt=add)
        assert text == render_text(CONVERSATION, TOOLS, calltune_tokenizer, add_generation_prompt=add)
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}\n</tool_call>' in text
    assert "# calltune-" in open(os.path.join(out, "README.md")).read()


def test_model_card_and_generation_config_describe_the_run(llama_run, llama_hf):
    card = open(os.path.join(llama_hf, "README.md")).read()
    saved = json.load(open(os.path.join(llama_run, "adapter", "calltune.json")))
    summary = json.load(open(os.path.join(llama_run, "run.json")))
    assert saved["config"]["model"]["name"] in card  # base model
    assert saved["data"]["train_sha256"] in card and saved["data"]["dev_sha256"] in card  # data fingerprint
    assert "lr 0.05" in card and "r 8, alpha 16" in card  # recipe
    assert f"{summary['evals'][-1]['dev_loss']:.4f}" in card  # measured score
    assert "calltune serve --model DIR" in card
    assert "vllm serve DIR --enable-auto-tool-choice --tool-call-parser hermes" in card
    generation = json.load(open(os.path.join(llama_hf, "generation_config.json")))
    assert generation["do_sample"] is False and generation["eos_token_id"] == 0


def test_nf4_trained_adapter_merges_into_full_precision_weights(tiny_llama, tmp_path):
    from transformers import AutoModelForCausalLM

    run = train_run(tiny_llama, str(tmp_path / "qlora"), "model.quantization=nf4", "train.max_steps=1")
    out = str(tmp_path / "export")
    assert main(["export", "--adapter", run, "--format", "hf", "--out", out]) == 0
    exported = AutoModelForCausalLM.from_pretrained(out).eval()
    assert exported.model.layers[0].self_attn.q_proj.weight.dtype == torch.float32
    assert getattr(exported.config, "quantization_config", None) is None
    full_precision, tokenizer, _ = load_model(tiny_llama, run, quantization="none")
    assert torch.allclose(logits(exported, tokenizer), logits(full_precision, tokenizer), atol=1e-5)
    assert "base weights `nf4` during training" in open(os.path.join(out, "README.md")).read()


# --- GGUF files ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def llama_gguf(llama_run, tmp_path_factory):
    """The tiny Llama run exported in each GGUF type: {type: path}."""
    directory = tmp_path_factory.mktemp("gguf")
    paths = {}
    for gguf_type in ("f32", "f16", "q8_0"):
        paths[gguf_type] = str(directory / f"tiny-{gguf_type}.gguf")
        assert main(["export", "--adapter", llama_run, "--format", "gguf", "--type", gguf_type,
                     "--out", paths[gguf_type]]) == 0
    return paths


@pytest.mark.parametrize("gguf_type,tolerance", [("f32", 0.0), ("f16", 0.005), ("q8_0", 0.03)])
def test_gguf_reloads_through_transformers_with_the_hf_exports_logits(gguf_type, tolerance, llama_gguf, llama_hf):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = llama_gguf[gguf_type]
    from_gguf = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path)).eval()
    hf = AutoModelForCausalLM.from_pretrained(llama_hf).eval()
    tokenizer = AutoTokenizer.from_pretrained(llama_hf)
    got, want = logits(from_gguf, tokenizer), logits(hf, tokenizer)
    if gguf_type == "f32":
        assert torch.equal(got, want)
    else:
        assert 0 < relative_error(got, want) <= tolerance


def test_gguf_metadata_tensor_types_and_template(llama_gguf, llama_hf):
    from gguf import GGUFReader
    from transformers import AutoTokenizer

    from calltune.chat.template import CHAT_TEMPLATE

    tokenizer = AutoTokenizer.from_pretrained(llama_hf)
    reader = GGUFReader(llama_gguf["q8_0"])
    field = lambda key: reader.fields[key].contents()  # noqa: E731
    assert field("general.architecture") == "llama" and field("tokenizer.chat_template") == CHAT_TEMPLATE
    assert field("tokenizer.ggml.model") == "gpt2" and field("tokenizer.ggml.pre") == "gpt-2"
    assert field("tokenizer.ggml.tokens") == tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    assert field("tokenizer.ggml.eos_token_id") == tokenizer.eos_token_id
    assert (field("llama.block_count"), field("llama.attention.head_count"),
            field("llama.attention.head_count_kv"), field("llama.rope.dimension_count")) == (2, 4, 2, 16)
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert "output.weight" not in types  # tied: llama.cpp reads token_embd
    assert types["blk.0.attn_norm.weight"] == "F32" and types["output_norm.weight"] == "F32"
    assert types["blk.0.attn_q.weight"] == "Q8_0" and types["token_embd.weight"] == "Q8_0"
    assert {t.tensor_type.name for t in GGUFReader(llama_gguf["f16"]).tensors} == {"F16", "F32"}


def test_permute_rotary_turns_hf_rope_into_llama_cpp_rope():
    """Rotating q in HF's layout (dim i with i + d/2) then permuting equals permuting then rotating
    in llama.cpp's layout (dim 2i with 2i + 1): the permutation is the one llama.cpp expects."""
    n_head, head_dim, pos = 3, 8, 5
    theta = pos * 10000.0 ** (-np.arange(head_dim // 2) * 2 / head_dim)  # (d/2,)
    cos, sin = np.cos(theta), np.sin(theta)

    def hf_rope(q):  # (n_head, d)
        a, b = q[:, : head_dim // 2], q[:, head_dim // 2:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=1)

    def llama_cpp_rope(q):
        a, b = q[:, 0::2], q[:, 1::2]
        out = np.empty_like(q)
        out[:, 0::2], out[:, 1::2] = a * cos - b * sin, b * cos + a * sin
        return out

    q = np.random.default_rng(0).normal(size=(n_head * head_dim, 1))
    permute = lambda x: permute_rotary(x.reshape(-1, 1), n_head).reshape(n_head, head_dim)  # noqa: E731
    rotated_then_permuted = permute(hf_rope(q.reshape(n_head, head_dim)))
    assert np.allclose(llama_cpp_rope(permute(q)), rotated_then_permuted)


def test_pre_tokenizer_names():
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}
    assert pre_tokenizer_name(byte_level) == "gpt-2"
    assert pre_tokenizer_name({"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, byte_level]}) == "smollm"
    with pytest.raises(CalltuneError, match="pre-tokenizer"):
        pre_tokenizer_name({"type": "Metaspace", "replacement": "▁"})
    with pytest.raises(CalltuneError, match="pre-tokenizer"):
        pre_tokenizer_name(None)


def test_tokenizer_fields_pad_a_larger_vocabulary(tiny_llama):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    fields = tokenizer_fields(tokenizer, len(tokenizer) + 3)
    assert fields["tokens"][-3:] == [f"[PAD{len(tokenizer) + i}]" for i in range(3)]
    assert fields["token_types"][0] == 3 and set(fields["token_types"][1:-3]) == {1} and fields["token_types"][-1] == 5
    with pytest.raises(CalltuneError, match="vocabulary"):
        tokenizer_fields(tokenizer, len(tokenizer) - 1)


# --- errors ----------------------------------------------------------------------------------

def test_gguf_of_gpt2_is_a_clear_error_before_loading(tiny_gpt2, tmp_path, capsys):
    out = tmp_path / "gpt2.gguf"
    assert main(["export", "--model", tiny_gpt2, "--format", "gguf", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Llama-family" in err and "'gpt2'" in err and "--format hf" in err
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("args,message", [
    (["--format", "gguf", "--out", "{tmp}/model.bin"], "named *.gguf"),
    (["--format", "gguf", "--type", "bf16", "--out", "{tmp}/m.gguf"], "not a gguf type"),
    (["--format", "hf", "--type", "q8_0", "--out", "{tmp}/d"], "not a hf type"),
    (["--format", "hf", "--out", "{tmp}/file.txt"], "is a file"),
    (["--format", "hf", "--out", "{tmp}/full"], "not empty (add --force"),
    (["--format", "gguf", "--out", "{tmp}/old.gguf"], "exists (add --force"),
    (["--format", "hf", "--out", "{tmp}/missing/d"], "does not exist"),
    (["--format", "hf", "--adapter", "{tmp}", "--out", "{tmp}/d"], "no adapter_config.json"),
])
def test_bad_requests_are_one_error_line(args, message, tiny_llama, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    (tmp_path / "old.gguf").write_text("x")
    argv = ["export", "--model", tiny_llama] + [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert (tmp_path / "full" / "keep.txt").read_text() == "x" and (tmp_path / "old.gguf").read_text() == "x"


def test_force_replaces_and_a_failed_export_leaves_nothing(tiny_llama, tmp_path, monkeypatch):
    from calltune.export import gguf_file, hf

    out = tmp_path / "d"
    out.mkdir()
    (out / "old.txt").write_text("x")
    run_export(ExportConfig(out=str(out), model=tiny_llama, force=True))
    assert not (out / "old.txt").exists() and (out / "model.safetensors").is_file()

    def broken(model, tokenizer, directory, *args):
        open(os.path.join(directory, "model.safetensors"), "w").write("half")
        raise OSError("disk full")

    monkeypatch.setattr(hf, "write_hf", broken)
    with pytest.raises(OSError):
        run_export(ExportConfig(out=str(tmp_path / "new"), model=tiny_llama))
    real_tensors = gguf_file.gguf_tensors

    def broken_tensors(model, gguf_type):
        yield from list(real_tensors(model, gguf_type))[:3]
        raise OSError("disk full")

    monkeypatch.setattr(gguf_file, "gguf_tensors", broken_tensors)
    with pytest.raises(OSError):
        run_export(ExportConfig(out=str(tmp_path / "new.gguf"), format="gguf", model=tiny_llama))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


# --- llama.cpp -------------------------------------------------------------------------------

@pytest.mark.parametrize("cache,atol", [("f32", 1e-5), ("f16", 1e-3)])
def test_llama_cpp_loads_the_gguf_and_decodes_as_calltune(cache, atol, llama_gguf, llama_hf):
    """llama.cpp tokenizes calltune's rendered hermes prompts into calltune's ids, gives the HF export's
    logits at every position (f32 GGUF: to float rounding with an f32 KV cache, measured 4e-7; within
    1e-3 with llama.cpp's default f16 cache, measured 1.2e-4, logits up to 0.6) and the same greedy
    tokens; its OpenAI-style chat completion, rendering with the template in the GGUF, answers the same."""
    pytest.importorskip("llama_cpp")
    from calltune.chat.render import openai_tools
    from calltune.examples import load_examples
    from calltune.export.llamacpp import LlamaCpp
    from calltune.generate import generate_batch
    from calltune.prompts import render_prompt

    model, tokenizer, _ = load_model(llama_hf)
    llm = LlamaCpp(llama_gguf["f32"], logits=True, cache=cache)
    for ex in load_examples("seed:dev"):
        prompt = render_prompt(ex, "hermes", tokenizer)
        ids = tokenizer(prompt, add_special_tokens=False).input_ids
        assert llm.tokenize(prompt) == ids
        assert llm.render_chat(ex.conversation(), openai_tools(ex.tools)) == prompt  # the GGUF's template
        assert np.allclose(llm.logits(ids), logits(model, tokenizer, prompt)[0].numpy(), rtol=0, atol=atol)
        want = generate_batch(model, tokenizer, [prompt], 12, stop="turn")[0]
        got = llm.greedy(ids, 12)
        assert got.ids == want.ids and got.text == want.text
        assert llm.chat(ex.conversation(), openai_tools(ex.tools), 12) == want.text
