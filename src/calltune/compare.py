"""`calltune compare`: two runs on the same cases, case by case (a paired comparison).

    calltune compare A B [--margin M] [--out compare.json]

A and B are each a `calltune bfcl` output directory (its bfcl_per_example.jsonl: BFCL's verdict per
case) or a `calltune eval` metrics file (its per_example rows: exact match per labelled example).
Cases are paired by id, and both runs must hold the same ids (of the same BFCL category; for eval
files, scored on the same data bytes where both record `data_sha256`): two recipes are compared on
what both were asked, never on two different samples. Printed: each run's accuracy with its 95%
Wilson interval, the cases right for one run only, and the exact McNemar p-value on those
(`score.mcnemar_exact`). Paired, a difference of a few points on 200-400 cases can be told from
noise where two unpaired intervals overlap.

`--margin M` reads two bfcl runs made under `--abstain-margin` at or below M as if decoded at M (the
rule of `calltune margin-sweep`), so both can be compared at the margin chosen for them on dev data.
"""

from __future__ import annotations

import json
import os

from calltune.errors import CalltuneError
from calltune.score import discordant, mcnemar_exact, wilson_interval
from calltune.sweep import check_margin, correct_at, load_run


def _eval_outcomes(path: str) -> tuple[dict[str, bool], str | None]:
    """id -> exact match, from a `calltune eval` metrics file (unlabelled examples have none: left out),
    and the file's `data_sha256` (None in files written before eval recorded it)."""
    with open(path, encoding="utf-8") as handle:
        try:
            metrics = json.load(handle)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise CalltuneError(f"{path}: not JSON ({err})") from None
    rows = metrics.get("per_example") if isinstance(metrics, dict) else None
    if not isinstance(rows, list):
        raise CalltuneError(f"{path}: field 'per_example': missing (not a `calltune eval` metrics file)")
    outcomes = {}
    for i, row in enumerate(rows):
        where = f"{path}: per_example[{i}]"
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise CalltuneError(f"{where}: field 'id': missing or not a string")
        if row.get("exact") is None:
            continue
        if not isinstance(row["exact"], bool):
            raise CalltuneError(f"{where}: field 'exact': not true/false")
        if row["id"] in outcomes:
            raise CalltuneError(f"{where}: id {row['id']!r} appears twice")
        outcomes[row["id"]] = row["exact"]
    data_sha256 = metrics.get("data_sha256")
    if data_sha256 is not None and not isinstance(data_sha256, str):
        raise CalltuneError(f"{path}: field 'data_sha256': not a string")
    return outcomes, data_sha256


def load_outcomes(path: str, margin: float | None = None) -> dict:
    """A run's right/wrong outcome per case id: {"path", "kind", "outcomes"} (and, for an eval file,
    "data_sha256"). `kind` is "bfcl <category>" or "eval"; `margin` (bfcl runs only) reads the run as
    decoded at it."""
    if not os.path.exists(path):
        raise CalltuneError(f"{path}: no such file or directory")
    if not os.path.isdir(path):
        if margin is not None:
            raise CalltuneError(f"{path}: --margin reads `calltune bfcl` runs; this is a file (a `calltune eval` "
                                f"metrics file has no margin to move)")
        outcomes, data_sha256 = _eval_outcomes(path)
        return {"path": path, "kind": "eval", "outcomes": outcomes, "data_sha256": data_sha256}
    run = load_run(path, need_log_odds=margin is not None)
    if margin is not None:
        check_margin(run, margin)
    text_right = run["category"] == "irrelevance"
    outcomes = {}
    rows_path = os.path.join(path, "bfcl_per_example.jsonl")
    for line, row in enumerate(run["rows"], 1):
        case = row.get("id")
        if not isinstance(case, str):
            raise CalltuneError(f"{rows_path}:{line}: field 'id': missing or not a string")
        if case in outcomes:
            raise CalltuneError(f"{rows_path}:{line}: id {case!r} appears twice")
        outcomes[case] = row["correct"] if margin is None else correct_at(row, margin, text_right)
    return {"path": path, "kind": f"bfcl {run['category']}", "outcomes": outcomes}


def _missing(ids: set[str], path: str) -> str:
    shown = ", ".join(sorted(ids)[:3]) + (", ..." if len(ids) > 3 else "")
    return f"{len(ids)} case(s) not in {path} ({shown})"


def compare(a: dict, b: dict) -> dict:
    """Pair two `load_outcomes` results: accuracies, intervals, discordant counts, McNemar p."""
    if a["kind"] != b["kind"]:
        raise CalltuneError(f"{a['path']} is {a['kind']!r} and {b['path']} is {b['kind']!r}: only runs on the same "
                            f"cases pair")
    data_a, data_b = a.get("data_sha256"), b.get("data_sha256")
    if data_a and data_b and data_a != data_b:  # synthetic ids restart per `data synth` run: ids alone can agree
        raise CalltuneError(f"{a['path']} scored data of sha256 {data_a[:16]}... and {b['path']} data of sha256 "
                            f"{data_b[:16]}...: only runs on the same cases pair")
    ids_a, ids_b = set(a["outcomes"]), set(b["outcomes"])
    if ids_a != ids_b:
        parts = [_missing(ids, path) for ids, path in ((ids_a - ids_b, b["path"]), (ids_b - ids_a, a["path"])) if ids]
        raise CalltuneError(f"the runs hold different cases: {'; '.join(parts)}")
    if not ids_a:
        raise CalltuneError(f"{a['path']}: no labelled cases to compare")
    n = len(ids_a)
    only_a, only_b = discordant(a["outcomes"], b["outcomes"], ids_a)
    runs = []
    for run in (a, b):
        correct = sum(run["outcomes"].values())
        low, high = wilson_interval(correct, n)
        runs.append({"path": run["path"], "correct": correct, "accuracy": correct / n, "interval": [low, high]})
    return {"kind": a["kind"], "n": n, "runs": runs, "only_a": only_a, "only_b": only_b,
            "p_value": mcnemar_exact(only_a, only_b)}


def format_comparison(result: dict, margin: float | None = None) -> str:
    at = f" at margin {margin:g}" if margin is not None else ""
    lines = [f"{result['kind']}{at}: {result['n']} paired cases"]
    width = max(len(run["path"]) for run in result["runs"])
    for label, run in zip("AB", result["runs"]):
        low, high = run["interval"]
        lines.append(f"  {label}  {run['path']:<{width}}  {100 * run['accuracy']:5.1f}% "
                     f"[{100 * low:.1f}-{100 * high:.1f}]  ({run['correct']} right)")
    lines.append(f"  right only for A / B: {result['only_a']} / {result['only_b']}   "
                 f"exact McNemar p = {result['p_value']:.2g}")
    return "\n".join(lines)
