"""Deterministic batch plans and the padding-only collator.

The plan for a whole run is computed up front from the seed: each epoch shuffles
the examples with its own `random.Random`, optionally groups them by length in
mega-batches (less padding), and cuts global batches of `batch_size * world_size`
that are shuffled again. Rank r takes slice r of every global batch. A resumed run
recomputes the same plan and skips the micro-batches already done.
"""

from __future__ import annotations

import math
import random

import torch

MEGABATCH = 32  # global batches per length-sorting window


def epoch_batches(lengths: list[int], batch_size: int, world_size: int, seed: int, epoch: int,
                  group_by_length: bool) -> list[list[int]]:
    """Global batches (lists of example indices) for one epoch; each has batch_size * world_size
    items (the last one is topped up from the start of the epoch's order)."""
    rng = random.Random(f"{seed}-{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = batch_size * world_size
    if len(order) % size:
        order += order[: size - len(order) % size]
    if group_by_length:
        window = size * MEGABATCH
        order = [i for lo in range(0, len(order), window)
                 for i in sorted(order[lo: lo + window], key=lambda i: -lengths[i])]
    batches = [order[lo: lo + size] for lo in range(0, len(order), size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def run_plan(lengths: list[int], batch_size: int, world_size: int, seed: int, epochs: float,
             max_steps: int | None, grad_accum: int, group_by_length: bool) -> list[list[int]]:
    """All global micro-batches of the run, `grad_accum` per optimizer step."""
    per_epoch = math.ceil(len(lengths) / (batch_size * world_size))
    if max_steps is None:
        max_steps = max(1, math.ceil(epochs * per_epoch / grad_accum))
    needed = max_steps * grad_accum
    plan, epoch = [], 0
    while len(plan) < needed:
        plan += epoch_batches(lengths, batch_size, world_size, seed, epoch, group_by_length)
        epoch += 1
    return plan[:needed]


def rank_slice(group: list[int], rank: int, batch_size: int) -> list[int]:
    """Rank `rank`'s micro-batch: its slice of a global micro-batch."""
    return group[rank * batch_size: (rank + 1) * batch_size]


def collate(sequences: list[list[int]], masks: list[list[int]], pad_id: int,
            weights: list[list[float] | None] | None = None) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sequence. Labels are -100 where the loss mask is 0 or padding;
    masking is by position only (the pad id may equal the EOS id that must be learned). With `weights`
    (one list per sequence, None for weight 1 wherever supervised) the batch also carries `weights` (B, T)."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)  # (B, T)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    labels = torch.full((len(sequences), width), -100, dtype=torch.long)
    for row, (seq, mask) in enumerate(zip(sequences, masks)):
        n = len(seq)
        ids[row, :n] = torch.tensor(seq)
        attention[row, :n] = 1
        labels[row, :n] = torch.tensor([tok if m else -100 for tok, m in zip(seq, mask)])
    batch = {"input_ids": ids, "attention_mask": attention, "labels": labels}
    if weights is not None:
        weight = torch.zeros((len(sequences), width), dtype=torch.float32)
        for row, (mask, w) in enumerate(zip(masks, weights)):
            weight[row, :len(mask)] = torch.tensor(w if w is not None else [float(bool(m)) for m in mask])
        batch["weights"] = weight
    return batch
