"""The metrics of the report, per example and aggregated with 95% intervals.

Two prediction styles. `paper`: the answer is one JSON object (`extract.py`). `hermes`: text
content plus `<tool_call>` blocks (`chat/parse.py`); a text answer without blocks is the "no call".

- JSON validity: paper, the output contains a JSON object that parses; hermes, every block's body
  parses (so a text answer is valid).
- Schema adherence: paper, that object has exactly `name` and `arguments`, `name` is one
  of the offered tools (or null, the explicit "no call"), and `arguments`
  satisfies the tool's JSON Schema: required keys, types, enums, other keywords,
  and no properties beyond those the schema lists (unless it allows them); hermes, every block is
  such a call (a null name is not allowed).
- Exact match (labeled examples only): the calls made equal the target's calls as a multiset
  (order ignored, duplicates counted): same functions and equal canonical arguments. Canonical
  form: key order ignored, 1 == 1.0 (but true != 1), whitespace inside strings collapsed and
  trimmed, list order kept. A malformed call is a call not made. For a `target: null` example
  the right answer is no call: explicit, or any output without a well-formed call (BFCL's
  irrelevance rule); its `target_content`, if any, is not compared.

Per call (`call_validity`, `call_adherence`, `calls`): each hermes block, or each paper output
other than the explicit no-call object, is one attempted call. Abstention (labeled examples):
precision and recall of "no call" (no well-formed call made) against `target: null`.

Arguments (`arguments`, labeled examples): each target call is paired with a call made of its name (an
equal call first, else the first one left); over the called tool's parameters, `required_in_target` /
`optional_in_target` count the target's arguments, `*_given` those the paired call has, `*_right` those
with the target's value; `optional_not_in_target` counts the optional parameters the target leaves out
and `optional_given_anyway` those the call gives all the same; `unpaired` counts target calls with no call
of their name. A model that reads which optional values a request states gives the first and leaves the
second out.

Each example gets one `error_type` (the first failure, in this order):
invalid_json, not_object, missing_keys, extra_keys, bad_name, bad_arguments,
called_when_should_not, unknown_tool, missing_required, extra_argument,
type_mismatch, enum_violation, schema_violation, no_call_when_should,
wrong_function, missing_argument, unexpected_argument, wrong_value, missing_call, extra_call,
text_after_call, stray_close. In hermes answers the first block error counts, and the two layout
errors come last because they do not change the calls.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import jsonschema

from calltune.errors import CalltuneError
from calltune.chat.parse import parse_answer
from calltune.examples import Example
from calltune.extract import extract_call

STYLES = ("paper", "hermes")

SCHEMA_ERROR_ORDER = ("missing_required", "extra_argument", "type_mismatch", "enum_violation",
                      "schema_violation")
_KEYWORD_ERRORS = {"required": "missing_required", "additionalProperties": "extra_argument",
                   "unevaluatedProperties": "extra_argument", "type": "type_mismatch",
                   "enum": "enum_violation", "const": "enum_violation"}


@dataclass(frozen=True)
class Check:
    """The verdict on one prediction. `exact`, `expected` and `matched` are None for unlabeled examples."""

    id: str
    json_valid: bool
    schema_ok: bool
    exact: bool | None
    error_type: str | None
    detail: str = ""
    style: str = "paper"
    attempted: int = 0
    """Calls attempted: hermes blocks; paper, 1 unless the output is the explicit no-call object."""
    calls_valid: int = 0
    """Attempted calls whose JSON parses."""
    calls_ok: int = 0
    """Attempted calls that are well-formed calls of an offered tool obeying its schema."""
    no_call: bool = False
    """No well-formed call was made (the abstention prediction)."""
    expected: int | None = None
    """Calls in the target (0 for `target: null`)."""
    matched: int | None = None
    """Calls made that match a target call, counted as multisets."""
    call_errors: tuple[str, ...] = ()
    """The error type of each attempted call that is not a well-formed, schema-valid call."""
    arguments: dict = field(default_factory=dict)
    """`ARGUMENT_COUNTS` of this example (see the module docstring); empty when it is unlabeled."""


ARGUMENT_COUNTS = ("required_in_target", "required_given", "required_right", "optional_in_target",
                   "optional_given", "optional_right", "optional_not_in_target", "optional_given_anyway",
                   "unpaired")


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


def gold_calls(example: Example) -> list[dict] | None:
    """The calls an example expects ([] for `target: null`); None when it is unlabeled."""
    if not example.labeled:
        return None
    calls = getattr(example, "calls", None)  # `Example.calls` (issue 11); derived from `target` where absent
    if isinstance(calls, list):
        return calls
    target = example.target
    return [] if target is None else [target] if isinstance(target, dict) else list(target)


def _key(call: dict):
    return call["name"], canonical(call["arguments"])


def _unmatched(calls: list[dict], common: Counter) -> list[dict]:
    left, out = Counter(common), []
    for call in calls:
        if left[_key(call)]:
            left[_key(call)] -= 1
        else:
            out.append(call)
    return out


def match_calls(pred: list[dict], gold: list[dict]) -> tuple[int, str | None, str]:
    """Compare calls as multisets; return `(matched, error_type, detail)`, error None when equal.

    The error names the first target call left unmatched: `no_call_when_should` when nothing
    was called, `wrong_function` when no unmatched call has its name, else the first argument
    difference against the first unmatched call of that name; `missing_call` / `extra_call`
    when every call made matches but some target call is left, or the reverse."""
    common = Counter(map(_key, pred)) & Counter(map(_key, gold))
    matched = sum(common.values())
    left_pred, left_gold = _unmatched(pred, common), _unmatched(gold, common)
    if not left_pred and not left_gold:
        return matched, None, ""
    if not pred:
        return matched, "no_call_when_should", ""
    if left_gold and left_pred:
        want = left_gold[0]
        same = next((c for c in left_pred if c["name"] == want["name"]), None)
        if same is None:
            return matched, "wrong_function", f"'{left_pred[0]['name']}' instead of '{want['name']}'"
        return (matched, *compare_arguments(same["arguments"], want["arguments"]))
    if left_gold:
        return matched, "missing_call", f"'{left_gold[0]['name']}' not called"
    return matched, "extra_call", f"'{left_pred[0]['name']}' is not in the target"


def paired_calls(calls: list[dict], gold: list[dict]) -> list[tuple[dict, dict | None]]:
    """Each target call with the call made that it is compared to: an equal call first, else the first
    call of its name left over (None when there is none)."""
    free = list(range(len(calls)))
    pairs, rest = [], []
    for want in gold:
        i = next((i for i in free if _key(calls[i]) == _key(want)), None)
        if i is None:
            rest.append(want)
        else:
            free.remove(i)
            pairs.append((want, calls[i]))
    for want in rest:
        i = next((i for i in free if calls[i]["name"] == want["name"]), None)
        if i is not None:
            free.remove(i)
        pairs.append((want, None if i is None else calls[i]))
    return pairs


def argument_counts(example: Example, calls: list[dict], gold: list[dict]) -> dict[str, int]:
    """`ARGUMENT_COUNTS` for one labeled example (see the module docstring)."""
    counts = dict.fromkeys(ARGUMENT_COUNTS, 0)
    for want, made in paired_calls(calls, gold):
        tool = example.tool(want["name"])
        if made is None or tool is None:
            counts["unpaired"] += 1
            continue
        given = made["arguments"] if isinstance(made["arguments"], dict) else {}
        required = set(tool.parameters.get("required", []))
        for name in dict.fromkeys([*tool.parameters.get("properties", {}), *want["arguments"]]):
            kind = "required" if name in required else "optional"
            if name in want["arguments"]:
                counts[f"{kind}_in_target"] += 1
                counts[f"{kind}_given"] += name in given
                counts[f"{kind}_right"] += (name in given
                                            and canonical(given[name]) == canonical(want["arguments"][name]))
            elif kind == "optional":
                counts["optional_not_in_target"] += 1
                counts["optional_given_anyway"] += name in given
    return counts


def _verdict(example: Example, calls: list[dict], json_valid: bool, block_errors: list[str],
             style: str, attempted: int, calls_valid: int, layout_error: str | None = None) -> Check:
    """The shared part of both styles: schema checks of each call made, then the comparison."""
    problems = []  # (error_type, detail) of the first problem of each call that has one
    for call in calls:
        tool = example.tool(call["name"])
        found = ([("unknown_tool", f"'{call['name']}' is not an offered tool")] if tool is None
                 else schema_errors(call["arguments"], tool.parameters))
        if found:
            problems.append(found[0])
    format_error = block_errors[0] if block_errors else None
    schema_ok = format_error is None and not problems
    gold = gold_calls(example)
    exact = matched = None
    mismatch, arguments = (None, ""), {}
    if gold is not None:
        matched, *mismatch = match_calls(calls, gold)
        exact = mismatch[0] is None
        arguments = argument_counts(example, calls, gold)
    if format_error is not None:
        error, detail = format_error, ""
    elif gold == [] and calls:
        error, detail = "called_when_should_not", "called " + ", ".join(f"'{c['name']}'" for c in calls)
    elif problems:
        error, detail = problems[0]
    elif mismatch[0] is not None:
        error, detail = mismatch
    else:
        error, detail = layout_error, ""
    return Check(example.id, json_valid, schema_ok, exact, error, detail, style, attempted, calls_valid,
                 len(calls) - len(problems), not calls, None if gold is None else len(gold), matched,
                 tuple(block_errors) + tuple(p[0] for p in problems), arguments)


def check_prediction(example: Example, raw: str, style: str = "paper") -> Check:
    """Score one generated text against its example, reading it in `style` (paper or hermes)."""
    if style == "hermes":
        parsed = parse_answer(raw)
        valid = sum(b.error != "invalid_json" for b in parsed.blocks)
        return _verdict(example, parsed.calls, valid == len(parsed.blocks),
                        [b.error for b in parsed.blocks if b.error], style, len(parsed.blocks), valid,
                        parsed.layout_error)
    if style != "paper":
        raise CalltuneError(f"unknown prediction style '{style}' (choose from {', '.join(STYLES)})")
    ext = extract_call(raw)
    attempted = 0 if ext.no_call else 1
    calls = [ext.call] if ext.call is not None else []
    return _verdict(example, calls, ext.obj is not None, [ext.error] if ext.error else [], style,
                    attempted, int(ext.obj is not None and attempted == 1))


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


def discordant(a: dict[str, bool], b: dict[str, bool], ids) -> tuple[int, int]:
    """Of the case `ids`, how many are right under A only and under B only (`mcnemar_exact`'s input)."""
    return sum(a[i] and not b[i] for i in ids), sum(b[i] and not a[i] for i in ids)


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
    styles = sorted({c.style for c in checks})
    metrics["style"] = styles[0] if len(styles) == 1 else "mixed" if styles else None
    attempted = sum(c.attempted for c in checks)
    valid_calls, ok_calls = sum(c.calls_valid for c in checks), sum(c.calls_ok for c in checks)
    metrics["call_validity"] = valid_calls / attempted if attempted else None
    metrics["call_adherence"] = ok_calls / attempted if attempted else None
    metrics["calls"] = {
        "attempted": attempted, "json_valid": valid_calls, "schema_ok": ok_calls,
        "expected": sum(c.expected for c in labeled), "matched": sum(c.matched for c in labeled),
        "errors": dict(sorted(Counter(e for c in checks for e in c.call_errors).items()))}
    metrics["abstention"] = abstention(labeled)
    metrics["arguments"] = {k: sum(c.arguments.get(k, 0) for c in labeled) for k in ARGUMENT_COUNTS}
    return metrics


def abstention(labeled: list[Check]) -> dict:
    """Precision and recall of "no call" on labeled checks (None where the denominator is 0)."""
    predicted = sum(c.no_call for c in labeled)
    expected = sum(c.expected == 0 for c in labeled)
    correct = sum(c.no_call and c.expected == 0 for c in labeled)
    return {"precision": correct / predicted if predicted else None,
            "recall": correct / expected if expected else None,
            "n_predicted": predicted, "n_expected": expected, "n_correct": correct}


def check_all(examples: list[Example], raws: dict[str, str], source: str = "predictions",
              style: str = "paper") -> list[Check]:
    """Check every example, reading predictions in `style`; they must cover exactly the examples' ids."""
    ids = {ex.id for ex in examples}
    missing = [ex.id for ex in examples if ex.id not in raws]
    if missing:
        raise CalltuneError(f"{source}: no prediction for {len(missing)} example(s), e.g. '{missing[0]}'")
    extra = sorted(set(raws) - ids)
    if extra:
        raise CalltuneError(f"{source}: prediction for unknown example id '{extra[0]}'")
    return [check_prediction(ex, raws[ex.id], style) for ex in examples]


def check_to_json(check: Check) -> dict:
    return asdict(check)
