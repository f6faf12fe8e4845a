"""Training in fp32 and with bfloat16 autocast (`train.autocast`): speed and loss, same recipe, same steps.

    python benchmarks/autocast.py [--config configs/best.yaml] [--steps 8] [--threads 2] [override ...]

Each setting trains `--steps` optimizer steps of the recipe (its data generated into a fresh folder, the same
batches in the same order) in its own process on a quiet machine. Printed: seconds per step, real tokens per
second, peak RSS of the training loop, and the largest relative difference between the two runs' per-step
losses (bfloat16 matrix products round to about 3 significant digits, and the weights drift apart as they train).
"""

from __future__ import annotations

import sys

import pad_mask  # benchmarks/ is on sys.path when a script here runs


def main(argv=None) -> int:
    # each setting trains in a child process of pad_mask.py, which runs whatever override it is given
    return pad_mask.compare_settings(pad_mask.parse_args(argv, __doc__.splitlines()[0]), "train.autocast",
                                     ("none", "bfloat16"))


if __name__ == "__main__":
    sys.exit(main())
