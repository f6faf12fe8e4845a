"""Synthetic data: the catalogue, generated records, determinism, filters, bad input and the CLI."""

import argparse
import json
import os
import re
import string
import subprocess
import sys

import pytest

from calltune.errors import CalltuneError
from calltune.examples import load_examples, parse_example, parse_tool
from calltune.synth import cli
from calltune.synth.catalogue import all_contexts, all_tools
from calltune.synth.generator import SynthConfig, dedup_key, generate
from calltune.synth.stats import compute_card

TOOLS = all_tools()
BY_NAME = {t.name: t for t in TOOLS}


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def synth(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    data = parser.add_subparsers(dest="command").add_parser("data").add_subparsers(dest="data_command")
    cli.add_parsers(data)
    return cli.run(parser.parse_args(["data", *argv]))


def test_catalogue_size_and_schemas():
    assert len(TOOLS) >= 60 and len({t.domain for t in TOOLS}) >= 12
    assert len(BY_NAME) == len(TOOLS)
    for tool in TOOLS:
        spec = tool.to_json()
        params = spec["function"]["parameters"]
        assert spec["type"] == "function" and params["additionalProperties"] is False
        assert parse_tool(spec, (None, None), "tool").name == tool.name  # valid JSON Schema
        assert all(name in params["properties"] for name in params["required"])
    assert set(all_contexts()) == {t.domain for t in TOOLS}


def test_catalogue_covers_the_parameter_kinds():
    kinds, defaults = set(), 0
    for tool in TOOLS:
        for param in tool.params.values():
            kinds.add(param.kind)
            kinds.update({param.items.kind} if param.items else set())
            defaults += "default" in param.schema()
    assert kinds >= {"string", "integer", "number", "boolean", "enum", "array", "object", "date", "time"}
    assert defaults >= 20


def test_templates_name_exactly_the_required_parameters():
    for tool in TOOLS:
        assert len(tool.templates()) >= 2, tool.name
        for template_id, template in tool.templates():
            assert fields(template) == set(tool.required), (tool.name, template_id)
        assert set(tool.clauses) == set(tool.optional), tool.name
        for name, clauses in tool.clauses.items():
            assert clauses and all(fields(c) == {name} for c in clauses), (tool.name, name)


def called(record: dict) -> list[str]:
    """Catalogue names of a record's target calls."""
    tool = record["meta"]["tool"]
    return tool if isinstance(tool, list) else [tool] if tool else []


def test_generated_records_are_valid_examples():
    records = generate(SynthConfig(n=1000, seed=1))
    ids = [r["id"] for r in records]
    assert ids[0] == "synth-1-000000" and ids[-1] == "synth-1-000999" and len(set(ids)) == 1000
    for r in records:
        ex = parse_example(r)  # every target (and every call in a conversation) names an offered tool
        assert {"id", "tools", "target", "meta"} <= set(r) <= {"id", "instruction", "messages", "tools", "target",
                                                               "target_content", "meta"}
        assert ("instruction" in r) != ("messages" in r)
        assert set(r["meta"]) == {"domain", "tool", "template", "tools", "augmentations"}
        assert len(r["meta"]["tools"]) == len(ex.tools) and len(called(r)) == len(ex.calls)
    assert len({dedup_key(r) for r in records}) == len(records)
    assert len({name for r in records for name in called(r)}) >= 60


def test_optional_arguments_only_when_stated():
    for rate in (0.0, 1.0):
        for r in generate(SynthConfig(n=300, seed=5, optional_rate=rate, rename_rate=0.0, irrelevant_rate=0.0,
                                      parallel_rate=0.0, dialogue_rate=0.0)):
            tool = BY_NAME[r["meta"]["tool"]]
            stated = set(r["target"]["arguments"]) & set(tool.optional)
            assert stated == (set(tool.optional) if rate else set())
            assert ("optional_args" in r["meta"]["augmentations"]) == bool(stated)


def test_same_seed_same_bytes_and_different_seed_differs(tmp_path):
    paths = [tmp_path / name for name in ("a.jsonl", "b.jsonl", "c.jsonl")]
    for path, seed in zip(paths, (7, 7, 8)):
        assert synth("synth", "--n", "300", "--seed", str(seed), "--out", str(path)) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


@pytest.mark.parametrize("config", [
    "n=200, seed=3",
    # issue 14's levers too
    "n=150, seed=3, procedural_rate=0.6, mask_rate=0.3, description_style_rate=0.5, near_miss_rate=0.2, "
    "parallel_rate=0.1",
])
def test_output_does_not_depend_on_the_hash_seed(config, tmp_path):
    code = ("import sys; from calltune.synth.generator import SynthConfig, generate; from calltune.jsonl import "
            f"write_jsonl; write_jsonl(sys.argv[1], generate(SynthConfig({config})))")
    outputs = []
    for hash_seed in ("1", "2"):
        path = tmp_path / f"h{hash_seed}.jsonl"
        subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": hash_seed})
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]


def test_domain_and_tool_filters(tmp_path):
    out = tmp_path / "w.jsonl"
    assert synth("synth", "--n", "100", "--out", str(out), "--domains", "weather,math", "--irrelevant-rate", "0") == 0
    for ex in load_examples(str(out)):
        assert {BY_NAME[n].domain for n in ex.meta["tools"]} <= {"weather", "math"}
    held_in = ("calculate_mean", "stock_quote", "compose_email")
    records = generate(SynthConfig(n=150, seed=0, tools=held_in, irrelevant_rate=0.3))
    assert {n for r in records for n in r["meta"]["tools"]} <= set(held_in)
    assert any(r["target"] is None for r in records)


@pytest.mark.parametrize("kwargs,message", [
    ({"n": 0}, "--n"), ({"rename_rate": 1.5}, "--rename-rate"), ({"irrelevant_rate": -0.1}, "--irrelevant-rate"),
    ({"max_tools": 0}, "--max-tools"), ({"domains": ("cooking",)}, "cooking"),
    ({"followup_rate": 1.2}, "--followup-rate"), ({"parallel_rate": 0.6, "dialogue_rate": 0.5}, "add up to 1.2"),
    ({"tools": ("get_wether",)}, "get_wether")])
def test_bad_config_is_a_clear_error(kwargs, message):
    with pytest.raises(CalltuneError, match=re.escape(message)):
        generate(SynthConfig(**kwargs))


def test_running_out_of_unique_examples_is_an_error(monkeypatch):
    from calltune.synth import generator

    same = {"instruction": "Hi", "tools": [], "target": None, "meta": {"tool": None}}
    monkeypatch.setattr(generator, "sample_tool_example", lambda *args: dict(same))
    with pytest.raises(CalltuneError, match="only 1 unique examples"):
        generate(SynthConfig(n=10, irrelevant_rate=0.0, parallel_rate=0.0, dialogue_rate=0.0))


def test_stats_card_text_and_json(tiny_gpt2, tmp_path, capsys):
    data, card = tmp_path / "d.jsonl", tmp_path / "card.json"
    assert synth("synth", "--n", "120", "--seed", "0", "--out", str(data), "--irrelevant-rate", "0.2",
                 "--parallel-rate", "0.1", "--dialogue-rate", "0.1") == 0
    assert synth("stats", str(data), "--model", tiny_gpt2, "--out", str(card)) == 0
    text = capsys.readouterr().out
    assert "null targets" in text and "tools per prompt" in text and "argument types" in text
    assert "conversation: one call" in text and "tokens, prompt plus answer (hermes" in text
    obj = json.loads(card.read_text())
    assert obj["n"] == 120 and obj["null_targets"] == sum(1 for line in data.open() if '"target": null' in line)
    assert sum(obj["per_tool"].values()) == obj["calls"] > obj["tool_calls"]  # parallel examples count twice
    assert sum(obj["kinds"].values()) == 120 and obj["tokens"]["prompt_style"] == "hermes"
    tokens = obj["tokens"]["prompt_plus_answer"]
    assert tokens["min"] <= tokens["p50"] <= tokens["p90"] <= tokens["max"]
    assert sum(tokens["histogram"].values()) == 120


def test_stats_works_on_files_without_meta():
    card = compute_card(load_examples("seed:all"))
    assert card["n"] == 18 and sum(card["per_tool"].values()) == card["tool_calls"] == card["calls"]
    assert card["kinds"] == {"one call": 18} and card["text_answers"] == 0


def test_stats_tokens_stay_paper_for_single_call_files(tiny_gpt2):
    from calltune.models import load_tokenizer

    records = generate(SynthConfig(n=30, seed=0, parallel_rate=0.0, dialogue_rate=0.0, text_answer_rate=0.0))
    card = compute_card([parse_example(r) for r in records], load_tokenizer(tiny_gpt2))
    assert card["tokens"]["prompt_style"] == "paper" and card["tokens"]["answer"]["min"] > 0
