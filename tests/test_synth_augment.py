"""Augmentations: renaming keeps target and schema consistent, shuffling keeps the schema, distractor and
irrelevant examples are correct."""

import random
from collections import Counter

import jsonschema
import pytest

from calltune.examples import parse_example
from calltune.synth import augment
from calltune.synth.catalogue import all_tools, family
from calltune.synth.checks import check_call
from calltune.synth.generator import SynthConfig, generate
from calltune.synth.phrasing import sample_call

TOOLS = {t.name: t for t in all_tools()}


@pytest.mark.parametrize("plausible", [True, False])
def test_rename_tool_keeps_the_call_valid_for_every_catalogue_tool(plausible):
    rng = random.Random(7)
    for tool in TOOLS.values():
        _, args, _ = sample_call(rng, tool, 1.0, ())
        spec = tool.to_json()
        renamed, mapping = augment.rename_tool(rng, spec, True, True, {tool.name}, plausible)
        call = augment.rename_call({"name": tool.name, "arguments": args}, renamed["function"]["name"], mapping)
        fn, old = renamed["function"], spec["function"]["parameters"]
        assert fn["name"] != tool.name and call["name"] == fn["name"]
        assert sorted(mapping) == sorted(old["properties"]) and len(set(mapping.values())) == len(mapping)
        assert fn["parameters"]["required"] == [mapping[k] for k in old["required"]]
        assert all(fn["parameters"]["properties"][mapping[k]] == v for k, v in old["properties"].items())
        assert [call["arguments"][mapping[k]] for k in args] == list(args.values())
        jsonschema.validate(call["arguments"], fn["parameters"])
        assert fn["description"] == spec["function"]["description"]


def test_renamed_records_map_back_to_recoverable_catalogue_calls():
    records = generate(SynthConfig(n=400, seed=11, rename_rate=1.0, shuffle_rate=0.0, irrelevant_rate=0.0,
                                   parallel_rate=0.0, dialogue_rate=0.0))
    seen = Counter()
    for r in records:
        parse_example(r)  # target validates against the renamed schema of an offered tool
        offered = {t["function"]["name"]: t["function"] for t in r["tools"]}
        assert r["target"]["name"] in offered and len(offered) == len(r["tools"])
        canonical = TOOLS[r["meta"]["tool"]]
        renamed = list(offered[r["target"]["name"]]["parameters"]["properties"])
        back = dict(zip(renamed, canonical.params))  # no shuffling: positions correspond
        args = {back[k]: v for k, v in r["target"]["arguments"].items()}
        assert check_call(canonical, r["instruction"], args).ok
        seen.update(a for a in r["meta"]["augmentations"] if a.startswith("rename"))
    assert seen["rename_function"] > 100 and seen["rename_params"] > 100


def test_shuffle_properties_reorders_but_keeps_the_schema():
    rng = random.Random(0)
    changed = 0
    for tool in TOOLS.values():
        spec = tool.to_json()
        shuffled, did = augment.shuffle_properties(rng, spec)
        old, new = spec["function"]["parameters"], shuffled["function"]["parameters"]
        assert new["properties"] == old["properties"] and sorted(new["required"]) == sorted(old["required"])
        assert did == (list(new["properties"]) != list(old["properties"]))
        changed += did
    assert changed > len(TOOLS) // 3


def test_distractors_offer_the_target_among_other_tools():
    records = generate(SynthConfig(n=600, seed=2, distractor_rate=1.0, irrelevant_rate=0.0, max_tools=4,
                                   parallel_rate=0.0, dialogue_rate=0.0))
    positions, same_domain = Counter(), 0
    for r in records:
        names = [t["function"]["name"] for t in r["tools"]]
        assert 2 <= len(names) <= 4 and len(set(names)) == len(names)
        assert r["target"]["name"] in names and "distractors" in r["meta"]["augmentations"]
        assert r["meta"]["tools"][names.index(r["target"]["name"])] == r["meta"]["tool"]
        positions[names.index(r["target"]["name"])] += 1
        same_domain += sum(TOOLS[n].domain == r["meta"]["domain"] for n in r["meta"]["tools"]) > 1
    assert set(positions) == {0, 1, 2, 3}
    assert same_domain > 50


def test_irrelevant_examples_offer_no_tool_of_the_request_family():
    records = generate(SynthConfig(n=300, seed=4, irrelevant_rate=1.0, parallel_rate=0.0, dialogue_rate=0.0))
    sources = Counter()
    for r in records:
        parse_example(r)
        assert r["target"] is None and r["meta"]["tool"] is None and 1 <= len(r["tools"]) <= 3
        offered_families = {family(TOOLS[n].domain) for n in r["meta"]["tools"]}
        assert family(r["meta"]["domain"]) not in offered_families
        assert r["meta"]["domain"] not in {TOOLS[n].domain for n in r["meta"]["tools"]}
        sources["general" if r["meta"]["domain"] == "general" else "tool request"] += 1
    assert sources["general"] > 50 and sources["tool request"] > 50


def test_max_tools_one_means_single_tool_prompts():
    records = generate(SynthConfig(n=200, seed=0, distractor_rate=1.0, max_tools=1))
    assert all(len(r["tools"]) == 1 for r in records)


def test_offer_renames_every_call_of_a_tool_the_same_way():
    rng = random.Random(3)
    weather, stock = TOOLS["current_weather_report"], TOOLS["stock_quote"]
    calls = [(0, {"name": weather.name, "arguments": {"location": "Paris"}}),
             (1, {"name": stock.name, "arguments": {"ticker": "IBM"}}),
             (0, {"name": weather.name, "arguments": {"location": "Rome"}})]
    offered, renamed, applied = augment.offer(rng, [weather, stock], calls, rename_rate=1.0, shuffle_rate=0.0)
    names = [t["function"]["name"] for t in offered]
    assert [c["name"] for c in renamed] == [names[0], names[1], names[0]] and "rename_function" in applied
    for call in renamed:
        jsonschema.validate(call["arguments"], offered[names.index(call["name"])]["function"]["parameters"])
    assert [list(c["arguments"].values()) for c in renamed] == [["Paris"], ["IBM"], ["Rome"]]
