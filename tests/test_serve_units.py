"""`calltune serve` without a model: request checking, answers as messages and stream deltas, the
prefix cache's bookkeeping, the command-line options (milliseconds each)."""

from __future__ import annotations

import json

import pytest
import torch
from serve_helpers import TOOLS

from calltune.cli import main
from calltune.errors import CalltuneError
from calltune.serve.config import EngineConfig, ServeConfig, add_arguments, from_args
from calltune.serve.prefix_cache import PrefixCache, common_prefix
from calltune.serve.schema import ApiError, parse_request
from calltune.serve.stream import AnswerStream, answer_message

USER = [{"role": "user", "content": "Weather in Oslo?"}]
CALL = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}


def request(**fields) -> dict:
    return {"model": "calltune", "messages": USER, "tools": TOOLS, **fields}


def rejected(body) -> ApiError:
    with pytest.raises(ApiError) as err:
        parse_request(body, max_tools=4, max_messages=8)
    assert err.value.status == 400 and set(err.value.body()["error"]) == {"message", "type", "param", "code"}
    return err.value


def test_a_request_is_normalized_for_the_template():
    req = parse_request(request(
        messages=[{"role": "developer", "content": [{"type": "text", "text": "Be brief."}]}, *USER,
                  {"role": "assistant", "content": None, "tool_calls": [CALL]},
                  {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
        tool_choice={"type": "function", "function": {"name": "get_time"}}, parallel_tool_calls=False,
        max_tokens=9, max_completion_tokens=7, stream=True, stream_options={"include_usage": True},
        temperature=0.7, top_p=0.1, seed=3, stop=["\n"], n=1))
    assert req.messages[0] == {"role": "system", "content": "Be brief."}
    assert req.messages[2]["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo"}  # rendered compactly
    assert req.messages[3] == {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
    assert [t.name for t in req.tools] == ["get_weather", "get_time"]
    assert (req.tool_choice, req.parallel_tool_calls, req.max_tokens, req.stream, req.include_usage) == \
        ({"type": "function", "function": {"name": "get_time"}}, False, 7, True, True)


@pytest.mark.parametrize("body, param, words", [
    ({"messages": USER}, "model", "missing required field 'model'"),
    ({"model": "calltune"}, "messages", "missing required field 'messages'"),
    (request(messages=[]), "messages", "non-empty"),
    (request(messages=[{"role": "user"}]), "messages[0].content", "missing"),
    (request(messages=[{"role": "robot", "content": "x"}]), "messages[0].role", "robot"),
    (request(messages=[*USER, {"role": "tool", "tool_call_id": "zz", "content": "x"}]), "messages[1].tool_call_id",
     "answers no earlier assistant tool call"),
    (request(messages=[{"role": "assistant", "content": None, "tool_calls": [
        {**CALL, "function": {"name": "get_weather", "arguments": "{oops"}}]}]),
     "messages[0].tool_calls[0].function.arguments", "not valid JSON"),
    (request(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]),
     "messages[0].content[0]", "only text"),
    (request(tool_choice={"type": "function", "function": {"name": "book_flight"}}), "tool_choice", "book_flight"),
    (request(tool_choice="sometimes"), "tool_choice", "sometimes"),
    (request(tools=None, tool_choice="required"), "tool_choice", "required"),
    (request(tools=[{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "strng"}}}}}]), "tools[0].function.parameters",
     "not a valid JSON Schema"),
    (request(tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]),
     "tools[0].function.parameters.type", "type 'object'"),
    (request(tools=[{"type": "custom", "name": "f"}]), "tools[0]", "type"),
    (request(tools=[TOOLS[0], TOOLS[0]]), "tools", "unique"),
    (request(tools=TOOLS * 3), "tools", "at most 4"),
    (request(messages=USER * 9), "messages", "at most 8"),
    (request(n=2), "n", "n > 1"),
    (request(max_tokens=0), "max_tokens", "at least 1"),
    (request(max_tokens=True), "max_tokens", "integer"),
    (request(stream="yes"), "stream", "true or false"),
    (request(logprobs=True), "logprobs", "not supported"),
    (request(response_format={"type": "json_object"}), "response_format", "text"),
    (request(functions=[{"name": "f"}]), "functions", "tools"),
    ([1, 2], None, "JSON object"),
])
def test_bad_requests_name_the_field(body, param, words):
    err = rejected(body)
    assert err.param == param and words in err.message, err.message


def test_an_answer_becomes_content_and_tool_calls():
    text = ('Checking.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "get_time", "arguments": "{\\"city\\": \\"Rome\\"}"}\n</tool_call>')
    content, calls = answer_message(text)
    assert content == "Checking."
    assert [c["function"] for c in calls] == [{"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                                              {"name": "get_time", "arguments": '{"city": "Rome"}'}]
    assert all(c["type"] == "function" and c["id"].startswith("call_") for c in calls)
    assert len({c["id"] for c in calls}) == 2
    assert answer_message("  just text \n") == ("just text", [])
    assert answer_message('<tool_call>\n{"name": "f"}\n</tool_call>') == (None, [])  # malformed: no call


ANSWERS = [
    "Hello there, how are you?",
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "c"}}\n</tool_call>',
    'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_time", "arguments": {"city": "Rome", "hours": 4}}\n</tool_call>',
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "a </tool_call> b {x}"}}',  # unclosed final block
    "Prices: <3 and <tool or <|im not tags  ",
    "Temperature is 20 \u00b0C \u2014 nice",
]


@pytest.mark.parametrize("text", ANSWERS)
def test_stream_deltas_reassemble_to_the_answer(text):
    stream, deltas = AnswerStream(), []
    for end in range(1, len(text) + 1):  # one character at a time: every cut a tokenizer could make
        deltas += stream.update(text[:end])
    deltas += stream.update(text, final=True)
    content = "".join(d.content for d in deltas if d.content is not None)
    calls: dict[int, dict] = {}
    for d in deltas:
        if d.index is None:
            continue
        if d.id is not None:
            assert d.index == len(calls) and d.name and d.arguments == ""  # first delta: id, name, ""
            calls[d.index] = {"name": d.name, "arguments": ""}
        else:
            calls[d.index]["arguments"] += d.arguments
    whole_content, whole_calls = answer_message(text)
    assert (content or None) == whole_content
    assert list(calls.values()) == [c["function"] for c in whole_calls]


def test_stream_holds_back_what_may_be_a_tag_or_half_a_character():
    stream = AnswerStream()
    assert [d.content for d in stream.update("Sure <tool")] == ["Sure"]
    assert stream.update("Sure <tool_call>\n{") == []
    assert [d.content for d in AnswerStream().update("caf\ufffd")] == ["caf"]


def test_common_prefix():
    assert common_prefix((1, 2, 3, 4), [1, 2, 9, 4]) == 2
    assert common_prefix((1, 2, 3), [1, 2, 3, 4, 5]) == 3
    assert common_prefix((7,), [1]) == 0
    assert common_prefix(tuple(range(1000)), list(range(517)) + [0] * 10) == 517


def kv(n: int, fill: float = 0.0):
    return [(torch.full((1, 2, n, 4), fill), torch.full((1, 2, n, 4), fill))]  # 64 bytes per token


def test_prefix_cache_reuses_the_longest_prefix_and_evicts_by_bytes():
    cache = PrefixCache(max_bytes=64 * 20)
    cache.store([1, 2, 3, 4, 5, 6], kv(6, 1.0))
    cache.store([1, 2, 3, 7, 8], kv(5, 2.0))
    n, layers = cache.lookup([1, 2, 3, 7, 9])
    assert n == 4 and layers[0][0].shape == (1, 2, 4, 4) and float(layers[0][0][0, 0, 0, 0]) == 2.0
    assert cache.lookup([5, 5]) == (0, None)
    cache.store([1, 2, 3, 4, 5, 6, 10, 11], kv(8))  # extends the first entry: supersedes it
    assert sorted(len(k) for k in cache.entries) == [5, 8] and cache.bytes == 64 * 13
    cache.lookup([1, 2, 3, 7])  # the 5-token entry is now the most recently used
    cache.store([20, 21, 22, 23, 24, 25, 26, 27, 28, 29], kv(10))  # 23 tokens > 20: the LRU entry goes
    assert sorted(len(k) for k in cache.entries) == [5, 10] and cache.bytes == 64 * 15
    cache.store(list(range(100, 130)), kv(30))  # larger than the whole cache: not kept
    assert len(cache.entries) == 2
    assert cache.stats()["lookups"] == 3 and cache.stats()["hits"] == 2


def test_options_and_their_checks(capsys):
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = from_args(parser.parse_args(["--port", "9000", "--max-batch-size", "4", "--prefix-cache-mb", "0",
                                          "--api-key", "k"]))
    assert (config.port, config.engine.max_batch_size, config.engine.prefix_cache_mb, config.api_key) == \
        (9000, 4, 0.0, "k")
    assert config.host == "127.0.0.1" and config.engine.decoding == "constrained"
    assert "a larger one gets 413" in parser.format_help()  # the help is the field's docstring
    with pytest.raises(Exception, match="decoding"):
        EngineConfig(decoding="beam")
    with pytest.raises(Exception, match="port"):
        ServeConfig(port=70000)
    assert main(["serve", "--max-batch-size", "0"]) == 2
    assert "--max-batch-size" in capsys.readouterr().err


def test_the_api_key_can_come_from_the_environment(monkeypatch):
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    monkeypatch.setenv("CALLTUNE_API_KEY", "from-env")
    assert from_args(parser.parse_args([])).api_key == "from-env"
    assert from_args(parser.parse_args(["--api-key", "given"])).api_key == "given"
    assert json.dumps(ServeConfig().engine.__dict__)  # plain values


def test_context_lookup_proposes_what_followed_the_latest_earlier_occurrence():
    from calltune.serve.draft import ContextIndex

    index = ContextIndex([1, 2, 3, 4, 1, 2])
    assert index.lookup(3) == [3, 4, 1]  # (4, 1, 2) never occurred before; (1, 2) did, followed by 3 4 1
    index.extend([5, 9, 1, 2])
    assert index.lookup(2) == [5, 9]  # the latest earlier (1, 2), not the first
    index.extend([5])
    assert index.lookup(8) == [9, 1, 2, 5]  # (1, 2, 5): up to the end of what exists
    assert index.lookup(0) == [] and ContextIndex([7]).lookup(4) == []
    assert ContextIndex([7, 8]).lookup(4) == []  # nothing occurred twice


def test_step_width_pays_for_columns_only_with_drafts_likely_kept():
    from calltune.serve.draft import Draft, StepWidth

    widths = StepWidth(8, overhead=24.0)
    forced, guess = Draft([5] * 8, True), Draft([6] * 8, False)
    assert widths.choose([Draft([], False)] * 3) == 1  # no drafts: one column
    assert widths.choose([forced]) == 9  # the grammar's tokens are kept: as wide as they go
    # prior keep rates 1/2, 1/4, ...: eight rows pay 8 columns a position, worth it for the first guess only;
    # one row pays 1 column a position, worth it while a guess adds more than 1/25 of what the step yields
    assert widths.choose([guess] * 8) == 2 and widths.choose([guess]) == 4
    assert widths.choose([forced] + [Draft([], False)] * 7) < 9  # seven rows would pay for one's drafts
    assert StepWidth(8, float("inf")).choose([guess, Draft([1, 2], False)]) == 9  # inf: the widest, as before
    for _ in range(200):  # lookups that turn out to be kept in full
        widths.record(guess, 8)
    assert widths.rate(False, 7) > 0.95 and widths.choose([guess] * 8) == 9
    for _ in range(1000):  # ... and then never
        widths.record(guess, 0)
    assert widths.rate(False, 0) < 0.2 and widths.choose([guess] * 8) == 1
    assert StepWidth(0, 24.0).choose([Draft([], True)]) == 1


def test_draft_step_overhead_is_checked():
    with pytest.raises(CalltuneError, match="--draft-step-overhead"):
        EngineConfig(draft_step_overhead=-1.0)
    with pytest.raises(CalltuneError, match="--draft-step-overhead"):
        EngineConfig(draft_step_overhead=float("nan"))
    assert EngineConfig(draft_step_overhead=float("inf")).draft_step_overhead == float("inf")
