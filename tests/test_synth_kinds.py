"""The generator's kinds beyond one call: parallel requests, dialogues (a final answer or a follow-up
call after a tool result) and text answers to requests no tool fits."""

import json
import re

import jsonschema
import pytest

from calltune.errors import CalltuneError
from calltune.examples import parse_example
from calltune.synth.catalogue import all_tools
from calltune.synth.checks import check_call, numbers_in
from calltune.synth.generator import SynthConfig, generate
from calltune.synth.parallel import variable_params

TOOLS = {t.name: t for t in all_tools()}
DIGITS = re.compile(r"(?<![\w.^])-?\d+(?:\.\d+)?")  # numbers written with digits (not "cm^3")


def kinds(record: dict) -> set[str]:
    return set(record["meta"]["augmentations"]) & {"parallel_same_tool", "parallel_two_tools", "dialogue_answer",
                                                   "dialogue_followup", "irrelevant", "text_answer"}


def only(kind: str, **kw) -> SynthConfig:
    """A config that makes (almost) only one kind; no renaming, so names are the catalogue's."""
    rates = {"parallel": {"parallel_rate": 1.0, "dialogue_rate": 0.0},
             "answer": {"parallel_rate": 0.0, "dialogue_rate": 1.0, "followup_rate": 0.0},
             "followup": {"parallel_rate": 0.0, "dialogue_rate": 1.0, "followup_rate": 1.0},
             "irrelevant": {"parallel_rate": 0.0, "dialogue_rate": 0.0, "irrelevant_rate": 1.0}}[kind]
    return SynthConfig(**{"n": 300, "seed": 0, "rename_rate": 0.0, "irrelevant_rate": 0.0, **rates, **kw})


def offered(record: dict) -> dict:
    return {t["function"]["name"]: t["function"]["parameters"] for t in record["tools"]}


@pytest.mark.parametrize("kind", ["parallel", "answer", "followup", "irrelevant"])
def test_each_kind_is_deterministic_and_seeded(kind):
    a, b = generate(only(kind, n=120, rename_rate=0.5)), generate(only(kind, n=120, rename_rate=0.5))
    assert json.dumps(a) == json.dumps(b)
    assert json.dumps(a) != json.dumps(generate(only(kind, n=120, rename_rate=0.5, seed=1)))


def test_default_mix_is_single_call_and_the_hermes_mix_has_every_kind_at_its_rate():
    # paper/chat answer one call: the default output trains in every style
    assert not any({"parallel_same_tool", "parallel_two_tools", "dialogue_answer", "dialogue_followup"} & set(kinds(r))
                   for r in generate(SynthConfig(n=500, seed=0)))
    records = generate(SynthConfig(n=2000, seed=0, parallel_rate=0.1, dialogue_rate=0.1))
    counts = {k: sum(k in kinds(r) for r in records) for k in ("parallel_same_tool", "parallel_two_tools",
                                                                "dialogue_answer", "dialogue_followup", "irrelevant")}
    assert 150 <= counts["parallel_same_tool"] + counts["parallel_two_tools"] <= 250  # parallel_rate 0.1
    assert 150 <= counts["dialogue_answer"] + counts["dialogue_followup"] <= 250  # dialogue_rate 0.1
    assert counts["dialogue_followup"] > 40 and counts["parallel_same_tool"] > 60 and counts["parallel_two_tools"] > 60
    assert all(("text_answer" in kinds(r)) == ("irrelevant" in kinds(r)) for r in records)  # text_answer_rate 1


# -- parallel requests ---------------------------------------------------------------------------

def test_parallel_targets_are_two_recoverable_schema_valid_calls():
    records = generate(only("parallel"))
    forms = set()
    for r in records:
        ex = parse_example(r)
        assert isinstance(r["target"], list) and len(ex.calls) == 2
        names = r["meta"]["tool"]
        assert [c["name"] for c in r["target"]] == names and set(names) <= set(r["meta"]["tools"])
        for call in r["target"]:
            jsonschema.validate(call["arguments"], offered(r)[call["name"]])
            assert check_call(TOOLS[call["name"]], r["instruction"], call["arguments"]).ok, r["instruction"]
        if "parallel_same_tool" in kinds(r):
            assert names[0] == names[1] and r["target"][0]["arguments"] != r["target"][1]["arguments"]
            forms.add("same_for" if r["meta"]["template"].endswith("+same_for") else "two requests")
        else:
            assert names[0] != names[1] and "parallel_two_tools" in kinds(r)
    assert forms == {"same_for", "two requests"}


def test_parallel_max_calls_asks_for_two_to_n_recoverable_distinct_calls():
    records = generate(only("parallel", n=300, parallel_max_calls=4))
    sizes = {(len(r["target"]), "parallel_same_tool" in kinds(r)) for r in records}
    assert sizes == {(k, same) for k in (2, 3, 4) for same in (True, False)}
    for r in records:
        parse_example(r)
        names = r["meta"]["tool"]
        assert [c["name"] for c in r["target"]] == names and len(r["tools"]) <= 5
        for call in r["target"]:
            assert check_call(TOOLS[call["name"]], r["instruction"], call["arguments"]).ok, r["instruction"]
        if "parallel_same_tool" in kinds(r):
            args = [json.dumps(c["arguments"], sort_keys=True) for c in r["target"]]
            assert len(set(names)) == 1 and len(set(args)) == len(args)  # one tool, never the same call twice
        else:
            assert len(set(names)) == len(names)  # as many different tools as calls


def test_parallel_max_calls_default_keeps_two_calls_and_rejects_less_than_two():
    assert {len(r["target"]) for r in generate(only("parallel", n=100))} == {2}
    with pytest.raises(CalltuneError, match="--parallel-max-calls"):
        SynthConfig(parallel_max_calls=1)


@pytest.mark.parametrize("rate, kind", [(1.0, "parallel_same_tool"), (0.0, "parallel_two_tools")])
def test_parallel_same_tool_rate_picks_the_form(rate, kind):
    records = generate(only("parallel", n=60, parallel_same_tool_rate=rate))
    assert all(kind in kinds(r) for r in records)


def test_parallel_with_renaming_renames_both_calls_like_the_offered_tool():
    for r in generate(only("parallel", n=200, rename_rate=1.0, seed=4)):
        parse_example(r)  # each renamed call validates against the renamed schema it names
        origins = dict(zip(offered(r), r["meta"]["tools"]))
        assert [origins[c["name"]] for c in r["target"]] == r["meta"]["tool"]


def test_what_about_changes_only_a_parameter_whose_kind_is_unique():
    assert variable_params(TOOLS["current_weather_report"]) == ["location"]
    assert "origin" not in variable_params(TOOLS["search_flights"])  # origin and destination are both cities
    assert variable_params(TOOLS["find_nearby_places"]) == ["location", "category"]
    same_for = [r for r in generate(only("parallel", n=300, parallel_same_tool_rate=1.0))
                if r["meta"]["template"].endswith("+same_for")]
    assert len(same_for) > 50
    for r in same_for:
        first, second = (c["arguments"] for c in r["target"])
        changed = [k for k in first if first[k] != second.get(k)]
        assert len(changed) == 1 and set(first) == set(second)
        assert changed[0] in variable_params(TOOLS[r["meta"]["tool"][0]])


# -- dialogues -----------------------------------------------------------------------------------

def check_history(r: dict) -> tuple[dict, dict, dict]:
    """The [user, assistant call, tool result] head of a dialogue, checked; returns the three messages."""
    user, assistant, tool = r["messages"]
    assert (user["role"], assistant["role"], tool["role"]) == ("user", "assistant", "tool")
    (call,) = assistant["tool_calls"]
    assert assistant["content"] is None and call["type"] == "function" and call["id"] == tool["tool_call_id"]
    assert call["id"].startswith("call_") and isinstance(json.loads(tool["content"]), dict)
    jsonschema.validate(call["function"]["arguments"], offered(r)[call["function"]["name"]])
    return user, call["function"], tool


def test_dialogue_answers_report_the_tool_result():
    records = generate(only("answer"))
    domains = set()
    for r in records:
        ex = parse_example(r)
        user, call, tool = check_history(r)
        assert ex.target is None and ex.calls == [] and ex.instruction == user["content"]
        assert check_call(TOOLS[call["name"]], user["content"], call["arguments"]).ok
        assert r["meta"]["tool"] is None and call["name"] in r["meta"]["tools"]
        reply = r["target_content"]
        assert reply and ex.target_content == reply
        # the reply states no number that is neither in the request (digits or words) nor in the result
        seen = {abs(x) for x in numbers_in(user["content"] + " " + tool["content"])}
        stray = [x for x in DIGITS.findall(reply) if abs(float(x)) not in seen]
        assert not stray, (reply, tool["content"])
        domains.add(TOOLS[call["name"]].domain)
    assert len(domains) >= 15


def leaves(value) -> set:
    """The scalar values inside a JSON value."""
    if isinstance(value, dict):
        return set().union(*map(leaves, value.values()))
    if isinstance(value, list):
        return set().union(*map(leaves, value))
    return {json.dumps(value)}


def test_followups_use_a_value_of_the_tool_result():
    records = generate(only("followup"))
    chains, result_only = set(), 0
    for r in records:
        ex = parse_example(r)
        user, call, tool = check_history(r)
        target = r["target"]
        assert isinstance(target, dict) and ex.calls == [target] and r["meta"]["tool"] == target["name"]
        second = TOOLS[target["name"]]
        assert check_call(second, user["content"] + "\n" + tool["content"], target["arguments"]).ok
        assert check_call(TOOLS[call["name"]], user["content"], call["arguments"]).ok
        assert leaves(target["arguments"]) & leaves(json.loads(tool["content"]))
        # usually a value is only in the result (not when the user already named it: "mail from X")
        result_only += not check_call(second, user["content"], target["arguments"]).ok
        chains.add((call["name"], target["name"]))
    assert len(chains) >= 10 and result_only >= 0.95 * len(records)


def test_dialogues_with_renaming_name_offered_tools_everywhere():
    for r in generate(SynthConfig(n=150, seed=6, rename_rate=1.0, irrelevant_rate=0.0, parallel_rate=0.0,
                                  dialogue_rate=1.0)):
        parse_example(r)
        _, call, _ = check_history(r)
        origins = dict(zip(offered(r), r["meta"]["tools"]))
        assert call["name"] in origins and (r["target"] is None or r["target"]["name"] in origins)


def test_dialogues_fall_back_when_the_pool_cannot_make_them():
    # read_file has no synthesized result; alone it can make neither kind of dialogue
    records = generate(SynthConfig(n=20, tools=("read_file",), parallel_rate=0.0, dialogue_rate=1.0,
                                   irrelevant_rate=0.0))
    assert all("instruction" in r and r["meta"]["tool"] == "read_file" for r in records)
    # one tool of a chain alone: answers only; max_tools 1: answers only, one tool offered
    records = generate(only("followup", n=30, tools=("search_flights",)))
    assert all("dialogue_answer" in kinds(r) for r in records)
    records = generate(only("followup", n=30, max_tools=1))
    assert all("dialogue_answer" in kinds(r) and len(r["tools"]) == 1 for r in records)


# -- text answers --------------------------------------------------------------------------------

def test_irrelevant_examples_carry_a_reply_at_the_text_answer_rate():
    records = generate(only("irrelevant", n=200, rename_rate=0.5))
    for r in records:
        ex = parse_example(r)
        assert ex.target is None and ex.labeled and ex.target_content and "text_answer" in kinds(r)
        if r["meta"]["domain"] != "general":  # a real tool request: the reply names the offered tools
            assert all(f"`{name}`" in r["target_content"] for name in offered(r))
    assert {r["meta"]["domain"] == "general" for r in records} == {True, False}
    silent = generate(only("irrelevant", n=50, text_answer_rate=0.0))
    assert all("target_content" not in r and kinds(r) == {"irrelevant"} for r in silent)
