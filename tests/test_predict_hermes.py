"""`calltune predict --prompt-style hermes`: conversations in, text or `<tool_call>` blocks out,
read back by the chat parser and scored with the hermes metrics (tiny random models)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from calltune.cli import main
from calltune.errors import CalltuneError
from calltune.evaluate import run_eval
from calltune.examples import load_examples, load_predictions
from calltune.predict import PredictConfig, run_predict

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}},
                          "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "description": "Local time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Oslo", "Rome"]}},
                       "required": ["city"]}}}
ROWS = [
    {"id": "single", "instruction": "Weather in Oslo?", "tools": [WEATHER], "target": {"name": "get_weather",
                                                                                       "arguments": {"city": "Oslo"}}},
    {"id": "parallel", "instruction": "Weather and time in Rome?", "tools": [WEATHER, TIME],
     "target": [{"name": "get_weather", "arguments": {"city": "Rome"}}, {"name": "get_time", "arguments": {"city": "Rome"}}]},
    {"id": "dialogue", "messages": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"sky\": \"sunny\"}"}],
     "tools": [WEATHER], "target": None, "target_content": "It is sunny in Oslo."},
    {"id": "chat", "instruction": "Tell me a joke.", "tools": [TIME], "target": None, "tool_choice": "none"},
]
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, TIME)}


@pytest.fixture
def data(write_jsonl_lines):
    return write_jsonl_lines("hermes.jsonl", ROWS)


@pytest.mark.parametrize("model", ["tiny_gpt2", "tiny_llama"])
def test_constrained_hermes_answers_parse_and_obey_their_schemas(model, data, tmp_path, request):
    out = str(tmp_path / "pred.jsonl")
    stats = run_predict(PredictConfig(data=data, out=out, model=request.getfixturevalue(model),
                                      prompt_style="hermes", decoding="constrained", max_new_tokens=48),
                        progress=False)
    assert stats["n"] == len(ROWS)
    preds = {p.id: p for p in load_predictions(out)}
    for pred in preds.values():
        assert pred.calls is not None and pred.error is None, pred.raw  # every answer is well formed
        for call in pred.calls:
            jsonschema.validate(call["arguments"], SCHEMAS[call["name"]])
    assert preds["chat"].calls == [] and preds["chat"].raw  # tool_choice none: a text answer
    offered = {ex.id: {t.name for t in ex.tools} for ex in load_examples(data)}
    assert all(c["name"] in offered[p.id] for p in preds.values() for c in p.calls)
    metrics = run_eval(data, out, None)
    assert metrics["style"] == "hermes" and metrics["json_validity"] == 1.0 and metrics["schema_adherence"] == 1.0


def test_tool_choice_option_forces_calls_for_every_example(data, tmp_path, tiny_gpt2):
    out = str(tmp_path / "pred.jsonl")
    rows = [r for r in ROWS if r["id"] != "chat"]  # its own tool_choice none would conflict with required
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_predict(PredictConfig(data=str(path), out=out, model=tiny_gpt2, prompt_style="hermes",
                              decoding="constrained", tool_choice="required", parallel_tool_calls=False,
                              max_new_tokens=48), progress=False)
    for pred in load_predictions(out):
        assert len(pred.calls) == 1, pred.raw


def test_greedy_hermes_writes_calls_and_content(data, tmp_path, tiny_gpt2):
    out = str(tmp_path / "pred.jsonl")
    run_predict(PredictConfig(data=data, out=out, model=tiny_gpt2, prompt_style="hermes", max_new_tokens=12),
                progress=False)
    records = [json.loads(line) for line in open(out, encoding="utf-8")]
    assert [r["id"] for r in records] == [r["id"] for r in ROWS]
    assert all("calls" in r and "content" in r and "<|im_end|>" not in r["raw"] for r in records)


def test_hermes_option_errors(data):
    with pytest.raises(CalltuneError, match="repair"):
        PredictConfig(data=data, out="x", prompt_style="hermes", decoding="repair")
    with pytest.raises(CalltuneError, match="--tool-choice"):
        PredictConfig(data=data, out="x", prompt_style="paper", tool_choice="none")


def test_cli_tool_choice_naming_no_offered_tool_is_an_error(data, tmp_path, tiny_gpt2, capsys):
    code = main(["predict", "--data", data, "--out", str(tmp_path / "p.jsonl"), "--model", tiny_gpt2,
                 "--prompt-style", "hermes", "--decoding", "constrained", "--tool-choice", "book_flight"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "book_flight" in err
    assert not (tmp_path / "p.jsonl").exists() and not (tmp_path / "p.jsonl.partial").exists()


@pytest.mark.parametrize("model", ["tiny_gpt2", "tiny_llama"])
@pytest.mark.parametrize("decoding, margin", [("constrained", None), ("constrained", 0.5), ("greedy", None)])
def test_engine_decodes_the_same_answers_in_fewer_forward_passes(model, decoding, margin, tmp_path, request,
                                                                  write_jsonl_lines):
    """`--engine`: the serving engine (continuous batching of 2 rows, speculative steps) writes the very
    predictions of batches of `model.generate`, and the rows joining mid-batch see no difference."""
    rows = ROWS + [dict(r, id=r["id"] + "-2") for r in ROWS if r["id"] != "chat"]
    data = write_jsonl_lines("more.jsonl", rows)
    files, stats = {}, {}
    for engine in (False, True):
        files[engine] = str(tmp_path / f"pred-{engine}.jsonl")
        stats[engine] = run_predict(PredictConfig(
            data=data, out=files[engine], model=request.getfixturevalue(model), prompt_style="hermes",
            decoding=decoding, abstain_margin=margin, max_new_tokens=32, batch_size=2, engine=engine),
            progress=False)
    plain, engined = ([json.loads(line) for line in open(files[e], encoding="utf-8")] for e in (False, True))
    # the same records; a margin's log-odds are float32 sums over differently padded batches, equal up
    # to rounding (a last-digit difference appeared with a fresh install in session 22)
    odds = [(a.pop("log_odds", None), b.pop("log_odds", None)) for a, b in zip(plain, engined)]
    assert plain == engined
    assert all(a == b or (a is not None and b is not None and abs(a - b) < 1e-4) for a, b in odds), odds
    assert stats[True]["accepted_draft_tokens"] > 0 and stats[True]["new_tokens"] == stats[False]["new_tokens"]
    assert stats[True].get("abstain_decided") == stats[False].get("abstain_decided")
    assert stats[True]["at_budget"] == stats[False]["at_budget"]  # the budget ended the same answers
    assert stats[True]["steps"] < stats[True]["new_tokens"] + len(rows)  # one token per step would need more


@pytest.mark.parametrize("engine", [False, True])
def test_answers_the_budget_ended_are_counted_and_warned_about(data, tmp_path, tiny_gpt2, capsys, engine):
    """A random tiny model never ends its answer: with a short budget every call answer is ended by
    the budget (cut, or made to close its call), and predict says how many, on stderr and in its
    stats, without a new field in the predictions file."""
    stats = run_predict(PredictConfig(data=data, out=str(tmp_path / "p.jsonl"), model=tiny_gpt2,
                                      prompt_style="hermes", decoding="constrained", max_new_tokens=24,
                                      engine=engine), progress=False)
    err = capsys.readouterr().err
    assert stats["at_budget"] >= 3 and f"{stats['at_budget']} of {len(ROWS)} answer(s) were ended by " \
        "--max-new-tokens 24" in err
    partial_free = json.loads(open(tmp_path / "p.jsonl", encoding="utf-8").readline())
    assert "at_budget" not in partial_free  # the predictions file keeps its format


def test_engine_resumes_from_its_partial_file_and_needs_hermes(data, tmp_path, tiny_gpt2, monkeypatch):
    import calltune.predict as predict

    out = str(tmp_path / "pred.jsonl")
    cfg = PredictConfig(data=data, out=out, model=tiny_gpt2, prompt_style="hermes", decoding="constrained",
                        max_new_tokens=24, engine=True, batch_size=2)
    real, calls = predict.decode_with_engine, []

    def interrupted(*args, **kwargs):
        on_batch = args[5]
        calls.append(len(args[4]))

        def stop_after_two(indices, generations, seen=[]):
            on_batch(indices, generations)
            seen.append(indices)
            if len(seen) == 2 and len(calls) == 1:
                raise KeyboardInterrupt
        return real(*args[:5], stop_after_two, *args[6:], **kwargs)

    monkeypatch.setattr(predict, "decode_with_engine", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_predict(cfg, progress=False)
    stats = run_predict(cfg, progress=False)
    assert calls == [0, 2] and stats["resumed"] == 2 and stats["n_generated"] == len(ROWS) - 2
    monkeypatch.setattr(predict, "decode_with_engine", real)
    whole = str(tmp_path / "whole.jsonl")
    uninterrupted = run_predict(PredictConfig(data=data, out=whole, model=tiny_gpt2, prompt_style="hermes",
                                              decoding="constrained", max_new_tokens=24, engine=True, batch_size=2),
                                progress=False)
    assert stats["at_budget"] == uninterrupted["at_budget"] > 0  # the resumed count keeps the first part's
    assert open(out, encoding="utf-8").read() == open(whole, encoding="utf-8").read()
    with pytest.raises(CalltuneError, match="--engine"):
        PredictConfig(data=data, out="x", prompt_style="paper", engine=True)
    assert PredictConfig(data=data, out="x", prompt_style="paper").engine is False


def test_hermes_decodes_through_the_engine_by_default_where_the_model_allows(data, tmp_path, tiny_gpt2, monkeypatch):
    import calltune.predict as predict

    out = str(tmp_path / "pred.jsonl")
    stats = run_predict(PredictConfig(data=data, out=out, model=tiny_gpt2, prompt_style="hermes", max_new_tokens=8),
                        progress=False)
    assert "draft_tokens" in stats  # the engine's counts
    monkeypatch.setattr(predict, "engine_fits", lambda model: False)  # e.g. sliding-window attention
    stats = run_predict(PredictConfig(data=data, out=out, model=tiny_gpt2, prompt_style="hermes", max_new_tokens=8),
                        progress=False)
    assert "draft_tokens" not in stats and stats["n_generated"] == len(ROWS)
    monkeypatch.setattr(predict, "engine_fits", lambda model: True)
    monkeypatch.setattr(predict, "decode_with_engine", lambda *args, **kwargs: pytest.fail("--no-engine used it"))
    code = main(["predict", "--data", data, "--out", out, "--model", tiny_gpt2, "--prompt-style", "hermes",
                 "--max-new-tokens", "8", "--no-engine", "--no-progress"])
    assert code == 0
