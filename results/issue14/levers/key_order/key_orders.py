"""The key orders a run's calls were written in: `python key_orders.py DATA PREDICTIONS.jsonl [...]` prints, for
each predictions file (`calltune predict --out`, hermes), among its calls with at least two arguments: how many
are in the offered schema's property order, and, among those to the target's function with the target's keys,
how many follow the target's order (the order the request mentions them in, as calltune's generator writes it)
and how many of those targets are in another order than the schema's."""
import json
import sys
from collections import Counter

from calltune.chat.parse import parse_answer
from calltune.examples import load_examples


def _schema_order(call: dict, schemas: dict) -> bool:
    props = schemas.get(call["name"], {}).get("properties", {})
    return list(call["arguments"]) == [k for k in props if k in call["arguments"]]


def orders(data: str, predictions: str) -> Counter:
    examples = {e.id: e for e in load_examples(data)}
    counts = Counter()
    with open(predictions, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            example = examples[row["id"]]
            schemas = {t.name: t.parameters for t in example.tools}
            targets = example.calls or []
            for call in parse_answer(row["raw"]).calls:
                if not isinstance(call.get("arguments"), dict) or len(call["arguments"]) < 2:
                    continue
                counts["calls"] += 1
                counts["schema_order"] += _schema_order(call, schemas)
                same = [t for t in targets if t["name"] == call["name"] and set(t["arguments"]) == set(call["arguments"])]
                if same:
                    counts["with_target_keys"] += 1
                    counts["target_order"] += list(call["arguments"]) == list(same[0]["arguments"])
                    if not _schema_order(same[0], schemas):
                        counts["target_not_schema_order"] += 1
                        counts["target_not_schema_order_followed"] += list(call["arguments"]) == list(same[0]["arguments"])
    return counts


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for predictions in argv[1:]:
        print(predictions, dict(sorted(orders(argv[0], predictions).items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
