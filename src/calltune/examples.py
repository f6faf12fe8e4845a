"""The calltune data formats: tools, examples and predictions, loaded and checked.

Tool: OpenAI function-tool form `{"type": "function", "function": {"name",
"description", "parameters"}}` or the bare `{"name", "description",
"parameters"}` form; `parameters` is a JSON Schema object.

Example (one JSON object per line): `{"id", "instruction", "system"?,
"tools": [tool, ...], "target": {"name", "arguments"} | null, "meta"?}`.
`target: null` means the right answer is to call no tool; a missing `target`
means unlabeled. `meta` is free-form and carried through untouched.

Prediction (one per line): `{"id", "raw", "call": {"name", "arguments"} | null,
"error": null | error_type, "repaired"?: str | null}`. `raw` is the model's text;
`repaired`, written by `--decoding repair`, is the repaired text, and when
present it is what gets scored (`call` and `error` describe it).
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
from referencing.jsonschema import DRAFT202012

from calltune.errors import CalltuneError, located
from calltune.jsonl import read_jsonl

SEED_SPLITS = ("all", "train", "dev")


@dataclass(frozen=True)
class Tool:
    """A callable function: its name, description and JSON Schema for the arguments."""

    name: str
    description: str
    parameters: dict

    def spec(self) -> dict:
        """The bare `{"name", "description", "parameters"}` form used in prompts."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass
class Example:
    """One instruction with the tools offered and, when labeled, the right call."""

    id: str
    instruction: str
    tools: list[Tool]
    target: dict | None = None
    labeled: bool = False
    system: str | None = None
    meta: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict, repr=False)  # the line as read, for lossless rewrites

    def tool(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)


@dataclass
class Prediction:
    id: str
    raw: str
    call: dict | None
    error: str | None
    repaired: str | None = None

    @property
    def text(self) -> str:
        """The text that is scored: the repaired text when there is one, else the raw output."""
        return self.repaired if self.repaired is not None else self.raw

    def to_json(self) -> dict:
        out = {"id": self.id, "raw": self.raw, "call": self.call, "error": self.error}
        if self.repaired is not None:
            out["repaired"] = self.repaired
        return out


# Keywords whose value is a subschema, a {name: subschema} map, or a list of subschemas (the places a
# `$ref` can be; `$ref`-looking objects inside `enum`, `const` or `default` are data, not references).
_SUBSCHEMA = ("additionalProperties", "items", "contains", "not", "if", "then", "else", "propertyNames",
              "unevaluatedItems", "unevaluatedProperties", "contentSchema", "additionalItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")


def _subschemas(schema: dict, at: str):
    """Yield `(path, subschema)` for `schema`'s direct subschemas."""
    for key, value in schema.items():
        if key in _SUBSCHEMA and isinstance(value, dict):
            yield f"{at}/{key}", value
        elif key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            yield from ((f"{at}/{key}/{k}", v) for k, v in value.items() if isinstance(v, dict))
        elif key in _SUBSCHEMA_LISTS and isinstance(value, list):
            yield from ((f"{at}/{key}/{i}", v) for i, v in enumerate(value) if isinstance(v, dict))


def _unresolved_ref(schema: dict) -> str | None:
    """The first `$ref` in `schema` that does not resolve within it (nothing is fetched), as a message."""
    registry = referencing.Registry().with_resource("", DRAFT202012.create_resource(schema)).crawl()
    stack = [("", schema, registry.resolver(""))]
    while stack:
        at, node, resolver = stack.pop()
        if "$id" in node and node is not schema:  # a nested resource: its refs are relative to it
            resolver = resolver.in_subresource(DRAFT202012.create_resource(node))
        ref = node.get("$ref")
        if isinstance(ref, str):
            try:
                resolver.lookup(ref)
            except referencing.exceptions.Unresolvable:
                return f" at {at.lstrip('/') or '/'}: $ref '{ref}' does not resolve"
        stack += [(path, sub, resolver) for path, sub in reversed(list(_subschemas(node, at)))]
    return None


@functools.lru_cache(maxsize=4096)
def _schema_problem(schema_json: str) -> str | None:
    """Check a schema once per distinct JSON text (data files repeat the same tools many times):
    it must be a valid JSON Schema whose every `$ref` resolves."""
    schema = json.loads(schema_json)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as err:
        at = "/".join(str(p) for p in err.path)
        return f"{' at ' + at if at else ''}: {err.message}"
    return _unresolved_ref(schema)


def parse_tool(obj: Any, where: tuple[str | None, int | None], field_name: str) -> Tool:
    """Normalize either tool form into a `Tool`, checking that `parameters` is a JSON Schema object."""
    path, line = where
    if not isinstance(obj, dict):
        raise located(path, line, field_name, "a tool must be a JSON object")
    if obj.get("type") == "function" and isinstance(obj.get("function"), dict):
        obj, field_name = obj["function"], field_name + ".function"
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise located(path, line, field_name + ".name", "a tool needs a non-empty string name")
    description = obj.get("description", "")
    if not isinstance(description, str):
        raise located(path, line, field_name + ".description", "must be a string")
    params = obj.get("parameters", {"type": "object", "properties": {}})
    pfield = f"{field_name}.parameters"
    if not isinstance(params, dict):
        raise located(path, line, pfield, f"tool '{name}': parameters must be a JSON Schema object")
    problem = _schema_problem(json.dumps(params, sort_keys=True))
    if problem is not None:
        raise located(path, line, pfield, f"tool '{name}': not a valid JSON Schema{problem}")
    if params.get("type", "object") != "object":
        raise located(path, line, pfield + ".type", f"tool '{name}': parameters must have type 'object'")
    return Tool(name=name, description=description, parameters=params)


def parse_call(obj: Any) -> dict | None:
    """Return `obj` if it is `{"name": str, "arguments": dict}`, else None."""
    if (isinstance(obj, dict) and set(obj) == {"name", "arguments"}
            and isinstance(obj["name"], str) and isinstance(obj["arguments"], dict)):
        return obj
    return None


def parse_example(obj: dict, path: str | None = None, line: int | None = None) -> Example:
    """Check one example record and build an `Example`; errors name path, line and field."""
    ex_id = obj.get("id")
    if not isinstance(ex_id, str) or not ex_id:
        raise located(path, line, "id", "missing or not a non-empty string")
    instruction = obj.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise located(path, line, "instruction", f"example '{ex_id}': missing or empty")
    system = obj.get("system")
    if system is not None and not isinstance(system, str):
        raise located(path, line, "system", f"example '{ex_id}': must be a string")
    raw_tools = obj.get("tools")
    if not isinstance(raw_tools, list) or not raw_tools:
        raise located(path, line, "tools", f"example '{ex_id}': needs a non-empty list of tools")
    tools = [parse_tool(t, (path, line), f"tools[{i}]") for i, t in enumerate(raw_tools)]
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise located(path, line, "tools", f"example '{ex_id}': duplicate tool names {names}")
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise located(path, line, "meta", f"example '{ex_id}': must be an object")
    labeled = "target" in obj
    target = obj.get("target")
    if target is not None:
        if parse_call(target) is None:
            raise located(path, line, "target", f"example '{ex_id}': must be null or "
                          '{"name": str, "arguments": object}')
        tool = next((t for t in tools if t.name == target["name"]), None)
        if tool is None:
            raise located(path, line, "target.name", f"example '{ex_id}': '{target['name']}' "
                          f"is not one of the offered tools {names}")
        problem = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(tool.parameters).iter_errors(target["arguments"]))
        if problem is not None:
            at = ".".join(str(p) for p in problem.path)
            raise located(path, line, "target.arguments" + (f".{at}" if at else ""),
                          f"example '{ex_id}': target does not satisfy the schema of "
                          f"'{tool.name}': {problem.message}")
    return Example(id=ex_id, instruction=instruction, tools=tools, target=target, labeled=labeled,
                   system=system, meta=meta, record=obj)


def resolve_data_path(spec: str) -> str:
    """Map `seed:all|train|dev` to the shipped seed files; other specs are paths."""
    if spec.startswith("seed:"):
        split = spec.split(":", 1)[1]
        if split not in SEED_SPLITS:
            raise CalltuneError(f"{spec}: unknown seed split (choose from {', '.join(SEED_SPLITS)})")
        return str(resources.files("calltune") / "seed" / f"{split}.jsonl")
    return spec


def load_examples(spec: str) -> list[Example]:
    """Load and check every example of a JSONL file (or `seed:SPLIT`); ids must be unique."""
    path = resolve_data_path(spec)
    examples, seen = [], {}
    for line, obj in read_jsonl(path):
        ex = parse_example(obj, path, line)
        if ex.id in seen:
            raise located(path, line, "id", f"duplicate id '{ex.id}' (first on line {seen[ex.id]})")
        seen[ex.id] = line
        examples.append(ex)
    if not examples:
        raise CalltuneError(f"{path}: no examples")
    return examples


def load_predictions(path: str) -> list[Prediction]:
    """Load a predictions file, checking each record's fields."""
    preds, seen = [], set()
    for line, obj in read_jsonl(path):
        pid = obj.get("id")
        if not isinstance(pid, str):
            raise located(path, line, "id", "missing or not a string")
        if pid in seen:
            raise located(path, line, "id", f"duplicate id '{pid}'")
        seen.add(pid)
        raw = obj.get("raw")
        if not isinstance(raw, str):
            raise located(path, line, "raw", f"prediction '{pid}': missing or not a string")
        call = obj.get("call")
        if call is not None and parse_call(call) is None:
            raise located(path, line, "call", f"prediction '{pid}': must be null or "
                          '{"name": str, "arguments": object}')
        error = obj.get("error")
        if error is not None and not isinstance(error, str):
            raise located(path, line, "error", f"prediction '{pid}': must be null or a string")
        repaired = obj.get("repaired")
        if repaired is not None and not isinstance(repaired, str):
            raise located(path, line, "repaired", f"prediction '{pid}': must be null or a string")
        preds.append(Prediction(pid, raw, call, error, repaired))
    return preds


def split_examples(examples: list, dev_fraction: float, seed: int) -> tuple[list, list]:
    """Shuffle with a local RNG and cut off `round(n * dev_fraction)` dev examples.

    Train and dev keep the input order among themselves. 18 examples at 0.2 give 14/4.
    """
    if not 0.0 < dev_fraction < 1.0:
        raise CalltuneError(f"dev fraction must be between 0 and 1, got {dev_fraction}")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_dev = max(1, round(len(examples) * dev_fraction))
    if n_dev >= len(examples):
        raise CalltuneError(f"cannot split {len(examples)} examples with dev fraction {dev_fraction}")
    dev_idx = set(order[:n_dev])
    train = [ex for i, ex in enumerate(examples) if i not in dev_idx]
    dev = [ex for i, ex in enumerate(examples) if i in dev_idx]
    return train, dev
