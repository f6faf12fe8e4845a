"""The optional-argument margin of constrained decoding (`constrain.argument_step`,
`ToolCallConstraint`, `calltune predict --optional-margin`, `calltune serve --optional-margin`):
where a call may give another argument or end its arguments, log p(more) + M > log p(close) decides."""

from __future__ import annotations

import json

import pytest

from calltune.cli import main
from calltune.closing import NO_NESTING, nesting_after
from calltune.constrain import RowConstraint, ToolCallConstraint, argument_step
from calltune.errors import CalltuneError
from calltune.examples import load_predictions
from calltune.predict import PredictConfig, _fingerprint, run_predict
from calltune.serve.config import EngineConfig

REQUIRED = ["city"]
FORECAST = {"type": "function", "function": {
    "name": "get_forecast", "description": "Forecast for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "enum": ["Oslo", "Rome"]},
        "unit": {"type": "string", "enum": ["c", "f"]},
        "detailed": {"type": "boolean"},
        "alerts": {"type": "boolean"},
        "days": {"type": "integer", "enum": [1, 3]}},
        "required": REQUIRED}}}
LAST = "days"  # the schema's last property
ROWS = [{"id": f"r{i}", "instruction": text, "tools": [FORECAST], "tool_choice": "required",
         "target": {"name": "get_forecast", "arguments": {"city": "Oslo"}}}
        for i, text in enumerate(["Forecast for Oslo?", "Rome, three days, in f please.", "Weather alerts Oslo",
                                  "Detailed forecast for Rome tomorrow."])]
HUGE = 1e6


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("optional") / "forecast.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return str(path)


def _predict(data, out, tiny_loaded, margin, style="hermes", engine=None) -> dict:
    cfg = PredictConfig(data=data, out=str(out), model="tiny", prompt_style=style, decoding="constrained",
                        no_call="forbid", max_new_tokens=160, optional_margin=margin, engine=engine)
    run_predict(cfg, loaded=tiny_loaded, progress=False)
    return {p.id: p for p in load_predictions(str(out))}


@pytest.fixture(scope="module")
def runs(data, tiny_loaded, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("runs")
    return {name: _predict(data, out / f"{name}.jsonl", tiny_loaded, margin)
            for name, margin in (("base", None), ("zero", 0.0), ("more", HUGE), ("close", -HUGE))}


def _keys(preds: dict) -> list[set]:
    return [set(call["arguments"]) for p in preds.values() for call in p.calls]


# ---- what a token does to the arguments object ------------------------------------------------

def _at_arguments(text: str) -> tuple[int, bool, bool]:
    state = nesting_after(text, NO_NESTING)
    assert state[0] >= 2  # in the arguments object, or in one of its values
    return state


@pytest.mark.parametrize("prefix, token, kind", [
    ('{"name": "f", "arguments": {"a": 1', ",", "more"),
    ('{"name": "f", "arguments": {"a": 1', ', "', "more"),
    ('{"name": "f", "arguments": {"a": 1', "}", "close"),
    ('{"name": "f", "arguments": {"a": 1', "}}", "close"),
    ('{"name": "f", "arguments": {"a": "x', '",', "more"),  # a string ends, then the comma
    ('{"name": "f", "arguments": {"a": "x', '"}', "close"),
    ('{"name": "f", "arguments": {"a": "x', ",", None),  # a comma inside a string is text
    ('{"name": "f", "arguments": {"a": "x', "}", None),
    ('{"name": "f", "arguments": {"a": [1', ",", None),  # a comma between list items
    ('{"name": "f", "arguments": {"a": [1', "],", "more"),
    ('{"name": "f", "arguments": {"a": [1', "]}", "close"),
    ('{"name": "f", "arguments": {"a": {"b": 1', "},", "more"),  # a nested object ends, another argument
    ('{"name": "f", "arguments": {"a": 1', "0", None),
])
def test_argument_step(prefix, token, kind):
    assert argument_step(token, _at_arguments(prefix)) == kind


def test_only_a_level_opened_after_the_tag_is_a_call():
    chat = RowConstraint(None, 0, chat=True)
    for text in ["Use {braces}: {", "{"]:
        ToolCallConstraint._advance(chat, text)
    assert chat.nesting[0] == 2 and not chat.in_call  # a text answer's braces
    call = RowConstraint(None, 0, chat=True)
    for text in ["<tool_", "call>\n", '{"name": "f", "arguments": {']:
        ToolCallConstraint._advance(call, text)
    assert call.nesting[0] == 2 and call.in_call
    paper = RowConstraint(None, 0, chat=False)
    ToolCallConstraint._advance(paper, '{"name": "f", "arguments": {')
    assert paper.in_call


# ---- decoding -----------------------------------------------------------------------------------

def test_huge_margins_end_the_arguments_as_late_or_as_early_as_the_grammar_allows(runs):
    assert all(keys == set(REQUIRED) for keys in _keys(runs["close"]))
    # keys come in the schema's order and a comma may skip some, so the arguments can end only after
    # the last one: every call gives it
    more = _keys(runs["more"])
    assert len(more) >= len(ROWS) and all(LAST in keys for keys in more)
    assert sum(map(len, more)) / len(more) > sum(map(len, _keys(runs["base"]))) / len(_keys(runs["base"]))
    assert all(p.error is None for p in runs["more"].values())


def test_no_margin_is_greedy_and_zero_changes_only_ties(runs):
    base, zero = runs["base"], runs["zero"]
    assert [p.raw for p in base.values()] == [p.raw for p in zero.values()]
    assert any(k == set(REQUIRED) for k in _keys(base)) and any(k != set(REQUIRED) for k in _keys(base))


def test_engine_and_batches_of_generate_agree_and_paper_obeys(data, tiny_loaded, runs, tmp_path):
    assert [p.raw for p in _predict(data, tmp_path / "gen.jsonl", tiny_loaded, HUGE, engine=False).values()] == \
        [p.raw for p in runs["more"].values()]
    paper_more = _predict(data, tmp_path / "paper.jsonl", tiny_loaded, HUGE, style="paper")
    paper_close = _predict(data, tmp_path / "paper2.jsonl", tiny_loaded, -HUGE, style="paper")
    assert all(p.call is not None and LAST in p.call["arguments"] for p in paper_more.values())
    assert all(p.call is not None and set(p.call["arguments"]) == set(REQUIRED) for p in paper_close.values())


def test_margin_is_part_of_the_fingerprint(data):
    cfgs = [PredictConfig(data=data, out="x", prompt_style="hermes", decoding="constrained", optional_margin=m)
            for m in (None, 1.0, 2.0)]
    assert len({_fingerprint(cfg, "m", ["p"]) for cfg in cfgs}) == 3  # a resumed run never mixes margins
    assert PredictConfig(data=data, out="x", prompt_style="hermes", decoding="constrained",
                         optional_margin=1).optional_margin == 1.0


def test_option_errors(data, tmp_path, tiny_gpt2, capsys):
    for kwargs, message in [({"optional_margin": float("nan")}, "--optional-margin must be a finite number"),
                            ({"optional_margin": True}, "--optional-margin must be a finite number"),
                            ({"optional_margin": 1.0, "decoding": "greedy"}, "--decoding constrained")]:
        with pytest.raises(CalltuneError, match=message):
            PredictConfig(**{"data": data, "out": "x", "prompt_style": "hermes", "decoding": "constrained",
                             **kwargs})
    with pytest.raises(CalltuneError, match="--optional-margin"):
        EngineConfig(decoding="greedy", optional_margin=1.0)
    base = ["predict", "--data", data, "--out", str(tmp_path / "p.jsonl"), "--model", tiny_gpt2,
            "--prompt-style", "hermes", "--decoding", "constrained", "--no-progress"]
    assert main(base + ["--optional-margin", "inf"]) == 2
    assert capsys.readouterr().err.startswith("error: --optional-margin must be a finite number")
    assert main(base[:-2] + ["greedy", "--no-progress", "--optional-margin", "1"]) == 2
    assert "--optional-margin" in capsys.readouterr().err
    assert not (tmp_path / "p.jsonl").exists()


def test_serve_engine_carries_the_margin(tiny_loaded):
    from calltune.serve.engine import Engine

    model, tokenizer = tiny_loaded[0], tiny_loaded[1]
    engine = Engine(model, tokenizer, EngineConfig(decoding="constrained", optional_margin=-2))
    assert engine.grammars.optional_margin == -2.0 and engine.stats()["optional_margin"] == -2.0
    prepared = engine.prepare([{"role": "user", "content": "Forecast?"}],
                              [_tool()], "required", True)
    assert prepared.constraint.optional_margin == -2.0


def _tool():
    from calltune.examples import Tool

    return Tool("get_forecast", "", FORECAST["function"]["parameters"])
