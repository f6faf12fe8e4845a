"""`calltune margin-sweep`: BFCL categories at every abstention margin, from one run each.

    calltune margin-sweep DIR [DIR ...] [--margins=0,0.5,1,1.5,2] [--out sweep.json]

Each DIR is a `calltune bfcl` run made under `--abstain-margin M0`, whose answers record the call
branch's log-odds (`abstain.Branches.log_odds`, in bfcl_per_example.jsonl). At any margin M >= M0
an answer is the one the run decoded where its log-odds exceed M (the call branch decodes under the
calls-only grammar, whatever the margin) and text where they do not; BFCL judges text right on
irrelevance and wrong on the call categories ("no_call"). So one run per category, at a margin
below every one of interest, gives its accuracy at all of them, and every category can be reported
at the same margin. A margin below M0 cannot be read from the run (the answers it sent to text were
never decoded as calls) and is refused.

Given an irrelevance run and call-category runs of the same model (the --model and --adapter they
were run with), it also reports how well the call log-odds separate each call category's cases from
irrelevance's (`calibrate.separation_auc`): the frontier every margin moves along.

This reports; it does not choose. The margin a model uses is chosen on synthetic dev data
(`calltune calibrate-abstention`), never on BFCL.
"""

from __future__ import annotations

import json
import os

from calltune.bfcl import CATEGORIES as BFCL_CATEGORIES
from calltune.calibrate import separation_auc
from calltune.errors import CalltuneError

DEFAULT_SWEEP = (-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


def load_run(directory: str, need_log_odds: bool = True) -> dict:
    """A bfcl run directory's category, margin and per-example rows (`correct`, `log_odds`). With
    `need_log_odds` false a run made without --abstain-margin loads too (its run_margin is None)."""
    metrics_path = os.path.join(directory, "metrics.json")
    rows_path = os.path.join(directory, "bfcl_per_example.jsonl")
    for path in (metrics_path, rows_path):
        if not os.path.exists(path):
            raise CalltuneError(f"{directory}: no {os.path.basename(path)} (not a `calltune bfcl` output directory)")
    with open(metrics_path, encoding="utf-8") as handle:
        try:
            metrics = json.load(handle)
        except json.JSONDecodeError as err:
            raise CalltuneError(f"{metrics_path}: not JSON ({err})") from None
    if not isinstance(metrics, dict) or metrics.get("category") not in BFCL_CATEGORIES:
        raise CalltuneError(f"{metrics_path}: field 'category': missing or not a BFCL category")
    margin = (metrics.get("predict_config") or {}).get("abstain_margin")
    if margin is None and need_log_odds:
        raise CalltuneError(f"{directory}: the run had no --abstain-margin, so its answers were not weighed; rerun "
                            f"`calltune bfcl` with --abstain-margin at or below the lowest margin to sweep")
    rows = []
    with open(rows_path, encoding="utf-8") as handle:
        for line, text in enumerate(handle, 1):
            try:
                row = json.loads(text)
            except json.JSONDecodeError as err:
                raise CalltuneError(f"{rows_path}:{line}: not JSON ({err})") from None
            if not isinstance(row, dict) or not isinstance(row.get("correct"), bool):
                raise CalltuneError(f"{rows_path}:{line}: field 'correct': missing or not true/false")
            odds = row.get("log_odds")
            if odds is not None and (isinstance(odds, bool) or not isinstance(odds, (int, float))):
                raise CalltuneError(f"{rows_path}:{line}: field 'log_odds': not a number")
            rows.append(row)
    if need_log_odds and not any("log_odds" in row for row in rows):
        raise CalltuneError(f"{rows_path}: no answer records its log_odds (a run made before calltune recorded "
                            f"them, or one whose answers were never weighed); rerun `calltune bfcl` with "
                            f"--abstain-margin")
    config = metrics.get("predict_config") or {}
    return {"dir": directory, "category": metrics["category"],
            "run_margin": None if margin is None else float(margin), "rows": rows,
            "model": (config.get("model"), config.get("adapter"))}


def correct_at(row: dict, margin: float, text_right: bool) -> bool:
    """One answer's verdict at `margin`: text (right only where no call is wanted, `text_right`) where
    its log-odds are at most the margin, else the verdict of the call it decoded."""
    odds = row.get("log_odds")
    return text_right if odds is not None and odds <= margin else row["correct"]


def check_margin(run: dict, margin: float) -> None:
    """Refuse a margin below the run's own: the answers it sent to text were never decoded as calls."""
    if margin < run["run_margin"]:
        raise CalltuneError(f"{run['dir']}: ran at --abstain-margin {run['run_margin']:g}; margin {margin:g} is below "
                            f"it, and the answers it sent to text were never decoded as calls")


def accuracy_at(run: dict, margin: float) -> dict:
    """The run's BFCL accuracy had it decoded at `margin` (>= its own)."""
    check_margin(run, margin)
    text_right = run["category"] == "irrelevance"
    correct = abstained = 0
    for row in run["rows"]:
        odds = row.get("log_odds")
        abstained += odds is not None and odds <= margin
        correct += correct_at(row, margin, text_right)
    n = len(run["rows"])
    return {"margin": margin, "n": n, "correct": correct, "accuracy": correct / n if n else 0.0,
            "abstained": abstained}


def sweep(dirs: list[str], margins: tuple[float, ...] | None = None) -> dict:
    """Every run at every margin. Default margins: `DEFAULT_SWEEP` from the highest run margin up."""
    runs = [load_run(d) for d in dirs]
    floor = max(run["run_margin"] for run in runs)
    if margins is None:
        margins = tuple(sorted({floor, *(m for m in DEFAULT_SWEEP if m >= floor)}))
    return {"margins": list(margins),
            "runs": [{"dir": run["dir"], "category": run["category"], "run_margin": run["run_margin"],
                      "at": [accuracy_at(run, m) for m in margins]} for run in runs],
            "separation": separation(runs)}


def separation(runs: list[dict]) -> list[dict]:
    """For each call-category run and each irrelevance run of the same model: the AUC of the call
    log-odds, the category's cases against irrelevance's (answers without log-odds left out)."""
    out = []
    for irr in (run for run in runs if run["category"] == "irrelevance"):
        no_call = [row["log_odds"] for row in irr["rows"] if row.get("log_odds") is not None]
        for run in runs:
            if run["category"] == "irrelevance" or run["model"] != irr["model"]:
                continue
            call = [row["log_odds"] for row in run["rows"] if row.get("log_odds") is not None]
            auc = separation_auc(call, no_call)
            model, adapter = run["model"]
            out.append({"model": model if adapter is None else f"{model} + {adapter}",
                        "call_dir": run["dir"], "category": run["category"], "irrelevance_dir": irr["dir"],
                        "n_call": len(call), "n_no_call": len(no_call),
                        "auc": None if auc is None else round(auc, 4)})
    return out


def format_sweep(report: dict) -> str:
    """One line per margin: each run's accuracy (%) and, in brackets, how many answers were text."""
    runs = report["runs"]
    names = [f"{run['category']} ({os.path.basename(os.path.normpath(run['dir']))})" for run in runs]
    width = max(16, *(len(name) for name in names))
    lines = [f"{'margin':>8}  " + "  ".join(f"{name:>{width}}" for name in names)]
    for i, margin in enumerate(report["margins"]):
        cells = [f"{100 * run['at'][i]['accuracy']:5.1f} ({run['at'][i]['abstained']:>3} text)" for run in runs]
        lines.append(f"{margin:>8g}  " + "  ".join(f"{cell:>{width}}" for cell in cells))
    for sep in report.get("separation", []):
        auc = "-" if sep["auc"] is None else f"{sep['auc']:.3f}"
        lines.append(f"AUC of the call log-odds ({sep['model']}): {sep['category']} ({sep['n_call']}) vs "
                     f"irrelevance ({sep['n_no_call']}): {auc}")
    return "\n".join(lines)
