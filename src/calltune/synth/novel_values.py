"""Novel values: names the model has never seen, so that it learns to copy a value rather than recall one.

The generator draws names (cities, people, teams, hotels, landmarks, companies) from short word lists
(`pools.py`), so a tuned model can get them right by memory, and writes a name it does not know as the
nearest one it does ("Las-Artes" for "Los Angeles", "Houston" for "Honolulu" in the seed dev set). At the
generator's `novel_value_rate`, a request's names are replaced by made-up ones of the same shape
("Lisbon" -> "Chebrum", "Grand Plaza Hotel" -> "Grand Nurand Hotel", "Rio de Janeiro" -> "Sikliv de Trustiav"),
the same way in the instruction and in every call, so the only way to the right call is to copy.

A value is replaced only where that is safe: a plain string parameter (no enum, pattern or format) of a
one-message request whose calls all name an offered tool; the value written in capitalised words (a
proper name, not "tennis racket", "csv" or "AAPL"), stated in the instruction verbatim and in no other case, and
not inside another string value of the same request. Records are replaced after they are drawn, from
their own RNG, so a rate above 0 changes the values and nothing else: the same examples, the same tools,
the same split. Rate 0 draws nothing.
"""

from __future__ import annotations

import random
import re

from calltune.synth.checks import contains, spans

# Words kept as they are inside a replaced name: the kind of place or body it is, and name particles.
KEEP = frozenset("""
    Hotel Inn Lodge Suites Resort Museum Gallery Park Garden Gardens Street Avenue Road Boulevard Lane Square
    Bridge Tower Gate Palace Castle Cathedral Market Station Airport Harbour Harbor Beach Lake Mount River
    Bay Island Port City Town Old New Grand Royal Central North South East West Upper Lower Saint San Santa
    Corp Inc Labs Industries Group Systems Studio Studios FC United Club The
""".split())
PARTICLES = frozenset(("de", "da", "do", "del", "la", "le", "of", "the", "and", "on", "upon", "am", "an", "y"))
NAME_WORD = re.compile(r"^[A-Z][a-z][a-z'.]*$")  # "Lisbon", "O'neil"; not "AAPL", "iPhone" or "3D"
CODE_WORD = re.compile(r"^[A-Z]{1,3}$")  # "FC", "NY": kept as they are
ONSETS = ("b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kl", "l", "m", "n", "p", "pr", "r", "s", "st", "t",
          "tr", "v", "w", "z", "sh", "ch", "th")
VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ou", "ei", "ia")
CODAS = ("", "", "", "n", "r", "l", "s", "k", "m", "nd", "rt", "sk", "v")


def invented_word(rng: random.Random) -> str:
    """A pronounceable made-up word of 2 or 3 syllables, capitalised: "Chebrum", "Nurand"."""
    syllables = [rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(rng.choice((2, 2, 3)))]
    return ("".join(syllables) + rng.choice(CODAS)).capitalize()


def _words(value: str) -> list[str]:
    return re.split(r"([ -])", value)  # words at even positions, their separators between


def named_words(value: str) -> list[int] | None:
    """Positions (in `_words`) of the words to invent; None when `value` is not a name: every word must be
    a capitalised word, a kind of place, a particle or a short code, and one at least a name of its own."""
    parts = _words(value)
    named = []
    for i in range(0, len(parts), 2):
        word = parts[i]
        if word in KEEP or word in PARTICLES or CODE_WORD.match(word):
            continue
        if not NAME_WORD.match(word):
            return None
        named.append(i)
    return named or None


def invented_name(value: str, rng: random.Random, taken: set[str]) -> str:
    """`value` (a name: `named_words`) with each of its own words invented and its kinds of place,
    particles and codes kept; never a name in `taken` and never `value` itself."""
    parts, words = _words(value), named_words(value)
    while True:
        for i in words:
            parts[i] = invented_word(rng)
        name = "".join(parts)
        if name not in taken and name != value:
            return name


def _string_leaves(schema: dict, value) -> list[str]:
    """The plain-string values in `value` (an argument, walked with its JSON Schema)."""
    if not isinstance(schema, dict):
        return []
    if isinstance(value, str):
        plain = schema.get("type") == "string" and not {"enum", "pattern", "format", "const"} & set(schema)
        return [value] if plain else []
    if isinstance(value, list):
        return [leaf for item in value for leaf in _string_leaves(schema.get("items", {}), item)]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return [leaf for key, item in value.items() for leaf in _string_leaves(props.get(key, {}), item)]
    return []


def _calls(record: dict) -> list[dict]:
    target = record.get("target")
    return [] if target is None else target if isinstance(target, list) else [target]


def request_calls(record: dict) -> tuple[list[dict], dict] | None:
    """`(calls, schemas)`: the target's calls and each offered tool's parameters schema by name, for a
    one-message request whose calls all name an offered tool; None for any other record."""
    calls = _calls(record)
    if "instruction" not in record or not calls:
        return None
    schemas = {t["function"]["name"]: t["function"].get("parameters", {}) for t in record["tools"]}
    return None if any(c["name"] not in schemas for c in calls) else (calls, schemas)


def replaceable(record: dict) -> list[str]:
    """The values of `record` that may be replaced (see the module docstring), longest first; [] when the
    record is not a one-message request with calls."""
    found = request_calls(record)
    if found is None:
        return []
    calls, schemas = found
    strings = {leaf for c in calls for leaf in _string_leaves(schemas[c["name"]], c["arguments"])}
    text = record["instruction"]
    out = []
    for value in strings:
        found = [text[start:end] for start, end in spans(text, value)]  # on word boundaries, in any case
        inside = any(other != value and contains(other, value) for other in strings)
        if named_words(value) and found and set(found) == {value} and not inside:
            out.append(value)
    return sorted(out, key=lambda v: (-len(v), v))


def _replace_in(value, names: dict):
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [_replace_in(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _replace_in(v, names) for k, v in value.items()}
    return value


def with_novel_values(record: dict, rng: random.Random, rate: float) -> dict:
    """`record` with its replaceable values invented, with probability `rate` (drawn only for a record that
    has one); tagged `novel_values` in `meta.augmentations`."""
    values = replaceable(record)
    if not values or rng.random() >= rate:
        return record
    taken: set[str] = set()
    names = {}
    for value in values:
        names[value] = invented_name(value, rng, taken)
        taken.add(names[value])
    text = record["instruction"]
    pattern = re.compile("|".join(r"(?<!\w)" + re.escape(v) + r"(?!\w)" for v in values))  # longest first
    calls = [dict(c, arguments=_replace_in(c["arguments"], names)) for c in _calls(record)]
    meta = dict(record["meta"], augmentations=sorted(record["meta"]["augmentations"] + ["novel_values"]))
    return dict(record, instruction=pattern.sub(lambda m: names[m.group(0)], text),
                target=calls if isinstance(record["target"], list) else calls[0], meta=meta)
