"""Draft tokens for the engine's speculative decode steps: guesses at what a row will say next,
which one forward pass then checks (`engine.Engine.step`). A guess costs little when it is wrong
(the row keeps its own token, as it would have chosen it anyway) and saves a whole decode step
for every token it gets right, and on a CPU a decode step costs about the same for one token as
for a few (it is bound by reading the weights, not by arithmetic).

Two sources, tried in this order:
- the grammar: what the row's matcher forces next (llguidance's `compute_ff_tokens`): the
  `{"name": "` after `<tool_call>`, the rest of a tool name once its first tokens tell it apart,
  `", "arguments": {"`, a required key's name, the closing `</tool_call>`;
- the context (prompt lookup decoding): the tokens that followed the most recent earlier
  occurrence of the row's last `n` tokens (n = 3, else 2, else 1), in the prompt or the answer so
  far: argument values copied from the request, a second call that repeats the first's structure.

Greedy answers do not change: a draft token is kept only where it equals the token the row picks
from the model's logits at that position (under its constraint).

How wide a step is (`StepWidth`): every row of a step is fed as many columns as the widest, so one
long guess makes the whole batch pay for its width. A step costs about `overhead + rows x width`
tokens' worth of compute (the weights are read once per step, then each fed token costs the same);
the step takes the width whose expected yield (each row's own token plus the draft tokens it is
expected to keep, from how often drafts of its source were kept at each position so far) per unit
of that cost is highest, and cuts longer drafts to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

NGRAMS = (3, 2, 1)  # the suffix lengths looked up, longest first


class ContextIndex:
    """Where each n-gram of a growing token sequence last occurred, for prompt lookup.

    `tokens` is the prompt followed by the answer so far (`extend` it as the row decodes);
    `lookup(k)` returns up to `k` tokens that followed the latest earlier occurrence of the
    sequence's last n tokens, for the longest n in `NGRAMS` that occurred before."""

    def __init__(self, tokens: list[int]):
        self.tokens = list(tokens)
        self.last: dict[tuple[int, ...], int] = {}  # n-gram -> end (exclusive) of its latest occurrence
        self.indexed = 0  # n-grams ending at or before this position are in `last`

    def extend(self, tokens: list[int]) -> None:
        self.tokens.extend(tokens)

    def _index_until(self, end: int) -> None:
        """Record the n-grams that end at positions (indexed, end]."""
        for stop in range(self.indexed + 1, end + 1):
            for n in NGRAMS:
                if stop >= n:
                    self.last[tuple(self.tokens[stop - n:stop])] = stop
        self.indexed = max(self.indexed, end)

    def lookup(self, k: int) -> list[int]:
        """Up to `k` tokens that followed the latest earlier occurrence of the last n tokens."""
        end = len(self.tokens)
        if k <= 0 or end < 2:
            return []
        self._index_until(end - 1)  # occurrences that end before the sequence does
        for n in NGRAMS:
            if end > n:
                stop = self.last.get(tuple(self.tokens[end - n:end]))
                if stop is not None:
                    return self.tokens[stop:stop + k]
        return []


def forced_tokens(matcher, pending: int | None, k: int) -> list[int]:
    """Up to `k` tokens the grammar forces after `pending` (the row's last chosen token, which its
    matcher has not consumed yet: `constrain.ToolCallConstraint` consumes one step late; None at
    the first step). The matcher is left as it was."""
    if k <= 0 or matcher.is_stopped() or matcher.is_error():
        return []
    if pending is None:
        return list(matcher.compute_ff_tokens())[:k]
    if matcher.try_consume_tokens([pending]) != 1:  # (never: the row chose it under this matcher's mask)
        return []
    try:
        return [] if matcher.is_stopped() else list(matcher.compute_ff_tokens())[:k]
    finally:
        matcher.rollback(1)


@dataclass(frozen=True)
class Draft:
    """A row's guesses for one step: `forced` when its grammar forces them (the row is bound to pick
    them), else a context lookup."""

    tokens: list[int]
    forced: bool


PRIOR_WEIGHT = 4.0  # pseudo-observations behind the prior keep rate of each draft position


class StepWidth:
    """Chooses each speculative step's width from the rows' drafts (module docstring). `overhead`:
    a forward pass's fixed cost in fed tokens' worth (`EngineConfig.draft_step_overhead`; inf: always
    the widest draft, as before the width was chosen). Keep rates are learnt per source (forced or
    lookup) and draft position, starting from 1 for forced tokens and 2^-(j+1) for lookups."""

    def __init__(self, max_drafts: int, overhead: float):
        self.overhead = overhead
        self.fed = {True: [0] * max_drafts, False: [0] * max_drafts}  # drafts with a token at position j
        self.kept = {True: [0] * max_drafts, False: [0] * max_drafts}  # ... whose tokens 0..j were all kept

    def rate(self, forced: bool, j: int) -> float:
        """Estimated probability that a draft of this source keeps its first j + 1 tokens."""
        prior = 1.0 if forced else 0.5 ** (j + 1)
        return (self.kept[forced][j] + PRIOR_WEIGHT * prior) / (self.fed[forced][j] + PRIOR_WEIGHT)

    def record(self, draft: Draft, kept: int) -> None:
        """A row was fed `draft` and kept its first `kept` tokens."""
        for j in range(len(draft.tokens)):
            self.fed[draft.forced][j] += 1
            self.kept[draft.forced][j] += j < kept

    def choose(self, drafts: list[Draft]) -> int:
        """Columns per row for the next step: 1 + the draft tokens fed to each row (at most)."""
        longest = max((len(d.tokens) for d in drafts), default=0)
        if longest == 0 or math.isinf(self.overhead):
            return 1 + longest
        gain = [0.0] * (longest + 1)  # gain[j]: expected tokens kept at position j - 1, over rows
        for d in drafts:
            for j in range(len(d.tokens)):
                gain[j + 1] += self.rate(d.forced, j)
        best, best_width, expected = -1.0, 1, float(len(drafts))
        for width in range(1, longest + 2):
            expected += gain[width - 1]
            value = expected / (self.overhead + len(drafts) * width)
            if value > best + 1e-12:
                best, best_width = value, width
        return best_width
