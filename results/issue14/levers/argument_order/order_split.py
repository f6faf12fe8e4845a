"""Exact match split by whether each target call's arguments come in the offered schema's property order
(the only order constrained decoding writes): `python order_split.py DATA EVAL.json [EVAL.json ...]` prints,
for each evaluation (`calltune eval --out`, with per_example), (kind, 'n' | 'exact' | error type) counts, kind
being `schema_order`, `other_order` or `nocall`."""
import json
import sys
from collections import Counter


def split(data: str, evaluation: str) -> Counter:
    examples = {}
    with open(data, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            examples[record["id"]] = record
    with open(evaluation, encoding="utf-8") as handle:
        per_example = json.load(handle)["per_example"]
    counts = Counter()
    for row in per_example:
        record = examples[row["id"]]
        target = record["target"]
        calls = target if isinstance(target, list) else [target] if target else []
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in record["tools"]}
        in_order = all(list(c["arguments"]) == [k for k in schemas[c["name"]]["properties"] if k in c["arguments"]]
                       for c in calls)
        kind = "nocall" if not calls else "schema_order" if in_order else "other_order"
        counts[(kind, "n")] += 1
        counts[(kind, "exact")] += bool(row["exact"])
        if not row["exact"]:
            counts[(kind, row["error_type"])] += 1
    return counts


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for evaluation in argv[1:]:
        print(evaluation)
        for key, value in sorted(split(argv[0], evaluation).items()):
            print("  ", key, value)
    return 0


if __name__ == "__main__":
    sys.exit(main())
