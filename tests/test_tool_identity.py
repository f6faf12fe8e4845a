"""Tool identity: renamed copies of a tool are the same tool for held-out splits and unseen-tools checks."""

from __future__ import annotations

import copy

import pytest

from calltune.examples import parse_example
from calltune.splits import split_by_tool
from calltune.stress import build_stress
from calltune.synth.generator import SynthConfig, generate
from calltune.tool_identity import ToolIdentities, catalogue_origins, fingerprint, seen_keys, tool_keys, unseen

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
                                                    "unit": {"type": "string", "enum": ["c", "f"]}},
                   "required": ["city"]}}}


def renamed(tool: dict, name: str, params: dict[str, str], reverse: bool = False) -> dict:
    tool = copy.deepcopy(tool)
    fn = tool["function"]
    fn["name"] = name
    props = fn["parameters"]["properties"]
    items = list(props.items())[::-1] if reverse else list(props.items())
    fn["parameters"]["properties"] = {params.get(k, k): v for k, v in items}
    fn["parameters"]["required"] = [params.get(k, k) for k in fn["parameters"]["required"]]
    return tool


def example(ex_id: str, tools: list[dict], meta: dict | None = None):
    return parse_example({"id": ex_id, "instruction": f"request {ex_id}", "tools": tools, "target": None,
                          "meta": meta or {}})


def test_fingerprint_survives_renaming_and_reordering_but_not_a_new_description():
    base = example("a", [WEATHER]).tools[0]
    copy_ = example("b", [renamed(WEATHER, "fetchWeather", {"city": "town", "unit": "u"}, reverse=True)]).tools[0]
    assert fingerprint(base) == fingerprint(copy_)
    other = copy.deepcopy(WEATHER)
    other["function"]["description"] = "Weather forecast for a city."
    assert fingerprint(example("c", [other]).tools[0]) != fingerprint(base)
    required = copy.deepcopy(WEATHER)
    required["function"]["parameters"]["required"] = ["city", "unit"]
    assert fingerprint(example("d", [required]).tools[0]) != fingerprint(base)


def test_a_tool_without_description_is_known_by_its_name():
    bare = {"name": "x", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
    assert fingerprint(example("a", [bare]).tools[0]) != fingerprint(example("b", [{**bare, "name": "y"}]).tools[0])


def test_catalogue_origin_comes_from_meta_only_when_it_lists_every_tool():
    assert catalogue_origins(example("a", [WEATHER], {"tools": ["weather_now"]})) == ["weather_now"]
    assert catalogue_origins(example("b", [WEATHER], {"tools": ["a", "b"]})) == [None]
    assert catalogue_origins(example("c", [WEATHER], {"tools": [3]})) == [None]
    assert tool_keys(example("d", [WEATHER], {"tools": ["weather_now"]}))[0][0] == "catalogue:weather_now"


def test_identities_merge_through_shared_keys():
    other = copy.deepcopy(WEATHER)
    other["function"]["description"] = "A differently worded description."
    examples = [example("a", [WEATHER], {"tools": ["w"]}),  # catalogue w, fingerprint 1
                example("b", [other], {"tools": ["w"]}),  # catalogue w, fingerprint 2
                example("c", [renamed(other, "zz", {"city": "c"})])]  # fingerprint 2 only
    ids = ToolIdentities(examples)
    assert ids.of(0) == ids.of(1) == ids.of(2)


@pytest.mark.parametrize("seed", [0, 11711])
def test_by_tool_split_of_a_renamed_synthetic_corpus_shares_no_catalogue_tool(seed):
    records = generate(SynthConfig(n=600, seed=seed, rename_rate=0.8))
    examples = [parse_example(r) for r in records]
    train, dev, _ = split_by_tool(examples, 0.2, seed)
    train_origins = {o for ex in train for o in ex.meta["tools"]}
    dev_origins = {o for ex in dev for o in ex.meta["tools"]}
    assert train and dev and not train_origins & dev_origins
    train_fps = {fingerprint(t) for ex in train for t in ex.tools}
    assert not train_fps & {fingerprint(t) for ex in dev for t in ex.tools}
    renamed_in_dev = [ex for ex in dev if "rename_function" in ex.meta["augmentations"]]
    assert renamed_in_dev  # the corpus really exercises renaming


def test_by_tool_split_of_imported_data_keeps_renamed_copies_together():
    # no meta: identity comes from description + structure alone
    tools = []
    for i in range(8):
        tool = copy.deepcopy(WEATHER)
        tool["function"]["description"] = f"Tool number {i} does its own thing."
        tools.append(tool)
    examples = []
    for i, tool in enumerate(tools):
        for j in range(5):
            shown = renamed(tool, f"t{i}_v{j}", {"city": f"p{j}"}) if j % 2 else tool
            examples.append(example(f"{i}-{j}", [shown]))
    for seed in range(5):
        train, dev, _ = split_by_tool(examples, 0.25, seed)
        side = {ex.id.split("-")[0]: ("train" if ex in train else "dev") for ex in train + dev}
        for ex in train + dev:
            assert side[ex.id.split("-")[0]] == ("train" if ex in train else "dev")
        assert not {fingerprint(t) for ex in train for t in ex.tools} & {fingerprint(t) for ex in dev for t in ex.tools}


def test_unseen_tools_is_not_fooled_by_renaming():
    train = [example("t", [WEATHER])]
    copy_ = example("d", [renamed(WEATHER, "weather_lookup", {"city": "location"})])
    other = copy.deepcopy(WEATHER)
    other["function"]["description"] = "Air quality for a city."
    fresh = example("e", [other])
    seen = seen_keys(train)
    assert not unseen(copy_, seen) and unseen(fresh, seen)
    dev = [parse_example({"id": "r", "instruction": "Weather in Oslo?",
                          "tools": [renamed(WEATHER, "weather_lookup", {"city": "location"})],
                          "target": {"name": "weather_lookup", "arguments": {"location": "Oslo"}}}),
           parse_example({"id": "s", "instruction": "Air in Oslo?", "tools": [other],
                          "target": {"name": "get_weather", "arguments": {"city": "Oslo"}}})]
    records, skipped = build_stress(dev, train, seed=0)["unseen_tools"]
    assert [r["id"] for r in records] == ["s~unseen_tools"]
    assert skipped == [{"id": "r", "reason": "a tool also occurs in train"}]


def test_parallel_targets_file_an_example_under_every_called_tool():
    other = copy.deepcopy(WEATHER)
    other["function"].update(name="get_air", description="Air quality for a city.")
    both = parse_example({"id": "p", "instruction": "Weather and air in Oslo?", "tools": [WEATHER, other],
                          "target": [{"name": "get_weather", "arguments": {"city": "Oslo"}},
                                     {"name": "get_air", "arguments": {"city": "Oslo"}}]})
    from calltune.splits import _key_tools

    ids = ToolIdentities([both])
    assert _key_tools(both, ids.of(0)) == frozenset(ids.of(0)) and len(set(ids.of(0))) == 2
