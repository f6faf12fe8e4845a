"""Importers: each hand-made fixture round-trips to checked examples; bad records are named, skipped or stop."""

import argparse
import json
from pathlib import Path

import pytest

from calltune.data_cli import add_parsers, run
from calltune.errors import CalltuneError
from calltune.examples import load_examples, parse_example
from calltune.importers import import_file, python_type_schema

FIXTURES = Path(__file__).parent / "fixtures" / "import"

# format -> (fixture, {id: target}, {reason: count} skipped)
EXPECTED = {
    "openai": ("openai.jsonl", {
        "oa-weather": {"name": "get_weather", "arguments": {"city": "Lisbon", "unit": "celsius"}},
        "openai-1": None,
        "openai-4": {"name": "get_stock_price", "arguments": {"symbol": "AAPL"}},
    }, {"multiple calls not supported": 1, "malformed call": 1}),
    "glaive": ("glaive.jsonl", {
        "glaive-0": {"name": "calculate_bmi", "arguments": {"weight": 70, "height": 1.75}},
        "glaive-1": None,  # the assistant's first answer asks a question
        "glaive-2": {"name": "convert_currency",
                     "arguments": {"amount": 20, "from_currency": "GBP", "to_currency": "JPY"}},
    }, {"malformed call": 1}),
    "xlam": ("xlam.json", {
        "0": {"name": "live_giveaways_by_type", "arguments": {"type": "beta"}},
        "1": {"name": "calculate_grade",
              "arguments": {"scores": [90, 85.5], "weights": [0.6, 0.4], "strict": True}},
        "2": None,
    }, {"multiple calls not supported": 1, "bad field": 1}),
    "sharegpt": ("sharegpt.jsonl", {
        "hermes-stock": {"name": "get_stock_price", "arguments": {"symbol": "TSLA"}},
        "hermes-recipes": {"name": "search_recipes", "arguments": {"ingredient": "chickpeas", "max_results": 3}},
        "hermes-chat": None,
    }, {"malformed call": 1}),
}

# format -> the error raised at the first bad record under --on-error stop
STOP_MESSAGE = {
    "openai": r"openai\.jsonl:3: record 2: field 'messages\[1\]\.tool_calls': multiple calls not supported",
    "glaive": r"glaive\.jsonl:4: record 3: field 'chat\.arguments': malformed call",
    "xlam": r"xlam\.json: record 3: field 'answers': multiple calls not supported",
    "sharegpt": r"sharegpt\.jsonl:4: record 3: field 'conversations\[2\]\.value': malformed call",
}


def data_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="data_command", required=True))
    return run(parser.parse_args(argv))


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_fixture_round_trips_to_checked_examples(fmt):
    name, targets, _ = EXPECTED[fmt]
    records, report = import_file(str(FIXTURES / name), fmt, on_error="skip")
    assert {r["id"]: r["target"] for r in records} == targets
    for record in records:
        ex = parse_example(json.loads(json.dumps(record)))
        assert ex.labeled and ex.instruction.strip()
        assert record["meta"]["source_format"] == fmt and isinstance(record["meta"]["source_index"], int)
    assert report.n_imported == len(targets) and report.n_records == len(targets) + len(report.skipped)


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_skip_counts_by_reason(fmt):
    name, _, reasons = EXPECTED[fmt]
    _, report = import_file(str(FIXTURES / name), fmt, on_error="skip")
    assert report.by_reason() == reasons
    summary = report.summary()
    assert f"skipped {sum(reasons.values())}" in summary and all(reason in summary for reason in reasons)


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_stop_raises_naming_the_record(fmt):
    with pytest.raises(CalltuneError, match=STOP_MESSAGE[fmt]):
        import_file(str(FIXTURES / EXPECTED[fmt][0]), fmt)


def test_conversions_keep_system_tools_and_source_index():
    records, _ = import_file(str(FIXTURES / "openai.jsonl"), "openai", on_error="skip")
    assert records[0]["system"] == "You are a concise assistant."
    assert [r["meta"]["source_index"] for r in records] == [0, 1, 4]
    glaive, _ = import_file(str(FIXTURES / "glaive.jsonl"), "glaive", on_error="skip")
    assert [t["function"]["name"] for t in glaive[0]["tools"]] == ["calculate_bmi", "convert_currency"]
    assert "system" not in glaive[0]  # the tool-listing boilerplate is not carried over
    hermes, _ = import_file(str(FIXTURES / "sharegpt.jsonl"), "sharegpt", on_error="skip")
    assert [t["function"]["name"] for t in hermes[1]["tools"]] == ["search_recipes", "get_stock_price"]


def test_xlam_types_become_json_schema():
    records, _ = import_file(str(FIXTURES / "xlam.json"), "xlam", on_error="skip")
    params = records[1]["tools"][1]["function"]["parameters"]
    assert params["properties"]["scores"] == {"type": "array", "items": {"type": "number"},
                                              "description": "A list of scores."}
    assert params["properties"]["round_to"]["type"] == "integer"
    assert params["required"] == ["scores", "weights"]  # Optional[...] and "bool, optional" are not
    assert records[0]["tools"][0]["function"]["parameters"]["required"] == []  # has a default


@pytest.mark.parametrize("text, schema, optional", [
    ("str", {"type": "string"}, False),
    ("int", {"type": "integer"}, False),
    ("float", {"type": "number"}, False),
    ("bool", {"type": "boolean"}, False),
    ("dict", {"type": "object"}, False),
    ("List[int]", {"type": "array", "items": {"type": "integer"}}, False),
    ("List[List[str]]", {"type": "array", "items": {"type": "array", "items": {"type": "string"}}}, False),
    ("Tuple[float, float]", {"type": "array", "items": {"type": "number"}}, False),
    ("Dict[str, Any]", {"type": "object"}, False),
    ("Optional[List[str]]", {"type": "array", "items": {"type": "string"}}, True),
    ("int, optional", {"type": "integer"}, True),
    ("str, default='en'", {"type": "string"}, True),
    ("int | None", {"type": "integer"}, True),
    ("Union[int, float]", {"anyOf": [{"type": "integer"}, {"type": "number"}]}, False),
    ("Any", {}, False),
])
def test_python_type_schema(text, schema, optional):
    assert python_type_schema(text) == (schema, optional)


@pytest.mark.parametrize("text", ["Callable", "pd.DataFrame", "str, e.g. 'x'", "List[int"])
def test_unsupported_types_are_errors(text):
    with pytest.raises(ValueError, match="unsupported type"):
        python_type_schema(text)


def _xlam_line(**overrides) -> dict:
    record = {"query": "Add 2 and 3.", "answers": [{"name": "add", "arguments": {"a": 2, "b": 3}}],
              "tools": [{"name": "add", "description": "Add.", "parameters": {"a": {"type": "int"},
                                                                               "b": {"type": "int"}}}]}
    return {**record, **overrides}


def test_target_that_fails_the_schema_is_a_record_error(write_jsonl_lines):
    wrong = _xlam_line(answers=[{"name": "add", "arguments": {"a": "2"}}])
    path = write_jsonl_lines("x.jsonl", [_xlam_line(), wrong])
    with pytest.raises(CalltuneError, match=r"x\.jsonl:2: record 1: field 'target\.arguments(\.a)?': "
                                            r"target fails schema"):
        import_file(path, "xlam")
    records, report = import_file(path, "xlam", on_error="skip")
    assert [r["id"] for r in records] == ["x-0"] and report.by_reason() == {"target fails schema": 1}


def test_unparseable_lines_unsupported_types_and_duplicate_ids_are_counted(write_jsonl_lines):
    bad_type = _xlam_line(tools=[{"name": "add", "parameters": {"a": {"type": "Callable"}}}])
    path = write_jsonl_lines("x.jsonl", [_xlam_line(id="a"), "{not json", bad_type, _xlam_line(id="a"), "[1]"])
    records, report = import_file(path, "xlam", on_error="skip")
    assert len(records) == 1
    assert report.by_reason() == {"malformed record": 2, "unsupported type": 1, "duplicate id": 1}
    assert [s.line for s in report.skipped] == [2, 3, 4, 5]


def test_glaive_without_functions_is_a_record_error(write_jsonl_lines):
    no_functions = "SYSTEM: You are a helpful assistant, with no access to external functions."
    path = write_jsonl_lines("g.jsonl", [{"system": no_functions, "chat": "USER: hi\n\n\nASSISTANT: hello"}])
    with pytest.raises(CalltuneError, match=r"g\.jsonl:1: record 0: field 'system': no tools offered"):
        import_file(path, "glaive")


def test_import_command_writes_loadable_examples(tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert data_main(["import", "--format", "xlam", "--in", str(FIXTURES / "xlam.json"), "--out", str(out),
                      "--on-error", "skip"]) == 0
    assert [ex.id for ex in load_examples(str(out))] == ["0", "1", "2"]
    printed = capsys.readouterr().out
    assert "imported 3 of 5 records" in printed and "1 multiple calls not supported" in printed


def test_import_command_stops_by_default_and_writes_nothing(tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(CalltuneError, match="record 2"):
        data_main(["import", "--format", "openai", "--in", str(FIXTURES / "openai.jsonl"), "--out", str(out)])
    assert not out.exists()
