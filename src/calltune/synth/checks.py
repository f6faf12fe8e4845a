"""The unambiguity check: can every argument of a call be recovered from the instruction alone?

Rules, one `error_type` each:
- `unknown_argument` / `missing_required`: the arguments do not fit the tool's parameters.
- `unrecoverable`: a stated value is not in the text. Strings must appear verbatim (case-insensitive, on
  word boundaries); numbers as digits ("2.5", "1,200") or number words ("three", "forty-two"), fractions
  declared `percent` also as "4.5%"; enums through a form from `slots.enum_forms` (a declared synonym, or
  the value itself when it reads as a word), where a form inside a longer form of another value does not
  count ("economy" inside "premium economy"); dates and times in one of `slots.date_forms` /
  `slots.time_forms`; booleans through a declared cue phrase; arrays and objects element by element.
  Enums and booleans also through the word phrases `wording.py` declares on the parameter (`Param.word_phrases`,
  set only when the generator's `word_value_rate` is above 0).
- `duplicate_value`: two different string-like arguments share a value ("from Paris to Paris"), so the
  text cannot say which is which.
- `stated_but_omitted`: an optional enum or boolean is absent from the call although the text states it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from calltune.synth.catalogue import ToolDef
from calltune.synth.slots import Param, date_forms, int_words, stated_forms, time_forms

ERROR_TYPES = ("unknown_argument", "missing_required", "unrecoverable", "duplicate_value", "stated_but_omitted")
NUMBER_RE = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\d)")
DATE_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
WORD_RE = re.compile(r"[a-z]+(?:-[a-z]+)?")
WORD_NUMBERS = {int_words(n): n for n in range(100)}


@dataclass(frozen=True)
class CheckResult:
    """`ok` is True when the call is recoverable; otherwise `error_type` (from ERROR_TYPES) and a detail."""

    ok: bool
    error_type: str | None = None
    detail: str = ""


OK = CheckResult(True)


@lru_cache(maxsize=4096)
def _pattern(phrase: str) -> re.Pattern:
    return re.compile(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", re.IGNORECASE)


def spans(text: str, phrase: str) -> list[tuple[int, int]]:
    return [m.span() for m in _pattern(phrase).finditer(text)]


def contains(text: str, phrase: str) -> bool:
    return _pattern(phrase).search(text) is not None


def numbers_in(text: str) -> list[float]:
    """Every number written in `text`, as digits or (0..99) as words."""
    found = [float(m.group().replace(",", "")) for m in NUMBER_RE.finditer(text)]
    found += [float(WORD_NUMBERS[w]) for w in WORD_RE.findall(text.lower()) if w in WORD_NUMBERS]
    return found


def stated_choices(text: str, forms: dict[Any, list[str]]) -> set:
    """Which keys of `forms` the text states, ignoring a match inside a longer match of another key."""
    hits = [(start, end, key) for key, phrases in forms.items() for p in phrases for start, end in spans(text, p)]
    return {key for start, end, key in hits
            if not any(k != key and s <= start and end <= e and (e - s) > (end - start) for s, e, k in hits)}


def _same_number(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def recoverable(param: Param, value: Any, text: str) -> bool:
    """True when `value` for `param` can be read off `text` under the module's rules."""
    kind = param.kind
    if kind == "string":
        return isinstance(value, str) and contains(text, value)
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        wanted = [value] + ([round(value * 100, 10)] if param.percent else [])
        return any(_same_number(n, w) for n in numbers_in(text) for w in wanted)
    if kind in ("enum", "boolean"):
        return value in stated_choices(text, stated_forms(param))
    if kind == "date":
        try:
            forms = date_forms(value) if isinstance(value, str) and DATE_RE.match(value) else []
        except ValueError:  # "2025-02-30"
            forms = []
        return any(contains(text, f) for f in forms)
    if kind == "time":
        forms = time_forms(value) if isinstance(value, str) and TIME_RE.match(value) else []
        return any(contains(text, f) for f in forms)
    if kind == "array":
        return isinstance(value, list) and bool(value) and all(recoverable(param.items, v, text) for v in value)
    if kind == "object":
        return isinstance(value, dict) and all(recoverable(p, value.get(k), text) for k, p in param.fields.items())
    return False


def _string_leaves(param: Param, value: Any, path: str) -> list[tuple[str, str]]:
    if param.kind in ("string", "enum", "date", "time"):
        return [(path, str(value).lower())]
    if param.kind == "array":
        return [leaf for i, v in enumerate(value) for leaf in _string_leaves(param.items, v, f"{path}[{i}]")]
    if param.kind == "object":
        return [leaf for k, p in param.fields.items() for leaf in _string_leaves(p, value[k], f"{path}.{k}")]
    return []


def check_call(tool: ToolDef, instruction: str, arguments: dict) -> CheckResult:
    """Check that `arguments` (canonical names) for `tool` are recoverable from `instruction`."""
    unknown = [k for k in arguments if k not in tool.params]
    if unknown:
        return CheckResult(False, "unknown_argument", f"{tool.name}: {unknown}")
    missing = [k for k in tool.required if k not in arguments]
    if missing:
        return CheckResult(False, "missing_required", f"{tool.name}: {missing}")
    for name, value in arguments.items():
        if not recoverable(tool.params[name], value, instruction):
            return CheckResult(False, "unrecoverable", f"{tool.name}.{name}={value!r} not found in the instruction")
    seen: dict[str, str] = {}
    for name, value in arguments.items():
        for path, leaf in _string_leaves(tool.params[name], value, name):
            if leaf in seen:
                return CheckResult(False, "duplicate_value", f"{seen[leaf]} and {path} are both {leaf!r}")
            seen[leaf] = path
    for name in tool.optional:
        param = tool.params[name]
        if name in arguments or param.kind not in ("enum", "boolean"):
            continue
        stated = stated_choices(instruction, stated_forms(param))
        if stated:
            return CheckResult(False, "stated_but_omitted",
                               f"{tool.name}.{name} is stated ({sorted(map(str, stated))}) but absent from the call")
    return OK
