"""The KV cache of the sequences being decoded together, left-padded to one length.

Row i holds its `lengths[i]` real tokens at the right end of the time axis; the columns before
them are zeros that the attention mask hides. A row that joins is padded on the left to the
batch's length (or the batch to the row's); rows that leave are selected out, and columns no
row uses any more are cut from the left. Each row's positions count its real tokens only, so a
row decodes exactly as it would alone (and a prefix's KV is the same in any row).

Only full-attention layers (transformers' `DynamicLayer`) can be held this way: a sliding-window
cache drops old columns on its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from calltune.errors import CalltuneError
from calltune.serve.prefix_cache import Layers


def check_model(model) -> None:
    """Raise `CalltuneError` unless every layer of `model`'s cache is a plain full-attention layer."""
    cache = DynamicCache(config=model.config)
    kinds = {type(layer).__name__ for layer in cache.layers}
    if any(type(layer) is not DynamicLayer for layer in cache.layers):
        raise CalltuneError(f"calltune serve needs a model whose layers all use full attention; this one has "
                            f"{', '.join(sorted(kinds))}")


def layers_of(cache: DynamicCache) -> Layers:
    return [(item[0], item[1]) for item in cache]


class KVBatch:
    """The batch's cache (`cache`, a DynamicCache with (B, heads, T, head_dim) layers), its
    attention mask (B, T) and each row's real length (B,)."""

    def __init__(self, device):
        self.device = device
        self.cache: DynamicCache | None = None
        self.mask = torch.zeros(0, 0, dtype=torch.long, device=device)  # (B, T)
        self.lengths = torch.zeros(0, dtype=torch.long, device=device)  # (B,)

    def __len__(self) -> int:
        return self.mask.shape[0]

    def join(self, layers: Layers, length: int) -> None:
        """Append a row whose KV is `layers` ((1, heads, length, head_dim) each)."""
        width = self.mask.shape[1]
        if len(self) == 0:
            self.cache = DynamicCache(ddp_cache_data=layers)
            self.mask = torch.ones(1, length, dtype=torch.long, device=self.device)
            self.lengths = torch.tensor([length], device=self.device)
            return
        new_width = max(width, length)
        merged = []
        for (k, v), (nk, nv) in zip(layers_of(self.cache), layers):
            merged.append((torch.cat([_pad_left(k, new_width), _pad_left(nk, new_width)]),
                           torch.cat([_pad_left(v, new_width), _pad_left(nv, new_width)])))
        self.cache = DynamicCache(ddp_cache_data=merged)
        row = torch.ones(1, length, dtype=torch.long, device=self.device)
        self.mask = torch.cat([F.pad(self.mask, (new_width - width, 0)), F.pad(row, (new_width - length, 0))])
        self.lengths = torch.cat([self.lengths, torch.tensor([length], device=self.device)])

    def step_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """For a decode step of one token per row: the attention mask (B, T+1) and positions (B, 1).
        The mask is kept: call `advance()` after the forward pass."""
        ones = torch.ones(len(self), 1, dtype=torch.long, device=self.device)
        return torch.cat([self.mask, ones], dim=1), self.lengths[:, None]

    def advance(self, mask: torch.Tensor) -> None:
        self.mask = mask
        self.lengths = self.lengths + 1

    def row(self, i: int) -> Layers:
        """Row i's KV without padding: views (1, heads, lengths[i], head_dim)."""
        n = int(self.lengths[i])
        return [(k[i:i + 1, :, k.shape[2] - n:], v[i:i + 1, :, v.shape[2] - n:]) for k, v in layers_of(self.cache)]

    def keep(self, rows: list[int]) -> None:
        """Keep only `rows` (in this order); cut the columns no remaining row uses."""
        if not rows:
            self.__init__(self.device)
            return
        index = torch.tensor(rows, device=self.device)
        self.mask, self.lengths = self.mask[index], self.lengths[index]
        drop = self.mask.shape[1] - int(self.lengths.max())
        self.mask = self.mask[:, drop:]
        self.cache = DynamicCache(ddp_cache_data=[(k[index, :, drop:], v[index, :, drop:])
                                                  for k, v in layers_of(self.cache)])


def _pad_left(t: torch.Tensor, width: int) -> torch.Tensor:
    """(B, heads, T, head_dim) -> (B, heads, width, head_dim), zeros first."""
    return F.pad(t, (0, 0, width - t.shape[2], 0)) if t.shape[2] < width else t
