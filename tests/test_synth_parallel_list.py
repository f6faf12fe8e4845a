"""Listed parallel requests (`parallel._list_calls`, the generator's `parallel_list_rate`): one request that lists
several values of one parameter, a call per value, every call recoverable from the message."""

import json

import pytest

from calltune.examples import parse_example
from calltune.synth.checks import check_call
from calltune.synth.parallel import changes_something
from synth_parallel_helpers import PLAIN, catalogue_of, tagged


def listed(**kw) -> list[dict]:
    return tagged("parallel_list_rate", "parallel_list", **kw)


def _varying(record: dict) -> set[str]:
    """The parameters whose value differs between the record's calls."""
    calls = [c["arguments"] for c in record["target"]]
    return {k for k in calls[0] if len({json.dumps(c[k]) for c in calls}) > 1}


@pytest.fixture(scope="module")
def records():
    return listed(**PLAIN)


def test_a_listed_request_calls_one_tool_once_per_value_of_one_parameter(records):
    assert len(records) > 50  # of 120: tools with no listable parameter fall back to one request per call
    assert {len(r["target"]) for r in records} == {2, 3, 4}
    for r in records:
        parse_example(r)
        calls = [c["arguments"] for c in r["target"]]
        assert len({c["name"] for c in r["target"]}) == 1 and r["meta"]["template"].endswith("+list")
        varying = _varying(r)
        assert len(varying) == 1, (r["instruction"], calls)  # one parameter takes a value per call, the rest shared
        assert all(c.keys() == calls[0].keys() for c in calls)
        assert len({json.dumps(c, sort_keys=True) for c in calls}) == len(calls)


def test_every_call_is_recoverable_from_the_one_message(records):
    for r in records:
        catalogue = catalogue_of(r)
        for call in r["target"]:
            assert check_call(catalogue[call["name"]], r["instruction"], call["arguments"]).ok, r["instruction"]
        assert r["instruction"].count(",") + r["instruction"].count(" and ") >= len(r["target"]) - 1


def test_renamed_and_masked_tools_keep_the_list():
    records = listed(n=80, rename_rate=0.5, mask_rate=0.3)
    assert records
    for r in records:
        parse_example(r)  # the calls validate against the offered (renamed or masked) tool they name
        assert {c["name"] for c in r["target"]} <= {t["function"]["name"] for t in r["tools"]}


def test_rate_zero_lists_nothing():
    assert listed(n=60, parallel_list_rate=0.0) == []


def test_a_tool_that_changes_something_lists_only_the_thing_it_acts_on():
    """"Cancel orders A, B and C", never "change its budget to 5 and 7" (two values for one record)."""
    records = listed(n=300, procedural_rate=1.0, **PLAIN)
    changing = 0
    for r in records:
        tool = catalogue_of(r)[r["meta"]["tool"][0]]
        varying = _varying(r)
        if changes_something(tool):
            changing += 1
            assert varying == {tool.required[0]}, (r["instruction"], varying)
    assert changing > 20
