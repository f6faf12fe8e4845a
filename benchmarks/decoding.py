"""Decoding cost: greedy vs grammar-constrained vs greedy + JSON repair, same model, same inputs,
one process.

    python benchmarks/decoding.py [--model embedded] [--adapter RUN] [--data seed:dev]
        [--bfcl simple_python --limit 48] [--prompt-style paper] [--batch-size 8]
        [--max-new-tokens 64] [--threads 2]

Constrained decoding usually generates fewer tokens than greedy (it stops at the closing
brace, where an unconstrained model often rambles on), so examples/s alone flatters it, and
wall time per step mixes in how long the sequences are. The per-token figure that matters is
the decoding overhead: every model forward is timed (a forward hook), and the time per step
spent outside the model (logits processing, stopping checks, bookkeeping) is compared between
greedy and constrained, relative to a greedy step's forward time. The time inside the
constraint itself (mask computation and application, budget checks) is printed too. Repair is
post-hoc: its cost is the greedy run plus the repair time per example. Run it on a quiet
machine; a warm-up batch runs first so one-time costs (threads, the llguidance tokenizer) are
not billed to either side.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--data", default="seed:dev", help="examples JSONL or seed:dev (ignored with --bfcl)")
    parser.add_argument("--bfcl", default=None, choices=["simple_python", "multiple", "irrelevance"])
    parser.add_argument("--limit", type=int, default=48, help="with --bfcl: first N cases")
    parser.add_argument("--prompt-style", default="paper", choices=["paper", "chat"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    from calltune import bfcl
    from calltune.examples import load_examples, load_predictions
    from calltune.jsonl import write_jsonl
    from calltune.models import load_model
    from calltune.predict import PredictConfig, run_predict
    from calltune.repair import repair_call

    torch.set_num_threads(args.threads)
    work = tempfile.mkdtemp(prefix="calltune-decoding-")
    data = args.data
    if args.bfcl:
        data = os.path.join(work, "examples.jsonl")
        write_jsonl(data, bfcl.load_category(args.bfcl, args.limit))
    examples = load_examples(data)
    loaded = load_model(args.model, args.adapter)

    def run(decoding: str, data_path: str, tag: str, max_new_tokens: int = args.max_new_tokens) -> dict:
        cfg = PredictConfig(data=data_path, out=os.path.join(work, f"{tag}.jsonl"), model=args.model,
                            adapter=args.adapter, prompt_style=args.prompt_style, batch_size=args.batch_size,
                            max_new_tokens=max_new_tokens, decoding=decoding)
        return run_predict(cfg, loaded=loaded, progress=False)

    warm = os.path.join(work, "warm.jsonl")
    write_jsonl(warm, [ex.record for ex in examples[: args.batch_size]])
    run("greedy", warm, "warm-greedy")
    run("constrained", warm, "warm-constrained")

    model = loaded[0].get_base_model() if hasattr(loaded[0], "get_base_model") else loaded[0]  # what generate calls
    timer = {"start": 0.0, "total": 0.0}

    def before(module, args, kwargs):
        timer["start"] = time.perf_counter()

    def after(module, args, kwargs, output):
        timer["total"] += time.perf_counter() - timer["start"]

    model.register_forward_pre_hook(before, with_kwargs=True)
    model.register_forward_hook(after, with_kwargs=True)
    results = {}
    for decoding in ("greedy", "constrained"):
        timer["total"] = 0.0
        stats = run(decoding, data, decoding)
        steps = max(stats["steps"], 1)
        stats["s_per_step"] = stats["seconds"] / steps
        stats["forward_s_per_step"] = timer["total"] / steps
        stats["outside_forward_s_per_step"] = (stats["seconds"] - timer["total"]) / steps
        results[decoding] = stats
    greedy_preds = load_predictions(os.path.join(work, "greedy.jsonl"))
    start = time.perf_counter()
    for ex, pred in zip(examples, greedy_preds):
        repair_call(pred.raw, ex.tools)
    repair_s = time.perf_counter() - start

    g, c = results["greedy"], results["constrained"]
    figures = {
        "n": len(examples), "data": args.bfcl or data, "model": args.model, "adapter": args.adapter,
        "prompt_style": args.prompt_style, "batch_size": args.batch_size, "threads": args.threads,
        "greedy": {k: g[k] for k in ("seconds", "steps", "new_tokens", "examples_per_s", "s_per_step",
                                     "forward_s_per_step", "outside_forward_s_per_step")},
        "constrained": {k: c[k] for k in ("seconds", "steps", "new_tokens", "examples_per_s", "s_per_step",
                                          "forward_s_per_step", "outside_forward_s_per_step",
                                          "constraint_s", "grammar_compile_s", "grammars_compiled")},
        "repair": {"repair_s_total": round(repair_s, 4), "repair_ms_per_example": round(1e3 * repair_s / len(examples), 3),
                   "examples_per_s": round(len(examples) / (g["seconds"] + repair_s), 4)},
        "ratios": {
            "constraint_share_of_greedy_step": round(c["constraint_s"] / c["steps"] / g["s_per_step"], 4),
            "decoding_overhead_share_of_greedy_step": round(
                (c["outside_forward_s_per_step"] - g["outside_forward_s_per_step"]) / g["s_per_step"], 4),
            "constrained_over_greedy_examples_per_s": round(c["examples_per_s"] / g["examples_per_s"], 4),
            "repair_over_greedy_examples_per_s": round(len(examples) / (g["seconds"] + repair_s) / g["examples_per_s"], 4),
        },
    }
    print(json.dumps(figures, indent=2))
    r = figures["ratios"]
    print(f"\nper step: greedy {1e3 * g['s_per_step']:.1f} ms ({1e3 * g['outside_forward_s_per_step']:.2f} ms outside "
          f"the model), constrained {1e3 * c['s_per_step']:.1f} ms ({1e3 * c['outside_forward_s_per_step']:.2f} ms outside "
          f"the model); constrained decoding's extra cost per step = "
          f"{100 * r['decoding_overhead_share_of_greedy_step']:.2f}% of a greedy step; time inside the constraint "
          f"{1e3 * c['constraint_s'] / c['steps']:.2f} ms/step = {100 * r['constraint_share_of_greedy_step']:.2f}%",
          file=sys.stderr)
    print(f"examples/s: greedy {g['examples_per_s']:.3f}, constrained {c['examples_per_s']:.3f} "
          f"(x{r['constrained_over_greedy_examples_per_s']:.2f}), repair {figures['repair']['examples_per_s']:.3f} "
          f"(x{r['repair_over_greedy_examples_per_s']:.3f}; {figures['repair']['repair_ms_per_example']:.2f} ms "
          f"per example)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
