"""Which offered tools are the same tool, whatever they are called.

Renaming (the synthetic generator's augmentation, `calltune stress`'s `rename_params`, masking in
other corpora) gives one tool many names, so a held-out split or an unseen-tools check that compares
names counts a renamed copy of a training tool as unseen. They compare identities instead. A tool
occurrence has up to two identity keys:

- `catalogue:NAME` when the example's `meta.tools` lists, for each offered tool in order, the name it
  came from (the synthetic generator writes it);
- `fp:HASH`, always: a fingerprint of the normalised description and the parameter structure with
  every parameter name removed (types, enums, bounds, nested shapes, which parameters are required,
  their descriptions), so renaming the function or its parameters and reordering properties keep
  it. A tool with no description has nothing that survives renaming; its name is hashed in too.

Two occurrences are the same tool when they share a key, transitively (`ToolIdentities`).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

from calltune.examples import Example, Tool


def normalize_text(text: str) -> str:
    """Case-folded, NFKC, punctuation removed, whitespace collapsed (descriptions here; instructions
    in `splits`' dedup and leak checks)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def _structure(schema):
    """A schema with property names replaced by their position in a sorted, name-free list."""
    if isinstance(schema, list):
        return [_structure(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            required = set(schema.get("required", [])) if isinstance(schema.get("required"), list) else set()
            out[key] = sorted(json.dumps([_structure(sub), name in required], sort_keys=True)
                              for name, sub in value.items())
        elif key == "required":
            continue  # folded into `properties` above, name-free
        elif key == "description" and isinstance(value, str):
            out[key] = normalize_text(value)
        else:
            out[key] = _structure(value)
    return out


def fingerprint(tool: Tool) -> str:
    """`fp:` + a hash of the tool's normalised description and name-free parameter structure."""
    description = normalize_text(tool.description)
    parts = {"description": description, "parameters": _structure(tool.parameters)}
    if not description:
        parts["name"] = tool.name
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return f"fp:{digest[:16]}"


def catalogue_origins(example: Example) -> list[str | None]:
    """The catalogue name of each offered tool, from `meta.tools` when it lists one string per tool."""
    origins = example.meta.get("tools") if isinstance(example.meta, dict) else None
    if (isinstance(origins, list) and len(origins) == len(example.tools)
            and all(isinstance(o, str) and o for o in origins)):
        return list(origins)
    return [None] * len(example.tools)


def tool_keys(example: Example) -> list[tuple[str, ...]]:
    """The identity keys of each offered tool, in offer order."""
    return [((f"catalogue:{origin}",) if origin else ()) + (fingerprint(tool),)
            for tool, origin in zip(example.tools, catalogue_origins(example))]


class ToolIdentities:
    """Identities of the tools offered across a corpus: keys shared by one occurrence are merged
    (union-find), and each group is named by its smallest key, so the names are deterministic."""

    def __init__(self, examples: list[Example]):
        self._parent: dict[str, str] = {}
        self._keys = [tool_keys(ex) for ex in examples]
        for per_example in self._keys:
            for keys in per_example:
                for key in keys:
                    self._parent.setdefault(key, key)
                for key in keys[1:]:
                    self._union(keys[0], key)

    def _find(self, key: str) -> str:
        root = key
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[key] != root:  # path compression
            self._parent[key], key = root, self._parent[key]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def of(self, index: int) -> tuple[str, ...]:
        """The identity of each tool offered by the `index`-th example, in offer order."""
        return tuple(self._find(keys[0]) for keys in self._keys[index])


def seen_keys(examples: list[Example]) -> set[str]:
    """Every identity key of every tool offered in `examples` (e.g. a training set)."""
    return {key for ex in examples for keys in tool_keys(ex) for key in keys}


def unseen(example: Example, seen: set[str]) -> bool:
    """True when no offered tool of `example` shares an identity key with `seen`."""
    return not any(set(keys) & seen for keys in tool_keys(example))
