"""Value formats that a tool's description asks for: dates and places written the way a given API wants them.

Catalogue tools take dates as YYYY-MM-DD and cities as bare names. Real APIs differ ("the date in MM-DD-YYYY
format", "City and state, e.g. San Francisco, CA"), and a model must write the value in the form the description
asks, whatever form the user gave it in. `reformat` rewrites one offered tool (its JSON and its calls) to another
date format (description, `pattern`; no `format: date`, which means ISO) or place format ("Denver, CO",
"Denver, Colorado", "Lyon, France"; a state form only when every called value is a US city). The generator applies
it per offered tool at `value_format_rate` (`augment.offer`), before the description is restyled, so the styles
carry the new wording. Only top-level parameters change. A place's region or country comes from the facts
here, not from the request: the user says "Boston" and the call, as the description asks, "Boston, MA".
"""

from __future__ import annotations

import datetime as dt
import random
import re

from calltune.synth import pools
from calltune.synth.slots import MONTHS

# label, strftime-like writer, JSON Schema pattern
DATE_FORMATS = (
    ("MM-DD-YYYY", lambda d: d.strftime("%m-%d-%Y"), r"^\d{2}-\d{2}-\d{4}$"),
    ("MM/DD/YYYY", lambda d: d.strftime("%m/%d/%Y"), r"^\d{2}/\d{2}/\d{4}$"),
    ("DD/MM/YYYY", lambda d: d.strftime("%d/%m/%Y"), r"^\d{2}/\d{2}/\d{4}$"),
    ("DD.MM.YYYY", lambda d: d.strftime("%d.%m.%Y"), r"^\d{2}\.\d{2}\.\d{4}$"),
    ("YYYY/MM/DD", lambda d: d.strftime("%Y/%m/%d"), r"^\d{4}/\d{2}/\d{2}$"),
    ('Month D, YYYY (e.g. "March 7, 2025")', lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
     r"^[A-Z][a-z]+ \d{1,2}, \d{4}$"),
)

US_STATES = {"New York": ("NY", "New York"), "Chicago": ("IL", "Illinois"), "Boston": ("MA", "Massachusetts"),
             "San Francisco": ("CA", "California"), "Los Angeles": ("CA", "California"),
             "Seattle": ("WA", "Washington"), "Denver": ("CO", "Colorado"), "Austin": ("TX", "Texas"),
             "Miami": ("FL", "Florida"), "Atlanta": ("GA", "Georgia")}
COUNTRIES = {
    "Paris": "France", "London": "United Kingdom", "Tokyo": "Japan", "New York": "USA", "Berlin": "Germany",
    "Madrid": "Spain", "Rome": "Italy", "Lisbon": "Portugal", "Amsterdam": "Netherlands", "Vienna": "Austria",
    "Prague": "Czech Republic", "Budapest": "Hungary", "Warsaw": "Poland", "Stockholm": "Sweden", "Oslo": "Norway",
    "Helsinki": "Finland", "Copenhagen": "Denmark", "Dublin": "Ireland", "Edinburgh": "United Kingdom",
    "Zurich": "Switzerland", "Geneva": "Switzerland", "Brussels": "Belgium", "Barcelona": "Spain",
    "Munich": "Germany", "Milan": "Italy", "Athens": "Greece", "Istanbul": "Turkey", "Cairo": "Egypt",
    "Nairobi": "Kenya", "Lagos": "Nigeria", "Cape Town": "South Africa", "Dubai": "United Arab Emirates",
    "Mumbai": "India", "Delhi": "India", "Bangalore": "India", "Singapore": "Singapore", "Bangkok": "Thailand",
    "Hanoi": "Vietnam", "Seoul": "South Korea", "Osaka": "Japan", "Beijing": "China", "Shanghai": "China",
    "Hong Kong": "China", "Taipei": "Taiwan", "Manila": "Philippines", "Jakarta": "Indonesia",
    "Sydney": "Australia", "Melbourne": "Australia", "Auckland": "New Zealand", "Toronto": "Canada",
    "Vancouver": "Canada", "Montreal": "Canada", "Chicago": "USA", "Boston": "USA", "San Francisco": "USA",
    "Los Angeles": "USA", "Seattle": "USA", "Denver": "USA", "Austin": "USA", "Miami": "USA", "Atlanta": "USA",
    "Mexico City": "Mexico", "Bogota": "Colombia", "Lima": "Peru", "Santiago": "Chile",
    "Buenos Aires": "Argentina", "Sao Paulo": "Brazil", "Rio de Janeiro": "Brazil", "Reykjavik": "Iceland",
    "Krakow": "Poland", "Porto": "Portugal", "Seville": "Spain", "Valencia": "Spain", "Lyon": "France",
    "Marseille": "France", "Hamburg": "Germany", "Cologne": "Germany", "Kyoto": "Japan", "Perth": "Australia",
    "Quebec City": "Canada"}

# label, writer, how a description states it ({example} is a place in that form)
PLACE_FORMATS = {
    "state_code": (lambda c: f"{c}, {US_STATES[c][0]}",
                   ("city and state, e.g. \"{example}\"", "written as City, ST (e.g. \"{example}\")",
                    "the city and its two-letter state code, like \"{example}\"")),
    "state_name": (lambda c: f"{c}, {US_STATES[c][1]}",
                   ("city and state name, e.g. \"{example}\"", "written as City, State (e.g. \"{example}\")")),
    "country": (lambda c: f"{c}, {COUNTRIES[c]}",
                ("city and country, e.g. \"{example}\"", "written as City, Country (e.g. \"{example}\")",
                 "the city followed by its country, like \"{example}\"")),
}


def _is_date(param) -> bool:
    return param.kind == "date"


def _is_city(param) -> bool:
    return param.source is pools.CITIES


def _iso(value) -> bool:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def formattable(tool) -> bool:
    """Whether a catalogue tool (ToolDef) has a top-level date or city parameter."""
    return any(_is_date(p) or _is_city(p) for p in tool.params.values())


def _date_description(text: str, label: str) -> str:
    if "YYYY-MM-DD" in text:
        return text.replace("YYYY-MM-DD", label)
    if "ISO 8601 date" in text:
        return text.replace("ISO 8601 date", f"Date as {label}")
    text = text.strip()
    return f"{text}{'' if text.endswith('.') or not text else '.'} Format: {label}.".strip()


def _place_description(rng: random.Random, text: str, fmt: str, value_of) -> str:
    text = re.sub(r',? e\.g\. "[^"]*"', "", text).strip().rstrip(".")
    towns = sorted(US_STATES) if fmt.startswith("state") else sorted(COUNTRIES)
    how = rng.choice(PLACE_FORMATS[fmt][1]).format(example=value_of(rng.choice(towns)))
    return f"{text}, {how}" if text else how[0].upper() + how[1:]


def reformat(rng: random.Random, tool, spec: dict, calls: list[dict]) -> tuple[dict, list[dict], list[str]]:
    """`spec` (the OpenAI form of catalogue tool `tool`, canonical names) and its `calls` with every top-level date
    and city parameter in a format drawn here. Returns `(spec, calls, tags)`: new objects, tags `format_date` and/or
    `format_place` for what changed."""
    spec = {**spec, "function": {**spec["function"]}}
    params = spec["function"]["parameters"] = dict(spec["function"]["parameters"])
    props = params["properties"] = dict(params["properties"])
    calls = [{**call, "arguments": dict(call["arguments"])} for call in calls]
    tags = []
    for name, param in tool.params.items():
        values = [call["arguments"][name] for call in calls if name in call["arguments"]]
        if _is_date(param) and all(_iso(v) for v in values):
            label, write, pattern = rng.choice(DATE_FORMATS)
            schema = {k: v for k, v in props[name].items() if k != "format"}
            schema.update(description=_date_description(schema.get("description", ""), label), pattern=pattern)
            props[name] = schema
            for call in calls:
                if name in call["arguments"]:
                    call["arguments"][name] = write(dt.date.fromisoformat(call["arguments"][name]))
            tags.append("format_date")
        elif _is_city(param) and all(v in COUNTRIES for v in values):  # a value from a tool result may not be
            fmt = rng.choice(tuple(PLACE_FORMATS) if all(v in US_STATES for v in values) else ("country",))
            write = PLACE_FORMATS[fmt][0]
            props[name] = {**props[name], "description": _place_description(
                rng, props[name].get("description", ""), fmt, write)}
            for call in calls:
                if name in call["arguments"]:
                    call["arguments"][name] = write(call["arguments"][name])
            tags.append("format_place")
    return spec, calls, sorted(set(tags))
