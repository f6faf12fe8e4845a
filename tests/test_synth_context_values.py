"""`--context-value-rate` (`synth/context_values.py`): one more sentence naming another value of an argument's kind
in a role no parameter takes, added after the examples are drawn, so that only the instruction changes."""

import datetime as dt
import random

import pytest
from synth_parallel_helpers import PLAIN, assert_recoverable

from calltune.synth import pools
from calltune.synth.checks import contains, numbers_in
from calltune.synth.context_values import candidates, with_context_value
from calltune.synth.generator import SynthConfig, generate
from calltune.synth.phrasing import join_sentences, split_thanks
from calltune.synth.slots import date_forms

CFG = dict(n=240, seed=4, procedural_rate=0.5, procedural_split="train", procedural_seed=0, parallel_rate=0.25,
           parallel_max_calls=4, irrelevant_rate=0.1, near_miss_rate=0.05, dialogue_rate=0.1)


@pytest.fixture(scope="module")
def pair():
    return generate(SynthConfig(**CFG, **PLAIN)), generate(SynthConfig(**CFG, **PLAIN, context_value_rate=1.0))


def _calls(record):
    target = record["target"]
    return [] if target is None else target if isinstance(target, list) else [target]


def _leaves(value):
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def _added(old: str, new: str) -> str:
    """The sentence `new` has beyond `old`: before it, or after it (`join_sentences`: before a closing thanks)."""
    if new.endswith(" " + old):
        return new[:-len(old) - 1]
    request, thanks = split_thanks(old)
    first = request if request.endswith((".", "?", "!")) else request + "."
    assert new.startswith(first + " ") and new.endswith(thanks), (old, new)
    sentence = new[len(first) + 1:len(new) - len(thanks)]
    assert join_sentences(old, sentence) == new
    return sentence


def test_only_one_sentence_is_added_and_the_calls_stay(pair):
    before, after = pair
    assert [r["id"] for r in before] == [r["id"] for r in after]
    changed, kinds = 0, set()
    for old, new in zip(before, after):
        if "context_values" not in new["meta"]["augmentations"]:
            assert new == old
            continue
        changed += 1
        assert new["meta"] == dict(old["meta"], augmentations=sorted(old["meta"]["augmentations"] + ["context_values"]))
        assert {k: v for k, v in new.items() if k != "instruction"} | {"meta": old["meta"]} == \
            {k: v for k, v in old.items() if k != "instruction"}
        sentence = _added(old["instruction"], new["instruction"])
        values = [x for c in _calls(old) for x in _leaves(c["arguments"])]
        assert not any(isinstance(v, str) and contains(sentence, v) for v in values)  # no argument in it
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        assert not any(abs(n - v) < 1e-9 for n in numbers_in(sentence) for v in numbers)
        found = dict(candidates(old))
        assert found
        for value, kind in found.items():  # the sentence names a rival of one of them, of its kind
            if kind == "city" and any(contains(sentence, c) for c in pools.CITIES if c != value):
                kinds.add(kind)
            if kind == "date":
                day = dt.date.fromisoformat(value)
                near = [(day + dt.timedelta(days=d)).isoformat() for d in range(-60, 61) if d]
                if any(contains(sentence, f) for iso in near for f in date_forms(iso)):
                    kinds.add(kind)
            if kind == "person" and any(contains(sentence, f) for f in pools.FIRST_NAMES):
                kinds.add(kind)
            if kind == "name":
                kinds.add(kind)
    assert 25 <= changed <= 120
    assert kinds == {"city", "person", "name", "date"}


def test_every_call_is_still_recoverable_from_the_request(pair):
    assert_recoverable(pair[1], "context_values")


def test_rate_zero_draws_nothing_and_the_rate_is_per_request(pair):
    before, _ = pair
    assert generate(SynthConfig(**CFG, **PLAIN, context_value_rate=0.0)) == before
    half = generate(SynthConfig(**CFG, **PLAIN, context_value_rate=0.5))
    chosen = sum("context_values" in r["meta"]["augmentations"] for r in half)
    eligible = sum(bool(candidates(r)) for r in before)
    assert 0.3 * eligible <= chosen <= 0.7 * eligible
    assert generate(SynthConfig(**CFG, **PLAIN, context_value_rate=0.5)) == half  # deterministic


def _record(instruction, arguments, parameters, tool="book"):
    return {"instruction": instruction, "tools": [{"type": "function", "function": {
        "name": tool, "description": "", "parameters": {"type": "object", "properties": parameters}}}],
        "target": {"name": tool, "arguments": arguments}, "meta": {"augmentations": []}}


def test_which_values_get_a_rival():
    plain, date = {"type": "string"}, {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    record = _record("Book Hotel Aurora in Lisbon for Maya Costa on March 5, 2026, in economy.",
                     {"hotel": "Hotel Aurora", "city": "Lisbon", "guest": "Maya Costa", "day": "2026-03-05",
                      "cls": "economy"},
                     {"hotel": plain, "city": plain, "guest": plain, "day": date, "cls": {"type": "string",
                                                                                         "enum": ["economy"]}})
    assert candidates(record) == [("2026-03-05", "date"), ("Hotel Aurora", "name"), ("Lisbon", "city"),
                                  ("Maya Costa", "person")]
    # not a name (lower case), stated in another case, an enum, a pattern, or no call at all: none
    assert candidates(_record("Find a yoga mat.", {"q": "yoga mat"}, {"q": plain})) == []
    assert candidates(_record("Weather in LISBON?", {"city": "Lisbon"}, {"city": plain})) == []
    assert candidates(_record("Weather in Lisbon?", {"city": "Lisbon"}, {"city": {"type": "string",
                                                                                 "enum": ["Lisbon"]}})) == []
    assert candidates(dict(_record("Hi!", {}, {}), target=None)) == []
    assert candidates({"messages": [], "tools": [], "target": {"name": "x", "arguments": {"c": "Lisbon"}}}) == []


def test_a_sentence_that_would_state_an_argument_or_an_enum_is_not_added():
    record = _record("Weather in Lisbon, in celsius?", {"city": "Lisbon"},
                     {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "Paris"]}})
    rng = random.Random(0)
    for _ in range(50):
        out = with_context_value(record, rng, 1.0)
        if out is not record:
            sentence = out["instruction"].replace("Weather in Lisbon, in celsius?", "").strip()
            assert not contains(sentence, "Paris") and not contains(sentence, "Lisbon")
            assert out["target"] == record["target"]
