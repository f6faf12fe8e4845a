"""The copy margin: a bonus for argument values copied from the request.

Small tuned models misspell values they should copy: `LR-38443` comes out as `LRR-38443`, a salary of
58,923 as 58920. With a copy margin B (`calltune predict --copy-margin B`), constrained decoding adds B to
the log-probability of each of the best allowed tokens that keeps the argument value being written a
piece of the request: a run of its text that starts at a word boundary (and, for a token that ends the
value, ends at one), or that writes only what comes before the value (a space, its opening quote). Tokens
that leave the request's text get nothing, so where the value is not a copy
(a date or a time normalised, a unit converted) every token is left as the model weighs it. Numbers are
matched against the request with thousands separators removed (`58,923` reads as `58923`). It acts on
string and number values inside a call's arguments (never on a function's name or an argument's key).

`ValueState` follows a call's JSON text character by character (which string is a key and which a value;
where a number starts and ends); `copy_bonus` says which candidate tokens earn the bonus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

COPY_TOP_K = 16
"""How many of the best allowed tokens are looked at each step (the rest keep their score)."""

_WORD = "0-9A-Za-z"
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def copy_source(messages: list[dict]) -> str:
    """The text values may be copied from: the user messages and tool results of a conversation."""
    parts = []
    for message in messages:
        content = message.get("content")
        if message.get("role") in ("user", "tool") and isinstance(content, str):
            parts.append(content)
    return "\n".join(parts)


@dataclass(frozen=True)
class Source:
    """A request's text as strings and numbers are matched against it."""

    text: str
    numbers: str

    @classmethod
    def of(cls, text: str) -> "Source":
        return cls(text, _THOUSANDS.sub("", text))

    def holds(self, value: str, number: bool, ends: bool) -> bool:
        """Whether `value` is a run of the text starting at a word boundary (and ending at one when
        `ends`)."""
        if not value:
            return False
        pattern = f"(?<![{_WORD}]){re.escape(value)}" + (f"(?![{_WORD}])" if ends else "")
        return re.search(pattern, self.numbers if number else self.text) is not None


@dataclass(frozen=True)
class ValueState:
    """Where a call's JSON text stands: the open containers ('{' or '['), the last structural character
    outside strings, and the value being written: `kind` "string" or "number" (a key's string is "key",
    None between values) with its `content` so far (a string's as written, escapes included)."""

    stack: str = ""
    after: str = ""
    kind: str | None = None
    content: str = ""
    escaped: bool = False

    def _value_next(self) -> bool:
        return self.after == ":" or (self.after in ("[", ",") and self.stack.endswith("["))

    def feed(self, text: str) -> "ValueState":
        state = self
        for ch in text:
            state = state._step(ch)
        return state

    def _step(self, ch: str) -> "ValueState":
        if self.kind in ("string", "key"):
            if self.escaped:
                return replace(self, content=self.content + ch, escaped=False)
            if ch == "\\":
                return replace(self, content=self.content + ch, escaped=True)
            if ch == '"':
                return replace(self, kind=None, content="")
            return replace(self, content=self.content + ch)
        if self.kind == "number":
            if ch in "0123456789.eE+-":
                return replace(self, content=self.content + ch)
            return replace(self, kind=None, content="")._step(ch)
        if ch == '"':
            return replace(self, kind="string" if self._value_next() else "key", content="")
        if ch in "{[":
            return replace(self, stack=self.stack + ch, after=ch)
        if ch in "}]":
            return replace(self, stack=self.stack[:-1], after=ch)
        if ch in ":,":
            return replace(self, after=ch)
        if (ch.isdigit() or ch == "-") and self._value_next():
            return replace(self, kind="number", content=ch)
        return self

    @property
    def in_value(self) -> bool:
        return self.kind in ("string", "number")

    def extend(self, text: str) -> tuple[str, bool, bool]:
        """What `text` writes of the value being written (or of the one it opens, where a value comes
        next): the value's content after it, whether `text` ends the value, and whether it is a number.
        Empty content where `text` neither is nor opens a string or number value."""
        state = self
        for ch in text:
            nxt = state._step(ch)
            if state.in_value and not nxt.in_value:
                return state.content, True, state.kind == "number"
            state = nxt
        return (state.content, False, state.kind == "number") if state.in_value else ("", False, False)

    @property
    def at_value(self) -> bool:
        """Whether a value is being written or comes next."""
        return self.in_value or (self.kind is None and self._value_next())


def copy_bonus(state: ValueState, source: Source, texts: list[str]) -> list[bool]:
    """For each candidate token text, whether it keeps the value a copy from `source` (see the module
    docstring). All False away from a value, and for a string that holds an escape."""
    if not state.at_value or "\\" in state.content:
        return [False] * len(texts)
    out = []
    for text in texts:
        content, ends, number = state.extend(text)
        if content:
            out.append("\\" not in content and source.holds(content, number, ends))
        else:  # what comes before the value (a space, its opening quote) keeps a copy possible
            out.append(not ends and not state.in_value and text.strip() in ("", '"'))
    return out
