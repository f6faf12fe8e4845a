"""JSON repair: broken outputs it must fix, and hopeless ones it must refuse."""

from __future__ import annotations

import json

import pytest

from calltune.examples import Tool
from calltune.predict import prediction_for
from calltune.repair import repair_call

WEATHER = Tool("get_weather", "", {"type": "object", "properties": {
    "location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    "days": {"type": "integer", "minimum": 1}, "detailed": {"type": "boolean"}, "lat": {"type": "number"}},
    "required": ["location"]})
TOOLS = [WEATHER]
OSLO = {"name": "get_weather", "arguments": {"location": "Oslo"}}

FIXABLE = [
    ('{"name": "get_weather", "arguments": {"location": "Oslo"', OSLO),  # unclosed brackets
    ('{"name": "get_weather", "arguments": {"location": "Oslo', OSLO),  # unclosed string
    ("{'name': 'get_weather', 'arguments': {'location': 'Oslo'}}", OSLO),  # single quotes
    ('{name: "get_weather", arguments: {location: "Oslo"}}', OSLO),  # bare keys
    ('{"name": "get_weather", "arguments": {"location": "Oslo",}}', OSLO),  # trailing comma
    ('```json\n{"name": "get_weather", "arguments": {"location": "Oslo"}\n```', OSLO),  # fence, missing brace
    ('Sure! Here is the call: {"name": "get_weather", "arguments": {"location": "Oslo"} hope it helps', OSLO),
    ('{"function": "get_weather", "parameters": {"location": "Oslo"}}', OSLO),  # other key names
    ('{"name": "get_weather", "arguments": "{\\"location\\": \\"Oslo\\"}"}', OSLO),  # arguments as a string
    ('{"name": "get_weather", "location": "Oslo"}', OSLO),  # arguments inlined
    ('{"name": "get_weather", "arguments": {"location": "Oslo", "days": "3", "detailed": "true", "lat": "59.9"}}',
     {"name": "get_weather", "arguments": {"location": "Oslo", "days": 3, "detailed": True, "lat": 59.9}}),
    ('{"name": "get_weather", "arguments": {"location": 5}', {"name": "get_weather", "arguments": {"location": "5"}}),
    ('{"name": null, "arguments": {}', {"name": None, "arguments": {}}),
]

HOPELESS = [
    "The weather in Oslo is usually mild in summer.",
    "",
    '{"location": "Oslo"}',  # no tool name anywhere
    '{"name": 42, "arguments": {}}',
    "[1, 2, 3]",
]


@pytest.mark.parametrize("raw,expected", FIXABLE)
def test_repair_fixes(raw, expected):
    fixed = repair_call(raw, TOOLS)
    assert fixed is not None and json.loads(fixed) == expected


@pytest.mark.parametrize("raw", HOPELESS)
def test_repair_refuses_hopeless_output(raw):
    assert repair_call(raw, TOOLS) is None


def test_valid_output_is_left_alone():
    raw = '{"name": "get_weather", "arguments": {"location": "Oslo"}}'
    assert repair_call(raw, TOOLS) is raw


def test_repair_keeps_an_object_it_cannot_fit_to_the_schema():
    # missing a required argument: the call is kept (scored as missing_required), not invented
    fixed = repair_call('{"name": "get_weather", "arguments": {"unit": "celsius"', TOOLS)
    assert json.loads(fixed) == {"name": "get_weather", "arguments": {"unit": "celsius"}}


def test_prediction_record_keeps_raw_and_scores_repaired(tmp_path):
    from calltune.examples import parse_example

    ex = parse_example({"id": "a", "instruction": "Weather in Oslo?", "tools": [WEATHER.spec()],
                        "target": OSLO})
    raw = 'Answer: {"name": "get_weather", "arguments": {"location": "Oslo"'
    pred = prediction_for(ex, raw, "repair")
    assert pred.raw == raw and json.loads(pred.repaired) == OSLO and pred.error is None
    assert prediction_for(ex, raw, "greedy").error == "invalid_json"
    assert "repaired" not in prediction_for(ex, json.dumps(OSLO), "repair").to_json()


def test_repair_follows_references_to_the_tools_own_definitions():
    """A tool whose parameters `$ref` their own `$defs`: the call schema repair coerces against resolves them (it
    once raised an unresolvable-pointer error, a traceback out of `calltune repair`)."""
    tool = Tool("count", "", {"type": "object", "$defs": {"n": {"type": "integer"}},
                              "properties": {"limit": {"$ref": "#/$defs/n"}, "tag": {"type": "string"}},
                              "required": ["limit"]})
    repaired = repair_call('{"name": "count", "arguments": {"limit": "5", "tag": "x"}}', [tool])
    assert json.loads(repaired) == {"name": "count", "arguments": {"limit": 5, "tag": "x"}}
