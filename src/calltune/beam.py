"""Beam search: the answer the model finds most likely as a whole, within the grammar.

Greedy decoding commits to one token at a time. Under a grammar that commits can force a path the model
never meant: a model that writes a date's day as `3` where the schema's pattern wants two digits must then
put a second digit after it (`2026-11-30` for "November 3"), although `03` was its second choice one token
earlier. A beam of K keeps the K best prefixes by the sum of the model's own log-probabilities (its softmax
over the whole vocabulary, before the grammar masks: a token the grammar forces where the model wanted
something else pays for what it took away) and returns the finished answer whose sum is highest, the
answer's probability under the model; or, with a length penalty A (`--length-penalty`, Hugging Face's
`length_penalty`), whose sum / n^A is highest (n its tokens), so that a longer answer (one more call in a
list, a stated optional argument) is not passed over only for having more tokens to pay for. Each beam
carries its own copy of the row's constraint (`constrain.RowConstraint`, the matcher deep-copied), so every
margin and the closing reserve act per beam as they do for a greedy row (a next-call margin holds each beam
to its choice after a call: `constrain`); under an abstention margin the branch is chosen first, once per
answer (`abstain.decide`), and the beams decode within it. With `distinct_calls` (`--distinct-calls`) a beam whose
newest call repeats one it has already written (the same name and arguments: a small model's degenerate loop,
"the same but for a sample size of 150" answered with the first call again) is not kept; the beams that ask
something else, and the answers that ended before it, go on as before, and only when nothing else is left does
the answer end before the repeated call (`_repeat_cut`).

Several prompts at a time (`beam_generate_batch`, left padded as greedy batches are): each prompt is
computed once and its cache copied to its beams, and every prompt's beams are rows of one forward pass per
step (on this CPU a step is bound by reading the weights, so more rows cost little more: 26 BFCL prompts took
94 s in batches of 8, against about 9 s each alone), each prompt's search ended on its own; a prompt's answer is
the one it gets alone (tests). A beam ends at a stop token (`constrain.stop_ids`: the end of the hermes turn);
a search ends when no unfinished beam can still beat the best finished answer (a sum of log-probabilities only
falls as tokens are added; for A > 0, Hugging Face's default rule: `_over`) or at the budget, where an
unfinished beam counts only if nothing finished (`Generation.at_budget`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch

from calltune.chat.parse import CLOSE, repeated_call
from calltune.generate import Generation, cut_turn


def _copy_row(row):
    """An independent copy of a `RowConstraint` (None stays None): its matcher deep-copied, the rest
    immutable values copied by reference (`copy.copy`: no `__post_init__`, so the reserve stays)."""
    if row is None:
        return None
    twin = copy.copy(row)
    twin.matcher = row.matcher.deep_copy()
    return twin


def beam_generate(model, tokenizer, prompt: str, max_new_tokens: int, num_beams: int, row=None, grammars=None,
                  timing: dict | None = None, length_penalty: float = 0.0, distinct_calls: bool = False) -> Generation:
    """Decode one hermes prompt with a beam of `num_beams` (see the module docstring). `row`: the prompt's
    `RowConstraint` from `grammars` (a `GrammarCache`), or None for unconstrained decoding; `length_penalty`: A,
    finished answers ranked by sum / n^A (0: the sum); `distinct_calls`: no beam repeats a call."""
    return beam_generate_batch(model, tokenizer, [prompt], max_new_tokens, num_beams, [row], grammars, timing,
                               length_penalty, distinct_calls)[0]


class _RepeatCheck:
    """Whether a beam's newest token completes a call that repeats an earlier one of its answer, and where the
    answer would end without it. Only tokens that can complete a call's JSON or its `</tool_call>` (a `}` or
    `>` in their text) are decoded and read (`chat.parse.repeated_call`)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.closers = frozenset(i for i, piece in enumerate(pieces) if piece and ("}" in piece or ">" in piece))

    def __call__(self, tokens: list[int]) -> int | None:
        """None when `tokens` (a beam's answer so far, its newest token last) does not end a repeated call;
        otherwise `_repeat_cut`'s count of first tokens that end the answer before it. Where no token boundary
        ends the answer there (a token that spans the two blocks) the repeat is let be: None."""
        if tokens[-1] not in self.closers:
            return None
        start = repeated_call(self.tokenizer.decode(tokens, skip_special_tokens=False))
        return None if start is None else _repeat_cut(self.tokenizer, tokens, start) or None


def _repeat_cut(tokenizer, tokens: list[int], start: int) -> int:
    """The most first tokens of `tokens` whose text ends with a `</tool_call>` (whitespace after it allowed)
    before character `start` (where the repeated call begins): the answer up to the call before it. 0 when no
    such cut exists (a token that spans the two blocks)."""
    for n in range(len(tokens) - 1, 0, -1):
        head = tokenizer.decode(tokens[:n], skip_special_tokens=False)
        if len(head) <= start and head.rstrip().endswith(CLOSE):
            return n
    return 0


@dataclass
class _Search:
    """One prompt's search: its live beams (generated tokens, the constraint as it stood before the last
    token, the sum of log-probabilities) and the answers that ended."""
    beams: list[tuple[list[int], object, float]]
    finished: list[tuple[float, list[int], object]] = field(default_factory=list)


def _step(search: _Search, total: torch.Tensor, rows: list, first: int, num_beams: int, stops,
          length_penalty: float, repeats: _RepeatCheck | None = None) -> list[int]:
    """Advance one prompt's search by a step. `total`: (its beams, vocab) sums of log-probabilities with the
    grammar applied; `rows`: its beams' constraints after their last token; `first`: the global index of its
    first beam; `length_penalty`: A, a finished answer of n tokens (its stop token included) scores sum / n^A;
    `repeats`: with `--distinct-calls`, a candidate that repeats a call is not kept, and when no beam is kept and
    nothing has finished, the answers cut before their repeated calls finish (with the repeating beam's sum).
    Returns the global parent index of each beam kept (none once the search is over)."""
    flat = total.flatten()
    n_ok = int(torch.isfinite(flat).sum())
    if n_ok == 0:  # no token allowed to any beam: the search ends with the beams it has
        return []
    values, indices = torch.topk(flat, min(2 * num_beams, n_ok))
    vocab = total.shape[1]
    keep, parents, cut = [], [], []
    for value, index in zip(values.tolist(), indices.tolist()):
        beam, token = divmod(index, vocab)
        tokens = search.beams[beam][0]
        if token in stops:
            search.finished.append((value / (len(tokens) + 1) ** length_penalty, tokens, rows[beam]))
        elif len(keep) < num_beams:
            n = None if repeats is None else repeats(tokens + [token])
            if n is not None:
                cut.append((value / (n + 1) ** length_penalty, tokens[:n], rows[beam]))
                continue
            keep.append((tokens + [token], rows[beam], value))
            parents.append(first + beam)
    if not keep and not search.finished:
        search.finished += cut
    if not keep or _over(search.finished, keep, num_beams, length_penalty):
        search.beams = []
        return []
    search.beams = keep
    return parents


def _over(finished: list, keep: list, num_beams: int, length_penalty: float) -> bool:
    """Whether a search is over: no live beam (`keep`, all of one length) can still beat the finished answers.
    A <= 0: exact, as a live beam's score only falls as it grows (its sum falls, n^A does not shrink it): over
    once the best finished answer scores at least the best live beam's sum / length^A. A > 0: a longer answer
    can score higher than its prefix, so, as Hugging Face's beam search by default (early_stopping=False),
    over once K answers have finished and the K-th best of them scores at least that bound."""
    bound = keep[0][2] / len(keep[0][0]) ** length_penalty
    scores = sorted((f[0] for f in finished), reverse=True)
    if length_penalty <= 0:
        return bool(scores) and scores[0] >= bound
    return len(scores) >= num_beams and scores[num_beams - 1] >= bound


def _answer(search: _Search, odds, tokenizer) -> Generation:
    if search.finished:
        _, ids, state = max(search.finished, key=lambda f: f[0])
        at_budget = bool(state is not None and state.budget_cut)
    else:  # the budget ended every beam: the best unfinished one, cut
        ids = search.beams[0][0] if search.beams else []
        at_budget = True
    text = tokenizer.decode(ids, skip_special_tokens=False)
    return Generation(cut_turn(text), len(ids), tuple(ids), odds, at_budget)


def beam_generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int, num_beams: int,
                        rows: list | None = None, grammars=None, timing: dict | None = None,
                        length_penalty: float = 0.0, distinct_calls: bool = False) -> list[Generation]:
    """Decode several hermes prompts, each with its own beam of `num_beams`, in one batch (`beam_search`).
    `rows`: each prompt's `RowConstraint` from `grammars` (a `GrammarCache`), or None (unconstrained)."""
    enc = tokenizer(prompts, return_tensors="pt", padding=len(prompts) > 1, add_special_tokens=False)
    enc = {k: v.to(model.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
    return beam_search(model, tokenizer, enc, max_new_tokens, num_beams, rows, grammars, timing, length_penalty,
                       distinct_calls)


@torch.inference_mode()
def beam_search(model, tokenizer, enc: dict, max_new_tokens: int, num_beams: int, rows: list | None = None,
                grammars=None, timing: dict | None = None, length_penalty: float = 0.0,
                distinct_calls: bool = False) -> list[Generation]:
    """Beam search over a left-padded batch of prompts (`enc`: `input_ids` and `attention_mask`), each prompt
    with its own beams: positions counted from each prompt's first token (as `model.generate` does), every
    prompt's beams rows of one forward pass per step, each search ended on its own (see the module
    docstring). The answers are each prompt's own beam search; only the floating-point order of a batched
    forward pass differs. `rows`: each prompt's `RowConstraint` from `grammars`, or None (unconstrained).
    `timing`, if given, accumulates `steps`, `constraint_s` where it has it (seconds spent masking) and, under a
    margin, `abstain.decide`'s counts."""
    from calltune.abstain import decide, left_padded_positions
    from calltune.constrain import ToolCallConstraint, stop_ids

    stops = stop_ids(tokenizer)
    repeats = _RepeatCheck(tokenizer) if distinct_calls else None
    n_prompts, prompt_len = enc["input_ids"].shape
    rows = list(rows) if rows is not None else [None] * n_prompts
    odds = [None] * n_prompts
    processor = None
    if any(row is not None for row in rows):
        rows = decide(model, tokenizer, enc, rows, timing, odds)
        processor = ToolCallConstraint(rows, prompt_len, max_new_tokens, grammars.policy, tokenizer)
    mask = enc["attention_mask"]
    positions = left_padded_positions(mask)
    out = model(**enc, position_ids=positions, use_cache=True, logits_to_keep=1)
    cache, logits = out.past_key_values, out.logits[:, -1, :]
    searches = [_Search([([], row, 0.0)]) for row in rows]
    live = list(range(n_prompts))  # the prompts still searching; the batch's rows are their beams, in order
    last_position = positions[:, -1]
    steps = 0
    for step in range(max_new_tokens):
        logp = torch.log_softmax(logits.float(), dim=-1).cpu()  # (rows, vocab): the model's own
        beams = [beam for p in live for beam in searches[p].beams]
        states = [_copy_row(state) for _, state, _ in beams]
        if processor is not None:
            processor.rows, processor.bitmask = states, None
            # the processor reads only the length (the step) and the last column (each beam's last token)
            ids = torch.zeros(len(states), prompt_len + step, dtype=torch.long)
            if step:
                ids[:, -1] = torch.tensor([tokens[-1] for tokens, _, _ in beams])
            logp = processor(ids, logp)  # consumes each beam's last token into its copy, then masks
        total = torch.tensor([value for _, _, value in beams])[:, None] + logp
        parents, first, going = [], 0, []
        for p in live:
            n = len(searches[p].beams)
            kept = _step(searches[p], total[first:first + n], states[first:first + n], first, num_beams, stops,
                         length_penalty, repeats)
            parents += kept
            going += [p] if kept else []
            first += n
        steps += 1
        live = going
        if not live:
            break
        index = torch.tensor(parents, device=model.device)
        cache.reorder_cache(index)
        mask = torch.cat([mask[index], mask.new_ones(len(parents), 1)], dim=1)
        last_position = last_position[index] + 1
        new = torch.tensor([[tokens[-1]] for p in live for tokens, _, _ in searches[p].beams], device=model.device)
        logits = model(input_ids=new, attention_mask=mask, position_ids=last_position[:, None],
                       past_key_values=cache, use_cache=True).logits[:, -1, :]
    if timing is not None:
        timing["steps"] = timing.get("steps", 0) + steps
        if processor is not None and "constraint_s" in timing:
            timing["constraint_s"] += processor.seconds
    return [_answer(search, log_odds, tokenizer) for search, log_odds in zip(searches, odds)]
