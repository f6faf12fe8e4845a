"""Reading an assistant answer in the `hermes` format: text content plus `<tool_call>` blocks.

An answer is optional text followed by zero or more blocks, each

    <tool_call>
    {"name": "get_weather", "arguments": {"location": "Paris"}}
    </tool_call>

Rules (`parse_answer`):
- A block's body is exactly one JSON value (whitespace around it is fine). It is read with a JSON
  decoder, not a regex, so `</tool_call>` inside a JSON string does not end the block.
- The final block may be unclosed (the text ends after its JSON, as when generation stops at the
  end-of-turn token), as vLLM's hermes parser allows. Only the final one: a block whose JSON is
  followed by anything but `</tool_call>` or the end of the text is not a call.
- A body that is not one JSON value ends at the next `</tool_call>` (or the end of the text), as
  in vLLM's `<tool_call>(.*?)</tool_call>|<tool_call>(.*)`; parsing resumes after it.
- The JSON must be an object with exactly `name` (a string) and `arguments` (an object). A string
  that holds a JSON object is accepted for `arguments` and decoded: it is how OpenAI's API and
  many datasets write arguments, and `examples.py` decodes it in data files too. A null name is
  not the "no call" answer here (that is an answer without blocks): it is `bad_name`.
- Content is the text outside the blocks, stripped. Text after a block (between blocks or after
  the last one) is kept in the content but is an error: the format puts text first.

A block that is not a call yields no call; the others still do. Error types, per block:
- `invalid_json`: the body is not exactly one JSON value (bad or truncated JSON, trailing text)
- `not_object`: the body is JSON but not an object (e.g. a list of calls in one block)
- `missing_keys` / `extra_keys`: not exactly the keys `name` and `arguments`
- `bad_name`: `name` is not a string
- `bad_arguments`: `arguments` is neither an object nor a string holding one
and for the answer's layout (its calls are kept):
- `text_after_call`: non-blank text after a block
- `stray_close`: a `</tool_call>` outside any block
`ParsedAnswer.error` is the first of these in text order.

Streaming: `call_state(prefix)` says whether a partial answer is inside a block and, once its
top-level `"name"` string is complete, the name. It reads unfinished JSON the way a JSON decoder
would, so a `</tool_call>` inside an unfinished string does not close the block.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from calltune.extract import call_from_object, string_step

OPEN, CLOSE = "<tool_call>", "</tool_call>"
BLOCK_ERRORS = ("invalid_json", "not_object", "missing_keys", "extra_keys", "bad_name", "bad_arguments")
LAYOUT_ERRORS = ("text_after_call", "stray_close")

_DECODER = json.JSONDecoder()
_WS = re.compile(r"\s*")
_NAME_VALUE = re.compile(r'"name"\s*:\s*')


@dataclass(frozen=True)
class Block:
    """One `<tool_call>` block: its call, or the error type that kept it from being one."""

    call: dict | None
    error: str | None
    closed: bool  # False only for an unclosed final block


@dataclass(frozen=True)
class ParsedAnswer:
    """An answer's text content, its well-formed calls in order, and its first error (or None).

    `blocks` has every block, calls or not; `layout_error` is the first `text_after_call` /
    `stray_close` problem, if any."""

    content: str
    calls: list[dict]
    error: str | None
    blocks: tuple[Block, ...] = ()
    layout_error: str | None = None


@dataclass(frozen=True)
class CallState:
    """Where a partial answer stands: inside the block numbered `index` (0-based) or, when not
    inside, before block `index`; the call's name once it is complete."""

    inside: bool
    index: int
    name: str | None = None


def block_call(obj) -> tuple[dict | None, str | None]:
    """Check a block's decoded JSON; return `(call, error_type)`."""
    if not isinstance(obj, dict):
        return None, "not_object"
    args = obj.get("arguments")
    if isinstance(args, str):
        try:
            obj = {**obj, "arguments": json.loads(args)}
        except json.JSONDecodeError:
            pass  # left a string: `bad_arguments` once the keys are checked
    if "name" in obj and obj["name"] is None and set(obj) == {"name", "arguments"}:
        return None, "bad_name"  # `extract.call_from_object` would read this as "no call"
    return call_from_object(obj)


def _scan(text: str, final: bool):
    """Yield `(kind, start, end, block)` in text order: kind "text" for text outside blocks
    (block None) and "block" for a block from its `<tool_call>` to past its `</tool_call>`.

    A body that is not one JSON value ends at the next `</tool_call>`; with `final=False` (a
    prefix of an answer still being written) only at one outside a JSON string, so an
    unfinished string holding `</tool_call>` keeps the block open."""
    pos = 0
    while True:
        start = text.find(OPEN, pos)
        if start < 0:
            yield "text", pos, len(text), None
            return
        yield "text", pos, start, None
        body = _WS.match(text, start + len(OPEN)).end()
        try:
            obj, end = _DECODER.raw_decode(text, body)
        except json.JSONDecodeError:
            obj, end = None, None
        if end is not None:
            after = _WS.match(text, end).end()
            if text.startswith(CLOSE, after):
                yield "block", start, after + len(CLOSE), Block(*block_call(obj), closed=True)
                pos = after + len(CLOSE)
                continue
            if after == len(text):
                yield "block", start, len(text), Block(*block_call(obj), closed=False)
                return
        close = text.find(CLOSE, body if end is None else end) if final else _close_outside_strings(text, body)
        if close < 0:
            yield "block", start, len(text), Block(None, "invalid_json", closed=False)
            return
        yield "block", start, close + len(CLOSE), Block(None, "invalid_json", closed=True)
        pos = close + len(CLOSE)


def _close_outside_strings(text: str, pos: int) -> int:
    """Index of the first `</tool_call>` at or after `pos` that is not inside a JSON string; -1."""
    in_string = escaped = False
    for i in range(pos, len(text)):
        if not in_string and text.startswith(CLOSE, i):
            return i
        in_string, escaped = string_step(text[i], in_string, escaped)
    return -1


def segments(text: str, final: bool = True):
    """The answer in text order as `(kind, start, end, block)`: kind "text" (block None) for text
    outside blocks, "block" for a `<tool_call>` block with its `Block`. The scan behind
    `parse_answer` (`final=True`) and `call_state` (`final=False`: a prefix still being written);
    the server's streaming reads block spans from it."""
    return _scan(text, final)


def parse_answer(text: str) -> ParsedAnswer:
    """Split a generated answer into content and calls (see the module docstring for the rules)."""
    content, blocks, errors, layout = [], [], [], None
    for kind, start, end, block in _scan(text, final=True):
        if kind == "block":
            blocks.append(block)
            if block.error:
                errors.append(block.error)
            continue
        piece = text[start:end]
        problem = None
        if CLOSE in piece:
            problem = "stray_close"
        elif blocks and piece.strip():
            problem = "text_after_call"
        if problem:
            errors.append(problem)
            layout = layout or problem
        content.append(piece)
    calls = [b.call for b in blocks if b.call is not None]
    return ParsedAnswer("".join(content).strip(), calls, errors[0] if errors else None, tuple(blocks), layout)


def call_state(prefix: str) -> CallState:
    """Whether a partial answer is inside a `<tool_call>` block, which one, and its name once known."""
    last, index = None, 0
    for kind, start, end, block in _scan(prefix, final=False):
        if kind == "block":
            last, index = (start, block), index + 1
    if last is None or last[1].closed:
        return CallState(False, index)
    start = last[0]
    return CallState(True, index - 1, _partial_name(prefix, start + len(OPEN)))


def repeated_call(prefix: str) -> int | None:
    """Where a partial answer's newest call starts when that call repeats an earlier one of the answer: the
    index of its `<tool_call>` once its JSON is complete (the prefix ends with it, whitespace after it, or with
    its `</tool_call>`) and its name and arguments equal an earlier call's (compared as JSON values, so key
    order does not matter); None otherwise (`--distinct-calls`)."""
    blocks = [(start, end, block) for kind, start, end, block in _scan(prefix, final=False) if kind == "block"]
    if len(blocks) < 2:
        return None
    start, end, last = blocks[-1]
    tail = prefix[end:].strip() if last.closed else ""
    if last.call is None or tail:
        return None
    return start if any(block.call == last.call for _, _, block in blocks[:-1]) else None


def _partial_name(text: str, pos: int) -> str | None:
    """The top-level `"name"` string of the (possibly unfinished) JSON object at `pos`, once complete."""
    depth, in_string, escaped, key_start = 0, False, False, -1
    for i in range(pos, len(text)):
        ch = text[i]
        if in_string or ch == '"':
            if not in_string:
                key_start = i
            in_string, escaped = string_step(ch, in_string, escaped)
            if not in_string and depth == 1 and text.startswith('"name"', key_start):
                colon = _NAME_VALUE.match(text, key_start)
                if colon:
                    try:
                        name, _ = _DECODER.raw_decode(text, colon.end())
                    except json.JSONDecodeError:
                        return None  # the name string is not finished yet
                    return name if isinstance(name, str) else None
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
    return None
