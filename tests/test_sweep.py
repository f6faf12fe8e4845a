"""`calltune margin-sweep` (`sweep.py`): BFCL accuracy at every margin above the one a run was made
at, read from the log-odds its predictions record; checked against runs actually made at that margin."""

from __future__ import annotations

import json

import pytest

from calltune.bfcl_run import run_bfcl_cell
from calltune.cli import main
from calltune.errors import CalltuneError
from calltune.examples import load_predictions
from calltune.predict import PredictConfig
from calltune.sweep import accuracy_at, load_run, sweep

HUGE = 1e6


@pytest.fixture(scope="module")
def loaded(tiny_gpt2):
    from calltune.models import load_model

    return load_model(tiny_gpt2)


def _bfcl(category, out, loaded, margin, limit=4, tokens=192) -> dict:
    """A bfcl run of the tiny model (192 tokens: its calls close, so they are judged as calls)."""
    cfg = PredictConfig(data="", out="", model="tiny", prompt_style="hermes", decoding="constrained",
                        max_new_tokens=tokens, abstain_margin=margin)
    return run_bfcl_cell(category, str(out), cfg, limit, loaded=loaded, progress=False)


def _rows(directory) -> dict:
    with open(f"{directory}/bfcl_per_example.jsonl", encoding="utf-8") as handle:
        return {row["id"]: row for row in map(json.loads, handle)}


def test_a_low_margin_run_gives_the_runs_at_higher_margins(loaded, tmp_path):
    """Every answer of a run at -HUGE calls and records its log-odds; a margin between two of them,
    and one above all, read from that run, give what runs made at those margins score, case by case
    (irrelevance, where text is right; the call categories' rule is checked on `_fake_run`s)."""
    category = "irrelevance"
    low = tmp_path / "low"
    _bfcl(category, low, loaded, -HUGE)
    preds = load_predictions(str(low / "predictions.jsonl"))
    assert all(p.calls and p.log_odds is not None for p in preds)  # weighed, and every one called
    odds = sorted(p.log_odds for p in preds)
    assert odds[2] - odds[1] > 1e-3  # a margin between them: float noise cannot flip a decision
    run = load_run(str(low))
    assert run["category"] == category and run["run_margin"] == -HUGE
    assert {r["id"]: r["log_odds"] for r in run["rows"]} == {p.id: p.log_odds for p in preds}
    for name, margin in (("mid", (odds[1] + odds[2]) / 2), ("high", odds[-1] + 1)):
        made = _bfcl(category, tmp_path / name, loaded, margin)
        derived = accuracy_at(run, margin)
        assert derived["correct"] == made["bfcl"]["correct"] and derived["n"] == made["n"] == 4
        assert derived["abstained"] == made["predict"]["abstained"] == (2 if name == "mid" else 4)
        rows = _rows(tmp_path / name)
        for row in run["rows"]:  # case by case: text where the log-odds are at most the margin
            text = row["log_odds"] <= margin
            assert rows[row["id"]]["correct"] == (category == "irrelevance" if text else row["correct"])
    assert accuracy_at(run, odds[-1] + 1)["accuracy"] == 1.0
    assert {r["id"]: r["raw"] for r in run["rows"]} == {p.id: p.raw for p in preds}  # each case's answer kept


def test_predictions_without_a_margin_record_no_log_odds(loaded, tmp_path):
    _bfcl("irrelevance", tmp_path / "plain", loaded, None, limit=2, tokens=8)
    raw = [json.loads(line) for line in (tmp_path / "plain" / "predictions.jsonl").read_text().splitlines()]
    assert raw and not any("log_odds" in r for r in raw)
    assert not any("log_odds" in r for r in _rows(tmp_path / "plain").values())
    with pytest.raises(CalltuneError, match="had no --abstain-margin"):
        load_run(str(tmp_path / "plain"))


def _fake_run(directory, category, margin, rows, model="m") -> str:
    directory.mkdir()
    (directory / "metrics.json").write_text(json.dumps({"category": category, "predict_config": {
        "abstain_margin": margin, "model": model, "adapter": None}}))
    (directory / "bfcl_per_example.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(directory)


ROWS = [{"id": "a", "correct": True, "log_odds": 3.0}, {"id": "b", "correct": False, "log_odds": 0.5},
        {"id": "c", "correct": True, "log_odds": 1.0}, {"id": "d", "correct": False}]  # d: never weighed


def test_accuracy_at_each_margin(tmp_path):
    calls = load_run(_fake_run(tmp_path / "calls", "simple_python", -1.0, ROWS))
    irrelevance = load_run(_fake_run(tmp_path / "irr", "irrelevance", 0.0,
                                     [{"id": r["id"], "correct": False, **r} | {"correct": False} for r in ROWS]))
    # calls: right stays right while it calls (a: 3 > M); c abstains from M = 1 on (1 <= 1)
    assert [accuracy_at(calls, m)["correct"] for m in (-1, 0.5, 1, 2.9, 3)] == [2, 2, 1, 1, 0]
    assert [accuracy_at(calls, m)["abstained"] for m in (-1, 0.5, 1, 2.9, 3)] == [0, 1, 2, 2, 3]
    # irrelevance: every answer sent to text is right; d (not weighed) stays as it was
    assert [accuracy_at(irrelevance, m)["correct"] for m in (0, 0.5, 1, 3)] == [0, 1, 2, 3]
    with pytest.raises(CalltuneError, match="margin -2 is below"):
        accuracy_at(calls, -2)
    report = sweep([str(tmp_path / "calls"), str(tmp_path / "irr")])
    assert report["margins"][0] == 0.0  # the default grid starts at the highest run margin
    assert [r["at"][0]["margin"] for r in report["runs"]] == [0.0, 0.0]


def test_cli_prints_and_writes_the_sweep(tmp_path, capsys):
    calls = _fake_run(tmp_path / "calls", "multiple", 0.0, ROWS)
    out = tmp_path / "sweep.json"
    assert main(["margin-sweep", calls, "--margins=0,1,3", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "multiple (calls)" in lines[0] and len(lines) == 4
    assert "50.0 (  0 text)" in lines[1] and "25.0 (  2 text)" in lines[2] and " 0.0 (  3 text)" in lines[3]
    assert [a["correct"] for a in json.loads(out.read_text())["runs"][0]["at"]] == [2, 1, 0]


def test_separation_pairs_each_call_run_with_irrelevance_of_the_same_model(tmp_path, capsys):
    odds = [{"id": str(i), "correct": True, "log_odds": x} for i, x in enumerate([4.0, 2.0, 1.0])]
    runs = [_fake_run(tmp_path / "a_simple", "simple_python", -2.0, odds + [{"id": "x", "correct": False}]),
            _fake_run(tmp_path / "a_multiple", "multiple", -2.0, odds[:1]),
            _fake_run(tmp_path / "a_irr", "irrelevance", -2.0,
                      [{"id": "i", "correct": False, "log_odds": x} for x in (1.5, -1.0)]),
            _fake_run(tmp_path / "b_simple", "simple_python", -2.0, odds, model="other")]
    report = sweep(runs, margins=(0.0,))
    seps = report["separation"]  # b_simple has no irrelevance run of its model; x was never weighed
    assert [(s["category"], s["n_call"], s["n_no_call"], s["auc"]) for s in seps] == [
        ("simple_python", 3, 2, round(5 / 6, 4)), ("multiple", 1, 2, 1.0)]
    assert all(s["model"] == "m" and s["irrelevance_dir"] == runs[2] for s in seps)
    assert main(["margin-sweep", *runs, "--margins=0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2:] == ["AUC of the call log-odds (m): simple_python (3) vs irrelevance (2): 0.833",
                          "AUC of the call log-odds (m): multiple (1) vs irrelevance (2): 1.000"]


@pytest.mark.parametrize("setup, message", [
    (lambda d: d.mkdir(), "no metrics.json"),
    (lambda d: _fake_run(d, "simple", 0.0, ROWS), "field 'category'"),
    (lambda d: _fake_run(d, "irrelevance", 0.0, [{"id": "a", "correct": True}]), "no answer records its log_odds"),
    (lambda d: _fake_run(d, "irrelevance", 0.0, [{"id": "a", "log_odds": 1.0}]), ":1: field 'correct'"),
    (lambda d: _fake_run(d, "irrelevance", 0.0, [{"id": "a", "correct": True, "log_odds": "high"}]),
     ":1: field 'log_odds'"),
])
def test_bad_runs_are_named(tmp_path, capsys, setup, message):
    setup(tmp_path / "run")
    assert main(["margin-sweep", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and "run" in err and "Traceback" not in err


def test_a_margin_below_the_run_is_refused_by_the_cli(tmp_path, capsys):
    run = _fake_run(tmp_path / "run", "irrelevance", 1.0, ROWS)
    assert main(["margin-sweep", run, "--margins=0.5"]) == 2
    assert "ran at --abstain-margin 1; margin 0.5 is below it" in capsys.readouterr().err
