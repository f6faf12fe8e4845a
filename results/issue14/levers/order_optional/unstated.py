"""Where a run's unstated optional arguments stand: `python unstated.py DATA PREDICTIONS.jsonl [...]` prints, for each
predictions file (`calltune predict --out`, hermes), how many optional arguments its calls give that no target call
to that function has, split by whether a required key comes after them in the call. An optional margin
(`--optional-margin`) weighs the end of the arguments object against another key, which the grammar allows only once
every required key is in, so it can act on the second kind only."""
import json
import sys
from collections import Counter

from calltune.chat.parse import parse_answer
from calltune.examples import load_examples


def unstated(data: str, predictions: str) -> Counter:
    examples = {e.id: e for e in load_examples(data)}
    counts = Counter()
    with open(predictions, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            example = examples[row["id"]]
            required = {t.name: set(t.parameters.get("required", [])) for t in example.tools}
            for call in parse_answer(row["raw"]).calls:
                targets = [t for t in example.calls or [] if t["name"] == call["name"]]
                if not targets or not isinstance(call.get("arguments"), dict):
                    continue
                stated = set().union(*(t["arguments"] for t in targets))
                keys = list(call["arguments"])
                for j, key in enumerate(keys):
                    if key not in required[call["name"]] and key not in stated:
                        before = any(k in required[call["name"]] for k in keys[j + 1:])
                        counts["before_a_required_key" if before else "after_every_required_key"] += 1
    return counts


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for predictions in argv[1:]:
        print(predictions, dict(sorted(unstated(argv[0], predictions).items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
