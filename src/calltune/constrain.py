"""Grammar-constrained decoding: every generated token keeps the output a valid answer.

Two grammars. `paper` (bare JSON): built from the offered tools (`call_schema`): an
`anyOf` over one object per tool, `{"name": <that tool's name>, "arguments":
<its parameters schema>}`, plus, unless forbidden, the explicit no-call object
`{"name": null, "arguments": {}}`. `hermes` (the chat format, `GrammarCache.chat_row`):
`chat.grammar.chat_grammar`, a text answer or `<tool_call>` blocks per `tool_choice`
and `parallel`; the answer then ends with the model's end token (`stop_ids`: EOS and
`<|im_end|>`), allowed wherever the grammar may end and forced where it must.
In both, objects that do not say otherwise get
`additionalProperties: false`, so no argument outside the schema can appear.
A degenerate model can loop inside a string or a number forever, or, where a
schema allows any value, open object after object (`{"a": {"a": {...`). So each
sequence keeps a closing reserve: the remaining budget at which the processor
simulates, on a copy of the matcher, a path to a complete call (preferring
tokens that end a string, number, array or object). The reserve starts at the
closing margin (for the tool that needs most, the token length of its shortest
call or of the policy's own path from its name, whichever is longer, plus a few
tokens), which covers the levels of nesting that call opens; every level
open beyond those (outside strings) adds `LEVEL_COST` tokens, since each needs
its own closing token and may hold a key or value open. Once the budget falls
within the reserve, the call is watched at every step until it closes: the
path is simulated again, and decoding follows it once the budget is within
`CLOSE_SLACK` tokens of its length, or whenever the model's own next token
(greedy: the best allowed one) would leave no path that fits the rest of the
budget. One token can lengthen the path by far more than any slack (`, "` opens
an optional key whose value must match a `YYYY-MM-DD` pattern), so that token is
tried on a copy of the matcher before it is let through. So the call closes
within the budget (given one that covers the shortest call). A normal call never
gets there: the path is usually far shorter than the remaining budget. For
hermes the path runs to the end of the open `<tool_call>` block (a text answer
needs none), a row that closes a block within its margin then stops instead of
opening another, and a block opened after that is watched from its margin again.
The engine is llguidance (JSON Schema compiled to a token-level parser; a
mask costs well under a millisecond per token). Output is compact JSON with
`json.dumps` separators, the format calltune trains on.

An optional-argument margin M (`GrammarCache(optional_margin=M)`, `calltune predict
--optional-margin`) weighs the one choice the grammar leaves open between the arguments a call
gives and the end of them: where both another argument (a comma at the arguments object's level)
and the object's end are allowed, and greedy would take one of them, the call gives another
argument when log p(more) + M > log p(close), taking the best token of each kind (`argument_step`
tells them apart; the grammar already keeps out required arguments' absence and unknown names).
M > 0 favours stating optional arguments, M < 0 leaving them out; it never acts within a row's
closing reserve.
A next-call margin M (`GrammarCache(next_call_margin=M)`, `calltune predict --next-call-margin`)
weighs the choice a hermes answer with parallel calls has after each `</tool_call>`: open another
call block when log p(another) + M > log p(end), taking the best allowed token of each kind (the
end: the answer's stop tokens; another: any other token the grammar allows there, which can only
begin the next block), and only the chosen token stays allowed (a beam too is held to it: with M = 0 it
ends or goes on as the model's next token says). M > 0 makes more calls, M < 0 fewer; None (no margin)
weighs nothing; it never acts within the closing margin, where a row that has closed a block stops.
A key order (`GrammarCache(key_order="any")`, `calltune predict --key-order any`) lets a hermes
call's arguments come in any order (`chat.grammar.AnyOrder`: each key once, required ones before the
object closes) instead of the schema's, so a model can write the order it was trained on.
A copy margin B (`GrammarCache(copy_margin=B)`, `calltune predict --copy-margin`) adds B to each of
the best allowed tokens that keeps the argument value being written a piece of the request's text
(`copying.py`; the request is the `source` a row is made with); it never acts within the closing
reserve.
The reserve's sizes and path live in `closing.py`.
A grammar is compiled once per distinct tool set and mode (`GrammarCache`, keyed by
the tools' JSON); each sequence gets a fresh copy of the compiled matcher. Batch rows
of either kind (or None: unconstrained) go to one `ToolCallConstraint`.

What is enforced: types, `enum`/`const`, `required`, nested objects and arrays
(`items`, `minItems`/`maxItems`), `minimum`/`maximum` on integers and numbers,
string `minLength`/`maxLength`/`pattern`, `anyOf`/`oneOf`, `$ref`/`$defs`. What
is not: properties come in the schema's order (a valid JSON object with the
keys in another order cannot be generated) unless a hermes row frees them
(`key_order="any"`); `format` is not asserted (as in calltune's scorer: an annotation in Draft 2020-12); keywords it does not implement (`not`,
`if`/`then`, look-around in `pattern`, ...) are an error naming the tool
(`UnsupportedSchema`), and with `on_unsupported="unconstrained"` such an
example is decoded unconstrained instead. A budget smaller than the closing
margin can still truncate a call (invalid JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from transformers import LogitsProcessor

from calltune.chat.grammar import (JSON_OPTIONS, KEY_ORDERS, TOOL_CALL_CLOSE, TOOL_CALL_OPEN, callable_tools,
                                   calls_choice, chat_grammar, tool_call_schema)
from calltune.closing import NO_NESTING, ClosingPolicy, _allowed, closing_depth, closing_margin, nesting_after
from calltune.copying import COPY_TOP_K, Source, ValueState, copy_bonus
from calltune.errors import CalltuneError
from calltune.examples import Tool
from calltune.extract import string_step

CLOSE_SLACK = 6  # tokens of budget kept beyond the simulated closing path
LEVEL_COST = 2  # tokens of closing reserve per level of nesting opened beyond what it covers
ON_UNSUPPORTED = ("error", "unconstrained")


class UnsupportedSchema(CalltuneError):
    """A tool schema the constraint engine cannot express."""


NO_CALL_SCHEMA = {"type": "object", "properties": {
    "name": {"type": "null"},
    "arguments": {"type": "object", "properties": {}, "additionalProperties": False}},
    "required": ["name", "arguments"], "additionalProperties": False}


def call_schema(tools: list[Tool], allow_no_call: bool = True) -> dict:
    """A JSON Schema matching exactly the answers allowed for these tools."""
    options = [tool_call_schema(t, f"arguments{i}") for i, t in enumerate(tools)]
    if allow_no_call:
        options.append(NO_CALL_SCHEMA)
    return calls_choice(options)


def _grammar(schema: dict) -> str:
    from llguidance import LLMatcher

    return LLMatcher.grammar_from_json_schema(schema, defaults=JSON_OPTIONS)


def _problem(schema: dict, lltok) -> str | None:
    from llguidance import LLMatcher

    is_error, messages = LLMatcher.validate_grammar_with_warnings(_grammar(schema), lltok)
    return messages[0] if is_error else None


def stop_ids(tokenizer) -> list[int]:
    """The tokens that end an answer: EOS, and `<|im_end|>` where the vocabulary has it (a
    ChatML model whose EOS is `<|endoftext|>` still ends its turn with it)."""
    ids = [tokenizer.eos_token_id]
    im_end = tokenizer.get_added_vocab().get("<|im_end|>")
    return ids + [im_end] if im_end is not None and im_end not in ids else ids


def special_tags(tokenizer) -> frozenset[str]:
    """The call tags the tokenizer holds as added tokens (llguidance treats them as special)."""
    added = tokenizer.get_added_vocab()
    return frozenset(tag for tag in (TOOL_CALL_OPEN, TOOL_CALL_CLOSE) if tag in added)


def _tokenizer_key(tokenizer) -> tuple:
    return (getattr(tokenizer, "name_or_path", ""), len(tokenizer), *stop_ids(tokenizer))


_LLTOKENIZERS: dict[tuple, object] = {}


def ll_tokenizer(tokenizer, n_vocab: int):
    """llguidance's view of a fast HF tokenizer (built once: ~0.3 s for the embedded model), with
    every `stop_ids` token as an end token: allowed wherever the grammar may end, forced where
    it must."""
    from llguidance.hf import from_tokenizer

    key = (*_tokenizer_key(tokenizer), n_vocab)
    if key not in _LLTOKENIZERS:
        try:
            _LLTOKENIZERS[key] = from_tokenizer(tokenizer, n_vocab=n_vocab, eos_token=stop_ids(tokenizer))
        except ValueError as err:
            raise CalltuneError(f"constrained decoding needs a fast tokenizer: {err}") from None
    return _LLTOKENIZERS[key]


ARGUMENTS_DEPTH = 2
"""The arguments object's level of nesting: `{"name": "f", "arguments": {` (a hermes call opens
no level before its JSON)."""


def argument_step(text: str, state: tuple[int, bool, bool]) -> str | None:
    """What a token (`text`) does to a call's arguments object, read from `state` (`nesting_after`'s,
    at the object's level or inside one of its values): "close" when it ends the object, "more" when
    it puts a comma at the object's level (another argument follows: `],` after a list), None when
    it does neither."""
    depth, in_string, escaped = state
    for ch in text:
        if not in_string:
            if ch in "}]":
                depth -= 1
                if depth < ARGUMENTS_DEPTH:
                    return "close"
            elif ch in "{[":
                depth += 1
            elif ch == "," and depth == ARGUMENTS_DEPTH:
                return "more"
        in_string, escaped = string_step(ch, in_string, escaped)
    return None


@dataclass
class RowConstraint:
    """One sequence's constraint: a fresh matcher, its closing margin in tokens and the levels of
    nesting that margin covers (`closing_depth`), whether it is a hermes answer (`chat_grammar`;
    else a bare `paper` call), and its closing reserve (see the module docstring)."""

    matcher: object
    close_margin: int
    close_depth: int = 0
    chat: bool = False
    abstain: "BranchRows | None" = None
    """hermes auto under an abstention margin: what replaces this row once `abstain.decide` has
    weighed text against calls (None: decode this row as it is)."""
    nesting: tuple[int, bool, bool] = NO_NESTING
    """`nesting_after` over what was generated so far (a hermes answer opens no level outside its
    calls, and a text answer is never simulated)."""
    watch: int = 0
    """The reserve as last set: the margin, or, once the call is watched, the budget then left
    (so it stays watched however many levels close)."""
    watch_depth: int = 0
    """The open levels `watch` covers; each level beyond adds `LEVEL_COST`."""
    optional_margin: float = 0.0
    """The optional-argument margin (see the module docstring); 0: greedy decides."""
    in_call: bool = False
    """Whether the level open now belongs to a call (a hermes text answer may hold braces)."""
    recent: str = ""
    """The last characters generated (where a call's `<tool_call>` tag is looked for)."""
    next_call_margin: float | None = None
    """The next-call margin (see the module docstring); None: nothing weighs the choice (greedy takes the model's
    first choice, a beam keeps both)."""
    copy_margin: float = 0.0
    """The copy margin (see the module docstring); 0: greedy decides."""
    copy_source: Source | None = None
    """The request's text the copy margin matches values against."""
    values: ValueState = ValueState()
    """Where the call's JSON stands for the copy margin (reset outside any level)."""
    budget_cut: bool = False
    """Whether the budget overrode the model: near its end the row was made to stop after a block,
    or to take the closing path, where the model's own best allowed token went elsewhere (another
    call, another argument). The answer is valid but may lack what the model would have added."""

    def __post_init__(self):
        self.unwatch()

    def unwatch(self) -> None:
        """Reserve the closing margin again (a fresh row, or a hermes row between calls)."""
        self.watch, self.watch_depth = self.close_margin, self.close_depth

    def closed_call(self) -> bool:
        """Whether what was generated so far ends with `</tool_call>` (a hermes row that has just
        closed a call block)."""
        return self.recent.endswith(TOOL_CALL_CLOSE)

    def reserve(self) -> int:
        """The remaining budget at or below which the closing path is simulated."""
        return self.watch + LEVEL_COST * max(0, self.nesting[0] - self.watch_depth)


@dataclass
class BranchRows:
    """The two branches of a hermes auto answer, for `abstain.decide`: the margin, the text-only
    row (`tool_choice` none, not opening with `<`: `chat_grammar(abstaining=True)`) and the
    calls-only row (`required`, same `parallel`)."""

    margin: float
    text: RowConstraint
    call: RowConstraint


class GrammarCache:
    """Compiled matchers, one per distinct grammar: (tool set, no-call option) for `row()`,
    (callable tools, tool_choice, parallel, key order) for `chat_row()`; both hand out fresh copies.
    `stop_ids`: the tokens that end an answer (pass them to `generate` as its EOS ids)."""

    def __init__(self, tokenizer, n_vocab: int, on_unsupported: str = "error", optional_margin: float = 0.0,
                 next_call_margin: float | None = None, copy_margin: float = 0.0, key_order: str = "schema"):
        if on_unsupported not in ON_UNSUPPORTED:
            raise CalltuneError(f"on_unsupported must be one of {', '.join(ON_UNSUPPORTED)}")
        if key_order not in KEY_ORDERS:
            raise CalltuneError(f"key_order must be one of {', '.join(KEY_ORDERS)}, not {key_order!r}")
        self.tokenizer = tokenizer
        self.n_vocab = n_vocab
        self.lltok = ll_tokenizer(tokenizer, n_vocab)
        self.stop_ids = stop_ids(tokenizer)
        self.special_tags = special_tags(tokenizer)
        self.on_unsupported = on_unsupported
        self.optional_margin = float(optional_margin)  # every row it hands out carries it
        # every hermes row with tools carries it (None: none)
        self.next_call_margin = None if next_call_margin is None else float(next_call_margin)
        self.copy_margin = float(copy_margin)  # every row with tools carries it, with its source
        self.key_order = key_order  # every hermes grammar's
        self.compiled: dict[str, tuple[object, int, int]] = {}  # key -> (matcher, margin, its depth)
        self.unsupported: dict[str, str] = {}  # tool-set key -> message, when falling back
        self._policy = None

    @property
    def policy(self) -> ClosingPolicy:
        """Built on first use, at the first grammar with tools (their closing margin simulates it):
        it decodes the vocabulary once, about a second for 49k tokens."""
        if self._policy is None:
            self._policy = ClosingPolicy(self.tokenizer, self.n_vocab)
        return self._policy

    def row(self, tools: list[Tool], allow_no_call: bool = True, source: str = "") -> RowConstraint | None:
        """A fresh `paper` constraint (one bare JSON call, or the no-call object) for one sequence,
        or None when this tool set falls back to unconstrained. `source`: the request's text (for the
        copy margin: `copying.copy_source`)."""
        return self._row(tools, str(allow_no_call), lambda: _grammar(call_schema(tools, allow_no_call)), False,
                         source)

    def chat_row(self, tools: list[Tool], tool_choice="auto", parallel: bool = True,
                 abstain_margin: float | None = None, source: str = "") -> RowConstraint | None:
        """A fresh hermes constraint (`chat.grammar.chat_grammar`) for one sequence, or None when the
        callable tools fall back to unconstrained. Raises `CalltuneError` for a bad `tool_choice`.
        `abstain_margin`: an auto answer with tools gets its two branches (`abstain.py`). `source`: as
        for `row`."""
        callable_ = callable_tools(tools, tool_choice)
        mode = f"chat|{json.dumps(tool_choice, sort_keys=True)}|{parallel}|{self.key_order}"
        row = self._row(callable_, mode, lambda: chat_grammar(callable_, tool_choice, parallel, self.special_tags,
                                                              key_order=self.key_order), True, source)
        if abstain_margin is not None and row is not None and tool_choice == "auto" and callable_:
            text = self._row([], f"chat|abstaining|{parallel}",
                             lambda: chat_grammar([], "none", parallel, self.special_tags, abstaining=True), True)
            row.abstain = BranchRows(abstain_margin, text, self.chat_row(tools, "required", parallel, source=source))
        return row

    def _row(self, tools: list[Tool], mode: str, grammar, chat: bool, source: str = "") -> RowConstraint | None:
        """Compile `grammar()` once per (tools, mode); a fresh matcher copy each call."""
        from llguidance import LLMatcher

        tools_key = json.dumps([[t.name, t.parameters] for t in tools], sort_keys=True)
        if tools_key in self.unsupported:
            return None
        key = f"{tools_key}|{mode}"
        if key not in self.compiled:
            if not self.check(tools, tools_key):
                return None
            matcher = LLMatcher(self.lltok, grammar(), log_level=0)
            if matcher.is_error():
                raise UnsupportedSchema(f"constrained decoding: {matcher.get_error()}")
            margin = closing_margin(tools, self.tokenizer, chat, matcher, self.policy)
            self.compiled[key] = (matcher, margin, closing_depth(tools))
        matcher, margin, depth = self.compiled[key]
        copying = bool(tools and self.copy_margin)
        return RowConstraint(matcher.deep_copy(), margin, depth, chat=chat,
                             optional_margin=self.optional_margin if tools else 0.0,
                             next_call_margin=self.next_call_margin if tools and chat else None,
                             copy_margin=self.copy_margin if copying else 0.0,
                             copy_source=Source.of(source) if copying else None)

    def problem(self, tool: Tool) -> str | None:
        """Why the engine cannot enforce `tool`'s schema (llguidance's message, naming the keyword), or None."""
        return _problem(tool_call_schema(tool), self.lltok)

    def check(self, tools: list[Tool], tools_key: str) -> bool:
        """True when the engine can express every tool's schema. Otherwise raise `UnsupportedSchema`
        naming the first tool it rejects, or (on_unsupported="unconstrained") record the fallback."""
        for tool in tools:
            problem = self.problem(tool)
            if problem is None:
                continue
            message = f"tool '{tool.name}': its parameters schema cannot be enforced: {problem.strip()}"
            if self.on_unsupported == "error":
                raise UnsupportedSchema(message + " (use --on-unsupported unconstrained to decode such "
                                        "examples without constraints)")
            self.unsupported[tools_key] = message
            return False
        return True


def _keep_only(scores: torch.Tensor, row: int, ids: list[int]) -> None:
    """Leave only `ids` possible in `scores[row]` (their logits unchanged)."""
    keep = scores[row, ids].clone()
    scores[row] = float("-inf")
    scores[row, ids] = keep


class ToolCallConstraint(LogitsProcessor):
    """Masks the logits of each batch row to the tokens its matcher allows.

    `rows[i]` is None for an unconstrained row. Tokens are fed to the matchers
    one step late: at step t the processor first consumes the token chosen at
    step t-1 (the last column of `input_ids`), then masks. Rows whose remaining
    budget is within their closing reserve may be steered onto `policy`'s closing path
    (near its length, or where the best allowed token would leave no path that fits: the
    callers decode greedily); a hermes row within its closing margin that has just closed
    a call block ends (its stop tokens only) rather than open another block that could
    not close in time.
    """

    def __init__(self, rows: list[RowConstraint | None], prompt_len: int, max_new_tokens: int,
                 policy: ClosingPolicy, tokenizer):
        import llguidance.torch as llt

        self.llt = llt
        self.rows = rows
        self.prompt_len = prompt_len
        self.max_new_tokens = max_new_tokens
        self.policy = policy
        self.stop_ids = stop_ids(tokenizer)
        self.bitmask = None
        self.seconds = 0.0  # time spent here, for benchmarks/decoding.py

    def model_pick(self, scores: torch.Tensor, i: int) -> int:
        """The best token row i's grammar allows (`scores`: its (vocab,) logits, unmasked)."""
        allowed = _allowed(self.bitmask[i], scores.numel())  # (vocab,)
        return int(torch.where(allowed, scores.float().cpu(), torch.tensor(float("-inf"))).argmax())

    def model_fits(self, row: RowConstraint, token: int, first: int, remaining: int) -> bool:
        """Whether `token` (the best one the row's grammar allows: `model_pick`) leaves a closing path
        within the rest of the budget. `first` (the path's own next token) always does."""
        return token == first or self.policy.fits_after(row.matcher, token, row.nesting[1], remaining - 1, self.llt)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        # scores: (B, vocab)
        import time

        start = time.perf_counter()
        if self.bitmask is None:
            self.bitmask = self.llt.allocate_token_bitmask(len(self.rows), scores.shape[-1])
        step = input_ids.shape[1] - self.prompt_len
        remaining = self.max_new_tokens - step  # tokens left, this one included
        for i, row in enumerate(self.rows):
            matcher = None if row is None else row.matcher
            if matcher is not None and step > 0 and not matcher.is_stopped():
                token = int(input_ids[i, -1])
                matcher.consume_token(token)
                self._advance(row, self.policy.texts[token])
            if matcher is None or matcher.is_error():
                self.bitmask[i] = -1  # all bits set: every token allowed (an unconstrained row)
                continue
            self.llt.fill_next_token_bitmask(matcher, self.bitmask, i)
            if matcher.is_accepting():
                row.unwatch()  # a hermes call that opens after this one is watched from its margin
                if row.chat and remaining <= row.close_margin and row.closed_call():
                    row.budget_cut |= self.model_pick(scores[i], i) not in self.stop_ids
                    _keep_only(scores, i, self.stop_ids)  # near the end, after a block: stop
            elif remaining <= row.reserve():
                # near the end of the budget: how many tokens would closing take from here?
                needed, first = self.policy.path(matcher, row.nesting[1], remaining, self.llt)
                # watched at every step from now until the call closes: a step left unwatched
                # could take a token after which no path fits
                row.watch, row.watch_depth = remaining, row.nesting[0]
                if first is not None:
                    pick = self.model_pick(scores[i], i)
                    if remaining <= needed + CLOSE_SLACK or not self.model_fits(row, pick, first, remaining):
                        row.budget_cut |= pick != first
                        _keep_only(scores, i, [first])  # follow the closing path
        self.llt.apply_token_bitmask_inplace(scores, self.bitmask.to(scores.device))
        for i, row in enumerate(self.rows):
            if row is not None and row.copy_margin and self._weighs_copy(row, remaining):
                self._weigh_copy(row, scores, i)
            if row is not None and row.optional_margin and self._weighs_arguments(row, remaining):
                self._weigh_arguments(row, scores, i)
            if row is not None and row.next_call_margin is not None and self._weighs_calls(row, remaining):
                self._weigh_calls(row, scores, i)
        self.seconds += time.perf_counter() - start
        return scores

    @staticmethod
    def _advance(row: RowConstraint, text: str) -> None:
        """Follow one consumed token's text: nesting, and whether an opening level starts a call
        (a hermes row: right after its `<tool_call>` tag; a paper row: always)."""
        opened = row.nesting[0] == 0
        if row.copy_margin:
            row.values = (ValueState() if row.nesting == NO_NESTING else row.values).feed(text)
        row.nesting = nesting_after(text, row.nesting)
        row.recent = (row.recent + text)[-64:]
        if opened and row.nesting[0] > 0:
            row.in_call = not row.chat or TOOL_CALL_OPEN in row.recent

    @staticmethod
    def _weighs_arguments(row: RowConstraint, remaining: int) -> bool:
        """Whether the row stands inside a call's arguments object (or one of its values: `]}` and `],`
        end a list and choose), free to choose (not within its closing reserve, which must be free
        to close)."""
        matcher = row.matcher
        return (row.in_call and row.nesting[0] >= ARGUMENTS_DEPTH and matcher is not None
                and not matcher.is_stopped() and not matcher.is_error() and not matcher.is_accepting()
                and remaining > row.reserve())

    def _weigh_arguments(self, row: RowConstraint, scores: torch.Tensor, i: int) -> None:
        """The optional-argument margin on masked `scores[i]`: where greedy would close the arguments
        object or add to it and the other is allowed too, keep only the best token of the kind that
        wins log p(more) + M > log p(close)."""
        best = int(scores[i].argmax())
        kind = argument_step(self.policy.texts[best], row.nesting)
        if kind is None:
            return
        other = "more" if kind == "close" else "close"
        candidates = self.policy.separators.to(scores.device)
        values = scores[i, candidates]
        alternative = None
        for j in torch.argsort(values, descending=True).tolist():
            if not float(values[j]) > -1e30:
                break  # the rest are masked out (-inf)
            token = int(candidates[j])
            if argument_step(self.policy.texts[token], row.nesting) == other:
                alternative = token
                break
        if alternative is None:
            return
        more, close = (alternative, best) if other == "more" else (best, alternative)
        choice = more if float(scores[i, more]) + row.optional_margin > float(scores[i, close]) else close
        if choice != best:
            _keep_only(scores, i, [choice])

    @staticmethod
    def _weighs_copy(row: RowConstraint, remaining: int) -> bool:
        """Whether the row writes (or is about to write) an argument's value, free to choose (not
        within its closing reserve)."""
        matcher = row.matcher
        return (row.in_call and len(row.values.stack) >= ARGUMENTS_DEPTH and row.values.at_value
                and matcher is not None and not matcher.is_stopped() and not matcher.is_error()
                and remaining > row.reserve())

    def _weigh_copy(self, row: RowConstraint, scores: torch.Tensor, i: int) -> None:
        """The copy margin on masked `scores[i]`: add it to each of the `COPY_TOP_K` best allowed tokens
        that keeps the value a copy from the request (`copying.copy_bonus`)."""
        values, tokens = torch.topk(scores[i], min(COPY_TOP_K, scores.shape[-1]))
        tokens = [int(t) for t, v in zip(tokens.tolist(), values.tolist()) if v > -1e30]
        flags = copy_bonus(row.values, row.copy_source, [self.policy.texts[t] for t in tokens])
        for token, flag in zip(tokens, flags):
            if flag:
                scores[i, token] += row.copy_margin

    @staticmethod
    def _weighs_calls(row: RowConstraint, remaining: int) -> bool:
        """Whether a hermes row has just closed a call block and may end or open another, free to
        choose (beyond its closing margin, within which it stops)."""
        matcher = row.matcher
        return (row.chat and matcher is not None and not matcher.is_stopped() and not matcher.is_error()
                and matcher.is_accepting() and row.closed_call() and remaining > row.close_margin)

    def _weigh_calls(self, row: RowConstraint, scores: torch.Tensor, i: int) -> None:
        """The next-call margin on masked `scores[i]`: keep only the best stop token or the best token
        that begins another call, whichever wins log p(another) + M > log p(end). Nothing to weigh where
        the grammar allows only one of them (`parallel` off: only the end)."""
        row_scores = scores[i]
        stops = torch.tensor(self.stop_ids, device=row_scores.device)
        end = int(stops[int(row_scores[stops].argmax())])
        others = row_scores.clone()
        others[stops] = float("-inf")
        another = int(others.argmax())
        if not (float(row_scores[end]) > -1e30 and float(others[another]) > -1e30):
            return
        choice = another if float(row_scores[another]) + row.next_call_margin > float(row_scores[end]) else end
        _keep_only(scores, i, [choice])  # a beam too keeps only the choice (greedy would take it anyway)
