"""Turning generated text into a tool call.

Accepted: the first top-level JSON object in the text that parses, wherever it
starts (prose, code fences and trailing text around it are ignored). The scanner
follows braces only, so a call wrapped in a list `[{...}]` is found too; a
truncated object never yields one of its nested objects. Its shape is then
checked: exactly the keys `name` and `arguments`, `name` a string (or null,
the explicit "no call" answer `{"name": null, "arguments": {}}`), `arguments`
an object. Anything else is an error with a stable `error_type`:

- `invalid_json`: no complete JSON object anywhere (prose, truncated output)
- `missing_keys`: an object without `name` or `arguments`
- `extra_keys`: an object with keys besides `name` and `arguments`
- `bad_name`: `name` is neither a string nor null
- `bad_arguments`: `arguments` is not an object
"""

from __future__ import annotations

import json
from dataclasses import dataclass

NO_CALL = {"name": None, "arguments": {}}


@dataclass(frozen=True)
class Extraction:
    """What a generated text says: a parsed object (or None), the call, and an error type."""

    obj: dict | None
    call: dict | None
    error: str | None

    @property
    def no_call(self) -> bool:
        """True when the text explicitly declined to call a tool."""
        return self.obj is not None and self.error is None and self.call is None


def string_step(ch: str, in_string: bool, escaped: bool) -> tuple[bool, bool]:
    """Advance the JSON string state `(in_string, escaped)` over one character."""
    if not in_string:
        return ch == '"', False
    if escaped:
        return True, False
    if ch == "\\":
        return True, True
    return ch != '"', False


def top_level_spans(text: str):
    """Yield `(start, end)` of each balanced top-level `{...}` span, scanning strings
    inside braces properly. Stops at a span that never closes (truncated output)."""
    depth, start, in_string, escaped = 0, -1, False, False
    for i, ch in enumerate(text):
        if depth == 0:
            if ch == "{":
                depth, start = 1, i
            continue
        if in_string or ch == '"':
            in_string, escaped = string_step(ch, in_string, escaped)
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                yield start, i + 1


def first_json_object(text: str) -> dict | None:
    """Return the first top-level `{...}` span of `text` that parses as a JSON object.

    Spans that do not parse (prose such as `{name}`) are skipped; objects nested
    inside a span are never returned on their own, so a truncated object is no object.
    """
    for start, end in top_level_spans(text):
        try:
            obj = json.loads(text[start:end])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def call_from_object(obj: dict) -> tuple[dict | None, str | None]:
    """Check an object's shape; return `(call, error_type)`. A null name is "no call"."""
    missing = {"name", "arguments"} - set(obj)
    if missing:
        return None, "missing_keys"
    if set(obj) != {"name", "arguments"}:
        return None, "extra_keys"
    if obj["name"] is None:
        return None, None
    if not isinstance(obj["name"], str):
        return None, "bad_name"
    if not isinstance(obj["arguments"], dict):
        return None, "bad_arguments"
    return {"name": obj["name"], "arguments": obj["arguments"]}, None


def extract_call(text: str) -> Extraction:
    """Parse generated text into an `Extraction`."""
    obj = first_json_object(text)
    if obj is None:
        return Extraction(None, None, "invalid_json")
    call, error = call_from_object(obj)
    return Extraction(obj, call, error)
