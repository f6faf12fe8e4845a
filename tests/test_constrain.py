"""Grammar-constrained decoding: accept/reject tables for the grammar, and random models
that must still produce schema-valid calls."""

from __future__ import annotations

import json

import pytest

from calltune.constrain import GrammarCache, UnsupportedSchema, call_schema
from calltune.errors import CalltuneError
from calltune.examples import Tool, parse_example
from calltune.extract import extract_call, first_json_object
from calltune.score import check_prediction

# Every schema feature the synthetic generator and the seed data use (types, enum, minimum/maximum,
# format + pattern for dates and times, arrays with minItems, nested objects, optional fields with
# defaults, additionalProperties false), one tool each.
SCHEMAS = {
    "weather": {"type": "object", "properties": {
        "location": {"type": "string", "description": "city"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
        "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["location"], "additionalProperties": False},
    "numbers": {"type": "object", "properties": {
        "amount": {"type": "number", "minimum": 0},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "count": {"type": "integer", "minimum": -3}},
        "required": ["amount", "ratio", "count"]},
    "dates": {"type": "object", "properties": {
        "date": {"type": "string", "format": "date", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
        "time": {"type": "string", "format": "time", "pattern": "^\\d{2}:\\d{2}$"},
        "flexible": {"type": "boolean"}},
        "required": ["date", "time"], "additionalProperties": False},
    "lists": {"type": "object", "properties": {
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "scores": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}},
        "filters": {"type": "object", "properties": {
            "kind": {"type": "string", "enum": ["a", "b"]}, "strict": {"type": "boolean"}},
            "required": ["kind"]}},
        "required": ["tags", "filters"]},
    "empty": {"type": "object", "properties": {}},
}
TOOLS = {name: Tool(name, "", schema) for name, schema in SCHEMAS.items()}


def _cache(directory):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(directory)
    return GrammarCache(tok, len(tok)), tok


def _accepts(cache, tok, tools, text, allow_no_call=True) -> bool:
    row = cache.row(tools, allow_no_call)
    ok = row.matcher.consume_tokens(tok(text, add_special_tokens=False)["input_ids"])
    return ok and row.matcher.is_accepting()


ACCEPT = [
    (["weather"], '{"name": "weather", "arguments": {"location": "Oslo"}}'),
    (["weather"], '{"name": "weather", "arguments": {"location": "Oslo", "unit": "fahrenheit", "days": 7}}'),
    (["weather"], '{"name": null, "arguments": {}}'),
    (["numbers"], '{"name": "numbers", "arguments": {"amount": 12.5, "ratio": 0.25, "count": -3}}'),
    (["dates"], '{"name": "dates", "arguments": {"date": "2025-08-08", "time": "09:30", "flexible": true}}'),
    (["lists"], '{"name": "lists", "arguments": {"tags": ["x", "y"], "scores": [], "filters": {"kind": "a"}}}'),
    (["empty"], '{"name": "empty", "arguments": {}}'),
    (["weather", "dates"], '{"name": "dates", "arguments": {"date": "2025-01-01", "time": "00:00"}}'),
]
REJECT = [
    (["weather"], '{"name": "weather", "arguments": {}}'),  # missing required
    (["weather"], '{"name": "forecast", "arguments": {"location": "Oslo"}}'),  # not an offered tool
    (["weather"], '{"name": "weather", "arguments": {"location": "Oslo", "unit": "kelvin"}}'),  # enum
    (["weather"], '{"name": "weather", "arguments": {"location": "Oslo", "days": 8}}'),  # maximum
    (["weather"], '{"name": "weather", "arguments": {"location": "Oslo", "days": 2.5}}'),  # integer
    (["weather"], '{"name": "weather", "arguments": {"location": "Oslo", "hours": 2}}'),  # extra property
    (["weather"], '{"name": "weather", "arguments": {"location": 5}}'),  # type
    (["numbers"], '{"name": "numbers", "arguments": {"amount": -1, "ratio": 0.5, "count": 0}}'),  # minimum
    (["numbers"], '{"name": "numbers", "arguments": {"amount": 1, "ratio": 0.5, "count": 0, "x": 1}}'),  # closed
    (["dates"], '{"name": "dates", "arguments": {"date": "8 August", "time": "09:30"}}'),  # pattern
    (["lists"], '{"name": "lists", "arguments": {"tags": [], "filters": {"kind": "a"}}}'),  # minItems
    (["lists"], '{"name": "lists", "arguments": {"tags": ["x"], "filters": {"strict": true}}}'),  # nested required
    (["lists"], '{"name": "lists", "arguments": {"tags": ["x"], "scores": [10], "filters": {"kind": "a"}}}'),
    (["weather"], '{"name":"weather","arguments":{"location":"Oslo"}}'),  # not the trained spacing
    (["weather"], '{"name": "weather", "arguments": {"location": "Oslo"}} and more'),  # text after the call
    (["weather"], 'Sure: {"name": "weather", "arguments": {"location": "Oslo"}}'),  # text before it
    # a known limit: keys in another order than the schema's cannot be generated
    (["weather"], '{"name": "weather", "arguments": {"days": 2, "location": "Oslo"}}'),
]


@pytest.mark.parametrize("names,text", ACCEPT)
def test_grammar_accepts(tiny_gpt2, names, text):
    cache, tok = _cache(tiny_gpt2)
    assert _accepts(cache, tok, [TOOLS[n] for n in names], text)


@pytest.mark.parametrize("names,text", REJECT)
def test_grammar_rejects(tiny_gpt2, names, text):
    cache, tok = _cache(tiny_gpt2)
    assert not _accepts(cache, tok, [TOOLS[n] for n in names], text)


def test_no_call_can_be_forbidden(tiny_gpt2):
    cache, tok = _cache(tiny_gpt2)
    text = '{"name": null, "arguments": {}}'
    assert _accepts(cache, tok, [TOOLS["weather"]], text, allow_no_call=True)
    assert not _accepts(cache, tok, [TOOLS["weather"]], text, allow_no_call=False)


def test_grammar_is_compiled_once_per_tool_set(tiny_gpt2):
    cache, _ = _cache(tiny_gpt2)
    first = cache.row([TOOLS["weather"]])
    again = cache.row([TOOLS["weather"]])
    cache.row([TOOLS["weather"], TOOLS["dates"]])
    assert len(cache.compiled) == 2
    assert first.matcher is not again.matcher  # a fresh matcher per sequence


def test_call_schema_closes_objects_without_touching_the_tool():
    schema = call_schema([TOOLS["numbers"]], allow_no_call=False)
    assert schema["properties"]["arguments"]["additionalProperties"] is False
    assert "additionalProperties" not in TOOLS["numbers"].parameters


def test_unsupported_keyword_names_tool_and_keyword(tiny_gpt2):
    cache, _ = _cache(tiny_gpt2)
    odd = Tool("odd_tool", "", {"type": "object", "properties": {"x": {"not": {"type": "string"}}}})
    with pytest.raises(UnsupportedSchema, match=r"odd_tool.*not"):
        cache.row([TOOLS["weather"], odd])
    fallback, _ = _cache(tiny_gpt2)
    fallback.on_unsupported = "unconstrained"
    assert fallback.row([odd]) is None and "odd_tool" in next(iter(fallback.unsupported.values()))


def _example(names, i=0):
    tools = [{"name": n, "description": "", "parameters": SCHEMAS[n]} for n in names]
    return parse_example({"id": f"ex-{i}", "instruction": "Do something useful.", "tools": tools})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_models_always_give_schema_valid_calls(tmp_path, seed):
    """A random tiny GPT-2 (garbage logits) under the constraint: every call parses and fits its schema."""
    from conftest import build_tiny_gpt2

    from calltune.generate import generate_batch
    from calltune.models import load_model
    from calltune.prompts import render_prompt

    model, tok, _ = load_model(build_tiny_gpt2(str(tmp_path / "m"), seed=seed))
    cache = GrammarCache(tok, model.get_output_embeddings().weight.shape[0])
    tool_sets = [[n] for n in SCHEMAS] + [list(SCHEMAS)]
    examples = [_example(names, i) for i, names in enumerate(tool_sets)]
    for allow in (True, False):
        rows = [cache.row(ex.tools, allow) for ex in examples]
        gens = generate_batch(model, tok, [render_prompt(ex, "paper") for ex in examples], 64, (rows, cache))
        for ex, gen in zip(examples, gens):
            check = check_prediction(ex, gen.text)
            assert check.json_valid and check.schema_ok, (gen.text, check)
            if not allow:
                assert extract_call(gen.text).call is not None
            # stops at the closing brace: nothing generated after it
            assert "}" in tok.decode(gen.ids[-1:]) and first_json_object(tok.decode(gen.ids[:-1])) is None


def test_constrained_predict_end_to_end_with_adapter_and_chat_style(tiny_llama, tmp_path):
    """`run_predict` with decoding=constrained on a tiny Llama with a LoRA adapter and the chat template."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from calltune.evaluate import evaluate
    from calltune.examples import load_examples
    from calltune.models import load_model
    from calltune.predict import PredictConfig, run_predict
    from test_prompts import CHATML

    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama),
                                LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    adapter = str(tmp_path / "adapter")
    peft_model.save_pretrained(adapter)
    model, tok, path = load_model(tiny_llama, adapter)
    tok.chat_template = CHATML
    for style in ("paper", "chat"):
        out = str(tmp_path / f"{style}.jsonl")
        cfg = PredictConfig(data="seed:dev", out=out, model=tiny_llama, adapter=adapter, prompt_style=style,
                            decoding="constrained", max_new_tokens=48)
        stats = run_predict(cfg, loaded=(model, tok, path), progress=False)
        assert stats["grammars_compiled"] == 2  # seed dev offers two distinct tools
        metrics = evaluate(load_examples("seed:dev"), out)
        assert metrics["json_validity"] == 1.0 and metrics["schema_adherence"] == 1.0, metrics


def test_predict_cli_constrained_and_unsupported_schema(tiny_gpt2, tmp_path, capsys, write_jsonl_lines):
    from calltune.cli import main

    pred = str(tmp_path / "pred.jsonl")
    assert main(["predict", "--model", tiny_gpt2, "--data", "seed:dev", "--out", pred, "--decoding",
                 "constrained", "--max-new-tokens", "48", "--no-progress"]) == 0
    rows = [json.loads(line) for line in open(pred, encoding="utf-8")]
    assert all(r["error"] is None for r in rows)

    odd = {"name": "odd_tool", "description": "", "parameters": {
        "type": "object", "properties": {"x": {"if": {"type": "string"}, "then": {"minLength": 2}}}}}
    data = write_jsonl_lines("odd.jsonl", [{"id": "o1", "instruction": "hi", "tools": [odd]}])
    out = str(tmp_path / "odd_pred.jsonl")
    args = ["predict", "--model", tiny_gpt2, "--data", data, "--out", out, "--decoding", "constrained",
            "--max-new-tokens", "8", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "odd_tool" in err and "if" in err and "Traceback" not in err
    assert main(args + ["--on-unsupported", "unconstrained"]) == 0


def test_bad_decoding_value_is_an_error():
    from calltune.predict import PredictConfig

    with pytest.raises(CalltuneError, match="unknown decoding"):
        PredictConfig(data="seed:dev", out="x", decoding="beam")


@pytest.mark.slow
def test_embedded_tokenizer_grammar_tables():
    """The same accept/reject tables with the embedded model's tokenizer (SmolLM2, 49,152 tokens)."""
    from calltune.models import load_tokenizer, resolve_model_path

    tok = load_tokenizer(resolve_model_path("embedded"))
    cache = GrammarCache(tok, len(tok))
    for names, text in ACCEPT:
        assert _accepts(cache, tok, [TOOLS[n] for n in names], text), text
    for names, text in REJECT:
        assert not _accepts(cache, tok, [TOOLS[n] for n in names], text), text
