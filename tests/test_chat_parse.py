"""Hermes answers: which blocks become calls, what the content is, and each error type."""

import json

import pytest

from calltune.chat.parse import BLOCK_ERRORS, LAYOUT_ERRORS, CallState, call_state, parse_answer, repeated_call

PARIS = {"name": "get_weather", "arguments": {"location": "Paris"}}
ROME = {"name": "get_weather", "arguments": {"location": "Rome"}}
TAG = {"name": "echo", "arguments": {"text": "a </tool_call> b"}}


def block(call, close=True):
    body = call if isinstance(call, str) else json.dumps(call)
    return f"<tool_call>\n{body}\n" + ("</tool_call>" if close else "")


CASES = [
    ("It is sunny in Paris.", "It is sunny in Paris.", [], None),
    ("", "", [], None),
    (block(PARIS), "", [PARIS], None),
    (block(PARIS, close=False), "", [PARIS], None),  # unclosed final block (generation stopped)
    (block(PARIS) + "\n" + block(ROME), "", [PARIS, ROME], None),
    (block(PARIS) + block(ROME, close=False), "", [PARIS, ROME], None),
    ("Let me check.\n" + block(PARIS), "Let me check.", [PARIS], None),
    (block(PARIS) + "\nHope this helps.", "Hope this helps.", [PARIS], "text_after_call"),
    (block(PARIS) + "\nand\n" + block(ROME), "and", [PARIS, ROME], "text_after_call"),
    (block('{"name": "get_weather", "arguments": {"location": "Paris"}') + "\n" + block(ROME),
     "", [ROME], "invalid_json"),  # bad JSON in one block: the other block still counts
    (block(PARIS) + block('{"name": "get_weather", "arguments": {"loc', close=False), "", [PARIS], "invalid_json"),
    ("<tool_call>", "", [], "invalid_json"),
    ("<tool_call>\n</tool_call>", "", [], "invalid_json"),
    (block('```json\n{"name": "get_weather", "arguments": {}}\n```'), "", [], "invalid_json"),
    (block(json.dumps(PARIS) + " trailing"), "", [], "invalid_json"),
    # a second block opened inside an unclosed one: only the final block may be unclosed
    (block(PARIS, close=False) + block(ROME), "", [], "invalid_json"),
    (block({"name": "f", "arguments": {"q": "{a} }{ [b"}}), "", [{"name": "f", "arguments": {"q": "{a} }{ [b"}}],
     None),
    (block({"name": "f", "arguments": {"x": {"y": {"z": [1, {"w": 2}]}}}}), "",
     [{"name": "f", "arguments": {"x": {"y": {"z": [1, {"w": 2}]}}}}], None),
    (block(TAG), "", [TAG], None),  # `</tool_call>` inside a JSON string does not end the block
    (block(TAG, close=False), "", [TAG], None),
    (block([PARIS, ROME]), "", [], "not_object"),
    (block('"get_weather"'), "", [], "not_object"),
    (block({"name": "get_weather"}), "", [], "missing_keys"),
    (block({"arguments": "not json"}), "", [], "missing_keys"),  # keys are checked before arguments
    (block({"name": "get_weather", "arguments": {}, "id": "call_1"}), "", [], "extra_keys"),
    (block({"name": None, "arguments": {}}), "", [], "bad_name"),  # no "no call" object in hermes
    (block({"name": 3, "arguments": {}}), "", [], "bad_name"),
    (block({"name": "get_weather", "arguments": ["Paris"]}), "", [], "bad_arguments"),
    (block({"name": "get_weather", "arguments": "not json"}), "", [], "bad_arguments"),
    (block({"name": "get_weather", "arguments": "[1]"}), "", [], "bad_arguments"),
    # arguments as a JSON string holding an object, as OpenAI writes them: decoded
    (block({"name": "get_weather", "arguments": json.dumps(PARIS["arguments"])}), "", [PARIS], None),
    ('{"name": "get_weather", "arguments": {}}\n</tool_call>', '{"name": "get_weather", "arguments": {}}\n</tool_call>',
     [], "stray_close"),
]


@pytest.mark.parametrize("text, content, calls, error", CASES)
def test_parse_answer_table(text, content, calls, error):
    parsed = parse_answer(text)
    assert (parsed.content, parsed.calls, parsed.error) == (content, calls, error)


def test_the_table_covers_the_error_vocabulary():
    assert {case[3] for case in CASES} - {None} == set(BLOCK_ERRORS + LAYOUT_ERRORS)


def test_blocks_record_every_attempt_in_order():
    text = block(PARIS) + block("{oops}") + block({"name": "x"}) + block(ROME, close=False)
    parsed = parse_answer(text)
    assert [(b.call, b.error, b.closed) for b in parsed.blocks] == [
        (PARIS, None, True), (None, "invalid_json", True), (None, "missing_keys", True), (ROME, None, False)]
    assert parsed.calls == [PARIS, ROME] and parsed.error == "invalid_json" and parsed.layout_error is None


def test_layout_error_is_kept_apart_from_block_errors():
    parsed = parse_answer(block("{oops}") + "\nthen prose")
    assert parsed.error == "invalid_json" and parsed.layout_error == "text_after_call"


def test_bad_body_ends_at_the_next_close_tag():
    # a body that is not JSON ends at the first `</tool_call>`, as vLLM's regex reads it,
    # even when an unbalanced quote would make that tag look like part of a string
    parsed = parse_answer(block('{"text": "5" inches"}') + "\n" + block(ROME))
    assert parsed.calls == [ROME] and [b.error for b in parsed.blocks] == ["invalid_json", None]


@pytest.mark.parametrize("prefix, state", [
    ("", CallState(False, 0)),
    ("Let me check", CallState(False, 0)),
    ("<tool_call>", CallState(True, 0)),
    ('<tool_call>\n{"na', CallState(True, 0)),
    ('<tool_call>\n{"name": "get_wea', CallState(True, 0)),
    ('<tool_call>\n{"name": "get_weather"', CallState(True, 0, "get_weather")),
    ('<tool_call>\n{"name": "get_weather", "arguments": {"location": "Pa', CallState(True, 0, "get_weather")),
    # the name key inside arguments is not the call's name
    ('<tool_call>\n{"arguments": {"name": "x", "s": "y"}, "na', CallState(True, 0)),
    ('<tool_call>\n{"arguments": {"name": "x"}, "name": "f"', CallState(True, 0, "f")),
    ('<tool_call>\n{"name": "f", "arguments": {"s": "a </tool_call> b', CallState(True, 0, "f")),
    ('<tool_call>\n{"name": "f", "arguments": {}}\n</tool_', CallState(True, 0, "f")),
    (block(PARIS), CallState(False, 1)),
    (block(PARIS) + "\n<tool_call>\n{", CallState(True, 1)),
    (block(PARIS) + "\n" + block(ROME, close=False)[:-4], CallState(True, 1, "get_weather")),
])
def test_call_state(prefix, state):
    assert call_state(prefix) == state


def test_call_state_agrees_with_parse_on_every_prefix():
    text = "Sure.\n" + block(PARIS) + "\n" + block(TAG)
    for end in range(len(text) + 1):
        state = call_state(text[:end])
        done = len(parse_answer(text[:end]).blocks)
        assert state.index == (done - 1 if state.inside else done), text[:end]
    assert call_state(text) == CallState(False, 2)


def test_repeated_call_finds_a_call_written_again():
    """`repeated_call(prefix)`: where the newest call starts once it is complete (its JSON, or its
    `</tool_call>`) and equals an earlier call of the answer as JSON values (key order aside); None for an
    unfinished call, another call, a first call or text."""
    first = '<tool_call>\n{"name": "f", "arguments": {"x": 1, "y": [2, 3]}}\n</tool_call>\n'
    again = '<tool_call>\n{"name": "f", "arguments": {"y": [2, 3], "x": 1}}'
    at = len(first)
    assert repeated_call(first) is None and repeated_call("Sure.") is None
    assert repeated_call(first + again) == at  # its JSON is complete
    assert repeated_call(first + again + "\n") == at
    assert repeated_call(first + again + "\n</tool_call>") == at
    assert repeated_call(first + again[:-1]) is None  # not finished yet
    assert repeated_call(first + again.replace("[2, 3]", "[2, 4]") + "\n</tool_call>") is None
    assert repeated_call(first + again.replace('"f"', '"g"') + "\n</tool_call>") is None
    other = '<tool_call>\n{"name": "g", "arguments": {}}\n</tool_call>\n'
    assert repeated_call(first + other + again) == at + len(other)  # any earlier call, not only the last
    assert repeated_call(first + again + "\n</tool_call>\n" + other) is None  # the newest call is new
