"""Benchmark overlap: training tools that share a name or a signature with evaluation functions.

    calltune data leaks --train train.jsonl --dev bfcl:all      # or bfcl:simple_python, or any eval file

A model trained on a tool that a benchmark also offers is tested on something it memorised. Three
kinds of match are counted, each per (training tool, evaluation function) pair:

- `name`: the same function name;
- `normalized_name`: the same name once case-folded, stripped of a dotted module prefix
  (`math.factorial` -> `factorial`) and of separators (`calculateNPV` = `calculate_npv`);
- `params`: the same set of top-level parameter names, when it has at least two (one shared
  `location` or `numbers` says nothing about the tool).

A training tool is known by its offered name and, for synthetic data, by its catalogue origin
(`meta.tools`), so a renamed copy of an overlapping catalogue tool still counts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from calltune.errors import CalltuneError
from calltune.examples import Example, load_examples
from calltune.tool_identity import catalogue_origins

KINDS = ("name", "normalized_name", "params")
MIN_SHARED_PARAMS = 2


@dataclass(frozen=True)
class Function:
    """An evaluation function: where it comes from, its name and its top-level parameter names."""

    source: str
    name: str
    params: frozenset[str]


@dataclass(frozen=True)
class Match:
    """One training tool that overlaps one evaluation function, and how many training examples
    offer it and call it."""

    kind: str
    train_name: str
    eval_name: str
    sources: tuple[str, ...]
    offered_by: int
    targeted_by: int


@dataclass(frozen=True)
class OverlapReport:
    """Counts per kind of distinct overlapping training tools, and the training examples that offer
    or call any overlapping tool; `matches` lists every pair."""

    against: str
    n_functions: int
    n_train: int
    tools: dict
    examples_offering: int
    examples_targeting: int
    matches: tuple[Match, ...] = ()

    @property
    def total(self) -> int:
        """Distinct training tools that overlap in any way."""
        return len({m.train_name for m in self.matches})

    def summary(self, max_examples: int = 5) -> str:
        lines = [f"benchmark overlap vs {self.against} ({self.n_functions} functions): "
                 + ", ".join(f"{self.tools[k]} train tool(s) share a {k.replace('_', ' ')}" for k in KINDS[:2])
                 + f", {self.tools['params']} a parameter-name set; {self.examples_targeting} of {self.n_train}"
                 f" train example(s) call one, {self.examples_offering} offer one"]
        for m in self.matches[:max_examples]:
            lines.append(f"  {m.kind}: train '{m.train_name}' ~ {', '.join(m.sources)} '{m.eval_name}' "
                         f"(offered by {m.offered_by}, called by {m.targeted_by})")
        if len(self.matches) > max_examples:
            lines.append(f"  ... {len(self.matches) - max_examples} more")
        return "\n".join(lines)

    def to_json(self, max_matches: int | None = None) -> dict:
        """Counts and the first `max_matches` matches (all when None)."""
        return {"against": self.against, "n_functions": self.n_functions, "n_train": self.n_train,
                "tools": dict(self.tools), "total": self.total, "examples_offering": self.examples_offering,
                "examples_targeting": self.examples_targeting,
                "matches": [m.__dict__ | {"sources": list(m.sources)} for m in self.matches[:max_matches]]}


def normalize_name(name: str) -> str:
    """Case-folded, dotted module prefix and every non-alphanumeric character removed."""
    return re.sub(r"[^a-z0-9]", "", name.rsplit(".", 1)[-1].casefold())


def _params(parameters: dict) -> frozenset[str]:
    props = parameters.get("properties") if isinstance(parameters, dict) else None
    return frozenset(props) if isinstance(props, dict) else frozenset()


def bfcl_functions(categories: tuple[str, ...]) -> list[Function]:
    """Every function BFCL offers in `categories` (deduplicated per category)."""
    from calltune.bfcl import load_raw

    out = set()
    for category in categories:
        for record in load_raw(category):
            for fn in record["function"]:
                out.add(Function(category, fn["name"], _params(fn.get("parameters", {}))))
    return sorted(out, key=lambda f: (f.source, f.name, sorted(f.params)))


def example_functions(examples: list[Example], source: str) -> list[Function]:
    """The tools offered in an evaluation file, by offered name and catalogue origin."""
    out = set()
    for ex in examples:
        for tool, origin in zip(ex.tools, catalogue_origins(ex)):
            for name in {tool.name, origin} - {None}:
                out.add(Function(source, name, _params(tool.parameters)))
    return sorted(out, key=lambda f: (f.source, f.name, sorted(f.params)))


def eval_functions(spec: str) -> tuple[str, list[Function]]:
    """`bfcl:all`, `bfcl:CAT[,CAT...]` or an examples file -> (label, functions)."""
    if spec.startswith("bfcl:"):
        from calltune.bfcl import OVERLAP_CATEGORIES

        categories = _categories(spec, OVERLAP_CATEGORIES)
        return f"BFCL {', '.join(categories)}", bfcl_functions(categories)
    return spec, example_functions(load_examples(spec), spec)


def eval_examples(spec: str) -> list[Example]:
    """The evaluation side of an instruction leak check: an examples file, or BFCL's questions
    (`bfcl:...`; id and user message only, for `splits.find_leaks`)."""
    if not spec.startswith("bfcl:"):
        return load_examples(spec)
    from calltune.bfcl import OVERLAP_CATEGORIES, load_raw

    out = []
    for category in _categories(spec, OVERLAP_CATEGORIES):
        for record in load_raw(category):
            users = [m["content"] for turn in record["question"] for m in turn if m.get("role") == "user"]
            out.append(Example(record["id"], users[-1] if users else "", []))
    return out


def _categories(spec: str, known: tuple[str, ...]) -> tuple[str, ...]:
    wanted = spec[len("bfcl:"):]
    categories = known if wanted == "all" else tuple(c for c in wanted.split(",") if c)
    if not categories:
        raise CalltuneError(f"'{spec}': name a BFCL category or 'all'")
    return categories


def check_overlap(train: list[Example], functions: list[Function], against: str) -> OverlapReport:
    """Match every training tool (offered name and catalogue origin) against `functions`."""
    by_name, by_norm, by_params = defaultdict(list), defaultdict(list), defaultdict(list)
    for fn in functions:
        by_name[fn.name].append(fn)
        by_norm[normalize_name(fn.name)].append(fn)
        if len(fn.params) >= MIN_SHARED_PARAMS:
            by_params[fn.params].append(fn)
    pairs: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    offered_by: dict[str, set[int]] = defaultdict(set)
    targeted_by: dict[str, set[int]] = defaultdict(set)
    offering, targeting = set(), set()
    for i, ex in enumerate(train):
        for tool, origin in zip(ex.tools, catalogue_origins(ex)):
            params = _params(tool.parameters)
            hits = []
            for name in sorted({tool.name, origin} - {None}):
                hits += [("name", name, fn) for fn in by_name.get(name, ())]
                hits += [("normalized_name", name, fn) for fn in by_norm.get(normalize_name(name), ())]
            hits += [("params", origin or tool.name, fn) for fn in by_params.get(params, ())]
            for kind, name, fn in hits:
                pairs[(kind, name, fn.name)].add(fn.source)
                offered_by[name].add(i)
                offering.add(i)
                if ex.target and tool.name in {call["name"] for call in ex.calls}:
                    targeted_by[name].add(i)
                    targeting.add(i)
    matches = tuple(Match(kind, name, fn_name, tuple(sorted(sources)), len(offered_by[name]),
                          len(targeted_by[name]))
                    for (kind, name, fn_name), sources in sorted(pairs.items()))
    tools = {kind: len({m.train_name for m in matches if m.kind == kind}) for kind in KINDS}
    return OverlapReport(against, len({(f.name, f.params) for f in functions}), len(train), tools,
                         len(offering), len(targeting), matches)


def benchmark_overlap(train: list[Example]) -> OverlapReport | None:
    """`train` against every reported BFCL category, or None when bfcl_eval is not installed."""
    try:
        label, functions = eval_functions("bfcl:all")
    except CalltuneError:
        return None
    return check_overlap(train, functions, label)
