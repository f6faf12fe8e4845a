"""Bridge to the Berkeley Function Calling Leaderboard (BFCL): evaluation data only, never training.

Loads BFCL's single-turn Python categories from the installed `bfcl_eval` package as calltune
example records and scores predictions with BFCL's own AST checker:

    records = load_category("simple_python")
    examples = [parse_example(r) for r in records]
    report = score(examples, {ex.id: call_or_None, ...}, "simple_python")
    report = score(parallel_examples, {ex.id: [call, ...], ...}, "parallel")

`simple_python`, `multiple` (one call among several offered tools) and `irrelevance` (no call is
right) ask for one call or none; `parallel` (one tool, several calls) and `parallel_multiple`
(several tools, several calls) ask for a list of calls, which BFCL matches order-free: as many calls
as the ground truth, each ground-truth entry matched by a distinct call. Each record keeps the raw
BFCL function docs and ground truth in `meta` for the checker; its `target` is one representative
correct call (a list of them for the parallel categories), used only by calltune's exact-match metric.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jsonschema

from calltune.errors import CalltuneError
from calltune.examples import Example, parse_call
from calltune.jsonl import read_jsonl

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")
PARALLEL_CATEGORIES = ("parallel", "parallel_multiple")  # the target is a list of calls
# The categories the overlap check reads the functions of.
OVERLAP_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")
VERSION_PREFIX = "BFCL_v4"
# BFCL's checker looks the model up in its model table to learn whether dots in function names were
# rewritten to underscores; calltune keeps BFCL's names as they are, so it registers itself with "no".
MODEL_NAME = "calltune"
_TYPES = {"dict": "object", "float": "number", "tuple": "array"}  # BFCL type -> JSON Schema type
# Keys BFCL puts in parameter docs that are not JSON Schema: "optional" (True, "true", "yes" or a
# list of names) repeats what "required" says, and a validator would silently ignore it.
_NOT_SCHEMA = ("optional",)
_OMIT = object()  # a "" in an allowed-value list: BFCL lets the parameter be left out


class NoFittingValue(CalltuneError):
    """A ground-truth parameter none of whose allowed values fits the converted schema: BFCL accepts
    a variable name there ("data['sales']" for an array), which no schema-valid call can be."""


@dataclass(frozen=True)
class Verdict:
    """One prediction judged: `error_type` is BFCL's string (e.g. "value_error:string",
    "parallel_function_checker_no_order:cannot_find_match") or calltune's "no_call" /
    "irrelevance:called"."""

    correct: bool
    error_type: str | None = None
    error: str | None = None


def convert_type(schema: dict) -> dict:
    """One BFCL parameter schema as JSON Schema, recursing through properties and items.

    dict -> object, float -> number, tuple -> array, any -> no type constraint; other keys
    (description, enum, required, default, ...) are kept, non-schema ones dropped.
    """
    out = {k: v for k, v in schema.items() if k not in _NOT_SCHEMA}
    kind = out.get("type")
    if kind == "any":
        del out["type"]
    elif kind in _TYPES:
        out["type"] = _TYPES[kind]
    if isinstance(out.get("properties"), dict):
        out["properties"] = {name: convert_type(sub) for name, sub in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = convert_type(out["items"])
    return out


def convert_function(fn: dict) -> dict:
    """A BFCL function doc as a calltune tool in OpenAI form."""
    params = fn.get("parameters", {"type": "dict", "properties": {}})
    return {"type": "function", "function": {"name": fn["name"],
                                             "description": fn.get("description", ""),
                                             "parameters": convert_type(params)}}


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise CalltuneError(f"unknown BFCL category '{category}' (choose from {', '.join(CATEGORIES)})")


def _data_file(*parts: str):
    try:
        return resources.files("bfcl_eval").joinpath("data", *parts)
    except ModuleNotFoundError:
        raise CalltuneError("BFCL needs the bfcl_eval package (pip install bfcl-eval --no-deps)") from None


def load_raw(category: str) -> list[dict]:
    """BFCL's own records of one of `OVERLAP_CATEGORIES` (`id`, `question`, `function`), unconverted:
    for checks that need only the functions and questions (`calltune.overlap`)."""
    if category not in OVERLAP_CATEGORIES:
        raise CalltuneError(f"unknown BFCL category '{category}' (choose from {', '.join(OVERLAP_CATEGORIES)})")
    return [obj for _, obj in read_jsonl(_data_file(f"{VERSION_PREFIX}_{category}.json"))]


def _instruction(question: list, ex_id: str) -> tuple[str, str | None]:
    """(user message, system message or None) of a single-turn BFCL question."""
    if len(question) != 1:
        raise CalltuneError(f"BFCL '{ex_id}': expected one turn, got {len(question)}")
    by_role = {}
    for message in question[0]:
        if message["role"] in by_role or message["role"] not in ("system", "user"):
            raise CalltuneError(f"BFCL '{ex_id}': unsupported messages {[m['role'] for m in question[0]]}")
        by_role[message["role"]] = message["content"]
    if "user" not in by_role:
        raise CalltuneError(f"BFCL '{ex_id}': no user message")
    return by_role["user"], by_role.get("system")


def _candidates(allowed: list, doc: dict):
    """Values BFCL accepts for one parameter, in its order, in plain call form (or _OMIT).

    For dict parameters (and lists of dicts) BFCL lists allowed values per key; the
    representative takes each key's first value and leaves out keys whose first value is "".
    """
    def plain(d: dict) -> dict:
        return {k: vs[0] for k, vs in d.items() if vs and vs[0] != ""}

    item_doc = doc.get("items", {})
    for value in allowed:
        if value == "":
            yield _OMIT
        elif doc.get("type") == "dict" and isinstance(value, dict):
            yield plain(value)
        elif item_doc.get("type") == "dict" and isinstance(value, list):
            yield [plain(d) if isinstance(d, dict) else d for d in value]
        else:
            yield value


def representative_call(answer: dict, fn: dict) -> tuple[dict, list[str]]:
    """One call BFCL accepts, from a ground-truth entry `{name: {param: [allowed, ...]}}`.

    Each parameter gets its first allowed value (left out where that is ""), unless that value
    breaks the converted JSON Schema; then the first later value that fits is used. A parameter the
    function does not declare (a slip in BFCL's data, parallel_multiple_26) is left out where BFCL
    allows that, since BFCL's checker rejects undeclared parameters. Returns the call and the
    parameters where the first value could not be used.
    """
    (name, allowed_by_param), = answer.items()
    schema = convert_type(fn["parameters"])
    required = set(schema.get("required", []))
    docs = fn["parameters"].get("properties", {})
    arguments, fixed = {}, []
    for param, allowed in allowed_by_param.items():
        check = jsonschema.Draft202012Validator(schema.get("properties", {}).get(param, {}))
        for i, value in enumerate(_candidates(allowed, docs.get(param, {}))):
            if (value is _OMIT and param not in required) or \
                    (value is not _OMIT and check.is_valid(value) and (param in docs or "" not in allowed)):
                break
        else:
            raise NoFittingValue(f"BFCL function '{name}': no allowed value of '{param}' fits its schema")
        if i > 0:
            fixed.append(param)
        if value is not _OMIT:
            arguments[param] = value
    return {"name": name, "arguments": arguments}, fixed


def _representative(truth: list[dict], functions: list[dict], ex_id: str) -> tuple[dict, list[str]]:
    """`representative_call` for one ground-truth entry, finding its function among `functions`."""
    name = next(iter(truth))
    fn = next((f for f in functions if f["name"] == name), None)
    if fn is None:
        raise CalltuneError(f"BFCL '{ex_id}': answer calls '{name}', which is not offered")
    return representative_call(truth, fn)


def load_category(category: str, limit: int | None = None) -> list[dict]:
    """The first `limit` (default all) examples of a BFCL category as calltune example records.

    `meta` holds `bfcl_category`, `bfcl_id`, `possible_answer` (BFCL's ground truth, None for
    irrelevance), `functions` (BFCL's function docs) and `target_fixed` (parameters whose first
    allowed value did not fit the schema, so the target uses a later one; for the parallel
    categories one such list per call). The parallel categories' `target` is one representative
    call per ground-truth entry, in BFCL's order. Where a ground-truth value can only be a variable
    name (`NoFittingValue`; 2 records of parallel_multiple) the record has no `target`: calltune's
    metrics skip it as unlabeled, BFCL's checker still judges it, and `meta.target_unfit` says why.
    """
    _check_category(category)
    answers = {}
    if category != "irrelevance":
        path = _data_file("possible_answer", f"{VERSION_PREFIX}_{category}.json")
        answers = {obj["id"]: obj["ground_truth"] for _, obj in read_jsonl(path)}
    records = []
    for _, obj in read_jsonl(_data_file(f"{VERSION_PREFIX}_{category}.json")):
        if limit is not None and len(records) >= limit:
            break
        ex_id, functions = obj["id"], obj["function"]
        instruction, system = _instruction(obj["question"], ex_id)
        target, fixed, truth, unfit = None, [], None, None
        if category != "irrelevance":
            if ex_id not in answers:
                raise CalltuneError(f"BFCL '{ex_id}': no possible answer")
            truth = answers[ex_id]
            try:
                if category in PARALLEL_CATEGORIES:
                    made = [_representative(entry, functions, ex_id) for entry in truth]
                    target, fixed = [call for call, _ in made], [params for _, params in made]
                else:
                    target, fixed = _representative(truth[0], functions, ex_id)
            except NoFittingValue as err:
                unfit = str(err)
        record = {"id": ex_id, "instruction": instruction,
                  "tools": [convert_function(f) for f in functions], "target": target,
                  "meta": {"bfcl_category": category, "bfcl_id": ex_id, "possible_answer": truth,
                           "functions": functions, "target_fixed": fixed}}
        if unfit is not None:
            del record["target"]
            record["meta"]["target_unfit"] = unfit
        if system is not None:
            record["system"] = system
        records.append(record)
    return records


@cache
def _checker() -> types.ModuleType:
    """BFCL's `ast_checker` module, imported without its model-handler dependencies.

    `ast_checker` imports MODEL_CONFIG_MAPPING from `bfcl_eval.constants.model_config`, which
    imports every model handler and so the vendors' SDKs (anthropic, openai, ...). The checker only
    reads `MODEL_CONFIG_MAPPING[model].underscore_to_dot`, and only for dotted function names, so
    for the import a stand-in module with one entry for MODEL_NAME sits in `sys.modules`; it is
    removed again so no one else sees it. Everything else the checker imports is light.
    """
    config_name = "bfcl_eval.constants.model_config"
    stand_in = config_name not in sys.modules
    if stand_in:
        config = types.ModuleType(config_name)
        config.MODEL_CONFIG_MAPPING = {MODEL_NAME: types.SimpleNamespace(underscore_to_dot=False)}
        sys.modules[config_name] = config
    try:
        module = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
    except ModuleNotFoundError as err:
        raise CalltuneError(f"cannot import BFCL's checker: {err}") from None
    finally:
        if stand_in:
            del sys.modules[config_name]
    if MODEL_NAME not in module.MODEL_CONFIG_MAPPING:  # the real table was loaded before us
        raise CalltuneError("BFCL's full model table is loaded; calltune cannot register with it")
    return module


def as_calls(prediction: dict | list[dict] | None) -> list[dict]:
    """A prediction as the list of calls the model made: None -> [], one call -> [call]."""
    if prediction is None:
        return []
    return prediction if isinstance(prediction, list) else [prediction]


def check_call(example: Example, call: dict | list[dict] | None, category: str) -> Verdict:
    """Judge the model's answer for a BFCL example the way BFCL does: one call, a list of calls
    (the parallel categories; any category judges a list by BFCL's count rules) or None (no call)."""
    _check_category(category)
    calls = as_calls(call)
    if category == "irrelevance":  # BFCL: right iff the model makes no valid call
        if not calls:
            return Verdict(True)
        return Verdict(False, "irrelevance:called", f"called '{calls[0]['name']}' when no call was right")
    if not calls:
        return Verdict(False, "no_call", "no function call")
    if "functions" not in example.meta or "possible_answer" not in example.meta:
        raise CalltuneError(f"example '{example.id}': no BFCL functions/possible_answer in meta")
    checker = _checker()
    result = checker.ast_checker(example.meta["functions"], [{c["name"]: c["arguments"]} for c in calls],
                                 example.meta["possible_answer"], checker.Language.PYTHON,
                                 category, MODEL_NAME)
    if result["valid"]:
        return Verdict(True)
    # the parallel checker's errors hold dicts (the per-call sub-errors), the others strings
    error = " ".join(e if isinstance(e, str) else json.dumps(e, default=str) for e in result.get("error", []))
    return Verdict(False, result.get("error_type", "unknown"), error[:300])


def score(examples: list[Example], predictions: dict[str, dict | list[dict] | None], category: str) -> dict:
    """BFCL accuracy of `predictions` (id -> call, list of calls, or None) over `examples` of one category.

    Returns {"category", "n", "accuracy", "correct", "errors": {error_type: count},
    "per_example": [{"id", "correct", "error_type", "error"}]}.
    """
    _check_category(category)
    rows = []
    for ex in examples:
        if ex.id not in predictions:
            raise CalltuneError(f"no prediction for BFCL example '{ex.id}'")
        call = predictions[ex.id]
        if any(parse_call(c) is None for c in as_calls(call)):
            raise CalltuneError(f"prediction for '{ex.id}': must be None, "
                                '{"name": str, "arguments": dict} or a list of those')
        verdict = check_call(ex, call, category)
        rows.append({"id": ex.id, "correct": verdict.correct, "error_type": verdict.error_type,
                     "error": verdict.error})
    correct = sum(row["correct"] for row in rows)
    errors = Counter(row["error_type"] for row in rows if not row["correct"])
    return {"category": category, "n": len(rows), "accuracy": correct / len(rows) if rows else 0.0,
            "correct": correct, "errors": dict(errors), "per_example": rows}
