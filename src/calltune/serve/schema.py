"""OpenAI chat-completions requests in, `chat.completion` objects and chunks out: checking and
normalizing what a client sends, and the shapes of what it gets back. Pure data, no model.

A request is checked field by field; anything wrong is an `ApiError` (status, message, the
`param` at fault, a `code`), answered as `{"error": {"message", "type", "param", "code"}}`.
Messages are normalized to what the chat template renders: `developer` is `system`, content may
be a string or a list of text parts (joined by newlines), assistant `tool_calls` arguments (JSON
strings) are parsed to objects (rendered back in the compact form calltune trains on), and
every `tool` message must answer an earlier assistant call. Tools are checked as calltune's data
files are (`examples.parse_tool`: `parameters` must be a JSON Schema); `tool_choice` must name
an offered tool (`chat.grammar.callable_tools`).

Accepted but not honoured (decoding is always greedy, one answer): `temperature`, `top_p`,
`seed`, `stop`, `presence_penalty`, `frequency_penalty`, `logit_bias`, `user`, `metadata`,
`store` and any other field not named here. Rejected with 400: `n` > 1, `logprobs`,
`response_format` other than text, and the legacy `functions` / `function_call`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from calltune.chat.grammar import callable_tools
from calltune.errors import CalltuneError
from calltune.examples import Tool, parse_tool

IGNORED = ("temperature", "top_p", "seed", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "user",
           "metadata", "store")
ROLES = ("system", "developer", "user", "assistant", "tool")
_FIELD = re.compile(r"^field '([^']+)': ")


class ApiError(Exception):
    """An error answered in OpenAI's shape with HTTP `status`."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def bad(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param, code)


@dataclass
class ChatRequest:
    """A checked request: messages as the chat template renders them, tools, and the answer's limits."""

    model: str
    messages: list[dict]
    tools: list[Tool]
    tool_choice: str | dict = "auto"
    parallel_tool_calls: bool = True
    max_tokens: int | None = None
    stream: bool = False
    include_usage: bool = False


def _text(content, at: str, allow_none: bool = False) -> str | None:
    """A message's content as text: a string, or a list of `{"type": "text", "text"}` parts."""
    if content is None and allow_none:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise bad("only text content parts are supported", f"{at}[{i}]")
            texts.append(part["text"])
        return "\n".join(texts)
    raise bad("must be a string or a list of text parts" + (" (or null)" if allow_none else ""), at)


def _tool_calls(raw, at: str, ids: set[str]) -> list[dict]:
    if not isinstance(raw, list):
        raise bad("must be a list", at)
    calls = []
    for j, call in enumerate(raw):
        where = f"{at}[{j}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or call.get("type", "function") != "function":
            raise bad('a tool call must be {"id", "type": "function", "function": {"name", "arguments"}}', where)
        call_id = call.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise bad("a tool call needs a string id", where + ".id")
        if call_id in ids:
            raise bad(f"tool call id '{call_id}' is used twice", where + ".id")
        if not isinstance(fn.get("name"), str) or not fn["name"]:
            raise bad("must be a non-empty string", where + ".function.name")
        args = fn.get("arguments")
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as err:
                raise bad(f"not valid JSON ({err.msg})", where + ".function.arguments") from None
        if not isinstance(args, dict):
            raise bad("must be a JSON object (or a string holding one)", where + ".function.arguments")
        ids.add(call_id)
        calls.append({"id": call_id, "type": "function", "function": {"name": fn["name"], "arguments": args}})
    return calls


def parse_messages(raw, max_messages: int) -> list[dict]:
    """OpenAI messages -> the chat template's `{"role", "content", "tool_calls"?, "tool_call_id"?}`."""
    if not isinstance(raw, list) or not raw:
        raise bad("must be a non-empty list of messages", "messages")
    if len(raw) > max_messages:
        raise bad(f"{len(raw)} messages; this server accepts at most {max_messages}", "messages")
    out, ids = [], set()
    for i, msg in enumerate(raw):
        at = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise bad("a message must be a JSON object", at)
        role = msg.get("role")
        if role not in ROLES:
            raise bad(f"role must be one of {', '.join(ROLES)}, not {role!r}", at + ".role")
        if role == "assistant":
            content = _text(msg.get("content"), at + ".content", allow_none=True)
            calls = _tool_calls(msg.get("tool_calls") or [], at + ".tool_calls", ids)
            out.append({"role": "assistant", "content": content, **({"tool_calls": calls} if calls else {})})
            continue
        if "content" not in msg:
            raise bad("missing required field 'content'", at + ".content")
        content = _text(msg["content"], at + ".content")
        if role == "tool":
            ref = msg.get("tool_call_id")
            if not isinstance(ref, str) or ref not in ids:
                raise bad(f"tool message answers no earlier assistant tool call (tool_call_id {ref!r})",
                          at + ".tool_call_id")
            out.append({"role": "tool", "tool_call_id": ref, "content": content})
        else:
            out.append({"role": "system" if role == "developer" else role, "content": content})
    return out


def parse_tools(raw, max_tools: int) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise bad("must be a list of tools", "tools")
    if len(raw) > max_tools:
        raise bad(f"{len(raw)} tools; this server accepts at most {max_tools}", "tools")
    tools = []
    for i, obj in enumerate(raw):
        if not (isinstance(obj, dict) and obj.get("type") == "function" and isinstance(obj.get("function"), dict)):
            raise bad('a tool must be {"type": "function", "function": {"name", "description", "parameters"}}',
                      f"tools[{i}]")
        try:
            tools.append(parse_tool(obj, (None, None), f"tools[{i}]"))
        except CalltuneError as err:
            match = _FIELD.match(str(err))
            raise bad(str(err)[match.end():] if match else str(err), match.group(1) if match else f"tools[{i}]",
                      "invalid_tool_schema") from None
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise bad(f"tool names must be unique: {names}", "tools")
    return tools


def _tool_choice(value, tools: list[Tool]) -> str | dict:
    if value is None:
        return "auto"
    if isinstance(value, dict) and value.get("type") == "function":
        fn = value.get("function")
        if not (isinstance(fn, dict) and isinstance(fn.get("name"), str)):
            raise bad('a named tool_choice is {"type": "function", "function": {"name": ...}}', "tool_choice")
        value = {"type": "function", "function": {"name": fn["name"]}}
    elif not isinstance(value, str):
        raise bad('must be "auto", "none", "required" or {"type": "function", "function": {"name": ...}}',
                  "tool_choice")
    try:
        callable_tools(tools, value)
    except CalltuneError as err:
        raise bad(str(err), "tool_choice") from None
    return value


def _int(body: dict, key: str, least: int = 1) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise bad(f"must be an integer of at least {least}", key)
    return value


def _bool(body: dict, key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad("must be true or false", key)
    return value


def parse_request(body, max_tools: int = 128, max_messages: int = 512) -> ChatRequest:
    """Check a decoded request body (see the module docstring); raises `ApiError`."""
    if not isinstance(body, dict):
        raise bad("the request body must be a JSON object")
    for key in ("model", "messages"):
        if key not in body:
            raise bad(f"missing required field '{key}'", key, "missing_required_parameter")
    if not isinstance(body["model"], str):
        raise bad("must be a string", "model")
    n = _int(body, "n")
    if n is not None and n > 1:
        raise bad("n > 1 is not supported: decoding is greedy, so every choice would be the same", "n")
    if body.get("logprobs"):
        raise bad("logprobs are not supported", "logprobs")
    response_format = body.get("response_format")
    if response_format is not None and (not isinstance(response_format, dict) or response_format.get("type") != "text"):
        raise bad("only response_format {\"type\": \"text\"} is supported (tool calls are constrained already)",
                  "response_format")
    for legacy in ("functions", "function_call"):
        if body.get(legacy) is not None:
            raise bad(f"'{legacy}' is not supported; use 'tools' and 'tool_choice'", legacy)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad("must be an object", "stream_options")
    tools = parse_tools(body.get("tools"), max_tools)
    max_tokens = _int(body, "max_completion_tokens")
    return ChatRequest(
        model=body["model"], messages=parse_messages(body["messages"], max_messages), tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        parallel_tool_calls=_bool(body, "parallel_tool_calls", True),
        max_tokens=max_tokens if max_tokens is not None else _int(body, "max_tokens"),
        stream=_bool(body, "stream", False), include_usage=_bool(options or {}, "include_usage", False))


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens}}


def completion(cid: str, created: int, model: str, content: str | None, tool_calls: list[dict],
               finish_reason: str, usage_: dict) -> dict:
    """A `chat.completion` object with one choice."""
    message = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
            "usage": usage_}


def chunk(cid: str, created: int, model: str, delta: dict | None, finish_reason: str | None = None,
          usage_: dict | None = None) -> dict:
    """A `chat.completion.chunk`: one delta (or, with `delta` None, the usage chunk with no choices)."""
    out = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
    if delta is None:
        return {**out, "choices": [], "usage": usage_}
    return {**out, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}


def finish_reason(engine_reason: str, tool_calls: list) -> str:
    """OpenAI's finish_reason: `tool_calls` for an answer that ended with calls, else the engine's."""
    return "tool_calls" if engine_reason == "stop" and tool_calls else engine_reason
