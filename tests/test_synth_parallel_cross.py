"""Crossed parallel requests (`parallel._cross_calls`, the generator's `parallel_cross_rate`): one request that lists
values of two parameters and asks for every pair of them, a call per pair, every call recoverable from the message."""

import itertools
import json

import pytest

from calltune.examples import parse_example
from calltune.synth.checks import check_call
from calltune.synth.generator import SynthConfig, generate
from calltune.synth.parallel import CHANGING_VERBS
from synth_parallel_helpers import PLAIN, catalogue_of, tagged


def crossed(**kw) -> list[dict]:
    return tagged("parallel_cross_rate", "parallel_cross", **kw)


@pytest.fixture(scope="module")
def records():
    return crossed(**PLAIN)


def _varying(calls: list[dict]) -> list[str]:
    return [k for k in calls[0] if len({json.dumps(c[k]) for c in calls}) > 1]


def test_a_crossed_request_calls_one_tool_for_every_pair_of_two_listed_parameters(records):
    assert len(records) >= 10  # of 120: tools with fewer than two listable parameters fall back
    for r in records:
        parse_example(r)
        calls = [c["arguments"] for c in r["target"]]
        assert len({c["name"] for c in r["target"]}) == 1 and r["meta"]["template"].endswith("+cross")
        assert len(calls) == 4 and all(c.keys() == calls[0].keys() for c in calls)
        a, b = _varying(calls)  # exactly two parameters vary, the rest are shared
        pairs = {(json.dumps(c[a]), json.dumps(c[b])) for c in calls}
        assert pairs == set(itertools.product({p[0] for p in pairs}, {p[1] for p in pairs})), r["instruction"]


def test_every_call_is_recoverable_from_the_one_message(records):
    for r in records:
        catalogue = catalogue_of(r)
        for call in r["target"]:
            assert check_call(catalogue[call["name"]], r["instruction"], call["arguments"]).ok, r["instruction"]


def test_a_tool_that_changes_something_is_never_crossed(records):
    verbs = {c["name"].split(".")[-1].replace("_", " ").split()[0].lower() for r in records for c in r["target"]}
    assert not {v for v in verbs if v in CHANGING_VERBS}, verbs
    assert not any(r["meta"]["tool"][0].startswith(("update", "create", "delete")) for r in records)


def test_six_calls_when_the_limit_allows():
    sizes = {len(r["target"]) for r in crossed(n=80, parallel_max_calls=6, **PLAIN)}
    assert sizes == {4, 6}


def test_renamed_and_masked_tools_keep_the_cross():
    records = crossed(n=80, rename_rate=0.5, mask_rate=0.3)
    assert records
    for r in records:
        parse_example(r)  # the calls validate against the offered (renamed or masked) tool they name
        assert {c["name"] for c in r["target"]} <= {t["function"]["name"] for t in r["tools"]}


def test_rate_zero_crosses_nothing_and_changes_no_byte():
    base = dict(n=60, seed=0, parallel_rate=1.0, parallel_same_tool_rate=1.0, parallel_max_calls=4,
                irrelevant_rate=0.0, procedural_rate=0.5, procedural_split="train")
    assert crossed(n=60, parallel_cross_rate=0.0) == []
    assert generate(SynthConfig(**base)) == generate(SynthConfig(**base, parallel_cross_rate=0.0))


def test_fewer_than_four_calls_allowed_crosses_nothing():
    assert crossed(n=60, parallel_max_calls=3) == []
