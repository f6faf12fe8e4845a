"""How many of a set's large numbers (1,000 or more, in the target calls) an answer writes, by how the request
writes them: "round" (one or two significant digits) or "ragged"; a number counts as written when some call of
the answer has it as an argument value (anywhere in its arguments).

    python results/issue14/levers/round_values/copied.py DATA.jsonl PRED.jsonl
"""

import json
import re
import sys

CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.S)


def numbers(value) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, list):
        return [n for v in value for n in numbers(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    return []


def is_round(value: float) -> bool:
    return value == int(value) and len(str(int(value)).rstrip("0")) <= 2


def counts(data_path: str, pred_path: str) -> dict:
    with open(data_path, encoding="utf-8") as handle:
        data = [json.loads(line) for line in handle]
    with open(pred_path, encoding="utf-8") as handle:
        raws = {p["id"]: p["raw"] for p in map(json.loads, handle)}
    out = {"round": [0, 0], "ragged": [0, 0]}
    for record in data:
        target = record.get("target")
        calls = [] if target is None else target if isinstance(target, list) else [target]
        wanted = {n for c in calls for n in numbers(c["arguments"]) if n >= 1000}
        calls_given = [json.loads(m) for m in CALL.findall(raws[record["id"]])]
        got = {n for c in calls_given for n in numbers(c.get("arguments", {}))}
        for n in wanted:
            kind = "round" if is_round(n) else "ragged"
            out[kind][0] += n in got
            out[kind][1] += 1
    return out


if __name__ == "__main__":
    for kind, (right, total) in counts(sys.argv[1], sys.argv[2]).items():
        print(f"{kind}: {right} of {total} written")
