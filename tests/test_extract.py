"""Call extraction: what text is accepted as a tool call and which error each rejection gets."""

import pytest

from calltune.extract import extract_call, first_json_object

CALL = {"name": "get_weather", "arguments": {"location": "Paris"}}


@pytest.mark.parametrize("text", [
    '{"name": "get_weather", "arguments": {"location": "Paris"}}',
    '\n  {"name": "get_weather", "arguments": {"location": "Paris"}}<|im_end|>',
    'Sure! Here is the call:\n```json\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n```',
    '{"arguments": {"location": "Paris"}, "name": "get_weather"} and then more prose {"x": 1}',
    'see {placeholder} first, then {"name": "get_weather", "arguments": {"location": "Paris"}}',
])
def test_accepts_first_object(text):
    ext = extract_call(text)
    assert ext.call == CALL and ext.error is None and not ext.no_call


@pytest.mark.parametrize("text, error", [
    ("The weather in Paris is sunny.", "invalid_json"),
    ("", "invalid_json"),
    ('{"name": "get_weather", "arguments": {"location": "Paris"}', "invalid_json"),  # truncated
    ("{'name': 'get_weather', 'arguments': {}}", "invalid_json"),  # python quoting is not JSON
    ('{"name": "get_weather"}', "missing_keys"),
    ('{"function": "get_weather", "parameters": {}}', "missing_keys"),
    ('{"name": "get_weather", "arguments": {}, "id": 3}', "extra_keys"),
    ('{"name": 7, "arguments": {}}', "bad_name"),
    ('{"name": "get_weather", "arguments": "{\\"location\\": \\"Paris\\"}"}', "bad_arguments"),
])
def test_rejections(text, error):
    ext = extract_call(text)
    assert ext.call is None and ext.error == error


def test_truncated_outer_object_does_not_yield_inner_one():
    text = '{"name": "book", "parameters": {"origin": {"type": "string"}, "x": '
    assert first_json_object(text) is None


def test_braces_inside_strings_do_not_confuse_the_scanner():
    text = '{"name": "echo", "arguments": {"text": "a } b { \\" c"}} tail'
    assert extract_call(text).call == {"name": "echo", "arguments": {"text": 'a } b { " c'}}


def test_brackets_outside_objects_are_text():
    # the scanner follows braces only: a call wrapped in a list is still found
    ext = extract_call('[{"name": "get_weather", "arguments": {"location": "Paris"}}]')
    assert ext.call == CALL


def test_explicit_no_call():
    ext = extract_call('{"name": null, "arguments": {}}')
    assert ext.no_call and ext.call is None and ext.error is None
