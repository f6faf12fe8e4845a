"""Importers: each hand-made fixture round-trips to checked examples; bad records are named, skipped or stop.

Parallel calls become a target list; multi-turn records become `messages` (history) with the last
assistant turn as the answer; single-call, single-turn records stay the flat records they always were.
"""

import argparse
import json
from pathlib import Path

import pytest

from calltune.data_cli import add_parsers, run
from calltune.errors import CalltuneError
from calltune.examples import load_examples, parse_example
from calltune.importers import import_file, python_type_schema

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


# format -> (fixture, {id: target}, {reason: count} skipped)
EXPECTED = {
    "openai": ("openai.jsonl", {
        "oa-weather": None,  # multi-turn: the answer is the final text, the call is history
        "openai-1": None,
        "openai-2": [call("get_stock_price", symbol="NVDA"), call("get_weather", city="Oslo")],
        "openai-4": call("get_stock_price", symbol="AAPL"),
        "oa-multi": call("get_weather", city="Bergen", unit="fahrenheit"),
        "oa-legacy": None,
    }, {"malformed call": 1}),
    "glaive": ("glaive.jsonl", {
        "glaive-0": None,
        "glaive-1": call("convert_currency", amount=500, from_currency="USD", to_currency="EUR"),
        "glaive-2": call("convert_currency", amount=20, from_currency="GBP", to_currency="JPY"),
        "glaive-4": call("calculate_bmi", weight=70, height=1.75),
        "glaive-5": [call("convert_currency", amount=10, from_currency="USD", to_currency="EUR"),
                     call("convert_currency", amount=10, from_currency="USD", to_currency="GBP")],
    }, {"malformed call": 1}),
    "xlam": ("xlam.json", {
        "0": call("live_giveaways_by_type", type="beta"),
        "1": call("calculate_grade", scores=[90, 85.5], weights=[0.6, 0.4], strict=True),
        "2": None,
        "3": [call("find_max_subarray_sum", nums=[1, -2, 3]), call("find_max_subarray_sum", nums=[4, -1, 2])],
    }, {"bad field": 1}),
    "sharegpt": ("sharegpt.jsonl", {
        "hermes-stock": None,
        "hermes-recipes": call("search_recipes", ingredient="chickpeas", max_results=3),
        "hermes-chat": None,
        "hermes-parallel": [call("get_stock_price", symbol="TSLA"), call("get_stock_price", symbol="AAPL")],
        "hermes-multi": call("search_recipes", ingredient="tofu", max_results=2),
    }, {"malformed call": 1}),
}

# format -> the error raised at the first bad record under --on-error stop
STOP_MESSAGE = {
    "openai": r"openai\.jsonl:4: record 3: field 'messages\[1\]\.tool_calls\[0\]\.arguments': malformed call",
    "glaive": r"glaive\.jsonl:4: record 3: field 'chat\.arguments': malformed call",
    "xlam": r"xlam\.json: record 4: field 'tools': bad field",
    "sharegpt": r"sharegpt\.jsonl:4: record 3: field 'conversations\[2\]\.value': malformed call",
}

# id -> the roles of the imported `messages` (history before the answer); None: a flat instruction record
HISTORY = {
    "oa-weather": ["system", "user", "assistant", "tool"],
    "openai-2": None,
    "oa-multi": ["system", "user", "assistant", "tool", "tool", "assistant", "user"],
    "oa-legacy": ["user", "assistant", "tool"],
    "glaive-0": ["user", "assistant", "tool"],
    "glaive-1": ["user", "assistant", "user"],
    "glaive-4": ["user", "assistant", "tool", "assistant", "user"],
    "glaive-5": None,
    "3": None,
    "hermes-stock": ["user", "assistant", "tool"],
    "hermes-parallel": None,
    "hermes-multi": ["user", "assistant", "tool", "tool", "assistant", "user"],
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
    assert records[0]["messages"][0] == {"role": "system", "content": "You are a concise assistant."}
    assert [r["meta"]["source_index"] for r in records] == [0, 1, 2, 4, 5, 6]
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
    assert [ex.id for ex in load_examples(str(out))] == ["0", "1", "2", "3"]
    printed = capsys.readouterr().out
    assert "imported 4 of 5 records" in printed and "1 bad field" in printed


def test_import_command_stops_by_default_and_writes_nothing(tmp_path):
    out = tmp_path / "out.jsonl"
    with pytest.raises(CalltuneError, match="record 3"):
        data_main(["import", "--format", "openai", "--in", str(FIXTURES / "openai.jsonl"), "--out", str(out)])
    assert not out.exists()


@pytest.fixture(scope="module")
def imported() -> dict[str, dict]:
    """Every record the fixtures import, by id."""
    return {r["id"]: r for fmt, (name, _, _) in EXPECTED.items()
            for r in import_file(str(FIXTURES / name), fmt, on_error="skip")[0]}


@pytest.mark.parametrize("ex_id", sorted(HISTORY))
def test_parallel_and_multi_turn_records_are_kept(imported, ex_id):
    record = imported[ex_id]
    roles = HISTORY[ex_id]
    if roles is None:
        assert "messages" not in record and record["instruction"].strip()
    else:
        assert "instruction" not in record and [m["role"] for m in record["messages"]] == roles
    ex = parse_example(json.loads(json.dumps(record)))
    assert ex.calls == ([] if record["target"] is None else
                        record["target"] if isinstance(record["target"], list) else [record["target"]])


def test_tool_results_answer_their_calls(imported):
    """Ids the source gives are kept (results may come in any order); calls without ids are numbered
    and their results answer the open calls in order."""
    oa = imported["oa-multi"]["messages"]
    assert [c["id"] for c in oa[2]["tool_calls"]] == ["a1", "a2"]
    assert oa[2]["tool_calls"][0]["function"] == call("get_weather", city="Oslo")  # JSON string parsed
    assert [(m["tool_call_id"], m["content"]) for m in oa[3:5]] == [("a2", '{"price": 120.5}'), ("a1", '{"temp": 4}')]
    hermes = imported["hermes-multi"]["messages"]
    assert [c["id"] for c in hermes[1]["tool_calls"]] == ["call_0", "call_1"]
    assert [(m["tool_call_id"], m["content"]) for m in hermes[2:4]] == [("call_0", '{"price": 250.1}'),
                                                                        ("call_1", '{"price": 190.2}')]
    glaive = imported["glaive-4"]["messages"]
    assert glaive[1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_0", "type": "function",
         "function": call("convert_currency", amount=100, from_currency="USD", to_currency="EUR")}]}
    assert glaive[2] == {"role": "tool", "tool_call_id": "call_0", "content": '{"converted_amount": 92.5}'}
    assert glaive[3] == {"role": "assistant", "content": "100 USD is 92.5 EUR."}
    legacy = imported["oa-legacy"]["messages"]
    assert legacy[2] == {"role": "tool", "tool_call_id": "call_0", "content": '{"price": 190.2}'}


def test_a_final_text_answer_is_the_target_content(imported):
    assert {k: imported[k].get("target_content") for k in ("oa-weather", "glaive-0", "hermes-stock", "openai-1",
                                                      "hermes-chat", "2", "glaive-1")} == {
        "oa-weather": "It is 21 degrees.", "glaive-0": "Your Body Mass Index (BMI) is 22.86.",
        "hermes-stock": "TSLA trades at 250.1.", "openai-1": "Why don't penguins fly? They can't afford plane tickets.",
        "hermes-chat": "Glad you enjoyed it!", "2": None, "glaive-1": None}


def test_single_call_single_turn_records_are_unchanged(imported):
    """A guard: these flat records are byte for byte what the importers always wrote."""
    assert json.dumps({k: v for k, v in imported["openai-4"].items() if k != "tools"}) == (
        '{"id": "openai-4", "instruction": "What\'s Apple trading at?", "target": {"name": "get_stock_price", '
        '"arguments": {"symbol": "AAPL"}}, "meta": {"source_format": "openai", "source_index": 4}}')
    assert list(imported["glaive-2"]) == ["id", "instruction", "tools", "target", "meta"]
    assert list(imported["hermes-recipes"]) == ["id", "instruction", "tools", "target", "meta"]


def _openai_line(*messages: dict) -> dict:
    return {"messages": list(messages), "tools": [{"type": "function", "function": {
        "name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}]}


USER = {"role": "user", "content": "Add."}
ANSWER = {"role": "assistant", "content": "Done."}


@pytest.mark.parametrize("fmt, record, message", [
    ("glaive", {"system": "SYSTEM: functions -\n{\"name\": \"add\"}",
                "chat": "USER: hi\n\n\nFUNCTION RESPONSE: {}\n\n\nASSISTANT: ok"},
     r"record 0: field 'chat': bad field: a tool result answers no earlier call"),
    ("sharegpt", {"tools": [{"name": "add"}], "conversations": [
        {"from": "human", "value": "hi"}, {"from": "narrator", "value": "..."}, {"from": "gpt", "value": "ok"}]},
     r"record 0: field 'conversations\[1\]\.from': bad field: unexpected role 'narrator'"),
    ("openai", _openai_line(USER, {"role": "critic", "content": "x"}, ANSWER),
     r"record 0: field 'messages\[1\]\.role': bad field: unexpected role 'critic'"),
    ("openai", _openai_line(USER, {"role": "tool", "tool_call_id": "x", "content": "1"}, ANSWER),
     r"record 0: field 'messages\[1\]\.tool_call_id': invalid example: example 'r-0': 'x' answers no earlier"),
    ("openai", _openai_line(USER, {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "mul", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "1"}, ANSWER),
     r"field 'messages\[1\]\.tool_calls\[0\]\.function\.name': invalid example: .*'mul' is not one of"),
    ("xlam", _xlam_line(answers=[{"name": "add", "arguments": {"a": 2, "b": 3}},
                                 {"name": "add", "arguments": {"a": "2"}}]),
     r"record 0: field 'target\[1\]\.arguments(\.a)?': target fails schema"),
])
def test_bad_conversations_are_record_errors(write_jsonl_lines, fmt, record, message):
    path = write_jsonl_lines("r.jsonl", [record])
    with pytest.raises(CalltuneError, match=message):
        import_file(path, fmt)
