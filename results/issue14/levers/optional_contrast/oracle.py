"""How many examples would be exact if each optional argument were given exactly when the target has it.

    python results/issue14/levers/optional_contrast/oracle.py DEV.jsonl PREDICTIONS.jsonl

PREDICTIONS is a hermes predictions file (`id` and `raw` suffice, as results/ keeps them). Each target call is
paired with a call made (`calltune.score.paired_calls`); in the paired call, optional arguments the target leaves
out are removed and optional arguments the target has but the call lacks are added with the target's value (the
model's own value is kept where it gave one). Prints the exact matches before and after.
"""

import json
import sys

from calltune.chat.parse import parse_answer
from calltune.examples import load_examples
from calltune.score import check_prediction, gold_calls, paired_calls


def main(data: str, pred: str) -> int:
    raws = {json.loads(line)["id"]: json.loads(line)["raw"] for line in open(pred)}
    before = after = 0
    examples = load_examples(data)
    for ex in examples:
        before += bool(check_prediction(ex, raws[ex.id], "hermes").exact)
        calls = [{"name": c["name"], "arguments": dict(c["arguments"])} for c in parse_answer(raws[ex.id]).calls]
        for want, made in paired_calls(calls, gold_calls(ex)):
            tool = ex.tool(want["name"])
            if made is None or tool is None:
                continue
            required = set(tool.parameters.get("required", []))
            for name in [n for n in made["arguments"] if n not in required and n not in want["arguments"]]:
                del made["arguments"][name]
            for name, value in want["arguments"].items():
                made["arguments"].setdefault(name, value)
        fixed = "\n".join(f"<tool_call>\n{json.dumps(c)}\n</tool_call>" for c in calls) if calls else raws[ex.id]
        after += bool(check_prediction(ex, fixed, "hermes").exact)
    print(f"{pred}: exact {before} of {len(examples)}; "
          f"with every optional argument given as the target has it: {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
