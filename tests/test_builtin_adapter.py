"""`--adapter builtin`: the tuned adapter shipped inside the package (`calltune/adapters/builtin/`).

The fast tests read its files; the slow ones load it on the real embedded model: its tokenizer is
exactly the one it was trained with, and predict and serve answer with it."""

from __future__ import annotations

import glob
import json
import os
import shutil
import tomllib
from pathlib import Path

import jsonschema
import pytest

from calltune.errors import CalltuneError
from calltune.export.card import provenance, recorded_base
from calltune.export.job import ExportConfig, export_name
from calltune.jsonl import file_sha256
from calltune.models import (BUILTIN_ADAPTER, adapter_digest, adapter_vocabulary, builtin_run_dir,
                             find_adapter_dir, resolve_prompt_style, resolve_quantization)

ROOT = Path(__file__).resolve().parent.parent
RUN = builtin_run_dir()
PROVENANCE = json.loads((RUN / "provenance.json").read_text())
TRAINED_FROM = ROOT / "runs" / "s5" / "cand2" / "adapter"  # the run it was copied from, where it still exists
TOKENIZER_FILES = ("tokenizer_config.json", "chat_template.jinja")


def test_builtin_resolves_to_the_shipped_run_and_its_settings():
    assert find_adapter_dir(BUILTIN_ADAPTER) == RUN / "adapter"
    assert resolve_prompt_style("auto", "builtin") == "hermes"
    assert resolve_quantization("auto", "builtin") == "none"
    info = provenance("embedded", "builtin")  # what export and merge record
    assert recorded_base("builtin") == "embedded" and info["steps"] == 150
    assert info["adapter_sha256"] == adapter_digest("builtin")
    assert export_name(ExportConfig(out="x.gguf", format="gguf", adapter="builtin")) == "calltune-builtin"


def test_the_weights_and_data_are_the_ones_its_provenance_states():
    adapter = RUN / "adapter"
    assert file_sha256(adapter / "adapter_model.safetensors") == PROVENANCE["adapter_model_sha256"]
    assert PROVENANCE["adapter_model_sha256"] in (RUN / "README.md").read_text()
    saved = json.loads((adapter / "calltune.json").read_text())["data"]
    run = json.loads((RUN / "run.json").read_text())["data"]
    # the file configs/best.yaml generates (tests/test_recipe_data.py pins it)
    assert saved["train_sha256"] == run["train_sha256"] == PROVENANCE["train_sha256"] == \
        "dbecea0af8e344ecae5e13aaee6798d8ceec67a45baa1704c40cc2f9f55be7b3"
    assert PROVENANCE["train_sha256"] in (RUN / "README.md").read_text()
    assert PROVENANCE["command"] in (RUN / "README.md").read_text()
    assert PROVENANCE["command"] == "calltune train --config configs/cand2.yaml --out RUN lora.save_dtype=float16"
    assert not (adapter / "tokenizer.json").exists()  # read from the embedded model (adapter_vocabulary)


def test_its_weights_are_the_trained_ones_cast_to_float16():
    """Stored in float16 (`lora.save_dtype`): exactly the run's fp32 weights cast, where that run is here."""
    import torch
    from safetensors import safe_open

    with safe_open(RUN / "adapter" / "adapter_model.safetensors", "pt") as shipped:
        assert {shipped.get_tensor(k).dtype for k in shipped.keys()} == {torch.float16}
        if not TRAINED_FROM.is_dir():
            pytest.skip(f"{TRAINED_FROM} is not on this machine")
        trained = TRAINED_FROM / "adapter_model.safetensors"
        assert file_sha256(trained) == PROVENANCE["adapter_model_float32_sha256"]
        with safe_open(trained, "pt") as full:
            assert sorted(full.keys()) == sorted(shipped.keys())
            for key in full.keys():
                assert torch.equal(shipped.get_tensor(key), full.get_tensor(key).to(torch.float16)), key


def test_it_ships_in_the_package_data_under_5_mb():
    package = ROOT / "src" / "calltune"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["calltune"]
    shipped = {p for pattern in patterns for p in glob.glob(pattern, root_dir=package) if (package / p).is_file()}
    files = {str(p.relative_to(package)) for p in (package / "adapters").rglob("*") if p.is_file()}
    assert "adapters/builtin/adapter/adapter_model.safetensors" in files
    assert files <= shipped
    assert sum((package / f).stat().st_size for f in files) < 5_000_000


def _run_dir(path: Path, style: str) -> Path:
    (path / "adapter").mkdir(parents=True)
    (path / "adapter" / "adapter_config.json").write_text("{}")
    (path / "config.yaml").write_text(f"data:\n  prompt_style: {style}\n")
    return path


def test_the_name_builtin_is_reserved_and_a_directory_of_that_name_is_dot_slash(tmp_path, monkeypatch):
    _run_dir(tmp_path / "builtin", "paper")
    monkeypatch.chdir(tmp_path)
    assert find_adapter_dir("builtin") == RUN / "adapter"
    assert resolve_prompt_style("auto", "builtin") == "hermes"
    assert find_adapter_dir("./builtin").resolve() == tmp_path / "builtin" / "adapter"
    assert resolve_prompt_style("auto", "./builtin") == "paper"


def test_a_base_without_the_trained_vocabulary_is_refused(tmp_path):
    saved = RUN / "adapter"
    with pytest.raises(CalltuneError, match="no tokenizer.json"):
        adapter_vocabulary(saved, str(tmp_path))
    (tmp_path / "tokenizer.json").write_text('{"model": {}}')  # another vocabulary
    with pytest.raises(CalltuneError, match="does not have"):
        adapter_vocabulary(saved, str(tmp_path))
    # an adapter that saved its whole tokenizer, or has no record of one, is read as before
    assert adapter_vocabulary(_run_dir(tmp_path / "run", "hermes") / "adapter", str(tmp_path)) is None


# --- the real embedded model ---------------------------------------------------------------------------------


def _as_trained(tmp_path: Path) -> str:
    """The tokenizer directory training saved: the shipped config and template with the vocabulary."""
    from calltune.models import resolve_model_path

    directory = tmp_path / "as-trained"
    directory.mkdir()
    for name in TOKENIZER_FILES:
        shutil.copy(RUN / "adapter" / name, directory / name)
    shutil.copy(Path(resolve_model_path("embedded")) / "tokenizer.json", directory / "tokenizer.json")
    return str(directory)


def _prompts_and_answers():
    """(example, answer message) pairs: every seed example, plus the seed tools offered all at once with a
    dialogue turn (a call and its tool result) before the request and a parallel answer."""
    from calltune.examples import load_examples, parse_example
    from calltune.prompts import answer_message

    examples = load_examples("seed:all")
    tools = list({ex.tools[0].name: ex.record["tools"][0] for ex in examples}.values())
    first, second = examples[0], examples[1]
    call = {"id": "c1", "type": "function", "function": {"name": first.calls[0]["name"],
                                                         "arguments": json.dumps(first.calls[0]["arguments"])}}
    dialogue = {"id": "composed", "tools": tools, "target": [second.calls[0], first.calls[0]], "messages": [
        {"role": "user", "content": first.instruction},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true, "note": "d\u00e9j\u00e0 vu \u2713"}'},
        {"role": "user", "content": second.instruction + " And do the first one again."}]}
    examples.append(parse_example(dialogue))
    assert len(tools) >= 2 and examples[-1].messages and len(examples[-1].calls) == 2
    return [(ex, answer_message(ex)) for ex in examples]


@pytest.mark.slow
@pytest.mark.parametrize("reference", ["rebuilt", "trained_from"])
def test_the_tokenizer_is_exactly_the_one_it_was_trained_with(reference, tmp_path):
    """Same template, same prompt text and ids on every seed example (hermes, with tools and dialogue turns),
    and the same files when saved (what merge and export write)."""
    from calltune.chat.render import render_conversation
    from calltune.models import load_model, load_tokenizer, resolve_model_path
    from calltune.prompts import render_prompt

    assert file_sha256(Path(resolve_model_path("embedded")) / "tokenizer.json") == PROVENANCE["tokenizer_json_sha256"]
    if reference == "trained_from":
        if not TRAINED_FROM.is_dir():
            pytest.skip(f"{TRAINED_FROM} is not on this machine")
        assert file_sha256(TRAINED_FROM / "tokenizer.json") == PROVENANCE["tokenizer_json_sha256"]
        expected = load_tokenizer(str(TRAINED_FROM))
    else:
        expected = load_tokenizer(_as_trained(tmp_path))
    saved = find_adapter_dir("builtin")
    mine = load_tokenizer(str(saved), vocabulary=adapter_vocabulary(saved, resolve_model_path("embedded")))
    assert mine.chat_template == expected.chat_template == (saved / "chat_template.jinja").read_text()
    assert mine.special_tokens_map == expected.special_tokens_map and len(mine) == len(expected)
    for ex, answer in _prompts_and_answers():
        text = render_prompt(ex, "hermes", mine)  # what predict and serve feed the model
        assert text == render_prompt(ex, "hermes", expected) and "<tools>" in text
        assert mine(text, add_special_tokens=False).input_ids == expected(text, add_special_tokens=False).input_ids
        trained = ex.conversation() + [answer]  # what training renders: ids and loss mask
        assert render_conversation(trained, ex.tools, mine) == render_conversation(trained, ex.tools, expected)
    for tokenizer, out in ((mine, tmp_path / "mine"), (expected, tmp_path / "expected")):
        tokenizer.save_pretrained(out)
    assert sorted(os.listdir(tmp_path / "mine")) == sorted(os.listdir(tmp_path / "expected"))
    for name in os.listdir(tmp_path / "mine"):
        assert (tmp_path / "mine" / name).read_bytes() == (tmp_path / "expected" / name).read_bytes(), name
    _, loaded, _ = load_model("embedded", "builtin")  # load_model takes the same route
    assert loaded.chat_template == mine.chat_template and loaded.padding_side == "left"


@pytest.mark.slow
def test_predict_with_the_builtin_adapter_answers_a_schema_valid_call(tmp_path, write_jsonl_lines):
    from calltune.cli import main
    from calltune.examples import load_examples, load_predictions

    seed = (ROOT / "src" / "calltune" / "seed" / "dev.jsonl").read_text().splitlines()[0]
    data = write_jsonl_lines("one.jsonl", [seed])
    out = tmp_path / "pred.jsonl"
    assert main(["predict", "--data", data, "--out", str(out), "--adapter", "builtin", "--decoding", "constrained",
                 "--tool-choice", "required", "--max-new-tokens", "64", "--no-progress"]) == 0
    (pred,) = load_predictions(str(out))
    (example,) = load_examples(data)
    schemas = {t.name: t.spec()["parameters"] for t in example.tools}
    assert pred.error is None and pred.calls, pred.raw
    for call in pred.calls:
        jsonschema.validate(call["arguments"], schemas[call["name"]])


@pytest.mark.slow
def test_serve_with_the_builtin_adapter_answers_the_openai_client():
    import openai
    from serve_helpers import SCHEMAS, TOOLS, running

    from calltune.cli import build_parser
    from calltune.serve.api import create_app
    from calltune.serve.config import from_args
    from calltune.serve.engine import Engine
    from calltune.serve.server import load_for_serving

    config = from_args(build_parser().parse_args(["serve", "--adapter", "builtin", "--log-level", "warning"]))
    assert config.adapter == "builtin"
    engine = Engine(*load_for_serving(config), config.engine)
    engine.warm_up()
    engine.start()
    try:
        with running(create_app(engine, config)) as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=600)
            message = client.chat.completions.create(
                model="calltune", messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
                tools=TOOLS, tool_choice="required", max_tokens=48).choices[0].message
            assert message.tool_calls
            for call in message.tool_calls:
                jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])
    finally:
        engine.stop()
