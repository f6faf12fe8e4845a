"""`calltune eval`: score a predictions file against its examples.

A predictions file is read in one style (`score.py`): `hermes` when its records carry a `calls`
list (what predict writes for the hermes prompt style), else `paper`; a file mixing the two is
an error. The text scored is `repaired` when present, else `raw`, in either style.
"""

from __future__ import annotations

from calltune.errors import CalltuneError
from calltune.examples import Example, data_sha256, load_examples, load_predictions
from calltune.jsonl import read_jsonl, write_json
from calltune.score import STYLES, check_all, check_to_json, summarize


def prediction_style(pred_path: str) -> str:
    """`hermes` if the file's records have a `calls` field, `paper` if none has."""
    styles = {"hermes" if "calls" in obj else "paper" for _, obj in read_jsonl(pred_path)}
    if len(styles) > 1:
        raise CalltuneError(f"{pred_path}: mixes hermes predictions (with a `calls` field) and paper ones")
    return styles.pop() if styles else "paper"


def evaluate(examples: list[Example], pred_path: str, style: str | None = None) -> dict:
    """Metrics (see `score.py`) plus per-example verdicts for a predictions file; `style` None
    reads it from the file."""
    style = style or prediction_style(pred_path)
    if style not in STYLES:
        raise CalltuneError(f"unknown prediction style '{style}' (choose from {', '.join(STYLES)})")
    preds = load_predictions(pred_path)
    checks = check_all(examples, {p.id: p.text for p in preds}, source=pred_path, style=style)
    return {**summarize(checks), "per_example": [check_to_json(c) for c in checks]}


def run_eval(data: str, pred: str, out: str | None, style: str | None = None) -> dict:
    """`calltune eval`: the metrics, with `data_sha256` (the bytes of the examples file scored against,
    so that `calltune compare` can refuse two files scored on different data whose ids coincide)."""
    metrics = {**evaluate(load_examples(data), pred, style), "data_sha256": data_sha256(data)}
    if out:
        write_json(out, metrics)
    return metrics


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:5.1f}%"


def format_metrics(metrics: dict) -> str:
    """A few human-readable lines: each metric with its interval, per-call and abstention
    figures, then error counts."""
    lines = [f"n={metrics['n']} (labeled {metrics['n_labeled']})"]
    for key in ("json_validity", "schema_adherence", "exact_match"):
        lo, hi = metrics["intervals"][key]
        lines.append(f"  {key:<17} {_share(metrics[key])}  [95% CI {100 * lo:.1f}-{100 * hi:.1f}]")
    calls = metrics.get("calls")
    if calls and calls["attempted"]:
        lines.append(f"  calls: {calls['attempted']} attempted, valid {_share(metrics['call_validity'])}, "
                     f"schema {_share(metrics['call_adherence'])}; matched {calls['matched']} "
                     f"of {calls['expected']} expected")
    abst = metrics.get("abstention")
    if abst and (abst["n_predicted"] or abst["n_expected"]):
        lines.append(f"  no-call: precision {_share(abst['precision'])}, recall {_share(abst['recall'])} "
                     f"({abst['n_correct']} right of {abst['n_predicted']} predicted, {abst['n_expected']} expected)")
    args = metrics.get("arguments")
    if args and (args["required_in_target"] or args["optional_in_target"] or args["optional_not_in_target"]):
        lines.append(f"  arguments (calls paired by name): required {args['required_given']} given, "
                     f"{args['required_right']} right of {args['required_in_target']}; optional in the target "
                     f"{args['optional_given']} given, {args['optional_right']} right of "
                     f"{args['optional_in_target']}; optional the target leaves out "
                     f"{args['optional_given_anyway']} given of {args['optional_not_in_target']}")
    if metrics["errors"]:
        lines.append("  errors: " + ", ".join(f"{k}={v}" for k, v in metrics["errors"].items()))
    return "\n".join(lines)
