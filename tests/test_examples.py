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
