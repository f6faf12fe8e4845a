"""Parameters of catalogue tools: their JSON Schema, how to sample a value, and how to write it in text.

A `Param` is plain data plus a sampler. `sample_value` draws a target value; `render_value` writes that
value the way a user would (a date as "March 14, 2025", a small integer as "three", an enum through a
synonym, a boolean through a cue phrase). `checks.py` reads the same declarations (synonyms, cues,
`date_forms`, `time_forms`) to verify that every value can be recovered from an instruction.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from calltune.synth import pools

MISSING = object()  # "no default": distinct from a default of None

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
WORD_RATE = 0.35  # how often a small integer is written in words


@dataclass(frozen=True)
class Param:
    """One parameter: `kind` is string|integer|number|enum|boolean|date|time|array|object."""

    kind: str
    description: str
    source: Any = None  # string: a tuple pool or a callable(rng) -> str
    required: bool = True
    default: Any = MISSING
    lo: float | None = None  # integer/number: sampled range (also the schema bounds); array: min items
    hi: float | None = None
    decimals: int = 2
    percent: bool = False  # number: a fraction that the user may write as "4.5%"
    words: bool = True  # integer: may be written in words when small
    synonyms: dict = field(default_factory=dict)  # enum: value -> surface forms besides the value
    cues: dict = field(default_factory=dict)  # boolean: True/False -> cue phrases
    word_phrases: dict = field(default_factory=dict)  # enum/boolean: value -> `wording.py` phrases stating it
    items: Param | None = None  # array
    fields: dict | None = None  # object: name -> Param (all required)
    fmt: str = ""  # object: how the user writes it, e.g. "{street}, {city} {zip}"

    def schema(self) -> dict:
        """The JSON Schema of this parameter."""
        out: dict[str, Any] = {"description": self.description} if self.description else {}
        if self.kind in ("string", "date", "time"):
            out["type"] = "string"
            if self.kind == "date":
                out.update(format="date", pattern=r"^\d{4}-\d{2}-\d{2}$")
            elif self.kind == "time":
                out.update(format="time", pattern=r"^\d{2}:\d{2}$")
        elif self.kind in ("integer", "number"):
            out["type"] = self.kind
            if self.lo is not None and not self.percent:
                out["minimum"] = self.lo
            if self.hi is not None and not self.percent and self.kind == "integer":
                out["maximum"] = self.hi
        elif self.kind == "enum":
            out.update(type="string", enum=list(self.synonyms))
        elif self.kind == "boolean":
            out["type"] = "boolean"
        elif self.kind == "array":
            out.update(type="array", items=self.items.schema(), minItems=int(self.lo or 1))
        elif self.kind == "object":
            out.update(type="object", properties={k: p.schema() for k, p in self.fields.items()},
                       required=list(self.fields), additionalProperties=False)
        if self.default is not MISSING:
            out["default"] = self.default
        return out


# Constructors: the catalogue modules describe tools with these.

def text(description: str, source, **kw) -> Param:
    return Param("string", description, source=source, **kw)


def integer(description: str, lo: int, hi: int, words: bool = True, **kw) -> Param:
    return Param("integer", description, lo=lo, hi=hi, words=words, **kw)


def number(description: str, lo: float, hi: float, decimals: int = 2, percent: bool = False, **kw) -> Param:
    return Param("number", description, lo=lo, hi=hi, decimals=decimals, percent=percent, **kw)


def choice(description: str, synonyms: dict, **kw) -> Param:
    return Param("enum", description, synonyms={k: tuple(v) for k, v in synonyms.items()}, **kw)


def flag(description: str, true: tuple = (), false: tuple = (), **kw) -> Param:
    cues = {value: tuple(c) for value, c in ((True, true), (False, false)) if c}
    return Param("boolean", description, cues=cues, **kw)


def date(description: str, **kw) -> Param:
    return Param("date", description, **kw)


def time(description: str, **kw) -> Param:
    return Param("time", description, **kw)


def array(description: str, items: Param, lo: int = 2, hi: int = 4, **kw) -> Param:
    return Param("array", description, items=items, lo=lo, hi=hi, **kw)


def obj(description: str, fields: dict, fmt: str, **kw) -> Param:
    return Param("object", description, fields=fields, fmt=fmt, **kw)


# String sources: callables for values that are composed rather than picked.

def ident(prefix: str, digits: int) -> Callable[[random.Random], str]:
    return lambda rng: prefix + "".join(rng.choice("0123456789") for _ in range(digits))


def person(rng: random.Random) -> str:
    return f"{rng.choice(pools.FIRST_NAMES)} {rng.choice(pools.LAST_NAMES)}"


def email(rng: random.Random) -> str:
    first, last = rng.choice(pools.FIRST_NAMES).lower(), rng.choice(pools.LAST_NAMES).lower()
    user = rng.choice((f"{first}.{last}", f"{first}{last[0]}", f"{first[0]}{last}", first))
    return f"{user}@{rng.choice(pools.EMAIL_DOMAINS)}"


def phone(rng: random.Random) -> str:
    return f"+{rng.choice(('1', '44', '49', '33', '81'))} {rng.randint(200, 999)} {rng.randint(100, 999)} " \
           f"{rng.randint(1000, 9999)}"


def file_name(*extensions: str) -> Callable[[random.Random], str]:
    return lambda rng: f"{rng.choice(pools.FILE_STEMS)}.{rng.choice(extensions)}"


def file_path(rng: random.Random) -> str:
    ext = rng.choice(("txt", "pdf", "csv", "docx", "xlsx", "md", "png", "json"))
    return f"/home/{rng.choice(pools.FIRST_NAMES).lower()}/{rng.choice(pools.FOLDERS)}/" \
           f"{rng.choice(pools.FILE_STEMS)}.{ext}"


def folder_path(rng: random.Random) -> str:
    return f"/home/{rng.choice(pools.FIRST_NAMES).lower()}/{rng.choice(pools.FOLDERS)}"


def zip_code(rng: random.Random) -> str:
    return f"{rng.randint(10000, 99999)}"


def street(rng: random.Random) -> str:
    return f"{rng.randint(1, 999)} {rng.choice(pools.STREETS)}"


# Rendering of values into text.

def int_words(n: int) -> str:
    """0..99 in words: 7 -> "seven", 42 -> "forty-two"."""
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + (f"-{ONES[ones]}" if ones else "")


def date_forms(iso: str) -> list[str]:
    """Every way the generator writes a date; the first is the ISO form the target uses."""
    d = dt.date.fromisoformat(iso)
    month = MONTHS[d.month - 1]
    suffix = "th" if 11 <= d.day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d.day % 10, "th")
    return [iso, f"{month} {d.day}, {d.year}", f"{d.day} {month} {d.year}", f"{month[:3]} {d.day}, {d.year}",
            f"{month} {d.day}{suffix}, {d.year}", f"the {d.day}{suffix} of {month} {d.year}"]


def time_forms(hhmm: str) -> list[str]:
    """Every way the generator writes a time; the first is the 24-hour form the target uses."""
    hour, minute = int(hhmm[:2]), int(hhmm[3:])
    h12, half = (hour % 12 or 12), ("am" if hour < 12 else "pm")
    forms = [hhmm, f"{h12}:{minute:02d} {half}", f"{h12}:{minute:02d}{half}", f"{h12}:{minute:02d} {half.upper()}"]
    if minute == 0:
        forms += [f"{h12} {half}", f"{h12}{half}"]
    return forms


def format_number(value: float, decimals: int, thousands: bool = False) -> str:
    text = f"{value:,.{decimals}f}" if thousands else f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def sample_value(param: Param, rng: random.Random) -> Any:
    """Draw a target value for `param`."""
    kind = param.kind
    if kind == "string":
        return param.source(rng) if callable(param.source) else rng.choice(param.source)
    if kind == "integer":
        return rng.randint(int(param.lo), int(param.hi))
    if kind == "number":
        if param.percent:  # lo/hi are percentages; the value is the fraction
            return round(round(rng.uniform(param.lo, param.hi), param.decimals) / 100, param.decimals + 2)
        value = round(rng.uniform(param.lo, param.hi), param.decimals)
        if value == int(value) or (rng.random() < 0.15 and int(value) >= param.lo):
            return int(value)  # whole amounts are common ("250 euros")
        return value
    if kind == "enum":
        return rng.choice(list(param.synonyms))
    if kind == "boolean":
        return rng.choice(list(param.cues))
    if kind == "date":
        return (dt.date(2025, 1, 1) + dt.timedelta(days=rng.randint(0, 729))).isoformat()
    if kind == "time":
        return f"{rng.randint(6, 22):02d}:{rng.choice((0, 0, 0, 15, 30, 30, 45, 10, 20, 40, 50, 5)):02d}"
    if kind == "array":
        values: list = []
        want = rng.randint(int(param.lo), int(param.hi))
        for _ in range(want * 10):
            value = sample_value(param.items, rng)
            if value not in values:
                values.append(value)
            if len(values) == want:
                break
        return values
    if kind == "object":
        return {name: sample_value(p, rng) for name, p in param.fields.items()}
    raise ValueError(f"unknown parameter kind {kind!r}")


def join_words(parts: list[str], rng: random.Random) -> str:
    if len(parts) == 1:
        return parts[0]
    style = rng.random()
    if style < 0.5:
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    if style < 0.8:
        return ", ".join(parts)
    return ", ".join(parts[:-1]) + ", and " + parts[-1]


def enum_forms(param: Param, value: str) -> list[str]:
    """How a user may write an enum value: its synonyms, and the value itself when it reads as a word
    ("celsius", "USD"; not "pm25", "in" or "gas_station")."""
    return list(param.synonyms[value]) + ([value] if value.isalpha() and len(value) > 2 else [])


def stated_forms(param: Param) -> dict:
    """Value -> every phrase that states it, for an enum or a boolean: enum forms or cues, then the
    word phrases of `wording.py` (empty unless the generator's word_value_rate put them there)."""
    if param.kind == "enum":
        return {v: enum_forms(param, v) + list(param.word_phrases.get(v, ())) for v in param.synonyms}
    phrases = param.word_phrases
    return {k: list(param.cues.get(k, ())) + list(phrases.get(k, ())) for k in {**param.cues, **phrases}}


def render_value(param: Param, value: Any, rng: random.Random, in_list: bool = False) -> str:
    """Write `value` as a user would, choosing among the forms `checks.py` accepts.

    Inside a list numbers never get thousands separators, so "2,500, 3,000" cannot happen."""
    kind = param.kind
    if kind == "string":
        return value
    if kind == "integer":
        if param.words and 0 <= value < 100 and (value <= 20 or value % 10 == 0) and rng.random() < WORD_RATE:
            return int_words(value)
        return f"{value:,}" if value >= 10000 and not in_list and rng.random() < 0.5 else str(value)
    if kind == "number":
        if param.percent:
            pct = format_number(value * 100, param.decimals)
            return rng.choice((f"{pct}%", f"{pct}%", f"{pct} percent"))
        return format_number(value, param.decimals, thousands=value >= 1000 and not in_list and rng.random() < 0.5)
    if kind == "enum":
        return rng.choice(enum_forms(param, value))
    if kind == "boolean":
        return rng.choice(param.cues[value])
    if kind == "date":
        return rng.choice(date_forms(value))
    if kind == "time":
        return rng.choice(time_forms(value))
    if kind == "array":
        return join_words([render_value(param.items, v, rng, in_list=True) for v in value], rng)
    if kind == "object":
        return param.fmt.format(**{k: render_value(p, value[k], rng) for k, p in param.fields.items()})
    raise ValueError(f"unknown parameter kind {kind!r}")
