"""Context values: a name or a date in the request that is not an argument, so that a model learns to pick a
value by its role in the sentence rather than by its kind.

A generated request states each argument once and nothing else of its kind, so "the city in the request" is
always the city to pass. Real requests are not so tidy: "I'm writing from Oslo. What's the weather in Rome?",
"Today is March 3, 2026; book the room for March 10, 2026", "I already did this for Lakers; now the Celtics".
At the generator's `context_value_rate`, a one-message request with a city, a person's name, another name or a
date among its arguments gets one more sentence naming another value of that kind in a role no parameter
takes (where the user writes from, who asked, what is already done, today's date), before or after the
request; the calls stay as they were, so the only way to the right call is to read the roles.

A value qualifies as in `novel_values.py`: a plain string parameter (no enum, pattern or format) written as a
name and stated verbatim in one case, not inside another value; a date is an ISO date of a string parameter
with format `date`, stated in one of `slots.date_forms`. The other value is drawn so that it is in no argument and not
already in the request, and the sentence is kept only if it states no argument value, no number an argument
holds and no enum value of an offered tool. Records are changed after they are drawn, from their own RNG,
so a rate above 0 gives the same examples, tools, targets and split with one sentence added. Rate 0 draws
nothing.
"""

from __future__ import annotations

import datetime as dt
import random

from calltune.synth import pools
from calltune.synth.checks import DATE_RE, contains, numbers_in, spans
from calltune.synth.novel_values import invented_name, named_words, request_calls
from calltune.synth.phrasing import join_sentences
from calltune.synth.slots import date_forms

# Sentences by the kind of value they name; GENERIC ones fit every kind.
SENTENCES = {
    "city": ("I'm writing from {x}.", "I live in {x}, for what it's worth.", "I just got back from {x}.",
             "I'm based in {x}."),
    "person": ("{x} asked me to sort this out.", "My colleague {x} asked me to check this.",
               "{x} told me to ask you."),
    "name": ("{x} is already taken care of.", "Last time it was {x}."),
    "date": ("Today is {x}.", "For context, today is {x}.", "I'm writing this on {x}."),
}
GENERIC = ("I already did this for {x}.", "Forget about {x}, that one is done.")
TRIES = 10  # draws of another value and sentence before a record is left as it is


def _leaves(schema: dict, value, out: list) -> None:
    """(value, schema) of every string and number in `value` (an argument, walked with its JSON Schema)."""
    if isinstance(value, list):
        for item in value:
            _leaves(schema.get("items", {}) if isinstance(schema, dict) else {}, item, out)
    elif isinstance(value, dict):
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        for key, item in value.items():
            _leaves(props.get(key, {}), item, out)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        out.append((value, schema if isinstance(schema, dict) else {}))


def _argument_leaves(record: dict) -> list | None:
    """(value, schema) of every string and number in the calls of a one-message request; None for another record."""
    found = request_calls(record)
    if found is None:
        return None
    calls, schemas = found
    leaves: list = []
    for call in calls:
        _leaves(schemas[call["name"]], call["arguments"], leaves)
    return leaves


def _kind(value, schema: dict, text: str) -> str | None:
    """city, person, name or date when `value` may get a rival of its kind in `text` (module docstring)."""
    if not isinstance(value, str) or schema.get("type") != "string" or {"enum", "const"} & set(schema):
        return None
    if schema.get("format") == "date" and DATE_RE.match(value):
        try:
            return "date" if any(contains(text, form) for form in date_forms(value)) else None
        except ValueError:  # "2025-02-30"
            return None
    verbatim = {text[start:end] for start, end in spans(text, value)} == {value}  # stated, in one case
    if {"format", "pattern"} & set(schema) or not named_words(value) or not verbatim:
        return None
    if value in pools.CITIES:
        return "city"
    first, _, last = value.partition(" ")
    return "person" if first in pools.FIRST_NAMES and last in pools.LAST_NAMES else "name"


def candidates(record: dict) -> list[tuple[str, str]]:
    """`(value, kind)` of the values of `record` that may get a rival (see the module docstring), sorted; []
    when the record is not a one-message request with calls to offered tools."""
    leaves = _argument_leaves(record)
    return [] if leaves is None else _candidates(record["instruction"], leaves)


def _candidates(text: str, leaves: list) -> list[tuple[str, str]]:
    strings = {v for v, _ in leaves if isinstance(v, str)}
    out = set()
    for value, schema in leaves:
        kind = _kind(value, schema, text)
        if kind and not any(other != value and contains(other, value) for other in strings):
            out.add((value, kind))
    return sorted(out)


def _rival(value: str, kind: str, rng: random.Random, taken: set[str]) -> str:
    """Another value of `kind`, written as a user would: a city, a person of the generator's lists, a made-up
    name of the same shape, or a date up to 60 days away in one of its written forms."""
    if kind == "city":
        return rng.choice(pools.CITIES)
    if kind == "person":
        return f"{rng.choice(pools.FIRST_NAMES)} {rng.choice(pools.LAST_NAMES)}"
    if kind == "date":
        day = dt.date.fromisoformat(value) + dt.timedelta(days=rng.choice((-1, 1)) * rng.randint(1, 60))
        return rng.choice(date_forms(day.isoformat()))
    return invented_name(value, rng, taken)


def _enum_words(record: dict) -> set[str]:
    words: set[str] = set()

    def walk(schema):
        if isinstance(schema, dict):
            words.update(str(v) for v in schema.get("enum", ()) if isinstance(v, str))
            for child in schema.values():
                walk(child)
        elif isinstance(schema, list):
            for child in schema:
                walk(child)

    walk([t["function"].get("parameters", {}) for t in record["tools"]])
    return words


def _safe(sentence: str, rival: str, record: dict, leaves: list) -> bool:
    """The sentence names no argument value, no number an argument holds, no enum value of an offered tool,
    and its value is not already in the request."""
    if contains(record["instruction"], rival):
        return False
    strings = [v for v, _ in leaves if isinstance(v, str)]
    if any(contains(sentence, v) or contains(v, rival) for v in strings):
        return False
    numbers = [float(v) for v, _ in leaves if isinstance(v, (int, float))]
    if any(abs(n - m) < 1e-9 for n in numbers_in(sentence) for m in numbers):
        return False
    return not any(contains(sentence, word) for word in _enum_words(record))


def with_context_value(record: dict, rng: random.Random, rate: float) -> dict:
    """`record` with one sentence naming a rival of one of its values (drawn only for a record that has such a
    value), with probability `rate`; tagged `context_values` in `meta.augmentations`."""
    leaves = _argument_leaves(record)
    found = [] if leaves is None else _candidates(record["instruction"], leaves)
    if not found or rng.random() >= rate:
        return record
    value, kind = rng.choice(found)
    taken = {v for v, _ in leaves if isinstance(v, str)}
    for _ in range(TRIES):
        rival = _rival(value, kind, rng, taken)
        sentence = rng.choice(SENTENCES[kind] + GENERIC).format(x=rival)
        if not _safe(sentence, rival, record, leaves):
            continue
        text = record["instruction"]
        text = f"{sentence} {text}" if rng.random() < 0.5 else join_sentences(text, sentence)
        meta = dict(record["meta"], augmentations=sorted(record["meta"]["augmentations"] + ["context_values"]))
        return dict(record, instruction=text, meta=meta)
    return record
