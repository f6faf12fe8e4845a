"""Beam search: the answer the model finds most likely as a whole, within the grammar.

Greedy decoding commits to one token at a time. Under a grammar that commits can force a path the model
never meant: a model that writes a date's day as `3` where the schema's pattern wants two digits must then
put a second digit after it (`2026-11-30` for "November 3"), although `03` was its second choice one token
earlier. A beam of K keeps the K best prefixes by the sum of the model's own log-probabilities (its softmax
over the whole vocabulary, before the grammar masks: a token the grammar forces where the model wanted
something else pays for what it took away) and returns the finished answer whose sum is highest, the
answer's probability under the model. Each beam carries its own copy of the row's constraint
(`constrain.RowConstraint`, the matcher deep-copied), so every margin and the closing reserve act per beam
as they do for a greedy row; under an abstention margin the branch is chosen first, once per answer
(`abstain.decide`), and the beams decode within it.

One prompt at a time: the prompt is computed once and its cache copied to the beams. A beam ends at a stop
token (`constrain.stop_ids`: the end of the hermes turn); the search ends when no unfinished beam can still
beat the best finished answer (a sum of log-probabilities only falls as tokens are added) or at the budget,
where an unfinished beam counts only if nothing finished (`Generation.at_budget`).
"""

from __future__ import annotations

import copy

import torch

from calltune.generate import Generation, cut_turn


def _copy_row(row):
    """An independent copy of a `RowConstraint` (None stays None): its matcher deep-copied, the rest
    immutable values copied by reference (`copy.copy`: no `__post_init__`, so the reserve stays)."""
    if row is None:
        return None
    twin = copy.copy(row)
    twin.matcher = row.matcher.deep_copy()
    return twin


@torch.inference_mode()
def beam_generate(model, tokenizer, prompt: str, max_new_tokens: int, num_beams: int, row=None, grammars=None,
                  timing: dict | None = None) -> Generation:
    """Decode one hermes prompt with a beam of `num_beams` (see the module docstring). `row`: the prompt's
    `RowConstraint` from `grammars` (a `GrammarCache`), or None for unconstrained decoding."""
    from calltune.constrain import ToolCallConstraint, stop_ids

    stops = stop_ids(tokenizer)
    enc = tokenizer([prompt], return_tensors="pt", add_special_tokens=False)
    enc = {k: v.to(model.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
    prompt_len = enc["input_ids"].shape[1]
    odds = [None]
    processor = None
    if row is not None:
        from calltune.abstain import decide

        row = decide(model, tokenizer, enc, [row], timing, odds)[0]
        processor = ToolCallConstraint([row], prompt_len, max_new_tokens, grammars.policy, tokenizer)
    out = model(**enc, use_cache=True, logits_to_keep=1)
    cache, logits = out.past_key_values, out.logits[:, -1, :]
    # each beam: its generated tokens and its constraint as it stood before its last token
    beams: list[tuple[list[int], object]] = [([], row)]
    scores = torch.zeros(1, dtype=torch.float32)
    finished: list[tuple[float, list[int], object]] = []
    steps = 0
    for step in range(max_new_tokens):
        logp = torch.log_softmax(logits.float(), dim=-1).cpu()  # (k, vocab): the model's own
        masked = logp.clone()
        rows = [_copy_row(state) for _, state in beams]
        if processor is not None:
            processor.rows, processor.bitmask = rows, None
            # the processor reads only the length (the step) and the last column (each beam's last token)
            ids = torch.zeros(len(beams), prompt_len + step, dtype=torch.long)
            if step:
                ids[:, -1] = torch.tensor([tokens[-1] for tokens, _ in beams])
            masked = processor(ids, masked)  # consumes each beam's last token into its copy, then masks
        total = scores[:, None] + masked  # (k, vocab)
        flat = total.flatten()
        n_ok = int(torch.isfinite(flat).sum())
        if n_ok == 0:
            break
        values, indices = torch.topk(flat, min(2 * num_beams, n_ok))
        vocab = masked.shape[1]
        keep, parents = [], []
        for value, index in zip(values.tolist(), indices.tolist()):
            beam, token = divmod(index, vocab)
            tokens = beams[beam][0] + [token]
            if token in stops:
                finished.append((value, beams[beam][0], rows[beam]))
            elif len(keep) < num_beams:
                keep.append((tokens, rows[beam], value))
                parents.append(beam)
        steps += 1
        best_done = max((f[0] for f in finished), default=float("-inf"))
        if not keep or best_done >= keep[0][2]:
            beams = []
            break
        beams = [(tokens, state) for tokens, state, _ in keep]
        scores = torch.tensor([value for _, _, value in keep], dtype=torch.float32)
        cache.reorder_cache(torch.tensor(parents, device=model.device))
        new = torch.tensor([[tokens[-1]] for tokens, _ in beams], device=model.device)
        logits = model(input_ids=new, past_key_values=cache, use_cache=True).logits[:, -1, :]
    if timing is not None:
        timing["steps"] = timing.get("steps", 0) + steps
    if finished:
        _, ids, state = max(finished, key=lambda f: f[0])
        at_budget = bool(state is not None and state.budget_cut)
    else:  # the budget ended every beam: the best unfinished one, cut
        ids, state = beams[0] if beams else ([], row)
        at_budget = True
    text = tokenizer.decode(ids, skip_special_tokens=False)
    return Generation(cut_turn(text), len(ids), tuple(ids), odds[0], at_budget)
