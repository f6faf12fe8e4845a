"""The KV cache of the sequences being decoded together, left-padded to one length.

Row i holds its `lengths[i]` real tokens at the right end of the time axis; the columns before
them are zeros that the attention mask hides (as are the holes a speculative step may leave, below). A row that joins is padded on the left to the
batch's length (or the batch to the row's); rows that leave are selected out, and columns no
row uses any more are cut from the left. Each row's positions count its real tokens only, so a
row decodes exactly as it would alone (and a prefix's KV is the same in any row).

The layers keep their keys and values in buffers with room to grow (`GrowingLayer`): a decode
step writes its one column in place. transformers' `DynamicLayer` concatenates instead, copying
the whole cache at every step, which costs more than the attention itself once a batch holds a
few thousand tokens. The buffers also keep room for more rows and for columns on the left: a row
that joins is written into its slot (the others stay where they are), a row that leaves is
replaced by the last one (`fill_holes`), and a cut from the left only moves the window's start;
buffers are reallocated only when full.

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
    """A full-attention cache layer over preallocated (capacity rows, heads, capacity columns,
    head_dim) buffers; `keys` / `values` are views of the batch's rows and of its window of columns
    `[start, end)`. Cells outside the view are never read, so the buffers start uninitialised and
    every cell inside it is written (padding with zeros) before it is read."""

    def __init__(self, like: torch.Tensor, rows: int, width: int):
        super().__init__()
        self.dtype, self.device = like.dtype, like.device
        self.is_initialized = True
        self.rows, self.start = 0, width + MIN_SPARE  # an empty window, with room for `width` on its left
        self.end = self.start
        self.kbuf, self.vbuf = (like.new_empty(rows, like.shape[1], width + 2 * MIN_SPARE, like.shape[3])
                                for _ in range(2))
        self._views()

    def _views(self) -> None:
        self.keys = self.kbuf[:self.rows, :, self.start:self.end]
        self.values = self.vbuf[:self.rows, :, self.start:self.end]

    def _realloc(self, rows: int, left: int, right: int) -> None:
        """New buffers for `rows` rows: `left` free columns, the window, `right` free columns."""
        n = self.end - self.start
        kbuf, vbuf = (t.new_empty(rows, t.shape[1], left + n + right, t.shape[3]) for t in (self.kbuf, self.vbuf))
        kbuf[:self.rows, :, left:left + n] = self.keys
        vbuf[:self.rows, :, left:left + n] = self.values
        self.kbuf, self.vbuf, self.start, self.end = kbuf, vbuf, left, left + n
        self._views()

    def _spare(self) -> int:
        return max(MIN_SPARE, (self.end - self.start) // 2)

    def crop(self, n: int) -> None:
        """Forget the last `n` columns (the next update writes over them)."""
        self.end -= n
        self._views()

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        """Write (rows, heads, n, head_dim) new columns after the window, growing it by n."""
        n = key_states.shape[-2]
        if self.end + n > self.kbuf.shape[2]:
            self._realloc(self.kbuf.shape[0], MIN_SPARE, n + self._spare())
        self.kbuf[:self.rows, :, self.end:self.end + n] = key_states
        self.vbuf[:self.rows, :, self.end:self.end + n] = value_states
        self.end += n
        self._views()
        return self.keys, self.values

    def add_row(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Append a row whose (1, heads, length, head_dim) keys and values end where the window ends;
        the window widens to the left (zeros for the other rows) if the row is longer than it."""
        length = keys.shape[2]
        extra = length - (self.end - self.start)
        if self.rows == self.kbuf.shape[0] or extra > self.start:
            self._realloc(max(self.kbuf.shape[0], 2 * self.rows), max(extra, 0) + MIN_SPARE, self._spare())
        if extra > 0:
            self.kbuf[:self.rows, :, self.start - extra:self.start] = 0
            self.vbuf[:self.rows, :, self.start - extra:self.start] = 0
            self.start -= extra
        for buf, row in ((self.kbuf, keys), (self.vbuf, values)):
            buf[self.rows, :, self.start:self.end - length] = 0
            buf[self.rows, :, self.end - length:self.end] = row[0]
        self.rows += 1
        self._views()

    def select(self, order: list[int], drop: int) -> None:
        """Keep the rows `order` names, in that order, copying only the rows whose slot changes; then
        cut `drop` columns from the left of the window."""
        moves = [(slot, row) for slot, row in enumerate(order) if slot != row]
        if moves:
            slots, rows = (list(x) for x in zip(*moves))
            for buf in (self.kbuf, self.vbuf):
                buf[slots, :, self.start:self.end] = buf[rows, :, self.start:self.end]  # the right side is a copy
        self.rows = len(order)
        self.start += drop
        self._views()


def fill_holes(alive: list[int]) -> list[int]:
    """An order for `KVBatch.keep` that keeps the rows `alive` (ascending) and moves the fewest: a row
    stays in its slot if the smaller batch still has it; the rows past the end fill the free slots."""
    kept = len(alive)
    stay = {i for i in alive if i < kept}
    movers = iter(i for i in alive if i >= kept)
    return [i if i in stay else next(movers) for i in range(kept)]


class KVBatch:
    """The batch's cache (`cache`, a DynamicCache of `GrowingLayer`s), its attention mask (B, T) and
    each row's real length (B,). `capacity`: rows the buffers are first made for (they grow)."""

    def __init__(self, device, capacity: int = 1):
        self.device, self.capacity = device, capacity
        self.cache: DynamicCache | None = None
        self.mask = torch.zeros(0, 0, dtype=torch.long, device=device)  # (B, T)
        self.lengths = torch.zeros(0, dtype=torch.long, device=device)  # (B,)

    def __len__(self) -> int:
        return self.mask.shape[0]

    def join(self, layers: Layers, length: int) -> None:
        """Append a row whose KV is `layers` ((1, heads, length, head_dim) each). Only the row is
        copied (and the other rows' new left padding, if it is longer than the batch)."""
        rows, width = len(self), self.mask.shape[1]
        new_width = max(width, length)
        if self.cache is None:
            self.cache = DynamicCache()
            self.cache.layers = [GrowingLayer(k, self.capacity, new_width) for k, _ in layers]
        for layer, (k, v) in zip(self.cache.layers, layers):
            layer.add_row(k, v)
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

    def row_layers(self, i: int) -> Layers:
        """Row i's KV without its padding and holes: per layer (1, heads, lengths[i], head_dim) copies."""
        columns = self.mask[i].nonzero()[:, 0]  # (lengths[i],): the row's real tokens, in order
        return [(k[i:i + 1, :, columns], v[i:i + 1, :, columns]) for k, v in layers_of(self.cache)]

    def keep(self, rows: list[int]) -> None:
        """Keep only `rows` (in this order; `fill_holes` gives the order that moves the fewest);
        cut the columns no remaining row uses."""
        if not rows:
            self.__init__(self.device, self.capacity)
            return
        index = torch.tensor(rows, device=self.device)
        self.mask, self.lengths = self.mask[index], self.lengths[index]
        used = self.mask.any(dim=0)  # (T,): columns some remaining row still attends to
        drop = int(used.int().argmax()) if bool(used.any()) else self.mask.shape[1]
        self.mask = self.mask[:, drop:]
        for layer in self.cache.layers:
            layer.select(rows, drop)
