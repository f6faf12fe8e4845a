"""`calltune bfcl`: export a BFCL category to calltune examples, predict, and score it
twice: with calltune's three metrics and with BFCL's own AST checker (`bfcl.py`).

Writes OUT/examples.jsonl, OUT/predictions.jsonl, OUT/metrics.json and
OUT/bfcl_per_example.jsonl (each case's BFCL outcome and the model's answer, `raw`, so that a kept file
can be scored again; under `--abstain-margin`, each answer's call-branch log-odds too: `calltune
margin-sweep` reads them). BFCL is evaluation data only.

The calls BFCL judges are read from the predictions as `calltune eval` reads them
(`predicted_calls`): a hermes file (records with a `calls` field) gives every `<tool_call>` block
of the scored text; a paper file gives its one extracted call, wrapped in a list for the parallel
categories (a paper answer holds one call, so it cannot be right on them).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from calltune import bfcl
from calltune.chat.parse import parse_answer
from calltune.errors import CalltuneError
from calltune.evaluate import evaluate, prediction_style
from calltune.examples import load_examples, load_predictions
from calltune.extract import extract_call
from calltune.jsonl import write_json, write_jsonl
from calltune.models import find_adapter_dir
from calltune.predict import PredictConfig, run_predict


def predicted_calls(category: str, pred_path: str) -> dict[str, dict | list[dict] | None]:
    """id -> what the model answered, for `bfcl.score`: the list of calls of a hermes answer, else the
    extracted call or None (as a list of at most one call in the parallel categories)."""
    preds = load_predictions(pred_path)
    if prediction_style(pred_path) == "hermes":
        return {p.id: parse_answer(p.text).calls for p in preds}
    calls = {p.id: extract_call(p.text).call for p in preds}
    if category in bfcl.PARALLEL_CATEGORIES:
        return {pid: bfcl.as_calls(call) for pid, call in calls.items()}
    return calls


def score_predictions(category: str, examples_path: str, pred_path: str) -> dict:
    """calltune metrics and BFCL AST accuracy for a predictions file."""
    examples = load_examples(examples_path)
    calltune_metrics = evaluate(examples, pred_path)
    bfcl_report = bfcl.score(examples, predicted_calls(category, pred_path), category)
    return {"calltune": calltune_metrics, "bfcl": bfcl_report}


def training_overlap(adapter: str | None) -> dict | None:
    """How many tools of the adapter's training data overlap BFCL (`calltune.overlap`), from its run's
    run.json: a BFCL figure is reported with it. None for no adapter or a run that did not record it."""
    if adapter is None:
        return None
    try:
        found = find_adapter_dir(adapter)  # `builtin` and run directories alike
    except CalltuneError:
        return None
    for run_dir in (found, found.parent):
        path = os.path.join(run_dir, "run.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                overlap = json.load(handle).get("data", {}).get("benchmark_overlap")
            if overlap:
                return {k: overlap[k] for k in ("against", "tools", "total", "examples_targeting", "n_train")}
    return None


def run_bfcl_cell(category: str, out_dir: str, predict: PredictConfig | None, limit: int | None,
                  pred_path: str | None = None, loaded=None, progress: bool = True) -> dict:
    """Export, predict (unless `pred_path` is given) and score one BFCL category into `out_dir`."""
    os.makedirs(out_dir, exist_ok=True)
    examples_path = os.path.join(out_dir, "examples.jsonl")
    write_jsonl(examples_path, bfcl.load_category(category, limit))
    stats = None
    if pred_path is None:
        predict.data, predict.out = examples_path, os.path.join(out_dir, "predictions.jsonl")
        stats = run_predict(predict, loaded=loaded, progress=progress)
        pred_path = predict.out
    scores = score_predictions(category, examples_path, pred_path)
    report = scores["bfcl"]
    preds = {p.id: p for p in load_predictions(pred_path)}
    rows = []
    for row in report.pop("per_example"):
        pred = preds[row["id"]]
        rows.append(row | ({"log_odds": pred.log_odds} if pred.log_odds is not None else {}) | {"raw": pred.raw})
    write_jsonl(os.path.join(out_dir, "bfcl_per_example.jsonl"), rows)
    result = {"category": category, "n": report["n"], "accuracy": report["accuracy"],
              "training_overlap": training_overlap(predict.adapter if predict else None),
              "bfcl": report, "calltune": scores["calltune"], "predict": stats,
              "predict_config": asdict(predict) if predict else None, "predictions": pred_path,
              "limit": limit}
    write_json(os.path.join(out_dir, "metrics.json"), result)
    return result


def run_bfcl(args) -> dict:
    predict = None
    if args.pred is None:
        predict = PredictConfig.from_args(args, data="", out="")
    return run_bfcl_cell(args.category, args.out, predict, args.limit, pred_path=args.pred,
                         progress=not args.no_progress)
