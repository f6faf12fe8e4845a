"""Reusable prompt prefixes: the KV cache of token sequences the engine has already computed.

Agent loops resend the same system text, tools and history every turn, and on a CPU the prompt
dominates the cost. Each entry holds the keys and values of one token sequence (a prompt as it
was prefilled, or a prompt with its finished answer); a new prompt reuses the longest prefix it shares with any entry, token for
token, and only the rest is computed. Keys are token ids, so reuse never depends on how text
was split: a shared token prefix has the same KV whatever follows it (causal attention, and
each row's positions start at 0).

Entries are bounded by bytes and evicted least recently used first. An entry whose tokens are a
prefix of a newly stored sequence is dropped (the new one serves everything it did), so a
conversation's turns keep one entry, not one per turn. Stored tensors are never modified: the
engine builds each new row from views of them and the model's cache concatenates into new tensors.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

Layers = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values, each (1, heads, T, head_dim)


def common_prefix(a: tuple[int, ...], b: list[int] | tuple[int, ...]) -> int:
    """Length of the longest common prefix of two token sequences (slice comparisons run in C)."""
    n = min(len(a), len(b))
    if tuple(a[:n]) == tuple(b[:n]):
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if tuple(a[lo:mid]) == tuple(b[lo:mid]):
            lo = mid
        else:
            hi = mid
    return lo


def nbytes(layers: Layers) -> int:
    return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)


@dataclass
class Entry:
    ids: tuple[int, ...]
    layers: Layers
    nbytes: int


class PrefixCache:
    """Token sequence -> its KV, LRU by bytes. `lookup` and `store` are called by the engine's thread
    only; `stats()` may be read from any thread (a snapshot of plain numbers)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.entries: OrderedDict[tuple[int, ...], Entry] = OrderedDict()
        self.bytes = 0
        self.lookups = self.hits = self.reused_tokens = self.computed_tokens = 0

    def lookup(self, ids: list[int]) -> tuple[int, Layers | None]:
        """The longest cached prefix of `ids`: `(n, layers cut to n tokens)`, or `(0, None)`."""
        self.lookups += 1
        best, best_n = None, 0
        for entry in self.entries.values():
            n = common_prefix(entry.ids, ids)
            if n > best_n:
                best, best_n = entry, n
        if best is None:
            return 0, None
        self.hits += 1
        self.entries.move_to_end(best.ids)
        return best_n, [(k[:, :, :best_n], v[:, :, :best_n]) for k, v in best.layers]

    def record(self, reused: int, computed: int) -> None:
        """Count a prefill: `reused` tokens came from the cache, `computed` went through the model."""
        self.reused_tokens += reused
        self.computed_tokens += computed

    def store(self, ids: list[int], layers: Layers) -> None:
        """Keep `layers` (the KV of exactly `ids`) for later prompts, evicting as needed."""
        size = nbytes(layers)
        if not ids or size > self.max_bytes:
            return
        key = tuple(ids)
        for old in [e for e in self.entries.values() if len(e.ids) <= len(key) and key[:len(e.ids)] == e.ids]:
            self._drop(old.ids)  # a prefix of the new sequence (or the same one): superseded
        while self.entries and self.bytes + size > self.max_bytes:
            self._drop(next(iter(self.entries)))
        self.entries[key] = Entry(key, layers, size)
        self.bytes += size

    def _drop(self, key: tuple[int, ...]) -> None:
        self.bytes -= self.entries.pop(key).nbytes

    def stats(self) -> dict:
        return {"entries": len(self.entries), "bytes": self.bytes, "max_bytes": self.max_bytes,
                "lookups": self.lookups, "hits": self.hits, "reused_tokens": self.reused_tokens,
                "computed_tokens": self.computed_tokens}
