"""Parallel requests that hold more calls than tools. Mixed (`parallel._mixed_calls`, the generator's
`parallel_mixed_rate`): one message that asks one tool for several listed values and a second tool once.
Repeated (`parallel._repeat_tools`, `parallel_repeat_rate`): 3 or more sentences, one call each, over fewer
tools, so that a tool is asked again with other values after another tool's call. Grouped (`_mixed_calls` with
`b_count`, `parallel_group_rate`): one message that asks each of two tools for several listed values."""

import json
from collections import Counter

import pytest

from calltune.examples import parse_example
from calltune.synth.catalogue import all_tools
from calltune.synth.checks import check_call
from calltune.synth.composer import composed_catalogue
from calltune.synth.generator import SynthConfig, generate

HAND = {t.name: t for t in all_tools()}
COMPOSED = {t.name: t for t in composed_catalogue(0, "train").tools}
PLAIN = dict(rename_rate=0.0, mask_rate=0.0, shuffle_rate=0.0)
BASE = dict(n=120, seed=0, parallel_rate=1.0, parallel_same_tool_rate=0.0, parallel_mixed_rate=1.0,
            parallel_max_calls=4, irrelevant_rate=0.0, procedural_rate=0.5, procedural_split="train",
            procedural_seed=0)
REPEAT = BASE | {"parallel_mixed_rate": 0.0, "parallel_repeat_rate": 1.0}
GROUP = BASE | {"parallel_mixed_rate": 0.0, "parallel_group_rate": 1.0}
# kind: (its config, its rate, its tag, a parallel_max_calls too small for it)
KINDS = {"mixed": (BASE, "parallel_mixed_rate", "parallel_mixed", 2),
         "repeat": (REPEAT, "parallel_repeat_rate", "parallel_repeat", 2),
         "group": (GROUP, "parallel_group_rate", "parallel_group", 3)}


def tagged(kind: str, **kw) -> list[dict]:
    """The records of `kind` that its config (with `kw`) generates."""
    config, _, tag, _ = KINDS[kind]
    return [r for r in generate(SynthConfig(**config | kw)) if tag in r["meta"]["augmentations"]]


@pytest.fixture(scope="module")
def records():
    return tagged("mixed", **PLAIN)


def test_a_mixed_request_lists_values_for_one_tool_and_calls_the_other_once(records):
    assert len(records) > 40  # of 120: tools with no listable parameter fall back to a call per tool
    assert {len(r["target"]) for r in records} == {3, 4}
    for r in records:
        parse_example(r)
        counts = Counter(c["name"] for c in r["target"])
        assert sorted(counts.values()) == [1, len(r["target"]) - 1], r["target"]
        assert "parallel_two_tools" in r["meta"]["augmentations"]
        assert "parallel_list" not in r["meta"]["augmentations"]  # that tag is for one tool's listed request
        listed = [c["arguments"] for c in r["target"] if counts[c["name"]] > 1]
        varying = {k for k in listed[0] if len({json.dumps(c[k]) for c in listed}) > 1}
        assert len(varying) == 1, (r["instruction"], listed)  # one parameter takes a value per call
        assert all(c.keys() == listed[0].keys() for c in listed)
        assert len({json.dumps(c, sort_keys=True) for c in listed}) == len(listed)
        assert len(r["meta"]["tool"]) == len(r["target"]) and len(set(r["meta"]["tool"])) == 2
    assert {r["target"][0]["name"] == r["target"][1]["name"] for r in records} == {True, False}  # either order


def recoverable(r: dict) -> bool:
    """Every call of `r` passes `check_call` against the whole message."""
    catalogue = COMPOSED if "procedural" in r["meta"]["augmentations"] else HAND
    return all(check_call(catalogue[c["name"]], r["instruction"], c["arguments"]).ok for c in r["target"])


def test_every_call_is_recoverable_from_the_one_message(records):
    for r in records:
        assert recoverable(r), r["instruction"]


def test_a_tool_comes_back_with_other_values_among_other_tools():
    records = tagged("repeat", **PLAIN)
    assert len(records) == 120
    shapes = Counter((len(r["target"]), len({c["name"] for c in r["target"]})) for r in records)
    assert set(shapes) == {(3, 2), (4, 2), (4, 3)}, shapes
    interleaved = 0
    for r in records:
        parse_example(r)
        names = [c["name"] for c in r["target"]]
        assert names == r["meta"]["tool"]
        assert "parallel_two_tools" in r["meta"]["augmentations"]
        assert not {"parallel_list", "parallel_mixed"} & set(r["meta"]["augmentations"])
        calls = [json.dumps(c, sort_keys=True) for c in r["target"]]
        assert len(set(calls)) == len(calls), r["instruction"]  # a tool asked again asks for other values
        assert recoverable(r), r["instruction"]
        # a tool called again after another tool's call, not only back to back
        interleaved += any(names[i] in names[:i - 1] and names[i - 1] != names[i] for i in range(2, len(names)))
    assert interleaved > 30


def test_a_grouped_request_lists_values_for_each_of_two_tools():
    records = tagged("group", **PLAIN | {"parallel_max_calls": 5})
    assert len(records) > 90  # of 120: the two tools are drawn among those that can list a value
    assert {(len(r["target"]), min(Counter(c["name"] for c in r["target"]).values())) for r in records} == \
        {(4, 2), (5, 2)}  # 2 + 2, 2 + 3 or 3 + 2
    for r in records:
        parse_example(r)
        assert not {"parallel_list", "parallel_mixed", "parallel_repeat"} & set(r["meta"]["augmentations"])
        names = [c["name"] for c in r["target"]]
        assert names == r["meta"]["tool"] and len(set(names)) == 2
        catalogue = COMPOSED if "procedural" in r["meta"]["augmentations"] else HAND
        assert r["meta"]["domain"] in {catalogue[name].domain for name in names}
        assert names == sorted(names, key=names.index)  # each tool's calls together, as its list reads
        for name in set(names):
            listed = [c["arguments"] for c in r["target"] if c["name"] == name]
            varying = {k for k in listed[0] if len({json.dumps(c[k]) for c in listed}) > 1}
            assert len(varying) == 1, (r["instruction"], listed)  # one parameter takes a value per call
            assert all(c.keys() == listed[0].keys() for c in listed)
        assert recoverable(r), r["instruction"]
    parts = Counter(tuple(Counter(r["meta"]["tool"]).values()) for r in records if len(r["target"]) == 5)
    assert set(parts) == {(2, 3), (3, 2)}, parts


@pytest.mark.parametrize("kind", KINDS)
def test_renamed_and_masked_tools_keep_the_shape(kind):
    records = tagged(kind, n=60, rename_rate=0.5, mask_rate=0.3)
    assert records
    for r in records:
        parse_example(r)  # the calls validate against the offered (renamed or masked) tool they name
        names = [c["name"] for c in r["target"]]
        assert len(set(names)) < len(names) and set(names) <= {t["function"]["name"] for t in r["tools"]}
        assert len(set(names)) == 2 or kind == "repeat"


@pytest.mark.parametrize("kind", KINDS)
def test_none_at_rate_zero_or_with_too_few_calls(kind):
    config, rate, _, too_few = KINDS[kind]
    assert tagged(kind, n=60, **{rate: 0.0}) == []
    assert tagged(kind, n=60, parallel_max_calls=too_few) == []
    plain = generate(SynthConfig(**config | {"n": 60, rate: 0.0}))
    assert all(len({c["name"] for c in r["target"]}) == len(r["target"]) for r in plain)  # a call per tool
