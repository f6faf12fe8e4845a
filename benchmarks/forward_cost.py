"""What one forward pass costs on this machine: B rows of w new tokens each over KV caches of about
T tokens (a decode step is w = 1; a speculative step w = 1 + drafts; a prompt B = 1, w = its length).

    python benchmarks/forward_cost.py [--model embedded] [--adapter DIR] [--context 400] [--threads 2]

The rows are the engine's: a left-padded batch (`serve.kv_batch.KVBatch`, row i holds T - 20 i
tokens) stepped with its attention mask, under transformers' `sdpa` attention and under the
engine's (`serve.attention.grouped_sdpa`, which does not copy the grouped KV heads). Prints the best
of 4 timings (after one warm-up) per shape, in ms. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import sys
import time

SHAPES = ((1, 1), (1, 2), (1, 3), (1, 5), (1, 9), (1, 17), (2, 1), (4, 1), (8, 1), (8, 2), (8, 3), (8, 5), (8, 9))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--context", type=int, default=400, help="tokens already in each row's KV cache")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import torch
    from transformers import DynamicCache

    from calltune.serve.attention import use_grouped_sdpa
    from calltune.serve.config import ServeConfig
    from calltune.serve.kv_batch import KVBatch, layers_of
    from calltune.serve.server import load_for_serving

    torch.set_num_threads(args.threads)
    model, _ = load_for_serving(ServeConfig(model=args.model, adapter=args.adapter))
    results = {}
    with torch.inference_mode():
        prompts = [DynamicCache() for _ in range(max(rows for rows, _ in SHAPES))]
        for i, cache in enumerate(prompts):  # row i: a prompt of T - 20 i tokens
            model(input_ids=torch.randint(100, 1000, (1, args.context - 20 * i)), past_key_values=cache,
                  use_cache=True, logits_to_keep=1)
        for attention in ("sdpa", "grouped"):
            if attention == "grouped" and not use_grouped_sdpa(model):
                break  # no grouped KV heads: the engine attends as transformers does
            for rows, width in SHAPES:
                times = []
                for _ in range(5):
                    batch = KVBatch("cpu")
                    for i in range(rows):
                        batch.join([(k.clone(), v.clone()) for k, v in layers_of(prompts[i])], args.context - 20 * i)
                    mask, positions = batch.step_inputs(width)
                    start = time.perf_counter()
                    model(input_ids=torch.randint(100, 1000, (rows, width)), attention_mask=mask,
                          position_ids=positions, past_key_values=batch.cache, use_cache=True)
                    times.append(time.perf_counter() - start)
                results[rows, width, attention] = 1000 * min(times[1:])
    print(f"| rows B | tokens per row w | ms, sdpa (context {args.context}) | ms, grouped (the engine) |")
    print("|---|---|---|---|")
    for rows, width in SHAPES:
        grouped = results.get((rows, width, "grouped"))
        print(f"| {rows} | {width} | {results[rows, width, 'sdpa']:.0f} | "
              f"{'-' if grouped is None else f'{grouped:.0f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
