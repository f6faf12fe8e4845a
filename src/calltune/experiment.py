"""`calltune experiment`: the report's table, reproduced and extended, from one config.

    calltune experiment configs/experiments/report.yaml --out runs/report [--quick] [--no-progress]

A matrix of methods (prompt-only, or a training config plus overrides) x data
scales (the 14 seed examples, the first N of a synthetic held-out-tools train
split) x decodings (greedy, repair, constrained), each evaluated on the seed dev
set, the synthetic dev set (tools never seen in training), every stress
condition (`stress.py`) and BFCL simple_python / multiple / irrelevance. Then
`report.py` writes OUT/report.md, OUT/report.html and PNG charts.

Layout: OUT/data (synthetic data, splits, stress sets), OUT/train/<method>@<scale>
(training runs), OUT/eval/<model>/<set>/<decoding> (predictions and metrics).
Every cell stores the key it was made from (`cell.json`); a rerun skips cells
whose key matches, redoes cells whose key changed, and resumes an interrupted
training run from its last checkpoint. Repair needs no generation of its own: it
repairs the greedy cell's outputs.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import shutil
import typing
from dataclasses import dataclass, field

from calltune.errors import CalltuneError
from calltune.jsonl import write_json, write_jsonl

EVAL_SETS = ("seed_dev", "synth_dev", "stress", "bfcl_simple_python", "bfcl_multiple", "bfcl_irrelevance")
PROMPT_ONLY = "prompt-only"


@dataclass
class ExperimentConfig:
    """One experiment matrix. The YAML file mirrors these fields; `quick` holds replacements for --quick."""

    model: str = "embedded"
    """Base model for every cell."""
    prompt_style: str = "paper"
    """Prompt style for training and evaluation."""
    max_new_tokens: int = 64
    """Generation budget per example."""
    batch_size: int = 8
    """Generation batch size."""
    synth_n: int = 5000
    """Synthetic examples to generate (`calltune data synth`)."""
    synth_seed: int = 0
    """Seed of the synthetic generator."""
    synth_rates: dict = field(default_factory=dict)
    """Other `SynthConfig` settings, e.g. {parallel_rate: 0.1, dialogue_rate: 0.1} for the hermes style."""
    dev_fraction: float = 0.15
    """Share of synthetic tools held out for the synthetic dev set (split by tool)."""
    split_seed: int = 11711
    """Seed of the train/dev split and of the stress perturbations."""
    scales: dict = field(default_factory=lambda: {"seed14": "seed:train", "synth500": 500})
    """Data scale name -> `seed:train`, an examples path, or N (first N of the synthetic train split)."""
    methods: dict = field(default_factory=lambda: {PROMPT_ONLY: None})
    """Method name -> null (prompt-only) or {config: training YAML, overrides: {section.key: value}}."""
    scale_overrides: dict = field(default_factory=dict)
    """Scale name -> training overrides for every method at that scale (a method's own overrides win)."""
    cells: list | None = None
    """Trained cells to run, in this order, as `method@scale` (null: every method at every scale)."""
    decodings: list = field(default_factory=lambda: ["greedy", "repair", "constrained"])
    """Decodings evaluated for every model."""
    evals: dict = field(default_factory=lambda: {name: None for name in EVAL_SETS})
    """Evaluation set -> size limit (null: all; for `stress`, per condition). Sets left out are skipped."""
    quick: dict = field(default_factory=dict)
    """Field replacements applied by --quick."""

    def __post_init__(self):
        from calltune.predict import DECODINGS

        from calltune.synth.generator import SynthConfig

        allowed = {f.name for f in dataclasses.fields(SynthConfig)} - {"n", "seed"}  # synth_n, synth_seed
        bad_rates = sorted(set(self.synth_rates) - allowed)
        if bad_rates:
            raise CalltuneError(f"synth_rates: unknown or reserved key '{bad_rates[0]}' (see calltune data synth --help)")
        unknown = [d for d in self.decodings if d not in DECODINGS]
        if unknown:
            raise CalltuneError(f"unknown decoding '{unknown[0]}' (choose from {', '.join(DECODINGS)})")
        if "repair" in self.decodings and "greedy" not in self.decodings:
            raise CalltuneError("decoding 'repair' repairs the greedy outputs: list 'greedy' too")
        bad = [name for name in self.evals if name not in EVAL_SETS]
        if bad:
            raise CalltuneError(f"unknown evaluation set '{bad[0]}' (choose from {', '.join(EVAL_SETS)})")
        for name, method in self.methods.items():
            if method is not None and (not isinstance(method, dict) or "config" not in method
                                       or set(method) - {"config", "overrides"}):
                raise CalltuneError(f"method '{name}': expected null or {{config: FILE, overrides: {{...}}}}")
        for cell in self.cells or []:
            method, _, scale = str(cell).partition("@")
            if method not in self.methods or scale not in self.scales:
                raise CalltuneError(f"cell '{cell}': expected method@scale with a known method and scale")


def load_experiment(path: str, quick: bool = False) -> ExperimentConfig:
    """Read an experiment YAML; errors name the file and the key."""
    from calltune.config import read_yaml

    values = read_yaml(path) or {}
    if not isinstance(values, dict):
        raise CalltuneError(f"{path}: expected a mapping at the top level")
    hints = typing.get_type_hints(ExperimentConfig)
    for key in values:
        if key not in hints:
            raise CalltuneError(f"{path}: unknown key '{key}' (known: {', '.join(hints)})")
    if quick:
        extra = sorted(set(values.get("quick") or {}) - set(hints))
        if extra:
            raise CalltuneError(f"{path}: quick: unknown key '{extra[0]}'")
        values = {**values, **(values.get("quick") or {})}
    try:
        return ExperimentConfig(**values)
    except CalltuneError as err:
        raise CalltuneError(f"{path}: {err}") from None
    except TypeError as err:
        raise CalltuneError(f"{path}: {err}") from None


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _file_sha(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()[:16]


def _cell_done(directory: str, key: str, result_file: str) -> bool:
    """True when `directory` holds a finished cell made from `key`; a stale cell is removed."""
    meta = os.path.join(directory, "cell.json")
    if os.path.exists(meta):
        with open(meta, encoding="utf-8") as handle:
            same = json.load(handle).get("key") == key
        if same:
            return os.path.exists(os.path.join(directory, result_file))
        shutil.rmtree(directory)
    return False


def _start_cell(directory: str, key: str, description: dict) -> None:
    os.makedirs(directory, exist_ok=True)
    write_json(os.path.join(directory, "cell.json"), {"key": key, **description})


# ---- data ----------------------------------------------------------------------------------------

def prepare_data(cfg: ExperimentConfig, out: str) -> dict:
    """Synthetic data, its held-out-tools split, the scale files and the stress sets (cached)."""
    from calltune.examples import load_examples
    from calltune.overlap import benchmark_overlap
    from calltune.splits import dedup, split
    from calltune.stress import run_stress
    from calltune.synth.catalogue import all_tools
    from calltune.synth.generator import SynthConfig, generate

    data_dir = os.path.join(out, "data")
    # the catalogue and the split's notion of a tool are part of the key: data made before the
    # catalogue was decontaminated or before tools were held out by identity is made again
    key = _key({"n": cfg.synth_n, "seed": cfg.synth_seed, "dev_fraction": cfg.dev_fraction,
                "split_seed": cfg.split_seed, "scales": cfg.scales, "stress": cfg.evals.get("stress", "off"),
                **({"synth_rates": cfg.synth_rates} if cfg.synth_rates else {}),
                "catalogue": _key([t.to_json() for t in all_tools()]), "split_by": "tool identity"})
    paths = {"synth": os.path.join(data_dir, "synth.jsonl"), "train": os.path.join(data_dir, "synth_train.jsonl"),
             "dev": os.path.join(data_dir, "synth_dev.jsonl"), "stress": os.path.join(data_dir, "stress")}
    scale_paths = {name: (spec if isinstance(spec, str) else os.path.join(data_dir, f"{name}.jsonl"))
                   for name, spec in cfg.scales.items()}
    if not _cell_done(data_dir, key, "done.json"):
        _start_cell(data_dir, key, {"kind": "data"})
        write_jsonl(paths["synth"], generate(SynthConfig(n=cfg.synth_n, seed=cfg.synth_seed, **cfg.synth_rates)))
        # as `calltune data split --by tool` does: exact duplicates out first
        train, dev, _ = split(dedup(load_examples(paths["synth"]))[0], "tool", cfg.dev_fraction, cfg.split_seed)
        write_jsonl(paths["train"], [ex.record for ex in train])
        write_jsonl(paths["dev"], [ex.record for ex in dev])
        overlap = benchmark_overlap(train)
        if overlap is not None:
            print(overlap.summary())
            write_json(os.path.join(data_dir, "benchmark_overlap.json"), overlap.to_json())
        for name, spec in cfg.scales.items():
            if isinstance(spec, int):
                if spec > len(train):
                    raise CalltuneError(f"scale '{name}': {spec} examples asked, the synthetic train split "
                                        f"has {len(train)} (raise synth_n)")
                write_jsonl(scale_paths[name], [ex.record for ex in train[:spec]])
        if "stress" in cfg.evals:
            run_stress(paths["dev"], paths["stress"], train=paths["train"], seed=cfg.split_seed,
                       limit=cfg.evals["stress"])
        write_json(os.path.join(data_dir, "done.json"), {"key": key})
    return {**paths, "scales": scale_paths}


# ---- cells ---------------------------------------------------------------------------------------

def model_cells(cfg: ExperimentConfig) -> list[tuple[str, str | None]]:
    """(method, scale) pairs in run order: prompt-only first, then the trained cells in the order
    `cells` lists them (or by scale, then by method)."""
    cells = [(m, None) for m, spec in cfg.methods.items() if spec is None]
    if cfg.cells is not None:
        return cells + [tuple(str(c).split("@", 1)) for c in cfg.cells if cfg.methods[str(c).split("@")[0]]]
    for scale in cfg.scales:
        for method, spec in cfg.methods.items():
            if spec is not None:
                cells.append((method, scale))
    return cells


def cell_name(method: str, scale: str | None) -> str:
    return method if scale is None else f"{method}@{scale}"


def train_cell(cfg: ExperimentConfig, out: str, method: str, scale: str, data: dict, progress: bool) -> str:
    """Train (or reuse, or resume) one method at one scale; returns the run directory."""
    from calltune.config import load_config
    from calltune.train import latest_checkpoint, train

    spec = cfg.methods[method]
    # scale settings first, so a method can pin its own (the report's recipe keeps lr 5e-5)
    overrides = {**(cfg.scale_overrides.get(scale) or {}), **(spec.get("overrides") or {}),
                 "model.name": cfg.model, "data.train": data["scales"][scale], "data.dev": "seed:dev",
                 "data.prompt_style": cfg.prompt_style, "eval.generate": False}
    run_cfg = load_config(spec["config"], [f"{k}={json.dumps(v)}" for k, v in overrides.items()])
    if run_cfg.train.method != "lora":  # the cells evaluate RUN/adapter
        raise CalltuneError(f"method '{method}': train.method {run_cfg.train.method} is not supported by the "
                            "experiment matrix, which compares adapters; train it with `calltune train` and "
                            "evaluate it with `--model RUN`")
    train_data = data["scales"][scale]
    data_sha = _file_sha(train_data) if os.path.exists(train_data) else train_data
    key = _key({"config": run_cfg.to_dict(), "data": data_sha})
    run_dir = os.path.join(out, "train", cell_name(method, scale))
    if _cell_done(run_dir, key, "run.json"):
        return run_dir
    resume = os.path.exists(os.path.join(run_dir, "cell.json")) and latest_checkpoint(run_dir) is not None
    if not resume and os.path.exists(run_dir):
        shutil.rmtree(run_dir)
    _start_cell(run_dir, key, {"kind": "train", "method": method, "scale": scale})
    train(run_cfg, run_dir, resume=resume, progress=progress)
    return run_dir


def _strip(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "per_example"}


def eval_sets(cfg: ExperimentConfig, data: dict) -> list[tuple[str, str, int | None]]:
    """(set name, data path or BFCL category, limit) for every evaluation."""
    sets = []
    for name, limit in cfg.evals.items():
        if name == "seed_dev":
            sets.append((name, "seed:dev", limit))
        elif name == "synth_dev":
            sets.append((name, data["dev"], limit))
        elif name == "stress":
            from calltune.stress import CONDITIONS

            for condition in CONDITIONS:
                path = os.path.join(data["stress"], f"{condition}.jsonl")
                sets.append((f"stress_{condition}", path, None))  # already cut to the limit
        else:
            sets.append((name, name.removeprefix("bfcl_"), limit))
    return sets


def eval_cell(cfg: ExperimentConfig, out: str, model_name: str, model_key: str, adapter: str | None,
              set_name: str, source: str, limit: int | None, decoding: str, loaded, progress: bool) -> dict:
    """Evaluate one model on one set with one decoding (cached); returns the cell's result."""
    from calltune.bfcl_run import run_bfcl_cell
    from calltune.evaluate import evaluate
    from calltune.examples import load_examples
    from calltune.predict import PredictConfig, repair_predictions, run_predict

    directory = os.path.join(out, "eval", model_name, set_name, decoding)
    is_bfcl = set_name.startswith("bfcl_")
    data_id = source if is_bfcl or source.startswith("seed:") else _file_sha(source)
    gen = {"max_new_tokens": cfg.max_new_tokens, "prompt_style": cfg.prompt_style}
    key = _key({"model": model_key, "set": set_name, "data": data_id, "limit": limit, "decoding": decoding, **gen})
    result_path = os.path.join(directory, "result.json")
    if _cell_done(directory, key, "result.json"):
        with open(result_path, encoding="utf-8") as handle:
            return json.load(handle)
    _start_cell(directory, key, {"kind": "eval", "model": model_name, "set": set_name, "decoding": decoding})
    pred_path = os.path.join(directory, "predictions.jsonl")
    greedy_dir = os.path.join(out, "eval", model_name, set_name, "greedy")
    predict = PredictConfig(data="", out=pred_path, model=cfg.model, adapter=adapter, prompt_style=cfg.prompt_style,
                            max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                            decoding="greedy" if decoding == "repair" else decoding)
    result = {"model": model_name, "set": set_name, "decoding": decoding, "limit": limit}
    if is_bfcl:
        repaired = None
        if decoding == "repair":
            repaired = pred_path
            repair_predictions(os.path.join(greedy_dir, "examples.jsonl"),
                               os.path.join(greedy_dir, "predictions.jsonl"), repaired)
        bfcl = run_bfcl_cell(source, directory, None if repaired else predict, limit, pred_path=repaired,
                             loaded=loaded, progress=progress)
        write_jsonl(os.path.join(directory, "checks.jsonl"), bfcl["calltune"].pop("per_example"))
        result.update(calltune=bfcl["calltune"], bfcl={"n": bfcl["n"], "accuracy": bfcl["accuracy"],
                                                       "correct": bfcl["bfcl"]["correct"],
                                                       "errors": bfcl["bfcl"].get("errors")},
                      predict=bfcl["predict"], examples=os.path.join(directory, "examples.jsonl"))
    else:
        examples_path = os.path.join(directory, "examples.jsonl")
        examples = load_examples(source)[:limit] if limit else load_examples(source)
        write_jsonl(examples_path, [ex.record for ex in examples])
        stats = None
        if decoding == "repair":
            repair_predictions(examples_path, os.path.join(greedy_dir, "predictions.jsonl"), pred_path)
        else:
            predict.data = examples_path
            stats = run_predict(predict, loaded=loaded, progress=progress) if examples else None
            if not examples:
                write_jsonl(pred_path, [])
        metrics = evaluate(examples, pred_path)
        write_jsonl(os.path.join(directory, "checks.jsonl"), metrics.pop("per_example"))
        result.update(calltune=metrics, bfcl=None, predict=stats, examples=examples_path)
    result["predictions"] = pred_path
    write_json(result_path, result)
    return result


def run_experiment(cfg: ExperimentConfig, out: str, progress: bool = True, config_path: str | None = None) -> dict:
    """Run every cell (reusing finished ones) and write results.json and the report."""
    import torch

    from calltune.models import load_model
    from calltune.report import write_report
    from calltune.runinfo import versions

    os.makedirs(out, exist_ok=True)
    write_json(os.path.join(out, "config.json"), {"source": config_path, **dataclasses.asdict(cfg)})
    write_json(os.path.join(out, "versions.json"), versions())
    data = prepare_data(cfg, out)
    sets = eval_sets(cfg, data)
    decodings = [d for d in ("greedy", "constrained", "repair") if d in cfg.decodings]  # repair after greedy
    results, trained = [], {}
    cells = model_cells(cfg)
    if not cells:
        raise CalltuneError("the experiment has no cells: add a method (and a scale for trained methods)")
    for done, (method, scale) in enumerate(cells):
        name = cell_name(method, scale)
        adapter = None
        if scale is not None:
            run_dir = train_cell(cfg, out, method, scale, data, progress)
            trained[name] = run_dir
            adapter = os.path.join(run_dir, "adapter")
            with open(os.path.join(run_dir, "cell.json"), encoding="utf-8") as handle:
                model_key = json.load(handle)["key"]
        else:
            model_key = _key({"model": cfg.model})
        loaded = None
        for set_name, source, limit in sets:
            for decoding in decodings:
                directory = os.path.join(out, "eval", name, set_name, decoding)
                if loaded is None and decoding != "repair" and not os.path.exists(os.path.join(directory, "result.json")):
                    loaded = load_model(cfg.model, adapter)
                result = eval_cell(cfg, out, name, model_key, adapter, set_name, source, limit, decoding,
                                   loaded, progress)
                results.append({**result, "method": method, "scale": scale})
        del loaded
        gc.collect()
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
        # the report so far, after every model: a long matrix shows its finished rows early
        pending = [cell_name(m, s) for m, s in cells[done + 1:]]
        summary = {"config": dataclasses.asdict(cfg), "results": results, "trained": trained, "pending": pending}
        write_json(os.path.join(out, "results.json"), summary)
        write_report(out)
    return summary
