"""`calltune compare` (`compare.py`): two runs paired case by case, on bfcl run directories (at
their own decisions or read at a margin) and on `calltune eval` metrics files; bad pairs are refused."""

from __future__ import annotations

import json

import pytest

from calltune.cli import main
from calltune.compare import compare, load_outcomes
from calltune.errors import CalltuneError
from calltune.examples import load_examples, resolve_data_path
from calltune.jsonl import file_sha256
from calltune.prompts import format_call
from calltune.score import mcnemar_exact, wilson_interval
from calltune.sweep import accuracy_at, load_run


def _run(directory, category, rows, margin=-2.0) -> str:
    directory.mkdir()
    (directory / "metrics.json").write_text(json.dumps({"category": category,
                                                         "predict_config": {"abstain_margin": margin}}))
    (directory / "bfcl_per_example.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(directory)


def _rows(correct, odds=None):
    return [{"id": f"case_{i}", "correct": c, **({} if odds is None else {"log_odds": odds[i]})}
            for i, c in enumerate(correct)]


A_RIGHT = [True, True, True, False, False, True, False, True]
B_RIGHT = [True, False, False, True, False, True, True, True]


def test_two_bfcl_runs_pair_case_by_case(tmp_path):
    # B lists its cases in another order: pairing is by id, not by line
    a = _run(tmp_path / "a", "simple_python", _rows(A_RIGHT))
    b = _run(tmp_path / "b", "simple_python", list(reversed(_rows(B_RIGHT))))
    result = compare(load_outcomes(a), load_outcomes(b))
    assert result["kind"] == "bfcl simple_python" and result["n"] == 8
    assert (result["only_a"], result["only_b"]) == (2, 2)  # cases 1, 2 / 3, 6
    assert [run["correct"] for run in result["runs"]] == [5, 5]
    assert result["p_value"] == mcnemar_exact(2, 2) == 1.0
    assert result["runs"][0]["interval"] == list(wilson_interval(5, 8))


def test_discordant_cases_drive_the_p_value(tmp_path):
    n = 40
    a = _run(tmp_path / "a", "multiple", _rows([True] * n))
    b = _run(tmp_path / "b", "multiple", _rows([i < 28 for i in range(n)]))
    result = compare(load_outcomes(a), load_outcomes(b))
    assert (result["only_a"], result["only_b"]) == (12, 0)
    assert result["p_value"] == mcnemar_exact(12, 0) < 0.001


def test_margin_reads_both_runs_as_margin_sweep_does(tmp_path):
    odds = [3.0, 0.5, -1.0, 2.0, 0.2, 1.5, -0.5, 4.0]
    for category in ("simple_python", "irrelevance"):
        a = _run(tmp_path / f"a_{category}", category, _rows(A_RIGHT, odds))
        b = _run(tmp_path / f"b_{category}", category, _rows(B_RIGHT, [o + 1 for o in odds]))
        result = compare(load_outcomes(a, 1.0), load_outcomes(b, 1.0))
        assert [run["correct"] for run in result["runs"]] == [accuracy_at(load_run(d), 1.0)["correct"]
                                                            for d in (a, b)]
        # at margin 1, A's cases 1, 2, 4, 6 are text (log-odds <= 1): right on irrelevance, wrong elsewhere
        a_at = load_outcomes(a, 1.0)["outcomes"]
        text = category == "irrelevance"
        assert [a_at[f"case_{i}"] for i in (1, 2, 4, 6)] == [text] * 4
        assert [a_at[f"case_{i}"] for i in (0, 3, 5, 7)] == [A_RIGHT[i] for i in (0, 3, 5, 7)]
    plain = compare(load_outcomes(a), load_outcomes(b))  # without --margin: the runs' own verdicts
    assert [run["correct"] for run in plain["runs"]] == [5, 5]


def _eval_file(tmp_path, name, right: set[int], data: str = "seed:dev") -> str:
    """A real `calltune eval` metrics file on `data` (seed:dev): the gold call where `right` says, junk elsewhere."""
    examples = load_examples(data)
    pred = tmp_path / f"{name}.jsonl"
    pred.write_text("".join(json.dumps({"id": ex.id, "raw": format_call(ex.target) if i in right else "no",
                                        "call": None, "error": None}) + "\n" for i, ex in enumerate(examples)))
    out = tmp_path / f"{name}.metrics.json"
    assert main(["eval", "--data", data, "--pred", str(pred), "--out", str(out)]) == 0
    return str(out)


def test_eval_metrics_files_pair_on_exact_match(tmp_path, capsys):
    a, b = _eval_file(tmp_path, "a", {0, 1, 2}), _eval_file(tmp_path, "b", {1, 3})
    capsys.readouterr()
    out = tmp_path / "cmp.json"
    assert main(["compare", a, b, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "eval: 4 paired cases" in printed and "right only for A / B: 2 / 1" in printed
    saved = json.loads(out.read_text())
    assert saved["runs"][0]["correct"] == 3 and saved["runs"][1]["correct"] == 2 and saved["margin"] is None


def test_eval_files_of_other_data_with_the_same_ids_are_refused(tmp_path):
    """Synthetic ids restart with every `data synth` run: two dev sets can share every id. eval records
    the data's sha256 and compare refuses files scored on different bytes."""
    seed_dev = resolve_data_path("seed:dev")
    lines = open(seed_dev, encoding="utf-8").read().splitlines()
    first = json.loads(lines[0])
    first["instruction"] = "What's the weather like in Lyon right now?"
    other = tmp_path / "other_dev.jsonl"
    other.write_text("\n".join([json.dumps(first)] + lines[1:]) + "\n")
    a, b = _eval_file(tmp_path, "a", {0, 1}), _eval_file(tmp_path, "b", {1}, data=str(other))
    assert json.loads(open(a).read())["data_sha256"] == file_sha256(seed_dev)
    assert set(load_outcomes(a)["outcomes"]) == set(load_outcomes(b)["outcomes"])  # the same ids
    refused = r"a.metrics.json scored data of sha256 [0-9a-f]{16}\.\.\. and .*b.metrics.json"
    with pytest.raises(CalltuneError, match=refused):
        compare(load_outcomes(a), load_outcomes(b))
    old = json.loads(open(b).read())
    del old["data_sha256"]  # a file written before eval recorded it pairs by id alone, as before
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert compare(load_outcomes(a), load_outcomes(str(tmp_path / "old.json")))["only_a"] == 1


def test_unlabelled_examples_are_left_out_of_an_eval_file(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"per_example": [{"id": "x", "exact": True}, {"id": "y", "exact": None}]}))
    assert load_outcomes(str(path))["outcomes"] == {"x": True}


@pytest.mark.parametrize("make_b, message", [
    (lambda d: _run(d / "b", "simple_python", _rows(B_RIGHT)[:6]), r"2 case\(s\) not in .*b \(case_6, case_7\)"),
    (lambda d: _run(d / "b", "multiple", _rows(B_RIGHT)), "'bfcl simple_python' and .* is 'bfcl multiple'"),
])
def test_runs_on_different_cases_are_refused(tmp_path, make_b, message):
    a = _run(tmp_path / "a", "simple_python", _rows(A_RIGHT))
    with pytest.raises(CalltuneError, match=message):
        compare(load_outcomes(a), load_outcomes(make_b(tmp_path)))


def test_bad_input_is_named(tmp_path, capsys):
    odds = [0.0] * 8
    a = _run(tmp_path / "a", "simple_python", _rows(A_RIGHT, odds), margin=0.5)
    dup = _run(tmp_path / "dup", "simple_python", _rows(A_RIGHT)[:2] + _rows(A_RIGHT)[:1])
    plain = _run(tmp_path / "plain", "simple_python", _rows(A_RIGHT), margin=None)
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00junk")
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps({"per_example": [{"id": "x", "exact": "yes"}]}))
    badsha = tmp_path / "sha.json"
    badsha.write_text(json.dumps({"per_example": [{"id": "x", "exact": True}], "data_sha256": 5}))
    cases = [
        ([str(badsha), str(badsha)], "sha.json: field 'data_sha256': not a string"),
        ([a, a, "--margin=0"], "ran at --abstain-margin 0.5; margin 0 is below it"),
        ([dup, dup], r"bfcl_per_example.jsonl:3: id 'case_0' appears twice"),
        ([plain, plain, "--margin=1"], "had no --abstain-margin"),
        ([str(metrics), str(metrics)], r"m.json: per_example\[0\]: field 'exact': not true/false"),
        ([str(metrics), a, "--margin=1"], "--margin reads `calltune bfcl` runs; this is a file"),
        ([str(tmp_path / "nope"), a], "nope: no such file or directory"),
        ([str(binary), str(binary)], "b.json: not JSON"),
        ([a, a, "--out", str(tmp_path)], "is a directory"),
    ]
    for argv, message in cases:
        assert main(["compare", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message.replace("\\", "") in err.replace("\\", ""), (argv, err)
    assert main(["compare", plain, plain]) == 0  # a run without a margin pairs at its own verdicts
