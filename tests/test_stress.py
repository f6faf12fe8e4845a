"""Stress perturbations: each keeps the example well formed and its expected answer right."""

from __future__ import annotations

import json

import pytest

from calltune.examples import load_examples, parse_example
from calltune.stress import CONDITIONS, build_stress, run_stress

WEATHER = {"name": "get_weather", "description": "Current weather for a city.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]},
                                     "days": {"type": "integer", "minimum": 1}},
    "required": ["city", "days"], "additionalProperties": False}}
FLIGHT = {"name": "book_flight", "description": "Book a flight.", "parameters": {
    "type": "object", "properties": {"origin": {"type": "string"}, "destination": {"type": "string"}},
    "required": ["origin", "destination"]}}
CONVERT = {"name": "convert_currency", "description": "Convert money.", "parameters": {
    "type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}}


def _examples():
    rows = [
        {"id": "w1", "instruction": "What's the weather in Oslo for 3 days?", "tools": [WEATHER],
         "target": {"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}},
        {"id": "f1", "instruction": "Book a flight from Paris to Rome.", "tools": [FLIGHT],
         "target": {"name": "book_flight", "arguments": {"origin": "Paris", "destination": "Rome"}}},
        {"id": "c1", "instruction": "Please convert 250 dollars.", "tools": [CONVERT],
         "target": {"name": "convert_currency", "arguments": {"amount": 250}}},
    ]
    return [parse_example(r) for r in rows]


@pytest.fixture(scope="module")
def built():
    train = [parse_example({"id": "t", "instruction": "x y", "tools": [FLIGHT],
                            "target": {"name": "book_flight", "arguments": {"origin": "A", "destination": "B"}}})]
    return build_stress(_examples(), train, seed=3)


def _by_source(records):
    return {r["meta"]["source_id"]: r for r in records}


def test_every_condition_is_built_and_parses(built):
    assert set(built) == set(CONDITIONS)
    for condition, (records, _) in built.items():
        assert records, f"{condition} built no example"  # else the loop below checks nothing
        for i, record in enumerate(records):
            parse_example(record, "stress", i + 1)  # target validates against the perturbed tools
            assert record["meta"]["stress"] == condition and record["id"].endswith(f"~{condition}")


def test_rename_renames_schema_and_target_together(built):
    w = _by_source(built["rename_params"][0])["w1"]
    props = w["tools"][0]["parameters"]["properties"]
    assert "city" not in props and set(w["target"]["arguments"]) <= set(props)
    assert set(w["tools"][0]["parameters"]["required"]) == set(w["target"]["arguments"])
    assert sorted(w["target"]["arguments"].values(), key=str) == [3, "Oslo"]


def test_reorder_reverses_properties_and_keeps_target(built):
    w = _by_source(built["reorder_properties"][0])["w1"]
    assert list(w["tools"][0]["parameters"]["properties"]) == ["days", "unit", "city"]
    assert w["target"] == {"name": "get_weather", "arguments": {"city": "Oslo", "days": 3}}


def test_underspecified_removes_a_required_value_and_expects_no_call(built):
    records = _by_source(built["underspecified"][0])
    assert records["w1"]["target"] is None and "Oslo" not in records["w1"]["instruction"]
    assert records["w1"]["instruction"] == "What's the weather for 3 days?"
    assert "Paris" not in records["f1"]["instruction"] and records["f1"]["target"] is None
    assert "250" not in records["c1"]["instruction"]


def test_distractors_add_other_tools_and_keep_target(built):
    assert set(_by_source(built["distractors"][0])) == {"w1", "f1", "c1"}
    for record in built["distractors"][0]:
        names = [t["name"] for t in record["tools"]]
        assert len(names) == 3 and len(set(names)) == 3 and record["target"]["name"] in names


def test_paraphrase_keeps_every_value(built):
    assert set(_by_source(built["paraphrase"][0])) == {"w1", "f1", "c1"}
    for record in built["paraphrase"][0]:
        source = next(ex for ex in _examples() if ex.id == record["meta"]["source_id"])
        assert record["instruction"] != source.instruction and record["target"]["arguments"]
        for value in record["target"]["arguments"].values():
            assert str(value).lower() in record["instruction"].lower()


def test_irrelevant_expects_no_call_and_avoids_tool_words(built):
    assert set(_by_source(built["irrelevant"][0])) == {"w1", "f1", "c1"}
    for record in built["irrelevant"][0]:
        assert record["target"] is None
        assert "weather" not in record["instruction"].lower() and "flight" not in record["instruction"].lower()


def test_unseen_tools_uses_the_training_file(built):
    records, skipped = built["unseen_tools"]
    assert {r["meta"]["source_id"] for r in records} == {"w1", "c1"}  # book_flight occurs in train
    assert skipped == [{"id": "f1", "reason": "a tool also occurs in train"}]


def test_run_stress_writes_files_and_manifest(tmp_path):
    manifest = run_stress("seed:dev", str(tmp_path), train="seed:train", limit=2)
    for condition in CONDITIONS:
        info = manifest["conditions"][condition]
        assert info["n"] <= 2
        if condition != "unseen_tools":  # every seed:dev tool also occurs in seed:train (checked below)
            assert info["n"] == 2, f"{condition} wrote {info['n']} examples"  # none comes out empty
        if info["n"]:
            assert len(load_examples(info["path"])) == info["n"]
    saved = json.loads((tmp_path / "manifest.json").read_text())
    assert saved["conditions"]["unseen_tools"]["skip_reasons"] == {"a tool also occurs in train": 4}


def test_stress_cli(tmp_path, capsys):
    from calltune.cli import main

    assert main(["stress", "--data", "seed:dev", "--out", str(tmp_path / "s")]) == 0
    assert "rename_params" in capsys.readouterr().out
    assert main(["stress", "--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "t")]) == 2


def test_conversations_and_parallel_targets_are_skipped_and_counted():
    rows = [{"id": "m1", "messages": [{"role": "user", "content": "Book a flight from Paris to Rome."}],
             "tools": [FLIGHT], "target": {"name": "book_flight", "arguments": {"origin": "Paris", "destination": "Rome"}}},
            {"id": "p1", "instruction": "Book Paris to Rome and Rome to Oslo.", "tools": [FLIGHT],
             "target": [{"name": "book_flight", "arguments": {"origin": "Paris", "destination": "Rome"}},
                        {"name": "book_flight", "arguments": {"origin": "Rome", "destination": "Oslo"}}]}]
    built = build_stress(_examples() + [parse_example(r) for r in rows], None, seed=3)
    for condition in CONDITIONS:
        records, skipped = built[condition]
        assert not {r["meta"]["source_id"] for r in records} & {"m1", "p1"}
        reasons = {s["id"]: s["reason"] for s in skipped}
        assert reasons["m1"] == reasons["p1"] == "a conversation or parallel target"
    assert len(built["original"][0]) == 3
