"""What one forward pass costs on this machine: B rows of w new tokens each over a T-token KV cache
(a decode step is w = 1; a speculative step w = 1 + drafts; a prompt B = 1, w = its length).

    python benchmarks/forward_cost.py [--model embedded] [--adapter DIR] [--context 400] [--threads 2]

Prints the best of 4 timings (after one warm-up) per shape, in ms. Run it on a quiet machine.
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

    from calltune.serve.config import ServeConfig
    from calltune.serve.server import load_for_serving

    torch.set_num_threads(args.threads)
    model, _ = load_for_serving(ServeConfig(model=args.model, adapter=args.adapter))
    print(f"| rows B | tokens per row w | ms (context {args.context}) |\n|---|---|---|")
    with torch.inference_mode():
        for rows, width in SHAPES:
            prefix = DynamicCache()
            model(input_ids=torch.randint(100, 1000, (rows, args.context)), past_key_values=prefix, use_cache=True,
                  logits_to_keep=1)
            times = []
            for _ in range(5):
                cache = DynamicCache()
                for i, layer in enumerate(prefix.layers):
                    cache.update(layer.keys.clone(), layer.values.clone(), i)
                start = time.perf_counter()
                model(input_ids=torch.randint(100, 1000, (rows, width)), past_key_values=cache, use_cache=True,
                      attention_mask=torch.ones(rows, args.context + width, dtype=torch.long))
                times.append(time.perf_counter() - start)
            print(f"| {rows} | {width} | {1000 * min(times[1:]):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
