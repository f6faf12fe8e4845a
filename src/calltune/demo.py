"""`calltune demo`: the main job. The prompt-only baseline of the embedded model
(or `--model`) on the seed dev set and on BFCL simple_python, for each prompt style.

Writes a self-describing run directory:

    OUT/config.json, OUT/versions.json
    OUT/<style>/seed_dev/{predictions.jsonl, metrics.json}
    OUT/<style>/bfcl_simple_python/{examples.jsonl, predictions.jsonl, metrics.json, bfcl_per_example.jsonl}
    OUT/results.json, OUT/results.md   (the table it prints)

Finished cells are reused when rerun with the same settings; an interrupted cell
resumes from its partial predictions.
"""

from __future__ import annotations

import json
import os

from calltune.bfcl_run import run_bfcl_cell
from calltune.evaluate import evaluate
from calltune.examples import load_examples
from calltune.jsonl import atomic_write_text, write_json
from calltune.predict import PredictConfig, run_predict
from calltune.runinfo import versions

SEED_DEV = "seed:dev"


def _cached(path: str, cell: dict) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        metrics = json.load(handle)
    return metrics if metrics.get("cell") == cell else None


def seed_cell(out_dir: str, predict: PredictConfig, loaded, progress: bool) -> dict:
    cell = {"kind": "seed_dev", "predict": {**predict.__dict__, "data": SEED_DEV, "out": None}}
    metrics_path = os.path.join(out_dir, "metrics.json")
    cached = _cached(metrics_path, cell)
    if cached:
        return cached
    predict.data, predict.out = SEED_DEV, os.path.join(out_dir, "predictions.jsonl")
    stats = run_predict(predict, loaded=loaded, progress=progress)
    metrics = {"cell": cell, "calltune": evaluate(load_examples(SEED_DEV), predict.out), "predict": stats}
    write_json(metrics_path, metrics)
    return metrics


def bfcl_cell(out_dir: str, predict: PredictConfig, limit: int | None, loaded, progress: bool) -> dict:
    cell = {"kind": "bfcl_simple_python", "limit": limit, "predict": {**predict.__dict__, "data": None, "out": None}}
    metrics_path = os.path.join(out_dir, "metrics.json")
    cached = _cached(metrics_path, cell)
    if cached:
        return cached
    result = run_bfcl_cell("simple_python", out_dir, predict, limit, loaded=loaded, progress=progress)
    result["cell"] = cell
    write_json(metrics_path, result)
    return result


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _ci(metrics: dict, key: str) -> str:
    lo, hi = metrics["intervals"][key]
    return f"{_pct(metrics[key])} [{_pct(lo)}-{_pct(hi)}]"


def results_table(rows: list[dict]) -> str:
    """Markdown table: one row per (prompt style, dataset)."""
    head = ("| prompt style | data | n | JSON validity % | schema adherence % | exact match % | "
            "BFCL AST acc. % | examples/s |\n|---|---|---|---|---|---|---|---|\n")
    body = ""
    for row in rows:
        m = row["calltune"]
        bfcl = _pct(row["bfcl_accuracy"]) if row["bfcl_accuracy"] is not None else "-"
        eps = row["examples_per_s"]
        body += (f"| {row['style']} | {row['data']} | {m['n']} | {_ci(m, 'json_validity')} | "
                 f"{_ci(m, 'schema_adherence')} | {_ci(m, 'exact_match')} | {bfcl} | "
                 f"{'-' if eps is None else f'{eps:.2f}'} |\n")
    return head + body + "\nBrackets: 95% Wilson intervals. Greedy decoding, prompt-only (no adapter).\n"


def run_demo(args) -> list[dict]:
    from calltune.models import load_model

    styles = [s for s in args.prompt_styles.split(",") if s]
    config = {"model": args.model, "prompt_styles": styles, "bfcl_limit": args.bfcl_limit,
              "batch_size": args.batch_size, "max_new_tokens": 64, "decoding": "greedy"}
    for style in styles:
        PredictConfig(data="", out="", prompt_style=style)  # validates the style before loading anything
    os.makedirs(args.out, exist_ok=True)
    write_json(os.path.join(args.out, "config.json"), config)
    write_json(os.path.join(args.out, "versions.json"), versions())
    loaded = load_model(args.model)
    progress = not args.no_progress
    rows = []
    for style in styles:
        def predict_config() -> PredictConfig:
            return PredictConfig(data="", out="", model=args.model, prompt_style=style,
                                 batch_size=args.batch_size)
        seed = seed_cell(os.path.join(args.out, style, "seed_dev"), predict_config(), loaded, progress)
        rows.append({"style": style, "data": "seed dev", "calltune": seed["calltune"], "bfcl_accuracy": None,
                     "examples_per_s": seed["predict"]["examples_per_s"] if seed.get("predict") else None})
        bf = bfcl_cell(os.path.join(args.out, style, "bfcl_simple_python"), predict_config(),
                       args.bfcl_limit, loaded, progress)
        rows.append({"style": style, "data": "BFCL simple_python", "calltune": bf["calltune"],
                     "bfcl_accuracy": bf["accuracy"],
                     "examples_per_s": bf["predict"]["examples_per_s"] if bf.get("predict") else None})
    table = results_table(rows)
    summary_keys = ("n", "json_validity", "schema_adherence", "exact_match", "errors", "intervals")
    results = [{"style": r["style"], "data": r["data"], "bfcl_accuracy": r["bfcl_accuracy"],
                "examples_per_s": r["examples_per_s"], "metrics": {k: r["calltune"][k] for k in summary_keys}}
               for r in rows]
    write_json(os.path.join(args.out, "results.json"), results)
    atomic_write_text(os.path.join(args.out, "results.md"), f"# calltune demo: {args.model}\n\n{table}")
    print(table)
    return rows
