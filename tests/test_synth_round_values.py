"""`--round-value-rate` (`synth/round_values.py`): large numbers of one-message requests made round amounts with
thousands separators, in the instruction and every call alike, after the examples are drawn, so that only those
numbers differ from a run at rate 0."""

import random
import re

import pytest
from synth_parallel_helpers import PLAIN, assert_recoverable

from calltune.synth.generator import SynthConfig, generate
from calltune.synth.round_values import replaceable, round_amount, with_round_values, written_forms

CFG = dict(n=300, seed=4, procedural_rate=0.5, procedural_split="train", procedural_seed=0, parallel_rate=0.25,
           parallel_max_calls=4, irrelevant_rate=0.1, near_miss_rate=0.05, dialogue_rate=0.1)


@pytest.fixture(scope="module")
def pair():
    return generate(SynthConfig(**CFG, **PLAIN)), generate(SynthConfig(**CFG, **PLAIN, round_value_rate=1.0))


def _calls(record):
    target = record["target"]
    return [] if target is None else target if isinstance(target, list) else [target]


def _numbers(value):
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    return []


def _is_round(value):
    return value == int(value) and len(str(int(value)).rstrip("0")) <= 2


def test_only_the_large_numbers_change(pair):
    before, after = pair
    assert [r["id"] for r in before] == [r["id"] for r in after]
    changed = 0
    for old, new in zip(before, after):
        assert new["tools"] == old["tools"]
        if "round_values" not in new["meta"]["augmentations"]:
            assert new == old
            continue
        changed += 1
        assert new["meta"] == dict(old["meta"], augmentations=sorted(old["meta"]["augmentations"] + ["round_values"]))
        old_calls, new_calls = _calls(old), _calls(new)
        assert [c["name"] for c in new_calls] == [c["name"] for c in old_calls]
        swaps = 0
        for a, b in zip(old_calls, new_calls):
            assert list(a["arguments"]) == list(b["arguments"])  # same parameters, in order
            for x, y in zip(_numbers(a["arguments"]), _numbers(b["arguments"])):
                if x != y:  # a replaced number: round, as many digits, written with separators once
                    swaps += 1
                    assert x >= 1000 and _is_round(y) and len(str(int(y))) == len(str(int(x)))
                    assert x in [v for v, _, _ in replaceable(old)]
                    assert len(re.findall(r"(?<![\d,.])" + re.escape(f"{y:,}") + r"(?![\d])", new["instruction"])) == 1
                    assert not any(f in new["instruction"] for f in written_forms(x) if len(f) > 4)
        assert swaps
        assert re.sub(r"[\d,.]", "", new["instruction"]) == re.sub(r"[\d,.]", "", old["instruction"])  # words kept
    assert 10 <= changed <= 60  # the requests with a number of 1,000 or more


def test_every_call_is_still_recoverable_from_the_request(pair):
    assert_recoverable(pair[1], "round_values")


def test_rate_zero_draws_nothing_and_the_rate_is_per_request(pair):
    before, _ = pair
    assert generate(SynthConfig(**CFG, **PLAIN, round_value_rate=0.0)) == before
    half = generate(SynthConfig(**CFG, **PLAIN, round_value_rate=0.5))
    chosen = sum("round_values" in r["meta"]["augmentations"] for r in half)
    eligible = sum(bool(replaceable(r)) for r in before)
    assert 0.3 * eligible <= chosen <= 0.7 * eligible
    assert generate(SynthConfig(**CFG, **PLAIN, round_value_rate=0.5)) == half  # deterministic


def _record(instruction, arguments, properties, target_list=False):
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": properties}}}
    call = {"name": "f", "arguments": arguments}
    return {"instruction": instruction, "tools": [tool], "target": [call] if target_list else call,
            "meta": {"augmentations": []}}


N = {"type": "number"}
I = {"type": "integer"}


@pytest.mark.parametrize("instruction, arguments, properties, expected", [
    ("Lend me 45,575 euros over 36 months", {"a": 45575, "m": 36}, {"a": N, "m": I}, [45575]),  # under 1,000: kept
    ("Lend me 45575 euros", {"a": 45575}, {"a": N}, [45575]),
    ("Pay 4,523.5 now", {"a": 4523.5}, {"a": N}, [4523.5]),
    ("Count 2,500 and 3,100 units", {"a": 2500, "b": 3100}, {"a": I, "b": I}, [3100]),  # "and" after a number only
    ("Season 2024 stats", {"s": 2024}, {"s": I}, []),  # a possible year
    ("Budget 5000", {"b": 5000}, {"b": {"type": "integer", "enum": [5000, 6000]}}, []),
    ("Pay 5000 or 5,000", {"a": 5000}, {"a": N}, []),  # written twice
    ("Pay 7000", {"a": 5000}, {"a": N}, []),  # not written
    ("Ship 12,000 and 15000", {"q": [12000, 15000]}, {"q": {"type": "array", "items": I}}, []),  # list items
    ("Quote 15000, 12000", {"a": 15000, "b": 12000}, {"a": I, "b": I}, []),  # next to another number
    ("Budget of 8,000 to 9,500 dollars", {"b": {"lo": 8000, "hi": 9500}},
     {"b": {"type": "object", "properties": {"lo": N, "hi": N}}}, [8000, 9500]),
])
def test_what_may_be_replaced(instruction, arguments, properties, expected):
    assert [v for v, _, _ in replaceable(_record(instruction, arguments, properties))] == expected


def test_a_dialogue_or_a_request_without_calls_is_left_alone():
    record = _record("Lend me 45575 euros", {"a": 45575}, {"a": N})
    assert replaceable(dict(record, target=None)) == []
    dialogue = {k: v for k, v in record.items() if k != "instruction"} | {"messages": [{"role": "user",
                                                                                       "content": "45575?"}]}
    assert replaceable(dialogue) == []
    assert with_round_values(dialogue, random.Random(0), 1.0) is dialogue


def test_a_replaced_request_is_consistent_and_obeys_the_schema():
    calls = [{"a": 45575, "m": 36}, {"a": 45575, "m": 48}]
    record = _record("Lend me 45575 euros over 36 months, and the same over 48 months.", calls[0],
                     {"a": {"type": "integer", "minimum": 41000, "maximum": 49999}, "m": I}, target_list=True)
    record["target"].append({"name": "f", "arguments": calls[1]})
    kept = 0
    for seed in range(20):
        new = with_round_values(record, random.Random(seed), 1.0)
        if new is record:  # 20 draws, none in range (one or two significant digits: 9 of the 99 amounts fit)
            kept += 1
            continue
        a = new["target"][0]["arguments"]["a"]
        assert a in (41000, 42000, 43000, 44000, 45000, 46000, 47000, 48000, 49000)  # two significant digits, in range
        assert new["target"][1]["arguments"]["a"] == a  # the same number in every call
        assert new["instruction"] == f"Lend me {a:,} euros over 36 months, and the same over 48 months."
    assert kept < 15
    assert record["target"][0]["arguments"]["a"] == 45575  # the input is not changed
    assert with_round_values(record, random.Random(1), 0.0) is record
    no_room = _record("Lend me 45575 euros", {"a": 45575}, {"a": {"type": "integer", "minimum": 45001,
                                                                   "maximum": 45999}})
    assert with_round_values(no_room, random.Random(0), 1.0) is no_room  # no round amount fits: left as it is


def test_round_amounts_keep_the_number_of_digits():
    rng = random.Random(0)
    for value in (1234, 45575, 759221, 4523.5, 1_000_001):
        drawn = {round_amount(value, rng) for _ in range(300)}
        assert all(len(str(n)) == len(str(int(value))) and _is_round(n) for n in drawn)
        assert len(str(min(drawn)).rstrip("0")) == 1 and len(str(max(drawn)).rstrip("0")) == 2  # one or two
    assert written_forms(45575) == ["45575", "45,575"] and written_forms(4523.5) == ["4523.5", "4,523.5"]
    assert written_forms(5000.0) == ["5000", "5,000"]
