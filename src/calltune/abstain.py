"""Abstention: under hermes + constrained + tool_choice auto, let the no-call branch win when it is likely.

The auto grammar lets an answer be text or `<tool_call>` blocks, and greedy decoding picks token
by token; a tuned model almost never abstains. With a margin M (`--abstain-margin`), each such
answer first weighs its two branches, then decodes in the one chosen:

    text  if  log p(text) + M >= log p(call),   else calls

i.e. text unless the call branch's log-odds, log p(call) - log p(text), exceed M. M = 0 takes the
more likely branch; M > 0 favours text (abstaining), M < 0 favours calls. The margin is chosen on
synthetic dev data (`calltune calibrate-abstention`, `calibrate.py`), never on BFCL.

Both are probabilities under the constrained distribution that decoding follows (the model's
softmax renormalised over the tokens the auto grammar allows at each step). p(call): the answer
starts with the tokens of `<tool_call>` (`call_prefix_ids`). With SmolLM2's tokenizer the tag is
not a token but `<` `tool` `_` `call` `>`, and `<` may also start a text answer, so the branches
only part at the last of those tokens; one forward pass over the prompt plus the tag's tokens
gives every factor of p(call) at once. (A tokenizer holding `<tool_call>` as an added token, as
Qwen's does, has a one-token path.) p(text): the first token starts a text that does not open
with `<` (after whitespace). The rest of the mass, answers opening with `<` that do not spell the
tag, is neither: it is a model that means to call writing a call its own way (`<tool_call id=`,
`<tool_call call>`), which the text branch must not let through as an "abstention".

The chosen branch then decodes under the calls-only grammar (`required`, same `parallel`) or the
text-only grammar that may not open with `<` (`chat_grammar(abstaining=True)`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from calltune.chat.grammar import TOOL_CALL_OPEN


@dataclass(frozen=True)
class Branches:
    """One answer's branch log-probabilities (natural log, under the grammar's constraint; they sum
    to at most 1) and whether greedy decoding (no margin) would open a call: it follows the tag's
    tokens."""

    log_text: float
    log_call: float
    greedy_calls: bool

    @property
    def log_odds(self) -> float:
        """log p(call) - log p(text): the answer calls under margin M iff this exceeds M."""
        return self.log_call - self.log_text


def left_padded_positions(mask: torch.Tensor) -> torch.Tensor:
    """Each token's position counted from its row's first real token, as `model.generate` counts them under
    left padding (padding at 0: it is masked out)."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def takes_text(branches: Branches, margin: float) -> bool:
    """The decision rule: text when log p(text) + margin >= log p(call)."""
    return branches.log_text + margin >= branches.log_call


def call_prefix_ids(tokenizer) -> list[int]:
    """The tokens that spell `<tool_call>` at the start of an answer: the shortest prefix of the
    tokenized start of a call whose text holds the tag (a token may run past the `>`)."""
    ids = tokenizer(TOOL_CALL_OPEN + '\n{"name": "', add_special_tokens=False)["input_ids"]
    for n in range(1, len(ids) + 1):
        if tokenizer.decode(ids[:n], skip_special_tokens=False).startswith(TOOL_CALL_OPEN):
            return ids[:n]
    raise ValueError(f"the tokenizer cannot spell {TOOL_CALL_OPEN}")  # unreachable for a byte-level BPE


@torch.inference_mode()
def branch_logprobs(model, tokenizer, enc: dict, rows: list) -> list[Branches]:
    """Weigh the branches of a left-padded batch of prompts (`enc`: the tokenizer's `input_ids` and
    `attention_mask`, (B, T), on the model's device), one forward pass. `rows`: each prompt's auto
    `RowConstraint` with its `abstain` branches (matchers are copied, not advanced)."""
    import llguidance.torch as llt

    from calltune.closing import _allowed

    path = call_prefix_ids(tokenizer)
    n = len(path)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    b = ids.shape[0]
    feed = torch.tensor(path[:-1], dtype=ids.dtype, device=ids.device).expand(b, n - 1)  # the last is never fed
    ids = torch.cat([ids, feed], 1)
    mask = torch.cat([mask, torch.ones_like(feed)], 1)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=left_padded_positions(mask),
                   logits_to_keep=n).logits
    logprobs = torch.log_softmax(logits[:, -n:].float(), -1).cpu()  # (B, n, vocab): step k predicts path[k]
    vocab = logprobs.shape[-1]
    bitmask = llt.allocate_token_bitmask(1, vocab)
    out = []
    for i, row in enumerate(rows):
        llt.fill_next_token_bitmask(row.abstain.text.matcher.deep_copy(), bitmask, 0)
        text_allowed = _allowed(bitmask[0], vocab)
        matcher, log_call, greedy, log_text = row.matcher.deep_copy(), 0.0, True, float("-inf")
        for k, token in enumerate(path):
            llt.fill_next_token_bitmask(matcher, bitmask, 0)
            allowed = _allowed(bitmask[0], vocab)
            step = logprobs[i, k].masked_fill(~allowed, float("-inf"))
            if k == 0:  # the text branch's share of the first token's mass
                log_text = float(torch.logsumexp(step[text_allowed & allowed], 0) - torch.logsumexp(step, 0))
            if not allowed[token]:  # cannot happen under auto with tools; kept for safety
                log_call, greedy = float("-inf"), False
                break
            log_call += float(step[token] - torch.logsumexp(step, 0))
            greedy = greedy and int(step.argmax()) == token
            matcher.consume_token(token)
        out.append(Branches(log_text, log_call, greedy))
    return out


def decide(model, tokenizer, enc: dict, rows: list, timing: dict | None = None,
           odds: list | None = None) -> list:
    """Replace each row that carries `abstain` (a `constrain.BranchRows`) by its text-only or
    calls-only row, per `takes_text`; other rows (None included) stay. Counts the decisions in
    `timing` (`abstain_decided`, `abstained`). `odds`, if given, gets one entry per row: the weighed
    row's `Branches.log_odds`, None for a row not weighed (predictions record it, so that a run at
    margin M gives the answers at every margin above M: `calltune margin-sweep`)."""
    if odds is not None:
        odds[:] = [None] * len(rows)
    todo = [i for i, row in enumerate(rows) if row is not None and row.abstain is not None]
    if not todo:
        return rows
    sub = {k: v[todo] for k, v in enc.items() if k in ("input_ids", "attention_mask")}
    weighed = branch_logprobs(model, tokenizer, sub, [rows[i] for i in todo])
    rows = list(rows)
    for i, branches in zip(todo, weighed):
        split = rows[i].abstain
        text = takes_text(branches, split.margin)
        rows[i] = split.text if text else split.call
        if odds is not None:
            odds[i] = branches.log_odds
        if timing is not None:
            timing["abstain_decided"] = timing.get("abstain_decided", 0) + 1
            timing["abstained"] = timing.get("abstained", 0) + text
    return rows
