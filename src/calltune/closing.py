"""The closing reserve of constrained decoding: how much budget a call needs to close, and the policy that
closes it (`constrain.py`'s docstring tells how the processor uses them).

`closing_margin` sizes a row's reserve from the offered tools (their shortest calls, or the policy's path from
a tool's name); `closing_depth` and `nesting_after` count the levels of JSON nesting a call has open, outside
strings; `ClosingPolicy` ranks the tokens that bring a call towards its end (`_structure_score`) and simulates
that path on a copy of a compiled grammar's matcher. `_allowed` unpacks one row of llguidance's token bitmask.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from calltune.chat.grammar import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from calltune.examples import Tool, local_resolver
from calltune.extract import string_step

PATH_LIMIT = 256  # tokens of a closing path simulated for the closing margin, at most
NO_NESTING = (0, False, False)  # `nesting_after` before any text


def _allowed(bitmask_row: torch.Tensor, n_vocab: int) -> torch.Tensor:
    """(vocab,) bool from one packed (words,) int32 bitmask row: bit j of word w is token 32w + j.
    numpy unpacks it ~30x faster than torch shifts (which made each simulated closing step ~25 ms
    for a 49k vocabulary)."""
    packed = bitmask_row.cpu().numpy().astype("<i4", copy=False).view(np.uint8)  # (4 * words,) little-endian
    return torch.from_numpy(np.unpackbits(packed, bitorder="little")[:n_vocab].astype(bool))


REF_DEPTH = 8  # `$ref`s followed in a row by `minimal_instance`, at most (a cycle stops there)


def minimal_instance(schema, root=None, depth: int = 0):
    """A short value valid for `schema` (roughly: strings with a pattern or format get a
    placeholder of typical length). Used only to size the closing margin. `root`: the document
    that `schema`'s local `$ref`s point into (default `schema` itself: a tool's parameters)."""
    if not isinstance(schema, dict):
        return None
    root = schema if root is None else root
    ref = schema.get("$ref")
    if isinstance(ref, str) and depth < REF_DEPTH:
        try:
            target = local_resolver(root).lookup(ref).contents
        except Exception:  # noqa: BLE001 - unresolvable: the schema checks reject it before decoding
            return None
        return minimal_instance(target, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return minimal_instance(schema[key][0], root, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0] if kind else None
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: minimal_instance(props.get(k, {}), root, depth) for k in schema.get("required", [])}
    if kind == "array":
        return [minimal_instance(schema.get("items", {}), root, depth)] * int(schema.get("minItems", 0))
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "string":
        size = 12 if ("pattern" in schema or "format" in schema) else int(schema.get("minLength", 0))
        return "0" * size
    return None


def _minimal_call(tool: Tool) -> str:
    return json.dumps({"name": tool.name, "arguments": minimal_instance(tool.parameters)})


def closing_margin(tools: list[Tool], tokenizer, chat: bool, matcher, policy: ClosingPolicy) -> int:
    """Tokens to reserve for closing a call to any of `tools` (see the module docstring); with
    `chat`, a call in its `<tool_call>` block. Per tool: its shortest call, or the closing policy's
    path from the tool's name in the compiled grammar's `matcher` where that is longer (the policy
    may take an optional argument the shortest call leaves out: its key can sort first). 0 (never
    watch) without tools."""
    import llguidance.torch as llt

    def tokens(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def size(tool):
        call = _minimal_call(tool)
        shortest = len(tokens(f"{TOOL_CALL_OPEN}\n{call}\n{TOOL_CALL_CLOSE}" if chat else call))
        head = json.dumps({"name": tool.name})[:-2]  # `{"name": "<name>`: the call up to its name's end
        ids = tokens(f"{TOOL_CALL_OPEN}\n{head}" if chat else head)
        sim = matcher.deep_copy()
        if not sim.consume_tokens(ids):
            return shortest
        return max(shortest, len(ids) + policy.path(sim, True, PATH_LIMIT, llt)[0])

    if not tools:
        return 0
    return max(size(t) for t in tools) + 4


def closing_depth(tools: list[Tool]) -> int:
    """The most levels of nesting the shortest call to any of `tools` opens: those the closing
    margin covers. 0 without tools."""
    deepest = 0
    for tool in tools:
        state = NO_NESTING
        for ch in _minimal_call(tool):
            state = nesting_after(ch, state)
            deepest = max(deepest, state[0])
    return deepest


def nesting_after(text: str, state: tuple[int, bool, bool]) -> tuple[int, bool, bool]:
    """Advance `(open levels, in a string, after a backslash in one)` over a piece of JSON text;
    brackets inside strings are text, not levels."""
    depth, in_string, escaped = state
    for ch in text:
        if not in_string:
            depth += (ch in "{[") - (ch in "}]")
        in_string, escaped = string_step(ch, in_string, escaped)
    return depth, in_string, escaped


def _structure_score(text: str) -> float:
    """How much a token outside a string brings the call towards closing: +2 per `}`/`]`, -5 per
    `{`/`[`, -3 if it opens a string, +0.25 if it is a whole scalar (`0`, `null`, `""`: a value
    in one token, though not worth more than ending a number), and for a comma +0.5 where it
    opens the token (it ends a number) but -1 after anything else (`],` or ` "",` ends a value
    only to open more content). Only what lies outside strings counts: `"}},` opens a string
    (of `}},`) and closes nothing."""
    closers = openers = 0
    comma, in_string, escaped = 0.0, False, False
    for i, ch in enumerate(text):
        if not in_string and ch in "}]{[,":
            closers, openers = closers + (ch in "}]"), openers + (ch in "{[")
            comma = comma or (ch == "," and (-1.0 if text[:i].strip() else 0.5))
        in_string, escaped = string_step(ch, in_string, escaped)
    return 2 * closers - 5 * openers - 3 * in_string + comma + 0.25 * _is_scalar(text.strip())


def _is_scalar(text: str) -> bool:
    try:
        return not isinstance(json.loads(text), (dict, list))
    except ValueError:
        return False


class ClosingPolicy:
    """The tokens preferred when a call must close soon. Inside a string: a token with a quote
    (ending the string), then what follows the quote, by `_structure_score`. Outside: by
    `_structure_score`, so `}]` beats `}, {"` (which closes an array item only to open the next)
    and `[]` beats `["`. Ties go to the lowest token id. Scores are (vocab,) tensors."""

    def __init__(self, tokenizer, n_vocab: int):
        self.texts = [tokenizer.decode([i]) if i < len(tokenizer) else "" for i in range(n_vocab)]
        inside, outside = torch.full((n_vocab,), -1e9), torch.full((n_vocab,), -1e9)
        for i, text in enumerate(self.texts):
            if not text or "\\" in text:  # escapes: never needed to close
                continue
            outside[i] = _structure_score(text)
            quote = text.find('"')
            inside[i] = 100 + _structure_score(text[quote + 1:]) if quote >= 0 else 0.0
        self.inside, self.outside = inside, outside
        # the tokens that can end an arguments object or add to it (`argument_step`)
        self.separators = torch.tensor([i for i, text in enumerate(self.texts) if "," in text or "}" in text],
                                       dtype=torch.long)

    def path(self, matcher, in_string: bool, limit: int, llt) -> tuple[int, int | None]:
        """Simulate the policy from the matcher's state (`in_string`: whether what was generated
        so far ends inside a JSON string) on a copy: (tokens needed to complete the call, the
        first of them), or (limit + 1, None)."""
        sim = matcher.deep_copy()
        scratch = llt.allocate_token_bitmask(1, self.inside.numel())
        first, never = None, torch.tensor(float("-inf"))
        for steps in range(limit + 1):
            if sim.is_accepting():
                return steps, first
            llt.fill_next_token_bitmask(sim, scratch, 0)
            allowed = _allowed(scratch[0], self.inside.numel())
            scores = self.inside if in_string else self.outside
            token = int(torch.where(allowed, scores, never).argmax())
            if not allowed[token] or not sim.consume_token(token):
                break
            first = token if first is None else first
            in_string = nesting_after(self.texts[token], (0, in_string, False))[1]
        return limit + 1, None

    def fits_after(self, matcher, token: int, in_string: bool, limit: int, llt) -> bool:
        """Whether, after `token` (allowed by `matcher`), the path to a complete call takes at most
        `limit` tokens (`in_string`: as in `path`, before `token`)."""
        sim = matcher.deep_copy()
        if not sim.consume_token(token):
            return False
        in_string = nesting_after(self.texts[token], (0, in_string, False))[1]
        return sim.is_accepting() or self.path(sim, in_string, limit, llt)[0] <= limit
