"""The three metrics of the report, per example and aggregated with 95% intervals.

- JSON validity: the output contains a JSON object that parses (`extract.py`).
- Schema adherence: that object has exactly `name` and `arguments`, `name` is one
  of the offered tools (or null, the explicit "no call"), and `arguments`
  satisfies the tool's JSON Schema: required keys, types, enums, other keywords,
  and no properties beyond those the schema lists (unless it allows them).
- Exact match (labeled examples only): same function and equal canonical
  arguments. Canonical form: key order ignored, 1 == 1.0 (but true != 1),
  whitespace inside strings collapsed and trimmed, list order kept. For a
  `target: null` example the right answer is no call: explicit, or any output
  without a call.

Each example gets one `error_type` (the first failure, in this order):
invalid_json, missing_keys, extra_keys, bad_name, bad_arguments,
called_when_should_not, unknown_tool, missing_required, extra_argument,
type_mismatch, enum_violation, schema_violation, no_call_when_should,
wrong_function, missing_argument, unexpected_argument, wrong_value.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass

import jsonschema

from calltune.errors import CalltuneError
from calltune.examples import Example
from calltune.extract import extract_call

SCHEMA_ERROR_ORDER = ("missing_required", "extra_argument", "type_mismatch", "enum_violation",
                      "schema_violation")
_KEYWORD_ERRORS = {"required": "missing_required", "additionalProperties": "extra_argument",
                   "unevaluatedProperties": "extra_argument", "type": "type_mismatch",
                   "enum": "enum_violation", "const": "enum_violation"}


@dataclass(frozen=True)
class Check:
    """The verdict on one prediction. `exact` is None for unlabeled examples."""

    id: str
    json_valid: bool
    schema_ok: bool
    exact: bool | None
    error_type: str | None
    detail: str = ""


def schema_errors(arguments: dict, schema: dict) -> list[tuple[str, str]]:
    """Return `(error_type, message)` pairs for `arguments` against a tool's parameter schema.

    Top-level keys the schema does not list are errors unless `additionalProperties`
    is set to something other than false (the schema then says what is allowed).
    """
    found = []
    if "additionalProperties" not in schema and "unevaluatedProperties" not in schema:
        listed = set(schema.get("properties", {}))
        for key in sorted(set(arguments) - listed):
            found.append(("extra_argument", f"'{key}' is not a parameter of the tool"))
    for err in jsonschema.Draft202012Validator(schema).iter_errors(arguments):
        at = ".".join(str(p) for p in err.absolute_path)
        found.append((_KEYWORD_ERRORS.get(err.validator, "schema_violation"),
                      (f"{at}: " if at else "") + err.message))
    found.sort(key=lambda e: SCHEMA_ERROR_ORDER.index(e[0]))
    return found


def canonical(value):
    """A comparable form of a JSON value (see the module docstring)."""
    if isinstance(value, bool) or value is None:
        return ("const", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, str):
        return ("string", " ".join(value.split()))
    if isinstance(value, list):
        return ("list", tuple(canonical(v) for v in value))
    if isinstance(value, dict):
        return ("object", tuple(sorted((k, canonical(v)) for k, v in value.items())))
    raise TypeError(f"not a JSON value: {value!r}")


def compare_arguments(pred: dict, gold: dict) -> tuple[str | None, str]:
    """Return `(error_type, detail)` for the first difference, `(None, "")` if equal."""
    for key in gold:
        if key not in pred:
            return "missing_argument", f"'{key}' missing"
    for key in pred:
        if key not in gold:
            return "unexpected_argument", f"'{key}' not in the target"
    for key in gold:
        if canonical(pred[key]) != canonical(gold[key]):
            return "wrong_value", f"'{key}': {pred[key]!r} != {gold[key]!r}"
    return None, ""


def check_prediction(example: Example, raw: str) -> Check:
    """Score one generated text against its example."""
    ext = extract_call(raw)
    json_valid = ext.obj is not None
    if ext.error is not None:  # no call was made; right only when none was wanted
        exact = (example.target is None) if example.labeled else None
        return Check(example.id, json_valid, False, exact, ext.error)
    exact: bool | None = None
    if ext.call is None:  # explicit "no call"
        if example.labeled:
            exact = example.target is None
        error = "no_call_when_should" if exact is False else None
        return Check(example.id, True, True, exact, error)

    name, args = ext.call["name"], ext.call["arguments"]
    tool = example.tool(name)
    problems = [("unknown_tool", f"'{name}' is not an offered tool")] if tool is None \
        else schema_errors(args, tool.parameters)
    schema_ok = not problems
    if example.labeled and example.target is None:
        return Check(example.id, True, schema_ok, False, "called_when_should_not", f"called '{name}'")
    if problems:
        error, detail = problems[0]
    else:
        error, detail = None, ""
    if example.labeled:
        gold = example.target
        if name != gold["name"]:
            exact, mismatch = False, ("wrong_function", f"'{name}' instead of '{gold['name']}'")
        else:
            diff = compare_arguments(args, gold["arguments"])
            exact, mismatch = diff[0] is None, diff
        if error is None and not exact:
            error, detail = mismatch
    return Check(example.id, True, schema_ok, exact, error, detail)


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion; (0, 1) when n == 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value for paired right/wrong outcomes: ONLY_A examples right under
    A alone, ONLY_B under B alone (a binomial test on the discordant pairs); 1.0 when there are none."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def summarize(checks: list[Check]) -> dict:
    """Aggregate checks into the metrics dictionary written by `calltune eval`."""
    n = len(checks)
    labeled = [c for c in checks if c.exact is not None]
    counts = {
        "json_validity": (sum(c.json_valid for c in checks), n),
        "schema_adherence": (sum(c.schema_ok for c in checks), n),
        "exact_match": (sum(bool(c.exact) for c in labeled), len(labeled)),
    }
    metrics = {"n": n, "n_labeled": len(labeled)}
    for key, (hits, total) in counts.items():
        metrics[key] = hits / total if total else None
    valid = counts["json_validity"][0]
    metrics["schema_adherence_given_valid"] = counts["schema_adherence"][0] / valid if valid else None
    metrics["errors"] = dict(sorted(Counter(c.error_type for c in checks if c.error_type).items()))
    metrics["intervals"] = {k: list(wilson_interval(h, t)) for k, (h, t) in counts.items()}
    metrics["interval_method"] = "wilson-95"
    return metrics


def check_all(examples: list[Example], raws: dict[str, str], source: str = "predictions") -> list[Check]:
    """Check every example; predictions must cover exactly the examples' ids."""
    ids = {ex.id for ex in examples}
    missing = [ex.id for ex in examples if ex.id not in raws]
    if missing:
        raise CalltuneError(f"{source}: no prediction for {len(missing)} example(s), e.g. '{missing[0]}'")
    extra = sorted(set(raws) - ids)
    if extra:
        raise CalltuneError(f"{source}: prediction for unknown example id '{extra[0]}'")
    return [check_prediction(ex, raws[ex.id]) for ex in examples]


def check_to_json(check: Check) -> dict:
    return asdict(check)
