"""The tool catalogue: `ToolDef` (a tool as plain data with its phrasing templates) and the full list.

Templates are of two sorts. `commands` are verb phrases without final punctuation ("book a flight from
{origin} to {destination} on {date}") that the generator wraps ("Could you ...?", "Please ..."); `phrases`
are whole sentences ("What's the weather in {location}?"). Both name only required parameters; each
optional parameter has `clauses` (" in {unit}") that the generator inserts when the user states it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from calltune.synth.slots import Param

# Domains whose tools could plausibly serve each other's requests; an irrelevant (no-call) example
# never offers a tool from the request's own family.
FAMILIES = {
    "compute": ("math", "statistics", "geometry", "physics", "chemistry", "conversion", "finance"),
    "places": ("travel", "maps", "weather"),
    "people": ("calendar", "messaging"),
}


@dataclass(frozen=True)
class ToolDef:
    """A catalogue tool: what the model sees (name, description, parameters) and how users ask for it."""

    name: str
    domain: str
    description: str
    params: dict  # name -> Param, in schema order
    commands: tuple = ()
    phrases: tuple = ()
    clauses: dict = field(default_factory=dict)  # optional param name -> clause templates

    @property
    def required(self) -> list[str]:
        return [name for name, p in self.params.items() if p.required]

    @property
    def optional(self) -> list[str]:
        return [name for name, p in self.params.items() if not p.required]

    def templates(self) -> list[tuple[str, str]]:
        """`(template_id, template)` pairs; ids are stable ("cmd3", "say0") for the data card."""
        return ([(f"cmd{i}", t) for i, t in enumerate(self.commands)]
                + [(f"say{i}", t) for i, t in enumerate(self.phrases)])

    def to_json(self) -> dict:
        """The OpenAI function-tool form offered in prompts."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": {"type": "object", "properties": {k: p.schema() for k, p in self.params.items()},
                           "required": self.required, "additionalProperties": False}}}


def tool(name: str, domain: str, description: str, params: dict[str, Param], commands=(), phrases=(),
         clauses=None) -> ToolDef:
    return ToolDef(name, domain, description, params, tuple(commands), tuple(phrases),
                   {k: tuple(v) for k, v in (clauses or {}).items()})


def family(domain: str) -> str:
    """The family a domain belongs to (its own name when it stands alone)."""
    return next((name for name, members in FAMILIES.items() if domain in members), domain)


def all_tools() -> list[ToolDef]:
    """Every catalogue tool, in a fixed order."""
    from calltune.synth import (catalogue_compute, catalogue_finance, catalogue_home, catalogue_personal,
                                catalogue_science, catalogue_travel)

    return [t for module in (catalogue_travel, catalogue_finance, catalogue_compute, catalogue_science,
                             catalogue_personal, catalogue_home) for t in module.TOOLS]


HELDOUT_EVERY = 5  # split "heldout": domains 4, 9, 14 of the sorted domains (ecommerce, maps, statistics)


def split_domains(split: str) -> list[str]:
    """The hand-written catalogue's domains in a split, sorted: "all", "heldout" (every 5th: tools to keep out
    of training, for a held-out dev set of natural-valued tools) or "train" (the others)."""
    domains = sorted({t.domain for t in all_tools()})
    held = [d for i, d in enumerate(domains) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1]
    return held if split == "heldout" else [d for d in domains if d not in held] if split == "train" else domains


def all_contexts() -> dict[str, tuple[str, ...]]:
    """Domain -> context sentences a user may put before a request ("I'm planning a trip.")."""
    from calltune.synth import (catalogue_compute, catalogue_finance, catalogue_home, catalogue_personal,
                                catalogue_science, catalogue_travel)

    out: dict[str, tuple[str, ...]] = {}
    for module in (catalogue_travel, catalogue_finance, catalogue_compute, catalogue_science,
                   catalogue_personal, catalogue_home):
        out.update(module.CONTEXTS)
    return out
