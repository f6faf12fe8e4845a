"""Data formats, the seed set and splits; bad input names file, line and field."""

import json

import pytest

from calltune.errors import CalltuneError
from calltune.examples import (load_examples, load_predictions, parse_example, parse_tool, resolve_data_path,
                               split_examples)
from calltune.jsonl import read_jsonl, write_jsonl

PARAMS = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
GOOD = {"id": "a", "instruction": "search for cats", "tools": [{"name": "search", "parameters": PARAMS}],
        "target": {"name": "search", "arguments": {"q": "cats"}}}


def test_both_tool_forms_give_the_same_tool():
    bare = {"name": "search", "description": "Search.", "parameters": PARAMS}
    openai = {"type": "function", "function": bare}
    assert parse_tool(bare, (None, None), "t") == parse_tool(openai, (None, None), "t")


def test_target_states():
    assert parse_example(GOOD).labeled and parse_example(GOOD).target["name"] == "search"
    null = parse_example({**GOOD, "target": None})
    assert null.labeled and null.target is None
    unlabeled = parse_example({k: v for k, v in GOOD.items() if k != "target"})
    assert not unlabeled.labeled and unlabeled.target is None


@pytest.mark.parametrize("line, message", [
    ("{not json", r"bad\.jsonl:2: malformed JSON"),
    ('{"id": "b", "instruction": "x"}', r"bad\.jsonl:2: field 'tools': example 'b'"),
    ('{"id": "b", "instruction": "x", "tools": []}', r"bad\.jsonl:2: field 'tools'"),
    (json.dumps({**GOOD, "id": "b", "tools": [{"name": "s", "parameters": {"type": "object", "properties": 3}}]}),
     r"bad\.jsonl:2: field 'tools\[0\]\.parameters': tool 's': not a valid JSON Schema"),
    (json.dumps({**GOOD, "id": "b", "tools": [{"name": "s", "parameters": {"type": "string"}}]}),
     r"field 'tools\[0\]\.parameters\.type'"),
    (json.dumps({**GOOD, "id": "b", "target": {"name": "nope", "arguments": {}}}), r"field 'target\.name'"),
    (json.dumps({**GOOD, "id": "b", "target": {"name": "search", "arguments": {"q": 5}}}),
     r"bad\.jsonl:2: field 'target\.arguments\.q'"),
    (json.dumps({**GOOD, "id": "b", "target": {"name": "search"}}), r"field 'target'"),
    (json.dumps({**GOOD, "id": "a"}), r"bad\.jsonl:2: field 'id': duplicate id 'a' \(first on line 1\)"),
    ('{"instruction": "x"}', r"field 'id'"),
    ("[1, 2]", r"bad\.jsonl:2: expected a JSON object"),
])
def test_bad_lines_are_located(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + line + "\n")
    with pytest.raises(CalltuneError, match=message):
        load_examples(str(path))


# ---- conversations, parallel calls, tool_choice (issue 11) ---------------------------------------

TOOLS = [{"type": "function", "function": {"name": "search", "parameters": PARAMS}},
         {"name": "open_page", "parameters": {"type": "object", "properties": {"url": {"type": "string"}},
                                              "required": ["url"]}}]


def tool_call(call_id: str, name: str, arguments) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


CHAT = {"id": "c", "tools": TOOLS, "messages": [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "search for cats"},
    {"role": "assistant", "content": None, "tool_calls": [tool_call("t1", "search", '{"q": "cats"}')]},
    {"role": "tool", "tool_call_id": "t1", "content": '["cats.example"]'},
    {"role": "assistant", "content": "Found cats.example."},
    {"role": "user", "content": "open it and search for dogs"},
], "target": [{"name": "open_page", "arguments": '{"url": "cats.example"}'},
              {"name": "search", "arguments": {"q": "dogs"}}]}


def test_a_conversation_example_is_normalized():
    ex = parse_example(json.loads(json.dumps(CHAT)))
    assert ex.instruction == "open it and search for dogs" and ex.system == "Be brief."
    assert ex.messages[2] == {"role": "assistant", "content": None,
                              "tool_calls": [tool_call("t1", "search", {"q": "cats"})]}  # JSON string parsed
    assert ex.messages[3] == {"role": "tool", "tool_call_id": "t1", "content": '["cats.example"]'}
    assert ex.messages[4] == {"role": "assistant", "content": "Found cats.example."}
    assert ex.conversation() == ex.messages and ex.conversation() is not ex.messages
    assert ex.target == [{"name": "open_page", "arguments": {"url": "cats.example"}},
                         {"name": "search", "arguments": {"q": "dogs"}}]
    assert ex.calls == ex.target and ex.labeled
    assert (ex.tool_choice, ex.parallel_tool_calls, ex.target_content) == ("auto", True, None)
    assert ex.record == CHAT  # the line as read: arguments are still JSON strings there


def test_instruction_examples_have_a_conversation_and_calls():
    ex = parse_example({**GOOD, "system": "Be brief."})
    assert ex.messages is None and ex.target is GOOD["target"]  # an old single call stays the dict as read
    assert ex.conversation() == [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "search for cats"}]
    assert parse_example(GOOD).conversation() == [{"role": "user", "content": "search for cats"}]
    assert ex.calls == [GOOD["target"]]
    assert parse_example({**GOOD, "target": None}).calls == []


def test_string_arguments_options_and_target_content():
    ex = parse_example({**GOOD, "tools": TOOLS, "target": {"name": "search", "arguments": '{"q": "cats"}'},
                        "tool_choice": {"type": "function", "function": {"name": "search"}},
                        "parallel_tool_calls": False, "target_content": "Searching."})
    assert ex.target == {"name": "search", "arguments": {"q": "cats"}} and ex.calls == [ex.target]
    assert ex.tool_choice == {"type": "function", "function": {"name": "search"}}
    assert ex.parallel_tool_calls is False and ex.target_content == "Searching."
    text = parse_example({**GOOD, "target": None, "tool_choice": "none", "target_content": "Hello!"})
    assert (text.calls, text.tool_choice, text.target_content) == ([], "none", "Hello!")
    one = parse_example({**GOOD, "target": [GOOD["target"]], "parallel_tool_calls": False})
    assert one.target == [GOOD["target"]] and one.calls == [GOOD["target"]]  # a list stays a list


def test_conversation_files_rewrite_losslessly(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps(CHAT) + "\n" + json.dumps(GOOD) + "\n")
    write_jsonl(tmp_path / "again.jsonl", [ex.record for ex in load_examples(str(path))])
    assert (tmp_path / "again.jsonl").read_text() == path.read_text()


def _messages(*extra: dict) -> list[dict]:
    return CHAT["messages"][:3] + list(extra)


def _chat(**changes) -> dict:
    return {**CHAT, "id": "b", **changes}


@pytest.mark.parametrize("record, field, message", [
    (_chat(messages=_messages({"role": "tool", "tool_call_id": "t9", "content": "x"})),
     r"messages\[3\]\.tool_call_id", "'t9' answers no earlier assistant tool call"),
    (_chat(messages=[{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "t1", "content": "x"}]),
     r"messages\[1\]\.tool_call_id", "answers no earlier assistant tool call"),
    (_chat(messages=[CHAT["messages"][1], {"role": "assistant", "tool_calls": [tool_call("t1", "fly", "{}")]},
                     CHAT["messages"][3]]),
     r"messages\[1\]\.tool_calls\[0\]\.function\.name", "'fly' is not one of the offered tools"),
    (_chat(messages=[CHAT["messages"][1], {"role": "assistant", "tool_calls": [tool_call("t1", "search", "{q}")]},
                     CHAT["messages"][3]]),
     r"messages\[1\]\.tool_calls\[0\]\.function\.arguments", "arguments are not valid JSON"),
    (_chat(messages=[CHAT["messages"][1], {"role": "assistant", "tool_calls": [tool_call("t1", "search", "[1]")]},
                     CHAT["messages"][3]]),
     r"messages\[1\]\.tool_calls\[0\]\.function\.arguments", "arguments must be a JSON object, got list"),
    (_chat(messages=_messages({"role": "assistant", "tool_calls": [tool_call("t1", "search", {"q": "x"})]},
                              {"role": "user", "content": "again"})),
     r"messages\[3\]\.tool_calls\[0\]\.id", "unique in the conversation"),
    (_chat(messages=[CHAT["messages"][1], {"role": "assistant", "content": None}, {"role": "user", "content": "?"}]),
     r"messages\[1\]", "needs content or tool_calls"),
    (_chat(target={"name": "search", "arguments": "{q: cats}"}), r"target\.arguments", "not valid JSON"),
    (_chat(target={"name": "search", "arguments": '"cats"'}), r"target\.arguments", "must be a JSON object"),
    (_chat(target=[]), r"target", "must not be empty"),
    (_chat(target=[GOOD["target"], "search"]), r"target\[1\]", "each parallel call must be"),
    (_chat(target=[GOOD["target"], {"name": "fly", "arguments": {}}]), r"target\[1\]\.name",
     "'fly' is not one of the offered tools"),
    (_chat(target=[{"name": "search", "arguments": '{"q": 5}'}]), r"target\[0\]\.arguments\.q",
     "does not satisfy the schema of 'search'"),
    (_chat(target=[GOOD["target"], {"name": "open_page", "arguments": {}}]), r"target\[1\]\.arguments",
     "'url' is a required property"),
    ({**GOOD, "id": "b", "messages": CHAT["messages"]}, r"messages", "give 'instruction' or 'messages', not both"),
    ({"id": "b", "tools": TOOLS, "target": None}, r"instruction", r"missing or empty \(or give 'messages'\)"),
    (_chat(messages=[CHAT["messages"][1], {"role": "bot", "content": "x"}]), r"messages\[1\]\.role",
     "'bot' is not one of system, user, assistant, tool"),
    (_chat(messages=[CHAT["messages"][1], CHAT["messages"][0]]), r"messages\[1\]\.role",
     "a system message may only come first"),
    (_chat(messages=[{"role": "system", "content": "x"}]), r"messages", "needs a user message"),
    (_chat(system="Be brief."), r"system", "put the system text in a leading system message"),
    (_chat(messages=CHAT["messages"][:5]), r"messages\[4\]\.role", "must end with a user or tool message"),
    (_chat(tool_choice={"type": "function", "function": {"name": "fly"}}), r"tool_choice\.function\.name",
     "'fly' is not one of the offered tools"),
    (_chat(tool_choice="always"), r"tool_choice", "must be one of auto, required, none"),
    (_chat(tool_choice="none"), r"target", "tool_choice 'none' allows no call"),
    (_chat(tool_choice="required", target=None), r"target", "tool_choice 'required' needs at least one call"),
    (_chat(tool_choice={"type": "function", "function": {"name": "search"}}), r"target",
     "tool_choice names 'search': every target call must call it"),
    (_chat(parallel_tool_calls=False), r"target", "2 parallel calls but parallel_tool_calls is false"),
    (_chat(parallel_tool_calls="no"), r"parallel_tool_calls", "must be true or false"),
    (_chat(target_content=["x"]), r"target_content", "must be a string or null"),
    ({k: v for k, v in _chat(target_content="Hi").items() if k != "target"}, r"target_content",
     r"needs a 'target'"),
])
def test_bad_conversations_and_targets_are_located(tmp_path, record, field, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(CalltuneError, match=rf"bad\.jsonl:2: field '{field}': example 'b': .*{message}"):
        load_examples(str(path))


def test_a_located_example_error_exits_2_through_the_cli(tmp_path, capsys):
    from calltune.cli import main

    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_chat(parallel_tool_calls=False)) + "\n")
    assert main(["data", "dedup", "--data", str(path), "--out", str(tmp_path / "out.jsonl")]) == 2
    assert "bad.jsonl:1: field 'target': example 'b': 2 parallel calls" in capsys.readouterr().err


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(CalltuneError, match="cannot read"):
        load_examples(str(tmp_path / "nope.jsonl"))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(CalltuneError, match="no examples"):
        load_examples(str(tmp_path / "empty.jsonl"))


def test_bad_prediction_record_is_located(tmp_path):
    path = tmp_path / "pred.jsonl"
    path.write_text('{"id": "a", "raw": "x", "call": null, "error": null}\n{"id": "b", "call": null}\n')
    with pytest.raises(CalltuneError, match=r"pred\.jsonl:2: field 'raw'"):
        load_predictions(str(path))


def test_seed_set_is_the_reports_shape():
    examples = load_examples("seed:all")
    assert len(examples) == 18
    assert {ex.tools[0].name for ex in examples} == {"get_weather", "book_flight"}
    assert all(ex.labeled and ex.target is not None for ex in examples)
    assert [len(load_examples("seed:train")), len(load_examples("seed:dev"))] == [14, 4]


def test_shipped_split_is_the_seeded_split(tmp_path):
    train, dev = split_examples(load_examples("seed:all"), 0.2, 11711)
    write_jsonl(tmp_path / "dev.jsonl", [ex.record for ex in dev])
    write_jsonl(tmp_path / "train.jsonl", [ex.record for ex in train])
    for name in ("dev", "train"):
        shipped = [obj for _, obj in read_jsonl(resolve_data_path(f"seed:{name}"))]
        assert shipped == [obj for _, obj in read_jsonl(tmp_path / f"{name}.jsonl")]


def test_split_is_deterministic_and_disjoint():
    items = list(range(50))
    a = split_examples(items, 0.2, 1)
    assert a == split_examples(items, 0.2, 1)
    assert a != split_examples(items, 0.2, 2)
    train, dev = a
    assert len(dev) == 10 and sorted(train + dev) == items


def test_unknown_seed_split():
    with pytest.raises(CalltuneError, match="unknown seed split"):
        load_examples("seed:test")
