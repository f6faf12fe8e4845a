"""Round amounts: large numbers as people write them, "500,000" or "1,200", so that a model learns to copy them.

The generator draws numbers uniformly (`slots.sample_value`), so its large values are ragged ("45,575",
"759,221") and almost never round. A round amount written with thousands separators is another task for a
model that reads digits one token at a time: to write `500000` from "500,000" it must count zeros that repeat,
where a ragged value can be copied digit by digit. At the generator's `round_value_rate`, a one-message
request's large numbers (1,000 or more) become round amounts of the same number of digits, with one or two
significant digits ("45,575" -> "40,000", "759221" -> "760,000"), always written with thousands separators, the
same value in the instruction and in every call.

A number is replaced only where that is safe: an integer or number argument (no enum or const) of a one-message
request whose calls all name an offered tool, not inside a list and not between 1,800 and 2,100 (a year or a
season); written in the instruction exactly once, in
one of the forms the generator writes ("45575", "45,575", "4523.5", "4,523.5"), on number boundaries and not
next to another number of a list; the new amount differs from every number of the request and satisfies the
parameter's schema (minimum, maximum, multipleOf). Records are replaced after they are drawn, from their own
RNG, so a rate above 0 changes these numbers and nothing else: the same examples, the same tools, the same
split. Rate 0 draws nothing.
"""

from __future__ import annotations

import random
import re

import jsonschema

from calltune.synth.checks import numbers_in
from calltune.synth.novel_values import _calls, request_calls

SMALLEST = 1000  # "1,000": the first amount with a thousands separator
YEARS = (1800, 2100)  # a number here may be a year or a season ("in 2024"): never replaced
NEXT_TO_LIST = re.compile(r"\d,\s*$|^,\s*\d|^\s*(?:and|or)\s+\d")


def _number_leaves(schema: dict, value, inside_list: bool = False) -> list[tuple[float, dict, bool]]:
    """(value, schema, inside a list) of every number in `value` (an argument, walked with its JSON Schema)
    that may be replaced: an integer or number of 1,000 or more, not a possible year, with no enum or const."""
    if not isinstance(schema, dict):
        return []
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        plain = schema.get("type") in ("integer", "number") and not {"enum", "const"} & set(schema)
        wanted = plain and value >= SMALLEST and not YEARS[0] <= value <= YEARS[1]
        return [(value, schema, inside_list)] if wanted else []
    if isinstance(value, list):
        return [leaf for item in value for leaf in _number_leaves(schema.get("items", {}), item, True)]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return [leaf for key, item in value.items() for leaf in _number_leaves(props.get(key, {}), item)]
    return []


def written_forms(value: float) -> list[str]:
    """The ways the generator writes `value` in a request: plain, and with thousands separators."""
    if value == int(value):
        return [str(int(value)), f"{int(value):,}"]
    plain = repr(float(value))
    whole, _, frac = plain.partition(".")
    return [plain, f"{int(whole):,}.{frac}"]


def _spans(text: str, value: float) -> list[tuple[int, int]]:
    found = []
    for form in written_forms(value):
        pattern = r"(?<![\d.,])" + re.escape(form) + r"(?![\d]|[.,]\d)"
        found += [m.span() for m in re.finditer(pattern, text)]
    return sorted(set(found))


def round_amount(value: float, rng: random.Random) -> int:
    """A round amount with as many digits as `value`'s whole part, with one or two significant digits."""
    digits = len(str(int(value)))
    significant = rng.choice((1, 2))
    lead = rng.randint(10 ** (significant - 1), 10 ** significant - 1)
    return lead * 10 ** (digits - significant)


def replaceable(record: dict) -> list[tuple[float, list[dict], tuple[int, int]]]:
    """(value, the schemas it fills, its span in the instruction) for each number of `record` that may be
    replaced (see the module docstring); [] when the record is not a one-message request with calls."""
    found = request_calls(record)
    if found is None:
        return []
    calls, schemas = found
    leaves: dict[float, list[dict]] = {}
    listed = set()
    for call in calls:
        for value, schema, inside_list in _number_leaves(schemas[call["name"]], call["arguments"]):
            leaves.setdefault(value, []).append(schema)
            listed |= {value} if inside_list else set()
    text = record["instruction"]
    out = []
    for value, fills in leaves.items():
        where = _spans(text, value)
        if value in listed:
            continue
        if len(where) != 1:
            continue
        start, end = where[0]
        if NEXT_TO_LIST.search(text[:start]) or NEXT_TO_LIST.search(text[end:]):
            continue
        out.append((value, fills, (start, end)))
    return sorted(out, key=lambda item: item[2])


def _replace_in(value, old: float, new: int):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return new if value == old else value
    if isinstance(value, list):
        return value  # list items are never replaced
    if isinstance(value, dict):
        return {k: _replace_in(v, old, new) for k, v in value.items()}
    return value


def with_round_values(record: dict, rng: random.Random, rate: float) -> dict:
    """`record` with its replaceable numbers made round amounts, with probability `rate` (drawn only for a
    record that has one); tagged `round_values` in `meta.augmentations`. A number whose every draw of a new
    amount (up to 20) breaks its schema or repeats a number of the request stays as it is."""
    values = replaceable(record)
    if not values or rng.random() >= rate:
        return record
    text = record["instruction"]
    taken = set(numbers_in(text))
    calls = _calls(record)
    pieces, last, changed = [], 0, False
    for value, fills, (start, end) in values:
        for _ in range(20):
            new = round_amount(value, rng)
            if new not in taken and all(jsonschema.Draft202012Validator(s).is_valid(new) for s in fills):
                break
        else:
            continue
        taken.add(new)
        calls = [dict(c, arguments=_replace_in(c["arguments"], value, new)) for c in calls]
        pieces += [text[last:start], f"{new:,}"]
        last, changed = end, True
    if not changed:
        return record
    meta = dict(record["meta"], augmentations=sorted(record["meta"]["augmentations"] + ["round_values"]))
    target = calls if isinstance(record["target"], list) else calls[0]
    return dict(record, instruction="".join(pieces) + text[last:], target=target, meta=meta)
