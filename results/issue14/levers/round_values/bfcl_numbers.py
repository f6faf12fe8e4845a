"""BFCL's large numbers and whether a run writes them (session 41; a report, used to choose nothing).

    python results/issue14/levers/round_values/bfcl_numbers.py RUN_PREFIX [RUN_PREFIX ...]

RUN_PREFIX is a path such that RUN_PREFIX + "simple_python" (and multiple, parallel, parallel_multiple) is a
`calltune bfcl --out` directory, e.g. results/issue14/cand40/bfcl_. Every whole number of 1,000 or more among a
case's accepted answers is counted once per case, by how the question writes it ("comma": with thousands
separators, else "plain") and whether it is round (one or two significant digits); it counts as written when the
raw answer holds it as a number.
"""

import collections
import json
import re
import sys

from calltune.bfcl import load_category

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple")


def _wholes(truth: list) -> set[int]:
    found = set()
    for call in truth:
        for args in call.values():
            for accepted in args.values():
                for x in accepted:
                    if isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 1000 and x == int(x):
                        found.add(int(x))
    return found


def counts(prefix: str) -> collections.Counter:
    out = collections.Counter()
    for category in CATEGORIES:
        cases = {r["id"]: r for r in load_category(category)}
        with open(f"{prefix}{category}/bfcl_per_example.jsonl", encoding="utf-8") as handle:
            raws = {row["id"]: row["raw"] for row in map(json.loads, handle)}
        for key, raw in raws.items():
            text = " ".join(filter(None, (cases[key].get("system"), cases[key]["instruction"])))
            for x in _wholes(cases[key]["meta"]["possible_answer"]):
                form = "comma" if f"{x:,}" in text else "plain" if str(x) in text else None
                if form is None:
                    continue
                shape = "round" if len(str(x).rstrip("0")) <= 2 else "ragged"
                written = re.search(r"(?<![\d.])" + str(x) + r"(?![\d])", raw) is not None
                out[(form, shape, "written" if written else "not written")] += 1
    return out


if __name__ == "__main__":
    for prefix in sys.argv[1:]:
        print(prefix)
        for key, n in sorted(counts(prefix).items()):
            print("  " + ", ".join(key) + f": {n}")
