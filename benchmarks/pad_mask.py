"""Training with and without the padding mask (`train.pad_mask`): speed and loss, same recipe, same steps.

    python benchmarks/pad_mask.py [--config configs/best.yaml] [--steps 8] [--threads 2] [override ...]

Each setting trains `--steps` optimizer steps of the recipe (its data generated into a fresh folder, the same
batches in the same order) in its own process on a quiet machine. Printed: seconds per step, real tokens per
second, peak RSS of the training loop, and the largest relative difference between the two runs' per-step
losses (right-padded batches need no mask under causal attention, so it should stay at float rounding).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from train_throughput import run_child  # benchmarks/ is on sys.path when a script here runs


def child(config: str, out: str, overrides: list[str]) -> None:
    from calltune.config import load_config
    from calltune.train import train

    shutil.rmtree(out, ignore_errors=True)
    summary = train(load_config(config, overrides), out, progress=False)
    with open(f"{out}/train_log.jsonl") as handle:
        losses = [json.loads(line)["loss"] for line in handle if '"loss"' in line]
    print("RESULT " + json.dumps({"seconds": summary["train_seconds"], "tokens_per_s": summary["tokens_per_s"],
                                  "peak_mb": summary["train_peak_rss_mb"], "losses": losses}))


def parse_args(argv, description: str):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", default="configs/best.yaml")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. train.batch_size=2")
    return parser.parse_args(argv)


def compare_settings(args, key: str, values: tuple[str, str]) -> int:
    """Train the recipe once per value of `key` (the first is the reference), each in its own process (this script
    as the child), and print speed, memory and how far the per-step losses drift apart."""
    common = [f"train.max_steps={args.steps}", f"train.threads={args.threads}", "eval.generate=false",
              "data.dev_size=1", *args.overrides]
    if args.child:
        child(args.config, args.child[0], [*common, args.child[1]])
        return 0
    rows = {}
    for value in values:
        out = f"/tmp/calltune-bench-{key.replace('.', '-').replace('_', '-')}-{value}"
        cmd = [sys.executable, __file__, "--config", args.config, "--steps", str(args.steps), "--threads",
               str(args.threads), "--child", out, f"{key}={value}", *args.overrides]
        rows[value] = run_child(cmd)
        if rows[value] is None:
            return 1
    a, b = (rows[v]["losses"] for v in values)
    drift = max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(a, b))
    print(f"config={args.config} steps={args.steps} threads={args.threads} {' '.join(args.overrides)}")
    name = key.split(".")[-1]
    print(f"{name:<10}{'s/step':>8}{'real tok/s':>12}{'train peak MB':>15}")
    for value, r in rows.items():
        print(f"{value:<10}{r['seconds'] / args.steps:>8.2f}{r['tokens_per_s']:>12.1f}{r['peak_mb'] or 0:>15.0f}")
    print(f"speed-up {rows[values[0]]['seconds'] / rows[values[1]]['seconds']:.2f}x; largest relative loss "
          f"difference over {len(a)} steps {drift:.2e}")
    return 0


def main(argv=None) -> int:
    return compare_settings(parse_args(argv, __doc__.splitlines()[0]), "train.pad_mask", ("true", "false"))


if __name__ == "__main__":
    sys.exit(main())
