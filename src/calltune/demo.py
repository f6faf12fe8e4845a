"""`calltune demo`: the main job. It generates synthetic data, fine-tunes the model with
configs/best.yaml's recipe at a demo budget, and compares prompt-only with the tuned model
(hermes prompts, greedy and constrained decoding) on the seed dev set and on subsets of BFCL.

    calltune demo --out runs/demo [--config configs/best.yaml] [--synth-n 1000 --train-size 120
        --dev-size 20 --epochs 2] [--set section.key=value ...] [--bfcl simple_python=20,irrelevance=20,parallel=10]
        [--bfcl-limit N] [--prompt-styles hermes] [--model embedded] [--batch-size 8] [--max-new-tokens N]
        [--no-progress]

Writes a self-describing run directory:

    OUT/config.json, OUT/versions.json
    OUT/train/                  the training run (`calltune train`: config.yaml, data/, run.json, adapter/, or
                                model/ for `--set train.method=full`)
    OUT/<model>/<style>/<set>-<decoding>/   predictions.jsonl, metrics.json (BFCL: also examples.jsonl,
                                            bfcl_per_example.jsonl); model: prompt-only or tuned
    OUT/results.json, OUT/results.md, OUT/results.png   (the table it prints, and its plot)

BFCL figures here come from the first N cases of each category: a preview, not the benchmark's
score (`calltune bfcl --category C` runs a whole category). Finished cells (training included) are
reused when rerun with the same settings; an interrupted one resumes (training from its checkpoint,
prediction from its partial file).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass

from calltune.bfcl_run import run_bfcl_cell
from calltune.errors import CalltuneError
from calltune.evaluate import evaluate
from calltune.examples import load_examples
from calltune.jsonl import atomic_write_text, write_json
from calltune.predict import PredictConfig, run_predict
from calltune.runinfo import versions
from calltune.score import wilson_interval

SEED_DEV = "seed:dev"


def parse_bfcl_sizes(text: str) -> dict[str, int]:
    """`simple_python=20,irrelevance=20` -> {"simple_python": 20, "irrelevance": 20} (argparse type)."""
    from calltune.bfcl import CATEGORIES

    sizes = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, size = part.partition("=")
        if name not in CATEGORIES or not size.isdigit() or int(size) < 1:
            raise ValueError(f"'{part}': expected CATEGORY=N with N >= 1, CATEGORY one of {', '.join(CATEGORIES)}")
        sizes[name] = int(size)
    return sizes


@dataclass(frozen=True)
class Cell:
    """One evaluation: a model (prompt-only or tuned) on one set with one decoding."""

    model: str
    style: str
    set: str  # seed_dev or bfcl_<category>
    decoding: str
    limit: int | None = None  # BFCL: the first N cases

    @property
    def label(self) -> str:
        if self.set == "seed_dev":
            return "seed dev"
        return f"BFCL {self.set[5:]} (first {self.limit})"

    def directory(self, out: str) -> str:
        return os.path.join(out, self.model, self.style, f"{self.set}-{self.decoding}")


def plan(styles: list[str], tuned_style: str, bfcl: dict[str, int]) -> list[Cell]:
    """Prompt-only cells for each style, then the tuned model's (in the style it trained with):
    seed dev greedy and constrained, BFCL subsets constrained."""
    def cells(model: str, style: str) -> list[Cell]:
        return [Cell(model, style, "seed_dev", d) for d in ("greedy", "constrained")] + \
               [Cell(model, style, f"bfcl_{c}", "constrained", n) for c, n in bfcl.items()]
    return [c for style in styles for c in cells("prompt-only", style)] + cells("tuned", tuned_style)


def bfcl_subsets(sizes: dict[str, int], limit: int | None) -> dict[str, int]:
    """Category -> how many of its first cases to run: `sizes`, or `limit` for each of them."""
    if limit is not None and limit < 1:
        raise CalltuneError(f"--bfcl-limit must be at least 1, got {limit}")
    return {category: limit or size for category, size in sizes.items()}


def _read_json(path: str) -> dict | None:
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def recipe(args):
    """The training config: --config with the demo budget and --set overrides."""
    from calltune.config import load_config

    budget = [f"data.synth.n={args.synth_n}", f"data.train_size={args.train_size}",
              f"data.dev_size={args.dev_size}", f"train.epochs={args.epochs:g}"]
    cfg = load_config(args.config, [f"model.name={args.model}", *budget, *args.set])
    if cfg.data.synth is None:
        raise CalltuneError(f"{args.config}: the demo trains on generated data; its data needs a synth section")
    return cfg


def tuned_weights(cfg, base: str, run_dir: str) -> tuple[str, str | None]:
    """(model, adapter) that the tuned cells load: the base model with the run's adapter (LoRA), or
    the run's own model/ (`train.method full`, which saves weights, not an adapter)."""
    return (run_dir, None) if cfg.train.method == "full" else (base, run_dir)


def train_stage(cfg, run_dir: str, progress: bool) -> dict:
    """Train into `run_dir`, or reuse it (finished with this config), or resume it (interrupted);
    a run of other settings is replaced. Returns its run.json."""
    from calltune.train import finished_run, latest_checkpoint, train

    marker = os.path.join(run_dir, "demo_cell.json")
    same = _read_json(marker) == cfg.to_dict()
    if same and (done := finished_run(run_dir)) is not None:
        print(f"  reused {run_dir} (finished, same settings)", file=sys.stderr)
        return done
    resume = same and latest_checkpoint(run_dir) is not None
    if not resume:
        if os.path.exists(run_dir):  # another run's, or one stopped before its first checkpoint
            if not same:
                print(f"  {run_dir} holds a run of other settings: training again", file=sys.stderr)
            shutil.rmtree(run_dir)
        os.makedirs(run_dir)
        write_json(marker, cfg.to_dict())
    try:
        return train(cfg, run_dir, resume=resume, progress=progress)
    except KeyboardInterrupt:
        print("interrupted: the checkpoint is saved; rerun the same command to resume", file=sys.stderr)
        raise


def run_cell(cell: Cell, out: str, predict: PredictConfig, loaded, progress: bool) -> dict:
    """Predict and score one cell (or reuse its metrics.json when its settings are the same)."""
    from calltune.models import adapter_digest, resolve_model_path, tuned_model_digest

    directory = cell.directory(out)
    key = {**asdict(cell), "predict": {**asdict(predict), "data": None, "out": None},
           "adapter_sha256": adapter_digest(predict.adapter) if predict.adapter else None}
    if (model_sha256 := tuned_model_digest(resolve_model_path(predict.model))) is not None:
        key["model_sha256"] = model_sha256  # a full fine-tune retrained in place is another model
    metrics_path = os.path.join(directory, "metrics.json")
    cached = _read_json(metrics_path)
    if cached is not None and cached.get("cell") == key:
        return cached
    started = time.perf_counter()
    if cell.set == "seed_dev":
        predict.data, predict.out = SEED_DEV, os.path.join(directory, "predictions.jsonl")
        stats = run_predict(predict, loaded=loaded(), progress=progress)
        metrics = {"calltune": evaluate(load_examples(SEED_DEV), predict.out), "predict": stats}
    else:
        metrics = run_bfcl_cell(cell.set[5:], directory, predict, cell.limit, loaded=loaded(), progress=progress)
    metrics.update(cell=key, seconds=round(time.perf_counter() - started, 1))
    write_json(metrics_path, metrics)
    return metrics


def result_row(cell: Cell, metrics: dict) -> dict:
    """What the table and plot need from a cell's metrics: calltune's three metrics with their
    intervals, and for BFCL the AST accuracy with its interval."""
    m = metrics["calltune"]
    row = {**asdict(cell), "data": cell.label, "n": m["n"], "seconds": metrics.get("seconds"),
           "examples_per_s": (metrics.get("predict") or {}).get("examples_per_s"),
           "metrics": {k: m[k] for k in ("n", "json_validity", "schema_adherence", "exact_match", "errors",
                                         "intervals")}}
    if "bfcl" in metrics:
        bfcl = metrics["bfcl"]
        row["bfcl"] = {"n": bfcl["n"], "correct": bfcl["correct"], "accuracy": bfcl["accuracy"],
                       "interval": list(wilson_interval(bfcl["correct"], bfcl["n"]))}
    return row


def headline(row: dict) -> tuple[str, float, tuple[float, float]]:
    """(metric name, value, 95% interval) that the plot shows: BFCL's AST accuracy, else exact match."""
    if "bfcl" in row:
        return "BFCL AST accuracy", row["bfcl"]["accuracy"], tuple(row["bfcl"]["interval"])
    m = row["metrics"]
    return "exact match", m["exact_match"] or 0.0, tuple(m["intervals"]["exact_match"])


def _pct(value, interval=None) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}" + (f" [{100 * interval[0]:.1f}-{100 * interval[1]:.1f}]" if interval else "")


def results_table(rows: list[dict]) -> str:
    """Markdown table: one row per cell, 95% Wilson intervals in brackets."""
    lines = ["| model | prompt style | data | decoding | n | JSON validity % | schema adherence % | exact match % "
             "| BFCL AST acc. % | examples/s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m, eps = r["metrics"], r["examples_per_s"]
        cols = [_pct(m[k], m["intervals"][k]) for k in ("json_validity", "schema_adherence", "exact_match")]
        bfcl = _pct(r["bfcl"]["accuracy"], r["bfcl"]["interval"]) if "bfcl" in r else "-"
        lines.append(f"| {r['model']} | {r['style']} | {r['data']} | {r['decoding']} | {m['n']} | "
                     f"{' | '.join(cols)} | {bfcl} | {'-' if eps is None else f'{eps:.2f}'} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: str, title: str) -> None:
    """Grouped horizontal bars: one group per (data, decoding), one bar per model, 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys((r["data"], r["decoding"]) for r in rows))
    models = list(dict.fromkeys((r["model"], r["style"]) for r in rows))
    height = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.32 * len(groups) * len(models)))
    for k, (model, style) in enumerate(models):
        ys, values, errs = [], [], [[], []]
        for g, (data, decoding) in enumerate(groups):
            for r in rows:
                if (r["model"], r["style"], r["data"], r["decoding"]) == (model, style, data, decoding):
                    _, value, (lo, hi) = headline(r)
                    ys.append(g + k * height)
                    values.append(100 * value)
                    errs[0].append(100 * max(value - lo, 0))
                    errs[1].append(100 * max(hi - value, 0))
        ax.barh(ys, values, height=height, xerr=errs, capsize=2, ecolor="0.45", label=f"{model} ({style})")
        for y, value in zip(ys, values):
            ax.text(min(value, 88) + 1, y, f"{value:.0f}%", va="center", fontsize=7,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    ax.set_yticks([g + height * (len(models) - 1) / 2 for g in range(len(groups))],
                  [f"{data}, {decoding}" for data, decoding in groups], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% (seed dev: exact match; BFCL: AST accuracy; bars: 95% Wilson interval)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(models), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


_ORDER_WORDS = {"schema": "the schema's order", "any": "any order (the recipe's decoding)"}


def _beam_words(k: int) -> str:
    if k == 1:
        return ("each the greedy answer (`--num-beams 1`; the recipe's decoding takes the likeliest of 4 beams, "
                "left out at the demo's budget)")
    return f"each the likeliest of {k} beams (`--num-beams {k}`)"


def report(args, rows: list[dict], trained: dict, seconds: dict, method: str = "lora") -> str:
    """results.md's text: what was run, the table, and the caveats."""
    data = trained.get("data", {}).get("generated", {}).get("counts", {})
    total = sum(v for v in seconds.values() if v is not None)
    how, base = (("full fine-tuning", "before fine-tuning") if method == "full" else
                 ("LoRA", "without an adapter"))
    return (f"# calltune demo: {args.model}\n\n"
            f"Tuned: {how} with the recipe of `{args.config}` at a demo budget: {data.get('train')} training examples "
            f"of {data.get('synth')} synthetic (`data.synth.n={args.synth_n}`), {trained.get('steps')} steps "
            f"in {trained.get('train_seconds')} s. Prompt-only: the same base model {base}. Constrained hermes "
            f"answers write their arguments' keys in {_ORDER_WORDS[args.key_order]} "
            f"(`--key-order {args.key_order}`), {_beam_words(args.num_beams)}.\n\n"
            + results_table(rows) +
            "\nBrackets: 95% Wilson intervals. BFCL rows are subsets (the first N cases of each category): a "
            "preview, not the benchmark's score. seed dev is the report's 4 hand-written examples.\n\n"
            f"![prompt-only vs tuned](results.png)\n\nWall time: {total:.0f} s for the stages computed in the "
            f"last run (cells reused from earlier runs count 0).\n")


def run_demo(args) -> list[dict]:
    """Train (or reuse), evaluate every cell, write results.{json,md,png}; returns the table's rows."""
    from calltune.models import load_model

    progress = not args.no_progress
    cfg = recipe(args)
    bfcl = bfcl_subsets(args.bfcl, args.bfcl_limit)
    styles = [s for s in args.prompt_styles.split(",") if s]
    for style in styles:
        PredictConfig(data="", out="", prompt_style=style)  # validates the style before any work
    PredictConfig(data="", out="", prompt_style="hermes", num_beams=args.num_beams)  # and K
    cells = plan(styles, cfg.data.prompt_style, bfcl)
    os.makedirs(args.out, exist_ok=True)
    write_json(os.path.join(args.out, "config.json"),
               {"model": args.model, "config": args.config, "recipe": cfg.to_dict(), "prompt_styles": styles,
                "bfcl": bfcl, "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens,
                "key_order": args.key_order, "num_beams": args.num_beams, "cells": [asdict(c) for c in cells]})
    write_json(os.path.join(args.out, "versions.json"), versions())
    print(f"calltune demo: train on generated data, then {len(cells)} evaluations; BFCL: the first "
          f"{', '.join(f'{n} {c}' for c, n in bfcl.items())} cases (a preview, not whole categories)",
          file=sys.stderr)

    stages = len(cells) + 1
    seconds: dict[str, float | None] = {}
    started = time.perf_counter()
    print(f"[1/{stages}] data + training ({cfg.data.train_size} examples) -> {args.out}/train", file=sys.stderr)
    run_dir = os.path.join(args.out, "train")
    trained = train_stage(cfg, run_dir, progress)
    seconds["train"] = round(time.perf_counter() - started, 1)

    models: dict[str, tuple] = {}
    weights = {"prompt-only": (args.model, None), "tuned": tuned_weights(cfg, args.model, run_dir)}

    def loader(model: str):
        def load():  # on first use: a rerun whose cells are all cached loads nothing
            if model not in models:
                models.clear()  # one model in memory at a time
                models[model] = load_model(*weights[model])
            return models[model]
        return load

    rows = []
    for i, cell in enumerate(cells, start=2):
        print(f"[{i}/{stages}] {cell.model} ({cell.style}): {cell.label}, {cell.decoding}", file=sys.stderr)
        model, adapter = weights[cell.model]
        free = cell.decoding == "constrained" and cell.style == "hermes"  # where a key order applies
        predict = PredictConfig(data="", out="", model=model, adapter=adapter,
                                prompt_style=cell.style, batch_size=args.batch_size, decoding=cell.decoding,
                                max_new_tokens=args.max_new_tokens, key_order=args.key_order if free else "schema",
                                num_beams=args.num_beams if free else 1)
        before = time.perf_counter()
        metrics = run_cell(cell, args.out, predict, loader(cell.model), progress)
        seconds[cell.directory("")] = round(time.perf_counter() - before, 1)
        rows.append(result_row(cell, metrics))

    name = os.path.basename(os.path.normpath(args.model))
    plot(rows, os.path.join(args.out, "results.png"), f"calltune demo ({name}): prompt-only vs tuned")
    text = report(args, rows, trained, seconds, cfg.train.method)
    write_json(os.path.join(args.out, "results.json"),
               {"rows": rows, "seconds": seconds, "train": {k: trained.get(k) for k in
                                                            ("steps", "train_seconds", "tokens_per_s")}})
    atomic_write_text(os.path.join(args.out, "results.md"), text)
    print(results_table(rows))
    print(f"{args.out}/results.md, {args.out}/results.png; {sum(seconds.values()):.0f} s", file=sys.stderr)
    return rows
