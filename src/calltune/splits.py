"""Train/dev splits, de-duplication and a leak check between splits.

- `split_by_example`: `calltune.examples.split_examples`, unchanged (the shipped seed split).
- `split_by_tool`: the "unseen tools" condition. A seeded random set of tools (co-offered tools
  taken together) is held out so that about `dev_fraction` of the examples land in dev; no tool,
  distractors included, is offered in both train and dev. Tools are compared by identity
  (`calltune.tool_identity`: catalogue origin, else description + parameter structure), not by
  name, so a renamed copy of a training tool is never "held out". Examples that would straddle
  the two are dropped and counted.
- `dedup`: removes exact duplicates of (normalized instruction, tool names, target).
- `find_leaks`: dev instructions that also occur in train, exactly (after normalization) or nearly
  (word n-gram Jaccard similarity at or above a threshold).
"""

from __future__ import annotations

import json
import random
from collections import defaultdict, deque
from dataclasses import dataclass

from calltune.errors import CalltuneError
from calltune.examples import Example, split_examples
from calltune.tool_identity import ToolIdentities, normalize_text

SPLIT_BY = ("example", "tool")


def tool_names(example: Example) -> frozenset[str]:
    return frozenset(t.name for t in example.tools)


# ---- de-duplication ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DedupReport:
    """How many examples went in, how many duplicates were removed, and `(removed id, kept id)` pairs."""

    n_in: int
    n_removed: int
    pairs: tuple[tuple[str, str], ...] = ()

    def summary(self, max_examples: int = 3) -> str:
        shown = ", ".join(f"{removed} (= {kept})" for removed, kept in self.pairs[:max_examples])
        return (f"dedup: removed {self.n_removed} duplicate(s) of {self.n_in} examples"
                + (f": {shown}" if shown else ""))


def dedup_key(example: Example) -> tuple[str, tuple[str, ...], str]:
    target = json.dumps(example.target, sort_keys=True, ensure_ascii=False)
    return normalize_text(example.instruction), tuple(sorted(tool_names(example))), target


def dedup(examples: list[Example]) -> tuple[list[Example], DedupReport]:
    """Keep the first of each group of duplicates, in input order."""
    first: dict[tuple, str] = {}
    kept, pairs = [], []
    for ex in examples:
        key = dedup_key(ex)
        if key in first:
            pairs.append((ex.id, first[key]))
            continue
        first[key] = ex.id
        kept.append(ex)
    return kept, DedupReport(len(examples), len(pairs), tuple(pairs))


# ---- splits --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SplitReport:
    """A split's sizes; for `by="tool"` also the held-out tools and the examples dropped.

    `dropped_train`: examples that belong to train but offer a held-out tool (as a distractor);
    `dropped_dev`: examples that belong to dev but also offer a training tool.
    """

    by: str
    n_train: int
    n_dev: int
    held_out: tuple[str, ...] = ()
    dropped_train: int = 0
    dropped_dev: int = 0

    def summary(self) -> str:
        if self.by == "example":
            return f"split by example: {self.n_train} train, {self.n_dev} dev"
        return (f"split by tool: {self.n_train} train, {self.n_dev} dev; {len(self.held_out)} held-out "
                f"tool(s); dropped {self.dropped_train} train example(s) offering a held-out tool and "
                f"{self.dropped_dev} dev example(s) offering a training tool")


def split_by_example(examples: list, dev_fraction: float, seed: int) -> tuple[list, list, SplitReport]:
    train, dev = split_examples(examples, dev_fraction, seed)
    return train, dev, SplitReport("example", len(train), len(dev))


def _key_tools(example: Example, offered: tuple[str, ...]) -> frozenset[str]:
    """The tool identities an example is filed under: its target calls' (one or, parallel, several),
    or all offered ones when it calls none. `offered` holds the identity of each offered tool, in offer order."""
    calls = example.calls if example.target else []
    if calls:
        names = [t.name for t in example.tools]
        return frozenset(offered[names.index(call["name"])] for call in calls)
    return frozenset(offered)


def _tool_order(offered: list[frozenset[str]], seed: int) -> list[str]:
    """All tool identities in a seeded order that visits co-offered tools together.

    A breadth-first walk of the graph linking tools offered in the same example, from seeded
    random starts: holding out tools in this order completes whole neighbourhoods, so fewer
    examples straddle train and dev than with a plain shuffle.
    """
    neighbours: dict[str, set[str]] = defaultdict(set)
    for names in offered:
        for name in names:
            neighbours[name] |= names - {name}
    rng = random.Random(seed)
    starts = sorted(neighbours)
    rng.shuffle(starts)
    order, seen = [], set()
    for start in starts:
        if start in seen:
            continue
        seen.add(start)
        queue = deque([start])
        while queue:
            name = queue.popleft()
            order.append(name)
            nearby = sorted(neighbours[name] - seen)
            rng.shuffle(nearby)
            seen.update(nearby)
            queue.extend(nearby)
    return order


def choose_held_out(offered: list[frozenset[str]], own: list[frozenset[str]], dev_fraction: float,
                    seed: int) -> frozenset[str]:
    """Add tool identities in `_tool_order` until at least `round(n * dev_fraction)` examples have
    their own tool (`own`: the target's, or every offered tool for a null target) held out.

    Counting by the example's own tool keeps the held-out share of tools near `dev_fraction`;
    counting only examples whose every offered tool is held out would, on data with distractors,
    hold out most of the catalogue and leave training few tools.
    """
    want = max(1, round(len(offered) * dev_fraction))
    owning: dict[str, list[int]] = defaultdict(list)
    offering: dict[str, list[int]] = defaultdict(list)
    for i, (names, own_names) in enumerate(zip(offered, own)):
        for name in own_names:
            owning[name].append(i)
        for name in names:
            offering[name].append(i)
    remaining = [len(names) for names in own]  # own tools not yet held out
    unheld = [len(names) for names in offered]  # offered tools not yet held out
    held, n_own, n_all = set(), 0, 0
    for name in _tool_order(offered, seed):
        held.add(name)
        for i in owning[name]:
            remaining[i] -= 1
            n_own += remaining[i] == 0
        for i in offering[name]:
            unheld[i] -= 1
            n_all += unheld[i] == 0
        if n_own >= want and n_all > 0:  # and dev is not empty
            break
    return frozenset(held)


def split_by_tool(examples: list[Example], dev_fraction: float, seed: int
                  ) -> tuple[list[Example], list[Example], SplitReport]:
    """Hold out a seeded set of tool identities; train and dev offer disjoint sets of tools.

    Dev gets the examples whose offered tools are all held out; train those that offer none.
    Input order is kept within each split. `SplitReport.held_out` lists the held-out identities.
    """
    if not 0.0 < dev_fraction < 1.0:
        raise CalltuneError(f"dev fraction must be between 0 and 1, got {dev_fraction}")
    identities = ToolIdentities(examples)
    per_tool = [identities.of(i) for i in range(len(examples))]
    offered = [frozenset(ids) for ids in per_tool]
    own = [_key_tools(ex, ids) for ex, ids in zip(examples, per_tool)]
    held = choose_held_out(offered, own, dev_fraction, seed)
    train, dev, dropped_train, dropped_dev = [], [], 0, 0
    for ex, names, own_names in zip(examples, offered, own):
        if names <= held:
            dev.append(ex)
        elif not names & held:
            train.append(ex)
        elif own_names <= held:
            dropped_dev += 1
        else:
            dropped_train += 1
    if not train or not dev:
        raise CalltuneError(f"cannot split {len(examples)} examples by tool with dev fraction "
                            f"{dev_fraction}: {len(train)} train, {len(dev)} dev")
    report = SplitReport("tool", len(train), len(dev), tuple(sorted(held)), dropped_train, dropped_dev)
    return train, dev, report


def split(examples: list[Example], by: str, dev_fraction: float, seed: int
          ) -> tuple[list[Example], list[Example], SplitReport]:
    """Split `by` "example" or "tool"; returns train, dev and the report."""
    if by == "example":
        return split_by_example(examples, dev_fraction, seed)
    if by == "tool":
        return split_by_tool(examples, dev_fraction, seed)
    raise CalltuneError(f"unknown split '{by}' (choose from {', '.join(SPLIT_BY)})")


# ---- leak check ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Leak:
    """A dev instruction that matches a train instruction exactly or nearly."""

    kind: str  # "exact" | "near"
    similarity: float
    dev_id: str
    train_id: str
    dev_instruction: str
    train_instruction: str


@dataclass(frozen=True)
class LeakReport:
    """Dev examples whose instruction leaks from train: counts and the leaks kept (see `find_leaks`)."""

    n_train: int
    n_dev: int
    exact: int
    near: int
    ngram: int
    threshold: float
    leaks: tuple[Leak, ...] = ()

    def summary(self, max_examples: int = 3) -> str:
        """Counts, then the first `max_examples` leaks of each kind."""
        lines = [f"leak check: {self.exact} of {self.n_dev} dev instruction(s) also in train (exact, "
                 f"normalized); {self.near} more near-duplicate(s) (word {self.ngram}-gram Jaccard "
                 f">= {self.threshold})"]
        for kind in ("exact", "near"):
            for leak in [leak for leak in self.leaks if leak.kind == kind][:max_examples]:
                lines.append(f"  {kind} {leak.similarity:.2f}: dev '{leak.dev_id}' {_clip(leak.dev_instruction)}"
                             f" ~ train '{leak.train_id}' {_clip(leak.train_instruction)}")
        return "\n".join(lines)


def _clip(text: str, width: int = 80) -> str:
    return repr(text if len(text) <= width else text[:width - 3] + "...")


def shingles(text: str, n: int) -> frozenset[tuple[str, ...]]:
    """Word n-grams of the normalized text; a text shorter than n words is one shingle."""
    words = normalize_text(text).split()
    if len(words) <= n:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def _best_near(dev_sh: frozenset, train_sh: list[frozenset], index: dict) -> tuple[int, float]:
    shared: dict[int, int] = defaultdict(int)
    for gram in dev_sh:
        for j in index.get(gram, ()):
            shared[j] += 1
    best, best_sim = -1, 0.0
    for j, common in sorted(shared.items()):
        sim = common / (len(dev_sh) + len(train_sh[j]) - common)
        if sim > best_sim:
            best, best_sim = j, sim
    return best, best_sim


def find_leaks(train: list[Example], dev: list[Example], ngram: int = 8, threshold: float = 0.5,
               keep: int | None = 20) -> LeakReport:
    """Count dev examples whose instruction matches a train instruction exactly or nearly.

    Each dev example is counted once, against its best train match; the report keeps the first
    `keep` leaks of each kind (all when None).
    """
    exact_index = {}
    for j, ex in enumerate(train):
        exact_index.setdefault(normalize_text(ex.instruction), j)
    train_sh = [shingles(ex.instruction, ngram) for ex in train]
    gram_index: dict[tuple, list[int]] = defaultdict(list)
    for j, grams in enumerate(train_sh):
        for gram in grams:
            gram_index[gram].append(j)
    exact, near = [], []
    for ex in dev:
        j = exact_index.get(normalize_text(ex.instruction))
        if j is not None:
            exact.append(_leak("exact", 1.0, ex, train[j]))
            continue
        j, sim = _best_near(shingles(ex.instruction, ngram), train_sh, gram_index)
        if j >= 0 and sim >= threshold:
            near.append(_leak("near", sim, ex, train[j]))
    shown = tuple(exact[:keep] + near[:keep])
    return LeakReport(len(train), len(dev), len(exact), len(near), ngram, threshold, shown)


def _leak(kind: str, similarity: float, dev_ex: Example, train_ex: Example) -> Leak:
    return Leak(kind, round(similarity, 4), dev_ex.id, train_ex.id, dev_ex.instruction, train_ex.instruction)
