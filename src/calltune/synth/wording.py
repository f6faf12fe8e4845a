"""Optional values stated in words (the generator's `word_value_rate`): "with photos" for
`include_photos: true`, "without photos" for false, "the full detail level" for `detail_level: "full"`,
"measured in Fahrenheit" for `unit: "fahrenheit"`, rather than the tool's own clause for the value.

The phrases come from the parameter's name and values, so they work for any tool, hand-written or
composed:

- booleans named `include_X` / `with_X` / `show_X` ...: "with X", "including X", "X included" (true);
  "without X", "excluding X", "with no X", "leaving out the X" (false), "X ones" for an adjective
  ("archived ones"); `X_only`: "only X", "just the X
  ones" / "not only X", "X or not"; `use_X` / `enable_X`: "using X", "with X enabled" / "without X", "with X
  disabled"; `avoid_X` / `skip_X`: "avoiding X", "with no X" / "X allowed", "including X". Other
  booleans (`notify`, `pin`) keep their declared cues.
- unit enums (`unit`, `distance_unit`, `scale`): "in X", "measured in X", "using X" for each form of
  the value (`slots.enum_forms`: "Fahrenheit", "°F").
- other enums: "<value> <name>" ("spring semester", "warm white color") in a few frames, or a declared
  synonym ("a suite") in others.

`worded(tool)` records these phrases on the tool's parameters (`Param.word_phrases`), so that `checks.py` accepts
them, and finds them when the parameter is left out ("stated_but_omitted"); `word_clause` writes one
into a request. Nothing here draws from an RNG unless the generator's rate is above 0.
"""

from __future__ import annotations

import dataclasses
import random
import re

from calltune.synth.catalogue import ToolDef
from calltune.synth.slots import Param, enum_forms

INCLUDE_HEADS = ("include", "with", "show", "add", "attach", "return", "fetch", "load", "expand", "display")
ENABLE_HEADS = ("use", "enable", "allow")
AVOID_HEADS = ("avoid", "exclude", "skip", "hide", "omit", "no", "without")
# first word of a boolean's name (or "only" last) -> (phrases for true, phrases for false); {x}: the rest
BOOLEAN_CORES = {
    "include": (("with {x}", "including {x}", "{x} included", "plus the {x}"),
                ("without {x}", "excluding {x}", "with no {x}", "leaving out the {x}")),
    "only": (("only {x}", "{x} only", "just the {x} ones"), ("not only {x}", "{x} or not")),
    "enable": (("using {x}", "with {x} enabled", "with {x} turned on"),
               ("without {x}", "with {x} disabled", "with {x} turned off")),
    "avoid": (("avoiding {x}", "with no {x}", "skipping the {x}"), ("{x} allowed", "including {x}")),
}
# no "please": a command frame may add one ("Check ..., please.")
BOOLEAN_FRAMES = (" {c}", ", {c}", " ({c})", ", {c} if possible")
UNIT_WORDS = ("unit", "units", "scale", "system")
UNIT_CORES = ("in {f}", "measured in {f}", "using {f}")
UNIT_FRAMES = (" {c}", ", {c}", ", {c} if you can", " ({c})")
LABEL_FRAMES = (" with the {c}", ", {c}", " ({c})", ", using the {c}", ", choosing the {c}")
SYNONYM_FRAMES = (", {c}", " ({c})", ", {c} if possible", ", preferably {c}")
PREPOSITIONS = ("by", "to", "from", "for", "of", "on", "in", "at", "with")


def name_words(name: str) -> list[str]:
    """`include_side_effects`, `includeSideEffects` -> ["include", "side", "effects"]."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)]


def boolean_words(name: str) -> dict:
    """True/False -> the phrases that state a boolean named `name`; empty when its name says nothing
    a phrase could use (`notify`, `pin`)."""
    words = name_words(name)
    if len(words) < 2:
        return {}
    if words[-1] == "only" or words[0] == "only":
        kind, rest = "only", words[:-1] if words[-1] == "only" else words[1:]
    elif words[0] in INCLUDE_HEADS + ENABLE_HEADS + AVOID_HEADS:
        kind = "include" if words[0] in INCLUDE_HEADS else "enable" if words[0] in ENABLE_HEADS else "avoid"
        rest = words[1:]
    else:
        return {}
    x = " ".join(rest)
    if kind == "include" and re.search(r"(ed|en)$", x):  # an adjective: "with archived ones"
        x += " ones"
    true, false = BOOLEAN_CORES[kind]
    return {True: tuple(c.format(x=x) for c in true), False: tuple(c.format(x=x) for c in false)}


def is_unit(name: str) -> bool:
    words = name_words(name)
    return bool(words) and (words[-1] in UNIT_WORDS or "unit" in words)


def enum_words(name: str, param: Param) -> dict:
    """Value -> phrases that state an enum named `name`: "in °F" for a unit, "spring semester" (the value
    before the name's words) for others; a value that is not made of words gets none."""
    if is_unit(name):
        return {v: tuple(c.format(f=f) for f in enum_forms(param, v) for c in UNIT_CORES) for v in param.synonyms}
    label = " ".join(name_words(name))
    if not label or label.split()[-1] in PREPOSITIONS:
        return {}
    out = {}
    for value in param.synonyms:
        word = value.replace("_", " ")
        if re.fullmatch(r"[A-Za-z]{3,}( [A-Za-z]+)*", word) and word.lower() not in label.split():
            out[value] = (f"{word} {label}",)
    return out


def worded(tool: ToolDef) -> ToolDef:
    """`tool` with the word phrases of its optional booleans and enums on their parameters (`Param.word_phrases`),
    so that the checks accept them; the tool itself when it has none."""
    params = dict(tool.params)
    for name, param in tool.params.items():
        if param.required or param.kind not in ("enum", "boolean"):
            continue
        words = boolean_words(name) if param.kind == "boolean" else enum_words(name, param)
        if words:
            params[name] = dataclasses.replace(param, word_phrases=words)
    return tool if params == tool.params else dataclasses.replace(tool, params=params)


def word_clause(rng: random.Random, name: str, param: Param, value) -> str | None:
    """A clause (" with photos", ", measured in °F", " with the spring semester") that states `value` of an
    optional boolean or enum in words, from `param.word_phrases` (see `worded`) and, for enums, its synonyms; None
    when there is none, and the caller keeps the tool's own clause."""
    words = list(param.word_phrases.get(value, ()))
    if param.kind == "boolean":
        return rng.choice(BOOLEAN_FRAMES).format(c=rng.choice(words)) if words else None
    if is_unit(name):
        return rng.choice(UNIT_FRAMES).format(c=rng.choice(words)) if words else None
    synonyms = list(param.synonyms.get(value, ()))
    if not words and not synonyms:
        return None
    pick = rng.randrange(len(words) + len(synonyms))
    if pick < len(words):
        return rng.choice(LABEL_FRAMES).format(c=words[pick])
    return rng.choice(SYNONYM_FRAMES).format(c=synonyms[pick - len(words)])
