"""Benchmark overlap: training tools that share a name, a normalized name or a parameter set with BFCL."""

from __future__ import annotations

import argparse
import json

import pytest

from calltune.data_cli import add_parsers, run
from calltune.examples import parse_example
from calltune.overlap import Function, benchmark_overlap, check_overlap, eval_examples, normalize_name
from calltune.synth.catalogue import all_tools
from calltune.synth.generator import SynthConfig, generate


def tool(name: str, *params: str) -> dict:
    return {"name": name, "description": f"{name} tool",
            "parameters": {"type": "object", "properties": {p: {"type": "string"} for p in params}}}


def example(ex_id: str, tools: list[dict], target: str | None = None, meta: dict | None = None):
    call = None if target is None else {"name": target, "arguments": {}}
    return parse_example({"id": ex_id, "instruction": f"do {ex_id}", "tools": tools, "target": call,
                          "meta": meta or {}})


FUNCTIONS = [Function("simple_python", "calculate_triangle_area", frozenset({"base", "height", "unit"})),
             Function("multiple", "math.factorial", frozenset({"number"})),
             Function("irrelevance", "weather.lookup", frozenset({"location", "unit"})),
             Function("simple_python", "get_thing", frozenset({"q"}))]


@pytest.mark.parametrize("name,normal", [("calculate_NPV", "calculatenpv"), ("math.factorial", "factorial"),
                                         ("calculateNpv", "calculatenpv"), ("get-thing_v2", "getthingv2")])
def test_normalize_name(name, normal):
    assert normalize_name(name) == normal


def test_each_kind_of_match_is_found_and_counted():
    train = [
        example("a", [tool("calculate_triangle_area", "b", "h")], "calculate_triangle_area"),  # name
        example("b", [tool("Factorial", "n")], "Factorial"),  # normalized name
        example("c", [tool("forecast", "unit", "location"), tool("other", "x")], "other"),  # params, offered only
        example("d", [tool("thing", "q")], "thing"),  # one shared parameter is no match
        # a renamed copy of a catalogue tool is known by its origin
        example("e", [tool("fn_x7k2", "s")], "fn_x7k2", meta={"tools": ["get_thing"]}),
    ]
    report = check_overlap(train, FUNCTIONS, "test")
    assert report.tools == {"name": 2, "normalized_name": 3, "params": 1} and report.total == 4
    assert (report.examples_offering, report.examples_targeting) == (4, 3)
    kinds = {(m.kind, m.train_name, m.eval_name) for m in report.matches}
    assert ("name", "get_thing", "get_thing") in kinds and ("normalized_name", "Factorial", "math.factorial") in kinds
    assert ("params", "forecast", "weather.lookup") in kinds
    assert not any(m.train_name == "thing" for m in report.matches)
    assert "2 train tool(s) share a name" in report.summary()


def test_no_catalogue_tool_overlaps_bfcl():
    train = [example(t.name, [t.to_json()], meta={"tools": [t.name]}) for t in all_tools()]
    report = benchmark_overlap(train)
    assert report is not None and report.n_functions > 900
    assert report.total == 0, report.summary(50)


def test_generated_data_with_heavy_renaming_does_not_overlap_bfcl():
    records = generate(SynthConfig(n=3000, seed=5, rename_rate=1.0))
    report = benchmark_overlap([parse_example(r) for r in records])
    assert report.total == 0 and report.examples_offering == 0, report.summary(50)


def test_bfcl_questions_load_for_the_instruction_check():
    questions = eval_examples("bfcl:simple_python,parallel")
    assert len(questions) == 600 and all(ex.instruction for ex in questions)


def data_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="data_command", required=True))
    return run(parser.parse_args(argv))


def test_leaks_command_against_bfcl(tmp_path, capsys):
    train = tmp_path / "train.jsonl"
    rows = [example("a", [tool("calculate_triangle_area", "base", "height")], "calculate_triangle_area").record,
            example("b", [tool("my_tool", "x")], "my_tool").record]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "leaks.json"
    assert data_main(["leaks", "--train", str(train), "--dev", "bfcl:simple_python", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "leak check: 0 of 400 dev instruction(s)" in printed
    assert "benchmark overlap vs BFCL simple_python" in printed and "1 train tool(s) share a name" in printed
    saved = json.loads(out.read_text())
    assert saved["exact"] == 0 and saved["tool_overlap"]["tools"]["name"] == 1
    assert saved["tool_overlap"]["examples_targeting"] == 1


def test_training_prints_and_records_the_benchmark_overlap(tiny_gpt2, tmp_path, capsys):
    from calltune.config import load_config
    from calltune.train import train

    data = tmp_path / "train.jsonl"
    rows = [{"id": f"t{i}", "instruction": f"area of a triangle, base {i} height 2",
             "tools": [tool("calculate_triangle_area", "base", "height")],
             "target": {"name": "calculate_triangle_area", "arguments": {"base": str(i), "height": "2"}}}
            for i in range(4)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = load_config(None, [f"model.name={tiny_gpt2}", f"data.train={data}", "data.dev=null",
                             "train.max_steps=1", "train.batch_size=2", "eval.generate=false"])
    train(cfg, str(tmp_path / "run"), progress=False)
    assert "benchmark overlap vs BFCL" in capsys.readouterr().err
    saved = json.loads((tmp_path / "run" / "run.json").read_text())["data"]["benchmark_overlap"]
    assert saved["tools"]["name"] == 1 and saved["examples_targeting"] == 4
    # `calltune bfcl --adapter` reports its figures with the adapter's overlap
    from calltune.bfcl_run import training_overlap

    for adapter in (tmp_path / "run", tmp_path / "run" / "adapter"):
        assert training_overlap(str(adapter))["total"] == 1
    assert training_overlap(None) is None


def test_bfcl_reports_the_builtin_adapters_overlap():
    """`calltune bfcl --adapter builtin` states its training data's BFCL overlap from the shipped run.json."""
    from calltune.bfcl_run import training_overlap

    overlap = training_overlap("builtin")
    assert overlap is not None and overlap["n_train"] == 600
    assert overlap["examples_targeting"] == 0 and overlap["tools"]["name"] == 0
    assert training_overlap("no/such/adapter") is None
