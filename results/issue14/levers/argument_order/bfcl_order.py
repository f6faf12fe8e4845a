"""A diagnostic (nothing is tuned to it): BFCL simple_python cases split by whether the request mentions the
ground truth's values in the schema's order (each value located by the first of its accepted spellings found in
the request, lower-cased; cases with fewer than two located values are `unknown`), with a recorded run's
accuracy in each part: `python bfcl_order.py RUN/bfcl_simple_python/bfcl_per_example.jsonl ...`."""
import json
import pathlib
import sys


def _load(pattern: str) -> dict:
    import bfcl_eval

    path = next(pathlib.Path(bfcl_eval.__file__).parent.rglob(pattern))
    with open(path, encoding="utf-8") as handle:
        return {row["id"]: row for row in map(json.loads, handle)}


def kind(question: dict, answer: dict) -> str:
    text = question["question"][0][-1]["content"].lower()
    (_, args), = answer["ground_truth"][0].items()
    props = list(question["function"][0]["parameters"]["properties"])
    where = {}
    for key, values in args.items():
        hits = [text.find(str(v).lower()) for v in values if str(v) and text.find(str(v).lower()) >= 0]
        if hits:
            where[key] = min(hits)
    if len(where) < 2:
        return "unknown"
    return "schema_order" if sorted(where, key=where.get) == [p for p in props if p in where] else "other_order"


def main(argv=None) -> int:
    questions = _load("BFCL_v*_simple_python.json")
    answers = _load("possible_answer/BFCL_v*_simple_python.json")
    for path in sys.argv[1:] if argv is None else argv:
        counts = {}
        with open(path, encoding="utf-8") as handle:
            for row in map(json.loads, handle):
                k = kind(questions[row["id"]], answers[row["id"]])
                n, right = counts.get(k, (0, 0))
                counts[k] = (n + 1, right + bool(row["correct"]))
        print(path, {k: f"{right}/{n}" for k, (n, right) in sorted(counts.items())})
    return 0


if __name__ == "__main__":
    sys.exit(main())
