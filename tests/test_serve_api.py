"""`calltune serve` over loopback, driven by the real `openai` client (a tiny random model).

Constrained decoding is what makes the schema checks hold for a model that was never trained:
every call must parse and obey its tool's schema whatever the weights say."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse

import jsonschema
import openai
import pytest
import torch
from serve_helpers import SCHEMAS, TOOLS, running

from calltune.serve.api import create_app
from calltune.serve.config import EngineConfig, ServeConfig
from calltune.serve.engine import Engine

KEY = "test-key"
USER = [{"role": "user", "content": "What is the weather in Oslo?"}]
NAMED = {"type": "function", "function": {"name": "get_time"}}


@pytest.fixture(scope="module")
def loaded(tiny_gpt2):
    from calltune.models import load_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model, tokenizer, _ = load_model(tiny_gpt2)
    yield model, tokenizer
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def server(loaded):
    """(base URL, engine) of a server with an API key and a 64 KiB body limit."""
    engine = Engine(*loaded, EngineConfig())
    engine.warm_up()
    engine.start()
    with running(create_app(engine, ServeConfig(api_key=KEY, max_body_bytes=64 * 1024, max_tools=8))) as url:
        yield url, engine
    engine.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server[0] + "/v1", api_key=KEY, max_retries=0, timeout=60)


def ask(client, messages=USER, **kwargs):
    kwargs.setdefault("max_tokens", 60)
    return client.chat.completions.create(model="calltune", messages=messages, tools=TOOLS, **kwargs)


def check_calls(message, parallel: bool = True) -> list:
    """Every tool call is well formed and its arguments obey its tool's schema."""
    calls = message.tool_calls or []
    for call in calls:
        assert call.type == "function" and call.id.startswith("call_")
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])
    assert len({c.id for c in calls}) == len(calls)
    assert parallel or len(calls) <= 1
    return calls


def raw(url: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
        chunked: bool = False):
    """(status, decoded JSON) of a raw HTTP request; `chunked`: the body in 1 KiB chunks, no Content-Length."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    if chunked:
        body = [body[i:i + 1024] for i in range(0, len(body), 1024)]
    conn.request(method, path, body=body, encode_chunked=chunked,
                 headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    status, data = response.status, response.read()
    conn.close()
    return status, json.loads(data)


def assert_error(status: int, body: dict, expected_status: int, param=None, words: str = ""):
    assert status == expected_status, body
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["param"] == param and words in body["error"]["message"], body
    assert "Traceback" not in body["error"]["message"]


def test_a_required_call_obeys_its_schema(client):
    response = ask(client, tool_choice="required")
    choice = response.choices[0]
    calls = check_calls(choice.message)
    assert calls and choice.finish_reason == "tool_calls" and choice.message.content is None
    assert response.object == "chat.completion" and response.model == "calltune"
    usage = response.usage
    assert usage.prompt_tokens > 100 and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_auto_gives_text_or_valid_calls(client):
    for question in ("Weather in Oslo?", "Tell me a joke.", "Time in Rome?"):
        message = ask(client, [{"role": "user", "content": question}]).choices[0].message
        assert check_calls(message) or message.content


def test_tool_choice_none_gives_a_text_answer(client):
    choice = ask(client, tool_choice="none").choices[0]
    assert choice.message.tool_calls is None and choice.message.content
    assert "<tool_call>" not in choice.message.content and choice.finish_reason in ("stop", "length")


def test_a_named_tool_choice_forces_that_call(client):
    choice = ask(client, tool_choice=NAMED, parallel_tool_calls=False).choices[0]
    calls = check_calls(choice.message, parallel=False)
    assert [c.function.name for c in calls] == ["get_time"] and choice.finish_reason == "tool_calls"


def test_parallel_calls(client):
    for question in ("Weather in Oslo and Rome?", "Time and weather in Rome?"):
        choice = ask(client, [{"role": "user", "content": question}], tool_choice="required",
                     parallel_tool_calls=True, max_tokens=120).choices[0]
        calls = check_calls(choice.message)
        assert calls and choice.finish_reason == "tool_calls"
        assert {c.function.name for c in calls} <= {"get_weather", "get_time"}


def test_a_second_turn_with_a_tool_result_reuses_the_first(client):
    messages = [{"role": "system", "content": "Conversation 2t."}, *USER]
    first = ask(client, messages, tool_choice="required", parallel_tool_calls=False)
    call = check_calls(first.choices[0].message)[0]
    messages += [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                 {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "clear", "c": 14}'}]
    second = ask(client, messages, tool_choice="none")
    assert second.choices[0].message.content and second.choices[0].message.tool_calls is None
    assert second.usage.prompt_tokens > first.usage.prompt_tokens
    # the whole first prompt came from the prefix cache (all but the one token fed to decoding)
    assert second.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens - 1


def test_the_prefix_cache_changes_nothing_but_the_cost(client, server, loaded):
    messages = [{"role": "system", "content": "Conversation pc."}, *USER]
    first, again = (ask(client, messages, tool_choice="required") for _ in range(2))
    # cold: only the opening of the system turn is shared with other tests' prompts
    assert first.usage.prompt_tokens_details.cached_tokens < first.usage.prompt_tokens // 4
    assert again.usage.prompt_tokens_details.cached_tokens == again.usage.prompt_tokens - 1
    uncached = Engine(*loaded, EngineConfig(prefix_cache_mb=0))
    uncached.start()
    try:
        with running(create_app(uncached, ServeConfig())) as url:
            cold = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
            alone = ask(cold, messages, tool_choice="required")
    finally:
        uncached.stop()
    assert alone.usage.prompt_tokens_details.cached_tokens == 0
    calls = [[(c.function.name, c.function.arguments) for c in r.choices[0].message.tool_calls]
             for r in (first, again, alone)]
    assert calls[0] == calls[1] == calls[2]
    status, health = raw(server[0], "GET", "/health")
    assert status == 200 and health["prefix_cache"]["reused_tokens"] >= again.usage.prompt_tokens - 1


def reassemble(stream) -> tuple[str | None, list[tuple[str, str]], str, object]:
    """What a client rebuilds from chunks: content, (name, arguments) per call index, finish_reason, usage."""
    content, calls, finish, usage, first = "", {}, None, None, True
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        if first:
            assert choice.delta.role == "assistant"
            first = False
        content += choice.delta.content or ""
        for delta in choice.delta.tool_calls or []:
            if delta.id is not None:
                assert delta.index not in calls and delta.type == "function" and delta.function.arguments == ""
                calls[delta.index] = [delta.function.name, ""]
            else:
                calls[delta.index][1] += delta.function.arguments
        finish = choice.finish_reason or finish
    return content or None, [tuple(c) for _, c in sorted(calls.items())], finish, usage


@pytest.mark.parametrize("kwargs", [{"tool_choice": "required"}, {"tool_choice": "none"},
                                    {"tool_choice": NAMED, "parallel_tool_calls": False}, {}])
def test_streaming_reassembles_to_the_same_answer(client, kwargs):
    whole = ask(client, **kwargs)
    content, calls, finish, usage = reassemble(ask(client, stream=True, stream_options={"include_usage": True},
                                                   **kwargs))
    message = whole.choices[0].message
    assert content == message.content
    assert calls == [(c.function.name, c.function.arguments) for c in message.tool_calls or []]
    assert finish == whole.choices[0].finish_reason
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_the_stream_ends_with_done(server):
    parts = urllib.parse.urlsplit(server[0])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    body = {"model": "calltune", "messages": USER, "tools": TOOLS, "tool_choice": "required", "stream": True,
            "parallel_tool_calls": False, "max_tokens": 60}
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Authorization": f"Bearer {KEY}"})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("content-type").startswith("text/event-stream")
    events = [e for e in response.read().decode().split("\n\n") if e]
    conn.close()
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    last = json.loads(events[-2][6:])
    assert last["choices"][0]["finish_reason"] == "tool_calls" and last["choices"][0]["delta"] == {}


def test_openai_errors(client, server):
    url = server[0]
    path = "/v1/chat/completions"
    assert_error(*raw(url, "POST", path, b'{"model": "calltune", "messages": ['), 400, None, "not valid JSON")
    assert_error(*raw(url, "POST", path, json.dumps({"model": "calltune"}).encode()), 400, "messages",
                 "missing required field")
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="gpt-4o", messages=USER)
    assert err.value.status_code == 404 and err.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, tool_choice={"type": "function", "function": {"name": "book_flight"}})
    assert err.value.body["param"] == "tool_choice" and "book_flight" in err.value.body["message"]
    not_schema = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "strng"}}}}}
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="calltune", messages=USER, tools=[not_schema])
    assert err.value.body["param"] == "tools[0].function.parameters"
    assert "not a valid JSON Schema at properties/a/type" in err.value.body["message"]
    unenforceable = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "array", "uniqueItems": True}}}}}
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="calltune", messages=USER, tools=[unenforceable])
    assert err.value.body["code"] == "unsupported_schema" and "uniqueItems" in err.value.body["message"]
    assert err.value.body["param"] == "tools[0].function.parameters"
    orphan = [*USER, {"role": "tool", "tool_call_id": "call_nobody", "content": "42"}]
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, orphan)
    assert err.value.body["param"] == "messages[1].tool_call_id" and "answers no" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        ask(client, n=2)
    assert err.value.body["param"] == "n"
    big = [{"role": "user", "content": "x" * (65 * 1024)}]
    with pytest.raises(openai.APIStatusError) as err:
        ask(client, big)
    assert err.value.status_code == 413 and err.value.body["code"] == "request_too_large"
    assert_error(*raw(url, "POST", path, b"{" + b" " * (70 * 1024) + b"}", chunked=True), 413, None, "larger than")
    assert_error(*raw(url, "GET", "/v1/nothing"), 404, None, "Not Found")
    with pytest.raises(openai.BadRequestError) as err:  # the prompt plus the budget exceed the model's context
        ask(client, max_tokens=5000)
    assert err.value.body["code"] == "context_length_exceeded"


def test_the_api_key_is_required(server):
    url = server[0]
    for wrong in ("nope", ""):
        bad = openai.OpenAI(base_url=url + "/v1", api_key=wrong or "-", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as err:
            bad.chat.completions.create(model="calltune", messages=USER)
        assert err.value.status_code == 401 and err.value.body["code"] == "invalid_api_key"
    assert_error(*raw(url, "GET", "/v1/models", headers={"Authorization": ""}), 401, None, "API key")
    status, models = raw(url, "GET", "/v1/models")
    assert status == 200 and [m["id"] for m in models["data"]] == ["calltune"]
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
    assert client.models.retrieve("calltune").id == "calltune"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")
    status, health = raw(url, "GET", "/health", headers={"Authorization": ""})  # open: for load balancers
    assert status == 200 and health["status"] == "ok"


def test_a_full_queue_answers_503(loaded):
    engine = Engine(*loaded, EngineConfig(max_queue=1))  # not started: nothing leaves the queue
    prepared = engine.prepare(USER, [], "auto", True, 5)
    engine.submit(prepared, lambda event: None)
    with running(create_app(engine, ServeConfig())) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(model="calltune", messages=USER)
    assert err.value.status_code == 503 and err.value.body["code"] == "queue_full"
    assert err.value.response.headers["retry-after"] == "1"


def test_a_request_past_its_timeout_gets_504(loaded):
    engine = Engine(*loaded, EngineConfig())
    engine.start()
    try:
        with running(create_app(engine, ServeConfig(request_timeout=1e-6))) as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
            with pytest.raises(openai.APIStatusError) as err:
                client.chat.completions.create(model="calltune", messages=USER, max_tokens=50)
            assert err.value.status_code == 504 and err.value.body["code"] == "request_timeout"
            with pytest.raises(openai.APIError) as err:  # streaming: an error event instead of chunks
                reassemble(client.chat.completions.create(model="calltune", messages=USER, max_tokens=50,
                                                          stream=True))
            assert "timeout" in str(err.value)
    finally:
        engine.stop()


def test_a_client_that_goes_away_frees_its_slot(server, monkeypatch):
    url, engine = server
    step = engine.step

    def slow_step():  # the tiny model could finish 500 tokens before a hang-up is noticed (polled every 0.5 s)
        time.sleep(0.05)
        step()

    monkeypatch.setattr(engine, "step", slow_step)  # >= 56 steps (9 tokens at most each): >= 2.8 s
    before = engine.stats()
    parts = urllib.parse.urlsplit(url)
    for stream in (True, False):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        body = {"model": "calltune", "messages": USER, "tools": TOOLS, "tool_choice": "none", "stream": stream,
                "max_tokens": 500}  # with the prompt, within the model's 1024 positions
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Authorization": f"Bearer {KEY}"})
        deadline = time.monotonic() + 30
        while engine.stats()["active"] == 0:  # decoding has started
            assert time.monotonic() < deadline
            time.sleep(0.01)
        conn.sock.shutdown(2)  # the client hangs up mid-answer
        conn.close()
        while engine.stats()["active"]:
            assert time.monotonic() < deadline, "the abandoned request kept its slot"
            time.sleep(0.05)
    after = engine.stats()
    assert after["failed"] - before["failed"] == 2 and after["finished"] == before["finished"]


@pytest.mark.slow
def test_the_embedded_model_serves_schema_valid_calls():
    """The real model (its tokenizer ends turns with the `<|im_end|>` token): a forced call obeys its
    schema, and a streamed answer is the same as the whole one."""
    from calltune.models import load_model

    model, tokenizer, _ = load_model("embedded")
    engine = Engine(model, tokenizer, EngineConfig())
    engine.warm_up()
    engine.start()
    try:
        with running(create_app(engine, ServeConfig())) as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=600)
            whole = ask(client, tool_choice="required", max_tokens=64)
            calls = check_calls(whole.choices[0].message)
            assert calls and whole.choices[0].finish_reason == "tool_calls"
            content, streamed, finish, _ = reassemble(ask(client, tool_choice="required", max_tokens=64, stream=True))
            assert streamed == [(c.function.name, c.function.arguments) for c in calls] and finish == "tool_calls"
            text = ask(client, tool_choice="none", max_tokens=32).choices[0].message
            assert text.content and text.tool_calls is None
    finally:
        engine.stop()
