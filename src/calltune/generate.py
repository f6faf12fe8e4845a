"""Batched greedy decoding.

Prompts are sorted by length and batched with left padding (less padding, same
results). In the `paper`/`chat` styles (`stop="json"`) each sequence stops at EOS or
as soon as the generated text contains a complete JSON object
(`extract.first_json_object`), so no tokens are wasted after the closing brace. In the
`hermes` style (`stop="turn"`) the answer is a whole assistant turn (text, or several
`<tool_call>` blocks), which ends at EOS or at `<|im_end|>` (a token where the
vocabulary has it, else the text: the tiny test models spell it out).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from calltune.extract import first_json_object


@dataclass(frozen=True)
class Generation:
    text: str
    new_tokens: int
    ids: tuple[int, ...] = ()
    log_odds: float | None = None
    """Under an abstention margin: the answer's call-branch log-odds (`abstain.Branches.log_odds`)."""
    at_budget: bool = False
    """Whether the budget, not the model, ended the answer: it ran out of new tokens, or (constrained)
    it was made to stop or close a call where the model would have gone on (`RowConstraint.budget_cut`)."""


END_OF_TURN = "<|im_end|>"


def cut_turn(text: str) -> str:
    """A hermes answer up to (without) its end of turn."""
    return text.split(END_OF_TURN, 1)[0]


class SequenceDone(StoppingCriteria):
    """Per-sequence stop: `stop="json"` once the generated part holds a complete JSON object,
    `stop="turn"` once it holds `<|im_end|>` (the hermes style)."""

    def __init__(self, tokenizer, prompt_len: int, stop: str):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.stop = stop

    def _done(self, row: torch.Tensor) -> bool:
        if self.stop == "turn":
            return END_OF_TURN in self.tokenizer.decode(row[-8:], skip_special_tokens=False)
        last = self.tokenizer.decode(row[-1:], skip_special_tokens=True)
        return "}" in last and first_json_object(self.tokenizer.decode(row, skip_special_tokens=True)) is not None

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        generated = input_ids[:, self.prompt_len:]  # (B, t)
        return torch.tensor([self._done(row) for row in generated], dtype=torch.bool, device=input_ids.device)


@torch.inference_mode()
def generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int,
                   constraint: tuple[list, object] | None = None, timing: dict | None = None,
                   stop: str = "json") -> list[Generation]:
    """Greedy-decode one batch of prompts (left padded). `constraint = (rows, grammars)`, with
    one `constrain.RowConstraint` (or None) per prompt and their `GrammarCache`, turns on
    grammar-constrained decoding; a row with an abstention margin first takes its text or calls
    branch (`abstain.decide`). `stop`: `json` (at the first complete JSON object) or `turn`
    (at the end of the assistant turn: the hermes style). `timing`, if given, accumulates
    `steps` (forward passes), `constraint_s` (seconds spent masking) and, under a margin,
    `abstain_decided` / `abstained` (answers weighed / sent to text)."""
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    enc = {k: v.to(model.device) for k, v in enc.items()}
    prompt_len = enc["input_ids"].shape[1]
    processors, odds, rows = None, [None] * len(prompts), [None] * len(prompts)
    if constraint is not None and any(r is not None for r in constraint[0]):
        from transformers import LogitsProcessorList

        from calltune.abstain import decide
        from calltune.constrain import ToolCallConstraint

        rows, grammars = constraint
        rows = decide(model, tokenizer, enc, rows, timing, odds)  # auto rows under a margin: text or calls
        processors = LogitsProcessorList([
            ToolCallConstraint(rows, prompt_len, max_new_tokens, grammars.policy, tokenizer)])
    turn = stop == "turn"
    stops = [tokenizer.eos_token_id]
    if turn:
        from calltune.constrain import stop_ids

        stops = stop_ids(tokenizer)
    out = model.generate(
        **enc, do_sample=False, max_new_tokens=max_new_tokens, logits_processor=processors,
        stopping_criteria=StoppingCriteriaList([SequenceDone(tokenizer, prompt_len, stop)]),
        pad_token_id=tokenizer.pad_token_id, eos_token_id=stops if turn else stops[0],
        temperature=None, top_p=None, top_k=None)
    if timing is not None:
        timing["steps"] = timing.get("steps", 0) + out.shape[1] - prompt_len
        timing["constraint_s"] = timing.get("constraint_s", 0.0) + (processors[0].seconds if processors else 0.0)
    results = []
    for row, log_odds, rc in zip(out[:, prompt_len:], odds, rows):  # (B, new)
        ids = row.tolist()
        # tokens after EOS / the stop are padding (pad == eos for the embedded model)
        end = next((i for i, tok in enumerate(ids) if tok in stops), None)
        ids = ids if end is None else ids[:end]
        # hermes keeps special tokens: a tokenizer may hold `<tool_call>` as one
        text = tokenizer.decode(ids, skip_special_tokens=not turn)
        # ended by the model: an end token, or (a vocabulary without one, or padding that is not an
        # end token) the stop criterion's own test
        ended = end is not None or (END_OF_TURN in tokenizer.decode(ids, skip_special_tokens=False) if turn
                                    else first_json_object(text) is not None)
        at_budget = (not ended and len(ids) >= max_new_tokens) or (rc is not None and rc.budget_cut)
        results.append(Generation(cut_turn(text) if turn else text, len(ids), tuple(ids), log_odds, at_budget))
    return results


def generate_all(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, batch_size: int = 8,
                 skip: set[int] = frozenset(), on_batch: Callable[[list[int], list[Generation]], None] | None = None,
                 progress: bool = True, constrain: Callable[[int], object] | None = None,
                 grammars=None, stop: str = "json", num_beams: int = 1, length_penalty: float = 0.0,
                 distinct_calls: bool = False) -> dict:
    """Generate for every prompt index not in `skip`, longest first, calling `on_batch(indices,
    generations)` after each batch. For constrained decoding, `constrain(i)` gives prompt i's
    `RowConstraint` from `grammars` (a `GrammarCache`). `num_beams` above 1 (hermes, `stop="turn"`):
    beam search, `batch_size` prompts at a time, each with its own beams (`beam.beam_generate_batch`),
    finished answers ranked by sum / n^`length_penalty`, with `distinct_calls` no beam repeating a call.
    Returns timing stats."""
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]
    todo = sorted((i for i in range(len(prompts)) if i not in skip), key=lambda i: -lengths[i])
    from tqdm import tqdm

    bar = tqdm(total=len(todo), desc="predict", unit="ex", disable=not progress, dynamic_ncols=True)
    start, new_tokens, timing = time.perf_counter(), 0, {"steps": 0, "constraint_s": 0.0}
    for lo in range(0, len(todo), batch_size):
        idx = todo[lo: lo + batch_size]
        rows = None if constrain is None else [constrain(i) for i in idx]
        if num_beams > 1:
            from calltune.beam import beam_generate_batch

            gens = beam_generate_batch(model, tokenizer, [prompts[i] for i in idx], max_new_tokens, num_beams, rows,
                                       grammars, timing, length_penalty, distinct_calls)
        else:
            constraint = None if rows is None else (rows, grammars)
            gens = generate_batch(model, tokenizer, [prompts[i] for i in idx], max_new_tokens, constraint, timing,
                                  stop)
        new_tokens += sum(g.new_tokens for g in gens)
        if on_batch is not None:
            on_batch(idx, gens)
        bar.update(len(idx))
    bar.close()
    seconds = time.perf_counter() - start
    return {"n_generated": len(todo), "seconds": round(seconds, 3), "new_tokens": new_tokens,
            "examples_per_s": round(len(todo) / seconds, 4) if seconds else None,
            "new_tokens_per_s": round(new_tokens / seconds, 3) if seconds else None,
            "max_prompt_tokens": max(lengths) if lengths else 0, "steps": timing["steps"],
            "constraint_s": round(timing["constraint_s"], 3),
            **{k: timing[k] for k in ("abstain_decided", "abstained") if k in timing}}
