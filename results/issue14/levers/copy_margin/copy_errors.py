"""Which argument values a model gets wrong, by whether the request holds them verbatim (session 40).

    python results/issue14/levers/copy_margin/copy_errors.py DEV.jsonl PREDICTIONS.jsonl

For every target call paired with a predicted call of its name (the one that matches most of its
arguments), every string or number argument both give is counted: right or wrong, and whether the target's
value and the predicted one are pieces of the request (numbers read without thousands separators). A
wrong value whose target is in the request and whose prediction is not is what the copy margin aims at.
"""

import collections
import json
import re
import sys

CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.S)


def in_request(value, text: str):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    return str(value) in text + " " + re.sub(r"(?<=\d),(?=\d{3})", "", text)


def main(dev: str, predictions: str) -> collections.Counter:
    with open(dev, encoding="utf-8") as handle:
        data = {row["id"]: row for row in map(json.loads, handle)}
    with open(predictions, encoding="utf-8") as handle:
        raws = {row["id"]: row["raw"] for row in map(json.loads, handle)}
    counts = collections.Counter()
    for key, row in data.items():
        targets = row["target"] if isinstance(row["target"], list) else [row["target"]] if row["target"] else []
        calls = [json.loads(m) for m in CALL.findall(raws[key])]
        used = set()
        for target in targets:
            scored = [(sum(c.get("arguments", {}).get(a) == v for a, v in target["arguments"].items()), -k, k)
                      for k, c in enumerate(calls) if k not in used and c.get("name") == target["name"]]
            if not scored:
                continue
            k = max(scored)[2]
            used.add(k)
            given = calls[k].get("arguments", {})
            for name, value in target["arguments"].items():
                if name not in given or in_request(value, row["instruction"]) is None:
                    continue
                target_in = in_request(value, row["instruction"])
                if given[name] == value:
                    counts[f"right, target {'in' if target_in else 'not in'} the request"] += 1
                else:
                    pred_in = bool(in_request(given[name], row["instruction"]))
                    counts[f"wrong, target {'in' if target_in else 'not in'} the request, "
                           f"prediction {'in' if pred_in else 'not in'} it"] += 1
    for label, n in sorted(counts.items()):
        print(f"{label}: {n}")
    return counts


if __name__ == "__main__":
    main(*sys.argv[1:3])
