"""`calltune eval`: score a predictions file against its examples."""

from __future__ import annotations

from calltune.examples import Example, load_examples, load_predictions
from calltune.jsonl import write_json
from calltune.score import check_all, check_to_json, summarize


def evaluate(examples: list[Example], pred_path: str) -> dict:
    """Metrics (see `score.py`) plus per-example verdicts for a predictions file."""
    preds = load_predictions(pred_path)
    checks = check_all(examples, {p.id: p.text for p in preds}, source=pred_path)
    return {**summarize(checks), "per_example": [check_to_json(c) for c in checks]}


def run_eval(data: str, pred: str, out: str | None) -> dict:
    metrics = evaluate(load_examples(data), pred)
    if out:
        write_json(out, metrics)
    return metrics


def format_metrics(metrics: dict) -> str:
    """A few human-readable lines: each metric with its interval, then error counts."""
    lines = [f"n={metrics['n']} (labeled {metrics['n_labeled']})"]
    for key in ("json_validity", "schema_adherence", "exact_match"):
        value = metrics[key]
        lo, hi = metrics["intervals"][key]
        shown = "n/a" if value is None else f"{100 * value:5.1f}%"
        lines.append(f"  {key:<17} {shown}  [95% CI {100 * lo:.1f}-{100 * hi:.1f}]")
    if metrics["errors"]:
        lines.append("  errors: " + ", ".join(f"{k}={v}" for k, v in metrics["errors"].items()))
    return "\n".join(lines)
