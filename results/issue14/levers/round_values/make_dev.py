"""dev_round100: the first 100 examples tagged round_values of a held-out synthetic set (composed tools of the
held-out domains, dev_proc150's options with --round-value-rate 1.0 and another seed), made for the round-values
lever (rule.txt) before any model ran on it.

    python results/issue14/levers/round_values/make_dev.py OUT.jsonl
"""

import sys

from calltune.jsonl import file_sha256, write_jsonl
from calltune.synth.generator import SynthConfig, generate

CONFIG = SynthConfig(n=1500, seed=3, parallel_rate=0.25, parallel_max_calls=4, irrelevant_rate=0.08,
                     near_miss_rate=0.08, procedural_rate=1.0, procedural_split="heldout", mask_rate=0.1,
                     description_style_rate=0.3, round_value_rate=1.0)


def dev_round100() -> list[dict]:
    return [r for r in generate(CONFIG) if "round_values" in r["meta"]["augmentations"]][:100]


if __name__ == "__main__":
    write_jsonl(sys.argv[1], dev_round100())
    print(sys.argv[1], file_sha256(sys.argv[1]))
