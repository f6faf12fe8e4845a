"""`calltune stress`: perturbed copies of a labelled set, each with its expected answer.

    calltune stress --data DEV.jsonl --out DIR [--train TRAIN.jsonl] [--seed 11711] [--limit N]

Examples with one request and at most one target call are perturbed; conversations (`messages`)
and parallel targets are skipped, and counted, in every condition.

Writes `DIR/<condition>.jsonl` for every condition below and `DIR/manifest.json`
(counts, and for each example that a condition could not perturb, why). Every
written example is parsed again with the normal loader, so its tools are valid
schemas and its target validates against them; ids are `<source id>~<condition>`
and `meta.stress` names the condition.

- `original`: the examples as they are (the reference row).
- `rename_params`: every top-level parameter renamed (a synonym from a small table,
  else camelCase / a `_value` suffix) in `properties` and `required`; the target
  is renamed to match. The instruction is unchanged, so the model must read the
  names from the schema.
- `reorder_properties`: the order of `properties` reversed, at every level.
- `unseen_tools`: only examples none of whose offered tools occurs in `--train`, compared by
  identity (`calltune.tool_identity`: catalogue origin, else description + parameter structure),
  so a renamed copy of a training tool is not unseen (skipped when no training file is given).
- `underspecified`: the value of one required argument is cut out of the
  instruction (with the preposition before it); the expected answer is no call.
  Only values that occur exactly once, verbatim, are cut.
- `distractors`: two tools from other examples added (one when the set has only
  one other), at seeded positions.
- `paraphrase`: the instruction reworded by templates and verb swaps; every
  value of the target that occurred in it still occurs.
- `irrelevant`: the instruction replaced by a request no offered tool serves
  (one sharing no content word with the tools' names and descriptions);
  expected answer: no call.
"""

from __future__ import annotations

import os
import random
import re

from calltune.errors import CalltuneError
from calltune.examples import Example, Tool, load_examples, parse_example
from calltune.jsonl import write_json, write_jsonl
from calltune.tool_identity import seen_keys, unseen

CONDITIONS = ("original", "rename_params", "reorder_properties", "unseen_tools", "underspecified",
              "distractors", "paraphrase", "irrelevant")

SYNONYMS = {
    "location": "place", "city": "town", "date": "day", "origin": "from_city", "destination": "to_city",
    "unit": "units", "units": "measurement_system", "days": "num_days", "passengers": "travelers",
    "cabin": "seat_class", "query": "search_text", "amount": "sum", "currency": "money_code",
    "name": "label", "email": "email_address", "time": "clock_time", "radius": "r", "order_id": "order_ref",
    "reason": "cause", "quantity": "count", "title": "heading", "message": "text", "language": "lang",
    "start_date": "from_date", "end_date": "to_date", "duration": "length", "price": "cost",
}

PREPOSITIONS = ("in", "to", "from", "for", "on", "at", "of", "with", "by", "about", "near")

PARAPHRASE_TEMPLATES = ("Could you help me with this: {text}", "Hey there! {text}", "{text} Thanks in advance.",
                        "I have a request. {text}", "Quick one: {text}", "{text} Appreciate it!")
VERB_SWAPS = (("What's", "What is"), ("what's", "what is"), ("I'd like", "I would like"), ("Book ", "Reserve "),
              ("book ", "reserve "), ("Find ", "Look up "), ("find ", "look up "), ("Show ", "Display "),
              ("Get ", "Fetch "), ("Please ", "Kindly "), ("please ", "kindly "), ("Can you", "Could you"))

IRRELEVANT_REQUESTS = (
    "Tell me a joke about penguins.",
    "Write a haiku about autumn leaves.",
    "Who painted the Mona Lisa?",
    "What is the capital of Australia?",
    "Summarize the plot of Hamlet in two sentences.",
    "Give me three tips for sleeping better.",
    "Explain what photosynthesis is to a child.",
    "Suggest a name for my goldfish.",
    "How many legs does a spider have?",
    "Recommend a good board game for four players.",
)


def _record(ex: Example, condition: str, *, instruction=None, tools=None, target="keep") -> dict:
    """A new example record derived from `ex`."""
    rec = {"id": f"{ex.id}~{condition}", "instruction": ex.instruction if instruction is None else instruction,
           "tools": [t.spec() for t in (ex.tools if tools is None else tools)],
           "target": ex.target if target == "keep" else target,
           "meta": {**ex.meta, "stress": condition, "source_id": ex.id}}
    if ex.system:
        rec["system"] = ex.system
    return rec


def _new_name(name: str, taken: set[str]) -> str:
    candidates = [SYNONYMS.get(name)]
    if "_" in name:
        head, *rest = name.split("_")
        candidates.append(head + "".join(w.title() for w in rest))
    candidates.append(f"{name}_value")
    return next(c for c in candidates if c and c not in taken)


def rename_params(ex: Example) -> tuple[dict | None, str]:
    tool = ex.tool(ex.target["name"]) if ex.target else None
    if tool is None or not tool.parameters.get("properties"):
        return None, "no target call with parameters"
    props = tool.parameters["properties"]
    mapping: dict[str, str] = {}
    for name in props:
        mapping[name] = _new_name(name, set(props) | set(mapping.values()))
    params = {**tool.parameters, "properties": {mapping[k]: v for k, v in props.items()}}
    if "required" in params:
        params["required"] = [mapping.get(k, k) for k in params["required"]]
    renamed = Tool(tool.name, tool.description, params)
    tools = [renamed if t.name == tool.name else t for t in ex.tools]
    target = {"name": tool.name, "arguments": {mapping[k]: v for k, v in ex.target["arguments"].items()}}
    return _record(ex, "rename_params", tools=tools, target=target), ""


def _reversed_properties(schema):
    if isinstance(schema, list):
        return [_reversed_properties(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {k: _reversed_properties(v) for k, v in reversed(list(value.items()))}
        else:
            out[key] = _reversed_properties(value)
    return out


def reorder_properties(ex: Example) -> tuple[dict | None, str]:
    if not any(len(t.parameters.get("properties", {})) > 1 for t in ex.tools):
        return None, "no tool with two or more parameters"
    tools = [Tool(t.name, t.description, _reversed_properties(t.parameters)) for t in ex.tools]
    return _record(ex, "reorder_properties", tools=tools), ""


def _value_spans(text: str, value) -> list[re.Match]:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return []
    shown = str(value)
    if isinstance(value, float) and value.is_integer():
        shown = str(int(value))
    if len(shown) < 2 and not shown.isdigit():
        return []
    return list(re.finditer(r"(?<![\w.])" + re.escape(shown) + r"(?![\w])", text, flags=re.IGNORECASE))


def underspecified(ex: Example) -> tuple[dict | None, str]:
    tool = ex.tool(ex.target["name"]) if ex.target else None
    if tool is None:
        return None, "no target call"
    props = tool.parameters.get("properties", {})
    for name in tool.parameters.get("required", []):
        value = ex.target["arguments"].get(name)
        if "default" in props.get(name, {}):
            continue
        spans = _value_spans(ex.instruction, value)
        if len(spans) != 1:
            continue
        start, end = spans[0].span()
        before = ex.instruction[:start]
        words = before.rstrip().split(" ")
        if words and words[-1].lower() in PREPOSITIONS:
            before = " ".join(words[:-1])
        text = (before.rstrip() + " " + ex.instruction[end:].lstrip()).strip()
        text = re.sub(r"\s+([?.!,;:])", r"\1", text)
        text = re.sub(r"\s{2,}", " ", text)
        if len(text.split()) < 2 or _value_spans(text, value):
            continue
        return _record(ex, "underspecified", instruction=text, target=None), ""
    return None, "no required value occurs exactly once in the instruction"


def distractors(ex: Example, pool: list[Tool], rng: random.Random) -> tuple[dict | None, str]:
    names = {t.name for t in ex.tools}
    others = sorted({t.name: t for t in pool if t.name not in names}.values(), key=lambda t: t.name)
    if not others:
        return None, "no other tool in the set"
    tools = list(ex.tools)
    for extra in rng.sample(others, min(2, len(others))):
        tools.insert(rng.randrange(len(tools) + 1), extra)
    return _record(ex, "distractors", tools=tools), ""


def _target_values(ex: Example) -> list:
    return list(ex.target["arguments"].values()) if ex.target else []


def paraphrase(ex: Example, rng: random.Random) -> tuple[dict | None, str]:
    text = ex.instruction
    for old, new in VERB_SWAPS:
        if old in text:
            text = text.replace(old, new, 1)
            break
    body = text[0].lower() + text[1:] if text[:1].isupper() and not text[:2].isupper() else text
    template = rng.choice(PARAPHRASE_TEMPLATES)
    text = template.format(text=body if template.startswith(("Could", "Quick")) else text)
    kept = all(_value_spans(text, v) or not _value_spans(ex.instruction, v) for v in _target_values(ex))
    if not kept or text == ex.instruction:
        return None, "a target value would not survive the rewording"
    return _record(ex, "paraphrase", instruction=text), ""


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3}


def irrelevant(ex: Example, rng: random.Random) -> tuple[dict | None, str]:
    tool_words = set().union(*(_words(f"{t.name.replace('_', ' ')} {t.description}") for t in ex.tools))
    options = [r for r in IRRELEVANT_REQUESTS if not _words(r) & tool_words]
    if not options:
        return None, "every canned request shares a word with the tools"
    return _record(ex, "irrelevant", instruction=rng.choice(options), target=None), ""


def build_stress(examples: list[Example], train: list[Example] | None, seed: int) -> dict[str, tuple[list, list]]:
    """Return {condition: (records, skipped)}, skipped being `{"id", "reason"}` entries."""
    rng = random.Random(seed)
    out: dict[str, tuple[list, list]] = {c: ([], []) for c in CONDITIONS}
    labeled = []
    for ex in examples:
        if not ex.labeled:
            continue
        if ex.messages is not None or isinstance(ex.target, list):  # the perturbations read one request
            for condition in CONDITIONS:  # and one call; conversations and parallel targets are counted
                out[condition][1].append({"id": ex.id, "reason": "a conversation or parallel target"})
            continue
        labeled.append(ex)
    pool = [t for ex in labeled for t in ex.tools]
    train_tools = None if train is None else seen_keys(train)
    for ex in labeled:
        results = {
            "original": (_record(ex, "original"), ""),
            "rename_params": rename_params(ex),
            "reorder_properties": reorder_properties(ex),
            "underspecified": underspecified(ex),
            "distractors": distractors(ex, pool, rng),
            "paraphrase": paraphrase(ex, rng),
            "irrelevant": irrelevant(ex, rng),
        }
        if train_tools is None:
            results["unseen_tools"] = (None, "no --train file given")
        elif not unseen(ex, train_tools):
            results["unseen_tools"] = (None, "a tool also occurs in train")
        else:
            results["unseen_tools"] = (_record(ex, "unseen_tools"), "")
        for condition, (record, reason) in results.items():
            records, skipped = out[condition]
            if record is None:
                skipped.append({"id": ex.id, "reason": reason})
                continue
            parse_example(record, f"stress:{condition}", len(records) + 1)  # still well formed, target fits
            records.append(record)
    return out


def run_stress(data: str, out_dir: str, train: str | None = None, seed: int = 11711,
               limit: int | None = None) -> dict:
    """Write every condition's JSONL and the manifest; return the manifest."""
    examples = load_examples(data)
    if not any(ex.labeled for ex in examples):
        raise CalltuneError(f"{data}: no labeled examples to perturb")
    built = build_stress(examples, load_examples(train) if train else None, seed)
    os.makedirs(out_dir, exist_ok=True)
    manifest = {"data": data, "train": train, "seed": seed, "limit": limit, "conditions": {}}
    for condition, (records, skipped) in built.items():
        if limit is not None:
            records = records[:limit]
        path = os.path.join(out_dir, f"{condition}.jsonl")
        write_jsonl(path, records)
        manifest["conditions"][condition] = {"path": path, "n": len(records), "skipped": len(skipped),
                                             "skip_reasons": _count_reasons(skipped)}
    write_json(os.path.join(out_dir, "manifest.json"), manifest)
    return manifest


def _count_reasons(skipped: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in skipped:
        counts[item["reason"]] = counts.get(item["reason"], 0) + 1
    return counts


def format_manifest(manifest: dict) -> str:
    lines = [f"{'condition':<20} {'n':>5} {'skipped':>8}"]
    for condition, info in manifest["conditions"].items():
        lines.append(f"{condition:<20} {info['n']:>5} {info['skipped']:>8}")
    return "\n".join(lines)
