"""The KV cache of the sequences being decoded together, left-padded to one length.

Row i holds its `lengths[i]` real tokens at the right end of the time axis; the columns before
them are zeros that the attention mask hides (as are the holes a speculative step may leave, below). A row that joins is padded on the left to the
batch's length (or the batch to the row's); rows that leave are selected out, and columns no
row uses any more are cut from the left. Each row's positions count its real tokens only, so a
row decodes exactly as it would alone (and a prefix's KV is the same in any row).

The layers keep their keys and values in buffers with room to grow (`GrowingLayer`): a decode
step writes its one column in place. transformers' `DynamicLayer` concatenates instead, copying
the whole cache at every step, which costs more than the attention itself once a batch holds a
few thousand tokens. Buffers are reallocated only when rows join or leave, or when full.

A speculative step (`step_inputs(width)`) feeds every row `width` tokens; a row keeps only the
first `n` of them (`advance(mask, kept)`): the rest are masked out, and cut from the right end
when no row kept them, so a row that rejects part of its draft leaves a masked hole in the
batch only while another row kept more. Positions still count a row's real tokens only.

Only full-attention layers can be held this way (a sliding-window cache drops old columns on
its own): `check_model` refuses other models.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from calltune.errors import CalltuneError
from calltune.serve.prefix_cache import Layers

MIN_SPARE = 64  # columns of room a buffer gets beyond its content (or half the content, if more)


def check_model(model) -> None:
    """Raise `CalltuneError` unless every layer of `model`'s cache is a plain full-attention layer."""
    cache = DynamicCache(config=model.config)
    if any(type(layer) is not DynamicLayer for layer in cache.layers):
        kinds = sorted({type(layer).__name__ for layer in cache.layers})
        raise CalltuneError(f"calltune serve needs a model whose layers all use full attention; this one has "
                            f"{', '.join(kinds)}")


def layers_of(cache: DynamicCache) -> Layers:
    return [(layer.keys, layer.values) for layer in cache.layers]


class GrowingLayer(DynamicLayer):
    """A full-attention cache layer over preallocated (B, heads, capacity, head_dim) buffers;
    `keys` / `values` are views of the first `length` columns."""

    def __init__(self, kbuf: torch.Tensor, vbuf: torch.Tensor, length: int):
        super().__init__()
        self.kbuf, self.vbuf, self.length = kbuf, vbuf, length
        self.dtype, self.device = kbuf.dtype, kbuf.device
        self.is_initialized = True
        self._views()

    def _views(self) -> None:
        self.keys, self.values = self.kbuf[:, :, :self.length], self.vbuf[:, :, :self.length]

    def crop(self, n: int) -> None:
        """Forget the last `n` columns (the next update writes over them)."""
        self.length -= n
        self._views()

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        n = key_states.shape[-2]
        if self.length + n > self.kbuf.shape[2]:
            self.kbuf, self.vbuf = (_buffer(t, t.shape[0], self.length + n) for t in (self.kbuf, self.vbuf))
            self.kbuf[:, :, :self.length], self.vbuf[:, :, :self.length] = self.keys, self.values
        self.kbuf[:, :, self.length:self.length + n] = key_states
        self.vbuf[:, :, self.length:self.length + n] = value_states
        self.length += n
        self._views()
        return self.keys, self.values


def _buffer(like: torch.Tensor, rows: int, width: int) -> torch.Tensor:
    """Zeros (rows, heads, width + spare, head_dim): padding must be finite (it meets a zero weight)."""
    _, heads, _, dim = like.shape
    return torch.zeros(rows, heads, width + max(MIN_SPARE, width // 2), dim, dtype=like.dtype, device=like.device)


class KVBatch:
    """The batch's cache (`cache`, a DynamicCache of `GrowingLayer`s), its attention mask (B, T) and
    each row's real length (B,)."""

    def __init__(self, device):
        self.device = device
        self.cache: DynamicCache | None = None
        self.mask = torch.zeros(0, 0, dtype=torch.long, device=device)  # (B, T)
        self.lengths = torch.zeros(0, dtype=torch.long, device=device)  # (B,)

    def __len__(self) -> int:
        return self.mask.shape[0]

    def join(self, layers: Layers, length: int) -> None:
        """Append a row whose KV is `layers` ((1, heads, length, head_dim) each)."""
        rows, width = len(self), self.mask.shape[1]
        new_width = max(width, length)
        old = layers_of(self.cache) if rows else [(None, None)] * len(layers)
        new_layers = []
        for (k, v), (nk, nv) in zip(old, layers):
            bufs = []
            for prev, row in ((k, nk), (v, nv)):
                buf = _buffer(row, rows + 1, new_width)
                if rows:
                    buf[:rows, :, new_width - width:new_width] = prev
                buf[rows, :, new_width - length:new_width] = row[0]
                bufs.append(buf)
            new_layers.append(GrowingLayer(*bufs, new_width))
        self.cache = DynamicCache()
        self.cache.layers = new_layers
        mask = torch.zeros(rows + 1, new_width, dtype=torch.long, device=self.device)
        mask[:rows, new_width - width:] = self.mask
        mask[rows, new_width - length:] = 1
        self.mask = mask
        self.lengths = torch.cat([self.lengths, torch.tensor([length], device=self.device)])

    def step_inputs(self, width: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """For a decode step of `width` tokens per row: the attention mask (B, T+width) and positions
        (B, width). The mask is kept: call `advance()` after the forward pass."""
        ones = torch.ones(len(self), width, dtype=torch.long, device=self.device)
        steps = torch.arange(width, device=self.device)[None]  # (1, width)
        return torch.cat([self.mask, ones], dim=1), self.lengths[:, None] + steps

    def advance(self, mask: torch.Tensor, kept: list[int] | None = None) -> None:
        """After the forward pass of `step_inputs(width)`: row i keeps the first `kept[i]` of its
        `width` new columns (default: all); the others are masked out, and columns no row kept are
        cut from the right (the next step writes over them)."""
        width = mask.shape[1] - self.mask.shape[1]
        if kept is None:
            kept = [width] * len(self)
        for i, n in enumerate(kept):
            if n < width:
                mask[i, mask.shape[1] - width + n:] = 0
        unused = width - max(kept, default=width)
        if unused:
            mask = mask[:, :mask.shape[1] - unused]
            for layer in self.cache.layers:
                layer.crop(unused)
        self.mask = mask
        self.lengths = self.lengths + torch.tensor(kept, dtype=torch.long, device=self.device)

    def keep(self, rows: list[int]) -> None:
        """Keep only `rows` (in this order); cut the columns no remaining row uses."""
        if not rows:
            self.__init__(self.device)
            return
        index = torch.tensor(rows, device=self.device)
        self.mask, self.lengths = self.mask[index], self.lengths[index]
        used = self.mask.any(dim=0)  # (T,): columns some remaining row still attends to
        drop = int(used.int().argmax()) if bool(used.any()) else self.mask.shape[1]
        self.mask = self.mask[:, drop:]
        width = self.mask.shape[1]
        new_layers = []
        for k, v in layers_of(self.cache):
            bufs = []
            for t in (k, v):
                buf = _buffer(t, len(rows), width)
                buf[:, :, :width] = t[index, :, drop:]
                bufs.append(buf)
            new_layers.append(GrowingLayer(*bufs, width))
        self.cache = DynamicCache()
        self.cache.layers = new_layers
