"""`--novel-value-rate` (`synth/novel_values.py`): names in requests replaced by made-up ones, in the instruction
and every call alike, after the examples are drawn, so that only the names differ from a run at rate 0."""

import json
import random

import pytest
from synth_parallel_helpers import PLAIN, assert_recoverable

from calltune.synth.generator import SynthConfig, generate
from calltune.synth.novel_values import invented_name, replaceable, with_novel_values

CFG = dict(n=240, seed=4, procedural_rate=0.5, procedural_split="train", procedural_seed=0, parallel_rate=0.25,
           parallel_max_calls=4, irrelevant_rate=0.1, near_miss_rate=0.05, dialogue_rate=0.1)


@pytest.fixture(scope="module")
def pair():
    return generate(SynthConfig(**CFG, **PLAIN)), generate(SynthConfig(**CFG, **PLAIN, novel_value_rate=1.0))


def _calls(record):
    target = record["target"]
    return [] if target is None else target if isinstance(target, list) else [target]


def _strings(value):
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def test_only_the_names_change(pair):
    before, after = pair
    assert [r["id"] for r in before] == [r["id"] for r in after]
    changed = 0
    for old, new in zip(before, after):
        assert new["tools"] == old["tools"]
        if "novel_values" not in new["meta"]["augmentations"]:
            assert new == old
            continue
        changed += 1
        assert new["meta"] == dict(old["meta"], augmentations=sorted(old["meta"]["augmentations"] + ["novel_values"]))
        assert new["instruction"] != old["instruction"]
        old_calls, new_calls = _calls(old), _calls(new)
        assert [c["name"] for c in new_calls] == [c["name"] for c in old_calls]
        for a, b in zip(old_calls, new_calls):
            assert list(a["arguments"]) == list(b["arguments"])  # same parameters, in order
            for x, y in zip(_strings(a["arguments"]), _strings(b["arguments"])):
                if x != y:  # a replaced name: gone from the request, the new one stated verbatim
                    assert x not in new["instruction"] and y in new["instruction"]
                    assert replaceable(old) and x in replaceable(old)
    assert 15 <= changed <= 60  # the requests that have a name among their string arguments


def test_every_call_is_still_recoverable_from_the_request(pair):
    assert_recoverable(pair[1], "novel_values")


def test_rate_zero_draws_nothing_and_the_rate_is_per_request(pair):
    before, _ = pair
    assert generate(SynthConfig(**CFG, **PLAIN, novel_value_rate=0.0)) == before
    half = generate(SynthConfig(**CFG, **PLAIN, novel_value_rate=0.5))
    chosen = sum("novel_values" in r["meta"]["augmentations"] for r in half)
    eligible = sum(bool(replaceable(r)) for r in before)
    assert 0.3 * eligible <= chosen <= 0.7 * eligible
    assert generate(SynthConfig(**CFG, **PLAIN, novel_value_rate=0.5)) == half  # deterministic


def _record(instruction, arguments, properties, target_list=False):
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": properties}}}
    call = {"name": "f", "arguments": arguments}
    return {"instruction": instruction, "tools": [tool], "target": [call] if target_list else call,
            "meta": {"augmentations": []}}


S = {"type": "string"}


@pytest.mark.parametrize("instruction, arguments, properties, expected", [
    ("Weather in Paris and Rio de Janeiro?", {"a": "Paris", "b": "Rio de Janeiro"}, {"a": S, "b": S},
     ["Rio de Janeiro", "Paris"]),  # longest first
    ("Book the Grand Plaza Hotel", {"h": "Grand Plaza Hotel"}, {"h": S}, ["Grand Plaza Hotel"]),
    ("Book Old Bridge United", {"h": "Old Bridge United"}, {"h": S}, []),  # no name of its own
    ("Quote AAPL", {"t": "AAPL"}, {"t": S}, []),  # a code, not a name
    ("Find a tennis racket", {"q": "tennis racket"}, {"q": S}, []),
    ("Weather in Paris", {"c": "Paris"}, {"c": {"type": "string", "enum": ["Paris", "Rome"]}}, []),
    ("Weather in PARIS or paris", {"c": "Paris"}, {"c": S}, []),  # stated in another case too
    ("Trip to Paris", {"c": "Lyon"}, {"c": S}, []),  # not stated
    ("Trip from Paris to Paris Nord", {"a": "Paris", "b": "Paris Nord"}, {"a": S, "b": S}, ["Paris Nord"]),
    ("Ship to 12 Oak Street, Lyon", {"addr": {"street": "12 Oak Street", "city": "Lyon"}},
     {"addr": {"type": "object", "properties": {"street": S, "city": S}}}, ["Lyon"]),
    ("Compare Kyoto and Osaka", {"cities": ["Kyoto", "Osaka"]}, {"cities": {"type": "array", "items": S}},
     ["Kyoto", "Osaka"]),
])
def test_what_may_be_replaced(instruction, arguments, properties, expected):
    assert replaceable(_record(instruction, arguments, properties)) == expected


def test_a_dialogue_or_a_request_without_calls_is_left_alone():
    record = _record("Weather in Paris?", {"c": "Paris"}, {"c": S})
    assert replaceable(dict(record, target=None)) == []
    dialogue = {k: v for k, v in record.items() if k != "instruction"} | {"messages": [{"role": "user",
                                                                                       "content": "Paris?"}]}
    assert replaceable(dialogue) == []
    assert with_novel_values(dialogue, random.Random(0), 1.0) is dialogue


def test_a_replaced_request_is_consistent():
    record = _record("Compare Kyoto and Osaka, then Kyoto again.", {"cities": ["Kyoto", "Osaka"]},
                     {"cities": {"type": "array", "items": S}}, target_list=True)
    new = with_novel_values(record, random.Random(1), 1.0)
    kyoto, osaka = new["target"][0]["arguments"]["cities"]
    assert kyoto != osaka and "Kyoto" not in json.dumps(new) and "Osaka" not in json.dumps(new)
    assert new["instruction"] == f"Compare {kyoto} and {osaka}, then {kyoto} again."
    assert record["target"][0]["arguments"]["cities"] == ["Kyoto", "Osaka"]  # the input is not changed
    assert with_novel_values(record, random.Random(1), 0.0) is record


def test_an_invented_name_keeps_its_shape():
    rng = random.Random(0)
    for value in ("Grand Plaza Hotel", "Rio de Janeiro", "Barcelona FC", "Marie-Claire Dubois"):
        name = invented_name(value, rng, set())
        words, old = name.replace("-", " ").split(), value.replace("-", " ").split()
        assert len(words) == len(old) and name != value
        assert [w for w in words if w in ("Grand", "Hotel", "de", "FC")] == \
               [w for w in old if w in ("Grand", "Hotel", "de", "FC")]
    assert invented_name("Paris", random.Random(3), {invented_name("Paris", random.Random(3), set())}) != \
        invented_name("Paris", random.Random(3), set())


def test_the_readme_examples():
    rng = random.Random(0)
    assert [invented_name(v, rng, set()) for v in ("Lisbon", "Grand Plaza Hotel", "Rio de Janeiro")] == \
        ["Chebrum", "Grand Nurand Hotel", "Sikliv de Trustiav"]
