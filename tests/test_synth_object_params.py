"""`--object-param-rate` (`data.synth.object_param_rate`): composed tools that also take an optional
object-valued parameter (an address under three spellings, a contact, an owner, dimensions, coordinates, a
budget), stated in the request like any optional value."""

import dataclasses
import random

import jsonschema
import pytest

from calltune.cli import main
from calltune.config import config_from_dict
from calltune.errors import CalltuneError
from calltune.jsonl import write_jsonl
from calltune.synth.checks import check_call
from calltune.synth.composer import composed_catalogue, with_object_params
from calltune.synth.composer_words import OBJECT_OPS, OBJECT_SLOTS
from calltune.synth.generator import SynthConfig, generate
from calltune.synth.phrasing import sample_call
from calltune.synth.pools import STREETS
from calltune.synth.slots import sample_value

COMPOSED = composed_catalogue(0, "train")
SLOT_NAMES = {slot[0] for slot in OBJECT_SLOTS} | {"siteAddress"}


def _objects(tool) -> list[str]:
    return [name for name, p in tool.params.items() if p.kind == "object"]


def _calls(record: dict) -> list[dict]:
    """A generated record's target calls (none for a null target)."""
    target = record["target"]
    return [call for call in (target if isinstance(target, list) else [target]) if call]


def test_rate_zero_changes_no_tool_and_rate_one_adds_one_optional_object_to_each_eligible_tool():
    assert with_object_params(COMPOSED, 0, 0.0).tools == COMPOSED.tools
    added = with_object_params(COMPOSED, 0, 1.0)
    gained = 0
    for before, after in zip(COMPOSED.tools, added.tools):
        new = [n for n in after.params if n not in before.params]
        if COMPOSED.origin[before.name][2] not in OBJECT_OPS:
            assert after == before
            continue
        assert len(new) <= 1 and dataclasses.replace(after, params=before.params, clauses=before.clauses) == before
        assert {n: after.params[n] for n in before.params} == before.params  # the rest stays as composed
        if new:
            gained += 1
            param = after.params[new[0]]
            assert param.kind == "object" and not param.required and new[0] in SLOT_NAMES
            assert after.clauses[new[0]] and all("{" + new[0] + "}" in c for c in after.clauses[new[0]])
    assert gained >= 0.9 * sum(COMPOSED.origin[t.name][2] in OBJECT_OPS for t in COMPOSED.tools)
    assert {n for t in added.tools for n in _objects(t)} >= {"address", "location", "coordinates", "budget"}


def test_the_same_seed_gives_the_same_tools_and_another_seed_others():
    assert with_object_params(COMPOSED, 0, 0.5).tools == with_object_params(COMPOSED, 0, 0.5).tools
    assert with_object_params(COMPOSED, 0, 0.5).tools != with_object_params(COMPOSED, 1, 0.5).tools


def test_every_slot_is_stated_recoverably_and_fits_its_schema():
    rng = random.Random(0)
    tools = [t for t in with_object_params(COMPOSED, 0, 1.0).tools if _objects(t)]
    stated = set()
    for tool in tools:
        message, args, _ = sample_call(rng, tool, 1.0, COMPOSED.contexts[tool.domain])
        assert check_call(tool, message, args).ok
        schema = tool.to_json()["function"]["parameters"]
        jsonschema.validate(args, schema)
        for name in _objects(tool):
            if name in args:
                stated.add(name)
                value = args[name]
                assert set(value) == set(tool.params[name].fields)
    assert len(stated) >= 6  # most slot kinds got stated at least once


def test_an_address_has_a_street_and_number_not_a_letter_of_its_field_name():
    """Session 34: the street of every address spelling was drawn from the field's own name ("street" ->
    "t"), because the local name shadowed the street generator."""
    rng = random.Random(1)
    addresses = [p for t in with_object_params(COMPOSED, 0, 1.0).tools for p in t.params.values()
                 if p.kind == "object" and {"street", "street_address", "line1"} & set(p.fields)]
    assert len(addresses) > 10
    for param in addresses:
        key = next(k for k in param.fields if k in ("street", "street_address", "line1"))
        for _ in range(5):
            number, _, rest = sample_value(param, rng)[key].partition(" ")
            assert number.isdigit() and rest in STREETS


def test_generated_examples_call_with_object_values_only_when_the_rate_is_above_zero():
    base = dict(n=300, seed=3, procedural_rate=1.0, procedural_split="train", irrelevant_rate=0.0, optional_rate=1.0)

    def with_objects(records):
        count = 0
        for r in records:
            count += any(isinstance(v, dict) for call in _calls(r) for v in call["arguments"].values())
        return count

    assert with_objects(generate(SynthConfig(**base))) < 15  # composed tools' own few objects (contact, print size)
    assert with_objects(generate(SynthConfig(**base, object_param_rate=1.0))) > 60


def test_the_option_is_checked_and_reaches_the_cli_and_a_recipe(tmp_path):
    with pytest.raises(CalltuneError, match="--object-param-rate"):
        SynthConfig(object_param_rate=-0.1)
    out = tmp_path / "out.jsonl"
    assert main(["data", "synth", "--n", "60", "--seed", "4", "--procedural-rate", "1", "--object-param-rate", "0.7",
                 "--out", str(out)]) == 0
    write_jsonl(str(tmp_path / "same.jsonl"),
                generate(SynthConfig(n=60, seed=4, procedural_rate=1.0, object_param_rate=0.7)))
    assert out.read_bytes() == (tmp_path / "same.jsonl").read_bytes()
    cfg = config_from_dict({"data": {"synth": {"n": 10, "object_param_rate": 0.3}}})
    assert cfg.data.synth.object_param_rate == 0.3


def test_early_placement_only_moves_the_added_object_before_an_optional_parameter():
    """`object_param_early_rate`: at 0 the tools are those of `object_param_rate` alone; at 1 every added object
    parameter of a tool with other optional parameters sits just before one of them, the tool otherwise the
    same (its parameters and clauses, and the order of the others); deterministic."""
    last = with_object_params(COMPOSED, 0, 1.0)
    assert with_object_params(COMPOSED, 0, 1.0, 0.0).tools == last.tools
    early = with_object_params(COMPOSED, 0, 1.0, 1.0)
    assert early.tools == with_object_params(COMPOSED, 0, 1.0, 1.0).tools
    moved = 0
    for before, plain, placed in zip(COMPOSED.tools, last.tools, early.tools):
        assert placed.params == plain.params and placed.clauses == plain.clauses  # equal as dicts
        assert [n for n in placed.params if n in before.params] == list(before.params)
        new = [n for n in plain.params if n not in before.params]
        if not new or all(p.required for p in before.params.values()):
            assert list(placed.params) == list(plain.params)
            continue
        names = list(placed.params)
        at = names.index(new[0])
        assert at < len(names) - 1 and not placed.params[names[at + 1]].required
        moved += 1
    assert moved > 50


def test_an_early_object_is_followed_by_other_arguments_in_the_call():
    """In generated calls an early object value is followed by another argument (a call writes its arguments in
    the tool's parameter order; the request states the clauses in an order of its own)."""
    base = dict(n=400, seed=3, procedural_rate=1.0, procedural_split="train", irrelevant_rate=0.0,
                optional_rate=1.0, object_param_rate=1.0)

    def object_then_more(records):
        count = 0
        for r in records:
            for call in _calls(r):
                keys = list(call["arguments"])
                count += any(isinstance(call["arguments"][k], dict) for k in keys[:-1])
        return count

    assert object_then_more(generate(SynthConfig(**base, object_param_early_rate=1.0))) > 2 * object_then_more(
        generate(SynthConfig(**base)))
    with pytest.raises(CalltuneError, match="--object-param-early-rate"):
        SynthConfig(object_param_early_rate=1.5)
