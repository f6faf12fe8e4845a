"""What a catalogue tool answers: a plausible JSON result synthesized from a call, and short replies
that report it, for multi-turn examples (`dialogue.py`).

`outcome(rng, tool_name, arguments) -> (result, replies)`: `result` is the dict the tool returns (the
content of the `tool` message, as JSON), `replies` the candidate final answers, each stating only
values of the result or of the call. Computations return the true value (the mean of the numbers,
the monthly payment of the loan); lookups and actions return sampled but consistent values. Tools
without an entry (a numeric integral, a medication's guidance) are never the first call of a dialogue.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any, Callable

from calltune.synth.slots import date_forms

Outcome = Callable[[random.Random, dict], tuple[dict, tuple[str, ...]]]


def num(value: float, digits: int = 2) -> float | int:
    """A result number as a tool would return it: rounded, whole values as integers."""
    value = round(value, digits)
    return int(value) if value == int(value) else value


def day(iso: str) -> str:
    """A date as a reply writes it: "March 14, 2025"."""
    return date_forms(iso)[1]


def join(values: list) -> str:
    """"a, b and c"."""
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def code(rng: random.Random, prefix: str, digits: int = 6) -> str:
    """An id such as a confirmation number: prefix + digits."""
    return prefix + "".join(rng.choice("0123456789") for _ in range(digits))


@cache
def outcomes() -> dict[str, Outcome]:
    """Tool name -> outcome function, for every catalogue tool that has one."""
    from calltune.synth import results_compute, results_world

    return {**results_compute.OUTCOMES, **results_world.OUTCOMES}


def has_outcome(tool_name: str) -> bool:
    return tool_name in outcomes()


def outcome(rng: random.Random, tool_name: str, arguments: dict[str, Any]) -> tuple[dict, tuple[str, ...]]:
    """`(result, replies)` for a call of a catalogue tool with canonical argument names."""
    return outcomes()[tool_name](rng, arguments)
