"""A generated answer as OpenAI message parts: content and tool calls, whole or as stream deltas.

`answer_message(text)` reads a finished answer with `chat.parse_answer`: the content (text
outside the `<tool_call>` blocks, stripped; None when empty) and one tool call per well-formed
block. A call's `function.arguments` is the arguments object exactly as the model wrote it (under
constrained decoding: compact `json.dumps` JSON), or, when what it wrote is not an object's text
(a JSON string holding one), the object re-serialized.

`AnswerStream` turns the growing text of an answer into deltas with the same result: content
as it is written (stripped at both ends as `parse_answer` strips it: whitespace is held back
until text follows it; a trailing piece that may be the start of `<tool_call>` or `<|im_end|>`
is held back too); a call once its name is complete (`chat.call_state`), with its id, then its
arguments text as it grows. Joining every delta gives `answer_message`'s content and calls,
except after a block that turns out malformed (possible only without constrained decoding):
it was announced and stays in the stream, and the final message leaves it out.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

from calltune.chat.parse import OPEN, call_state, parse_answer, segments
from calltune.extract import string_step
from calltune.generate import END_OF_TURN

_DECODER = json.JSONDecoder()
_COLON = re.compile(r"\s*:\s*")
_HELD_TAGS = (OPEN, END_OF_TURN)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def arguments_text(text: str, start: int) -> str | None:
    """The text of the top-level `"arguments"` value of the (possibly unfinished) JSON object at
    `start`, as far as it is written; None until the value starts."""
    depth, in_string, escaped, key_start = 0, False, False, -1
    i = start
    while i < len(text):
        ch = text[i]
        if in_string or ch == '"':
            if not in_string:
                key_start = i
            in_string, escaped = string_step(ch, in_string, escaped)
            if not in_string and depth == 1 and text[key_start:i + 1] == '"arguments"':
                colon = _COLON.match(text, i + 1)
                if not colon or ":" not in colon.group() or colon.end() == len(text):
                    return None
                try:
                    _, end = _DECODER.raw_decode(text, colon.end())
                except json.JSONDecodeError:
                    end = len(text)  # not finished (or not JSON): all of it so far
                return text[colon.end():end]
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        i += 1
    return None


def call_arguments(block_text: str, arguments: dict) -> str:
    """`function.arguments` for a well-formed block: the model's own text of the object when it
    is one, else `arguments` (the parsed object) as JSON."""
    raw = arguments_text(block_text, block_text.find("{"))
    try:
        if raw is not None and json.loads(raw) == arguments and raw.lstrip().startswith("{"):
            return raw
    except json.JSONDecodeError:
        pass
    return json.dumps(arguments, ensure_ascii=False)


def answer_message(text: str) -> tuple[str | None, list[dict]]:
    """`(content, tool_calls)` of a finished answer, tool calls in OpenAI's form with fresh ids."""
    parsed = parse_answer(text)
    calls = []
    for kind, start, end, block in segments(text, final=True):
        if kind == "block" and block.call is not None:
            calls.append({"id": new_call_id(), "type": "function", "function": {
                "name": block.call["name"],
                "arguments": call_arguments(text[start:end], block.call["arguments"])}})
    return parsed.content or None, calls


@dataclass(frozen=True)
class Delta:
    """One piece of a streamed answer: `content`, or call number `index`'s start (`id`, `name`,
    `arguments` "") or an `arguments` fragment."""

    content: str | None = None
    index: int | None = None
    id: str | None = None
    name: str | None = None
    arguments: str | None = None


def _held(text: str) -> int:
    """How many characters at the end of `text` may be the start of a tag (to hold back)."""
    return max((n for tag in _HELD_TAGS for n in range(1, min(len(tag) - 1, len(text)) + 1)
                if text.endswith(tag[:n])), default=0)


class AnswerStream:
    """Deltas for a growing answer: call `update(text)` with the whole text so far (each a
    continuation of the last), and `update(text, final=True)` once with the finished answer."""

    def __init__(self):
        self.content = ""  # content sent so far
        self.calls: dict[int, tuple[int, str]] = {}  # block number -> (call index, arguments sent)

    def update(self, text: str, final: bool = False) -> list[Delta]:
        if not final:
            text = text.rstrip("\ufffd")  # an unfinished UTF-8 character: wait for the rest
        pieces = list(segments(text, final))
        outside = "".join(text[s:e] for kind, s, e, _ in pieces if kind == "text")
        if not final and pieces and pieces[-1][0] == "text":
            outside = outside[:len(outside) - _held(outside)]
        deltas = []
        visible = outside.strip()
        if len(visible) > len(self.content) and visible.startswith(self.content):
            deltas.append(Delta(content=visible[len(self.content):]))
            self.content = visible
        blocks = [(s, e, b) for kind, s, e, b in pieces if kind == "block"]
        for number, (start, end, block) in enumerate(blocks):
            complete = block.closed or final
            if complete and block.call is None:
                continue  # malformed: not a call
            if number not in self.calls:
                name = block.call["name"] if complete else call_state(text).name
                if name is None:
                    break  # its name is still being written
                self.calls[number] = (len(self.calls), "")
                deltas.append(Delta(index=self.calls[number][0], id=new_call_id(), name=name, arguments=""))
            index, sent = self.calls[number]
            body = text[start:end]
            args = (call_arguments(body, block.call["arguments"]) if complete
                    else arguments_text(body, body.find("{")) if "{" in body else None)
            if args and len(args) > len(sent) and args.startswith(sent):
                deltas.append(Delta(index=index, arguments=args[len(sent):]))
                self.calls[number] = (index, args)
        return deltas
