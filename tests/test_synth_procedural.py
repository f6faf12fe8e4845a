"""Issue 14's data levers in the synthetic generator: composed tools, masking, description styles and
near misses; the defaults leave the output exactly as it was."""

import hashlib
import json
import random
import re
import string
from collections import Counter

import pytest

from calltune.errors import CalltuneError
from calltune.examples import parse_example, parse_tool
from calltune.jsonl import write_jsonl
from calltune.synth.catalogue import all_tools
from calltune.synth.checks import check_call
from calltune.synth.composer import OPS, composed_catalogue, possible_names, split_domains
from calltune.synth.describe import STYLES, carry_names, restyle
from calltune.synth.generator import SynthConfig, generate
from calltune.synth.nearmiss import cuts
from calltune.synth.phrasing import sample_call
from calltune.synth.stats import compute_card
from test_synth import synth

COMPOSED = composed_catalogue(0)
BY_NAME = {t.name: t for t in COMPOSED.tools} | {t.name: t for t in all_tools()}
EVERYTHING = dict(procedural_rate=0.6, mask_rate=0.3, description_style_rate=0.5, near_miss_rate=0.15,
                  irrelevant_rate=0.1, parallel_rate=0.1, dialogue_rate=0.1)


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def sha(records: list[dict], tmp_path) -> str:
    path = tmp_path / "out.jsonl"
    write_jsonl(str(path), records)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tags(record: dict) -> set[str]:
    return set(record["meta"]["augmentations"])


# Computed before these options existed (commit 0ec6ab8): the defaults must keep every byte.
@pytest.mark.parametrize("kwargs,digest", [
    ({"n": 400, "seed": 0}, "371f0e2d513132d06dce29a38c713d8f2e9df5c2012ca5d62cf45776d22d46ae"),
    ({"n": 400, "seed": 3, "parallel_rate": 0.15, "dialogue_rate": 0.15, "irrelevant_rate": 0.15, "rename_rate": 0.5},
     "7a52b9b3ee3486001dc7e92b93424b245021faf7455a91bdf8de7ed334ff54e9")])
def test_default_options_leave_the_output_unchanged(kwargs, digest, tmp_path):
    assert sha(generate(SynthConfig(**kwargs)), tmp_path) == digest


# -- the composer ---------------------------------------------------------------------------------

def test_composed_catalogue_is_large_varied_and_valid():
    tools = COMPOSED.tools
    names = [t.name for t in tools]
    assert len(tools) >= 600 and len(set(names)) == len(names)
    assert not set(names) & {t.name for t in all_tools()}
    assert len({t.domain for t in tools}) >= 25
    styles = Counter("dotted" if "." in n else "camel" if re.search(r"[a-z][A-Z]", n) else "snake" for n in names)
    assert min(styles.values()) > 100, styles
    kinds, items, defaults_in_text, schema_defaults, optional = Counter(), set(), 0, 0, 0
    for tool in tools:
        spec = tool.to_json()
        assert parse_tool(spec, (None, None), "tool").name == tool.name
        for template_id, template in tool.templates():
            assert fields(template) == set(tool.required), (tool.name, template_id)
        assert set(tool.clauses) == set(tool.params)  # required ones too: near misses leave them out
        for name, param in tool.params.items():
            kinds[param.kind] += 1
            items.update({param.items.kind} if param.items else set())
            defaults_in_text += "default" in param.description.lower()
            schema_defaults += "default" in param.schema()
            optional += not param.required
    assert set(kinds) == {"string", "integer", "number", "boolean", "enum", "date", "time", "array", "object"}
    assert items >= {"string", "number", "integer"} and kinds["object"] < kinds["string"] / 5
    assert defaults_in_text > 200 and 50 < schema_defaults < defaults_in_text and optional > 500


def test_same_seed_same_tools_other_seed_other_tools():
    again = composed_catalogue.__wrapped__(0)
    assert [t.to_json() for t in again.tools] == [t.to_json() for t in COMPOSED.tools]
    other = composed_catalogue(1)
    assert len(other.tools) == len(COMPOSED.tools)
    assert len({t.name for t in other.tools} & {t.name for t in COMPOSED.tools}) < len(COMPOSED.tools) / 2
    assert sum(a.to_json() != b.to_json() for a, b in zip(other.tools, COMPOSED.tools)) > 0.9 * len(other.tools)


def test_every_composed_tool_gives_a_recoverable_call():
    rng = random.Random(0)
    for tool in COMPOSED.tools:
        message, args, _ = sample_call(rng, tool, 0.5, COMPOSED.contexts[tool.domain])  # raises if none passes
        assert check_call(tool, message, args).ok


def test_heldout_split_shares_no_domain_or_tool_with_train():
    train, held = composed_catalogue(0, "train"), composed_catalogue(0, "heldout")
    assert {t.domain for t in train.tools}.isdisjoint({t.domain for t in held.tools})
    assert len(split_domains("heldout")) + len(split_domains("train")) == len(split_domains("all"))
    assert len(held.tools) >= 90


def test_composed_names_never_match_bfcl():
    """Every name the composer can produce for any seed, against BFCL's functions (names and normalized names)."""
    pytest.importorskip("bfcl_eval")
    from calltune.overlap import eval_functions, normalize_name

    _, functions = eval_functions("bfcl:all")
    names, normalized = {f.name for f in functions}, {normalize_name(f.name) for f in functions}
    possible = possible_names()
    assert len(possible) > 10000 and {t.name for t in COMPOSED.tools} <= set(possible)
    assert [n for n in possible if n in names or normalize_name(n) in normalized] == []


def test_generated_composed_data_does_not_overlap_bfcl():
    from calltune.examples import Example, Tool
    from calltune.overlap import benchmark_overlap

    records = generate(SynthConfig(n=3000, seed=5, procedural_rate=1.0, mask_rate=0.3, near_miss_rate=0.1))
    # built directly: parse_example validates every (masked, so new) schema, which is slow and tested elsewhere
    examples = [Example(r["id"], "", [Tool(t["function"]["name"], "", t["function"]["parameters"]) for t in r["tools"]],
                        r["target"], meta=r["meta"]) for r in records]
    report = benchmark_overlap(examples)
    if report is None:
        pytest.skip("bfcl_eval is not installed")
    assert report.total == 0 and report.examples_offering == 0, report.summary(50)


# -- generated records ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mixed():
    return generate(SynthConfig(n=600, seed=0, rename_rate=0.0, **{**EVERYTHING, "mask_rate": 0.0}))


def canonical_calls(record: dict) -> list[tuple]:
    tool = record["meta"]["tool"]
    names = tool if isinstance(tool, list) else [tool] if tool else []
    calls = record["target"] if isinstance(record["target"], list) else [record["target"]] if record["target"] else []
    return list(zip(names, calls))


def test_every_kind_is_made_with_composed_tools_and_every_call_checks(mixed):
    counts = Counter(a for r in mixed for a in tags(r))
    for kind in ("procedural", "near_miss_missing", "near_miss_operation", "irrelevant", "parallel_same_tool",
                 "parallel_two_tools", "dialogue_answer", "distractors", "optional_args"):
        assert counts[kind] > 5, (kind, counts)
    assert 0.45 < counts["procedural"] / len(mixed) < 0.75
    for r in mixed:
        parse_example(r)
        if "messages" in r:  # dialogues stay with hand-written tools (results and chains are written for them)
            assert "procedural" not in tags(r) and all(n in {t.name for t in all_tools()} for n in r["meta"]["tools"])
            continue
        if "procedural" in tags(r):
            assert all(n in COMPOSED.origin for n in r["meta"]["tools"])
        for name, call in canonical_calls(r):
            assert call["name"] == name and check_call(BY_NAME[name], r["instruction"], call["arguments"]).ok


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_optional_arguments_of_composed_tools_only_when_stated(rate):
    records = generate(SynthConfig(n=200, seed=2, procedural_seed=0, procedural_rate=1.0, optional_rate=rate,
                                   rename_rate=0.0, irrelevant_rate=0.0))
    for r in records:
        tool = BY_NAME[r["meta"]["tool"]]
        stated = set(r["target"]["arguments"]) & set(tool.optional)
        assert stated == (set(tool.optional) if rate else set())


def test_near_misses(mixed):
    near = [r for r in mixed if tags(r) & {"near_miss_missing", "near_miss_operation"}]
    assert 60 <= len(near) <= 120  # near_miss_rate 0.15 of 600
    for r in near:
        assert r["target"] is None and r["meta"]["tool"] is None
        wanted, _, rest = r["meta"]["template"].partition(":")
        if "near_miss_missing" in tags(r):
            tool = BY_NAME[wanted]
            missing = rest.rsplit("-", 1)[1]
            assert "text_answer" in tags(r) and tool.params[missing].required and tool.name in r["meta"]["tools"]
        else:  # the request's operation is of another group than every offered tool of its thing
            assert wanted not in r["meta"]["tools"]
            same = [n for n in r["meta"]["tools"] if COMPOSED.origin[n][:2] == COMPOSED.origin[wanted][:2]]
            assert same and all(COMPOSED.group(n) != COMPOSED.group(wanted) for n in same)


def test_missing_value_cuts_drop_exactly_one_required_parameter():
    hand = [t for t in all_tools() if cuts(t)]
    assert len(hand) >= 30
    for tool in hand + list(COMPOSED.tools[:200]):
        for missing, _, template in cuts(tool):
            assert fields(template) == set(tool.required) - {missing}, (tool.name, template)
    assert not [c for c in cuts(BY_NAME["delete_file"]) if "rid" in c[2]]  # "get rid of {path}" stays whole


def test_near_miss_missing_reply_names_the_offered_parameter():
    records = generate(SynthConfig(n=150, seed=4, near_miss_rate=1.0, irrelevant_rate=0.0, mask_rate=1.0))
    assert all("near_miss_missing" in tags(r) for r in records)  # hand-written tools: always a missing value
    named = 0
    for r in records:
        params = {p for t in r["tools"] for p in t["function"]["parameters"]["properties"]}
        named += any(f"`{p}`" in r["target_content"] for p in params)
        assert r["target_content"] and not re.search(r"\{\w+\}", r["target_content"])
    assert named > 10


# -- masking and description styles -----------------------------------------------------------------

def test_masked_tools_have_random_names_carried_into_docstrings():
    records = generate(SynthConfig(n=150, seed=1, procedural_seed=0, procedural_rate=0.5, mask_rate=1.0,
                                   description_style_rate=1.0, description_styles=("docstring",), irrelevant_rate=0.0))
    for r in records:
        parse_example(r)
        assert tags(r) & {"mask_function", "mask_params"} and "style_docstring" in tags(r)
        for tool, origin in zip(r["tools"], r["meta"]["tools"]):
            fn = tool["function"]
            props = list(fn["parameters"]["properties"])
            documented = re.findall(r"^    (\S+) \(", fn["description"], re.M)
            assert sorted(documented) == sorted(props), fn  # every parameter documented under its offered name
            renamed = [p for p in props if p not in BY_NAME[origin].params]
            assert all(re.match(r"^[a-z]+_?[a-z0-9]+$", p) for p in renamed)
            assert fn["name"] == origin or re.match(r"^(fn|tool|f|op)_[a-z0-9]+$", fn["name"])


@pytest.mark.parametrize("style", STYLES)
def test_description_styles(style):
    spec = next(t for t in COMPOSED.tools if len(t.optional) >= 1 and len(t.required) >= 2).to_json()
    fn = restyle(spec, style)["function"]
    props, text = fn["parameters"]["properties"], fn["description"]
    assert fn["parameters"] == spec["function"]["parameters"]
    if style == "terse":
        assert "\n" not in text and not text.endswith(".") and len(text) <= len(spec["function"]["description"])
    else:
        found = {"verbose": re.findall(r"`(\w+)`", text), "docstring": re.findall(r"^    (\w+) \(", text, re.M),
                 "openapi": re.findall(r"^  - (\w+) \(", text, re.M)}[style]
        assert sorted(found) == sorted(props)
    if style == "openapi":
        assert f"operationId: {fn['name']}" in text
        renamed = carry_names({"function": {**fn, "name": "op_zz1"}}, fn["name"], {found[0]: "p_q9"})
        assert "operationId: op_zz1" in renamed["function"]["description"]
        assert f"  - p_q9 (" in renamed["function"]["description"]


def test_renaming_a_hand_written_tool_leaves_its_description_alone():
    for tool in all_tools():
        spec = tool.to_json()
        assert carry_names(spec, "other_name", {k: "x_" + k for k in tool.params}) is spec


# -- determinism, configuration, CLI ----------------------------------------------------------------

def test_procedural_seed_changes_only_the_composed_tools():
    base = dict(n=60, seed=0, procedural_rate=1.0, irrelevant_rate=0.0)
    a, b = generate(SynthConfig(**base)), generate(SynthConfig(**base, procedural_seed=0))
    assert json.dumps(a) == json.dumps(b)
    c = generate(SynthConfig(**base, procedural_seed=9))
    assert {r["meta"]["tool"] for r in a} != {r["meta"]["tool"] for r in c}


@pytest.mark.parametrize("kwargs,message", [
    ({"procedural_split": "dev"}, "--procedural-split"), ({"description_styles": ("haiku",)}, "haiku"),
    ({"mask_rate": 2.0}, "--mask-rate"), ({"near_miss_rate": 0.5, "irrelevant_rate": 0.6}, "--near-miss-rate")])
def test_bad_new_options_are_clear_errors(kwargs, message):
    with pytest.raises(CalltuneError, match=re.escape(message)):
        SynthConfig(**kwargs)


def test_cli_exposes_the_options_and_stats_counts_near_misses(tmp_path, capsys):
    out = tmp_path / "d.jsonl"
    assert synth("synth", "--n", "200", "--out", str(out), "--procedural-rate", "0.5", "--mask-rate", "0.2",
                 "--description-style-rate", "0.5", "--description-styles", "terse,openapi", "--near-miss-rate", "0.2",
                 "--procedural-split", "train", "--procedural-seed", "4") == 0
    assert "near misses" in capsys.readouterr().err
    from calltune.examples import load_examples

    examples = load_examples(str(out))
    card = compute_card(examples)
    assert any("near miss" in k for k in card["kinds"]) and card["augmentations"]["procedural"] > 50
    assert not {a for ex in examples for a in ex.meta["augmentations"]} & {"style_verbose", "style_docstring"}
    held = {t.domain for t in composed_catalogue(4, "heldout").tools}
    assert not {ex.meta["domain"] for ex in examples} & held
