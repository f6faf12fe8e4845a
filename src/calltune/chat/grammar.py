"""The hermes answer as a grammar: what constrained decoding lets a model say in the chat format.

`chat_grammar(tools, tool_choice, parallel)` writes an llguidance Lark grammar for one
assistant answer: either a text answer (free text that never contains `<tool_call>`),
or one or more blocks

    <tool_call>
    {"name": "<an offered tool>", "arguments": {...}}
    </tool_call>

separated by a newline, each holding a call that fits its tool's schema (`tool_call_schema`:
compact `json.dumps` spacing, keys in schema order, objects closed with
`additionalProperties: false`, `format` dropped). With `key_order="any"` the keys of a call's
arguments (and of the objects nested in them) may come in any order instead (`AnyOrder`): each
key once, the required ones before the object closes. The answer ends where the grammar does;
the engine then allows (after the last block of a `parallel=False` answer: forces) the
model's end tokens (EOS, `<|im_end|>`), so the grammar itself names no end token.

`tool_choice`: "auto" (text or calls), "none" (text only), "required" (at least one call),
or {"type": "function", "function": {"name": N}} (calls to N only, at least one).
`parallel=False` allows at most one block.
"""

from __future__ import annotations

import json

import referencing
import referencing.exceptions

from calltune.errors import CalltuneError
from calltune.examples import SUBSCHEMA, SUBSCHEMA_LISTS, SUBSCHEMA_MAPS, Tool, local_resolver

TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"
# compact JSON as `json.dumps` (and the template's `tojson`) writes it
JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
TOOL_CHOICES = ("auto", "none", "required")
KEY_ORDERS = ("schema", "any")
ANY_ORDER_MAX = 8
"""Properties an object may have for `AnyOrder` to free their order (its rules grow as 2^n); a larger
object keeps the schema's order."""
_FLAT_OBJECT_KEYS = {"type", "properties", "required", "additionalProperties", "description", "title"}


def closed_schema(schema):
    """Copy `schema` for the engine: add `additionalProperties: false` to every object schema
    that leaves it (and `patternProperties`) unset, and drop `format` (an annotation in Draft
    2020-12, as in calltune's scorer; llguidance would assert it, and its RFC 3339 `time`
    contradicts the `HH:MM` patterns tool authors write next to it). A `required` name that
    `properties` does not list becomes a property of any value first, so closing the object
    never makes a satisfiable schema unsatisfiable."""
    if isinstance(schema, list):
        return [closed_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: closed_schema(v) for k, v in schema.items() if not (k == "format" and isinstance(v, str))}
    is_object = out.get("type") == "object" or "properties" in out
    if is_object and "additionalProperties" not in out and "patternProperties" not in out:
        required = [r for r in out.get("required", []) if isinstance(r, str)]
        properties = out.get("properties") if isinstance(out.get("properties"), dict) else {}
        if any(r not in properties for r in required):
            out["properties"] = {**properties, **{r: {} for r in required if r not in properties}}
        out["additionalProperties"] = False
    return out


def schema_ordered(value, schema):
    """`value` with every object's keys in the order constrained decoding writes them: the order of
    `schema`'s `properties`, then keys it does not list, as given; through nested objects, array
    `items`, `$ref`s that resolve within `schema` (`referencing`, as `examples` checks them) and the
    first `anyOf` / `oneOf` branch that lists every key of an object. Values are never changed,
    only keys moved; a value the schema says nothing about comes back as it is."""
    if not isinstance(schema, dict):
        return value
    return _ordered(value, schema, local_resolver(schema))


def _ordered(value, schema, resolver):
    if not isinstance(schema, dict):
        return value
    if isinstance(schema.get("$ref"), str):
        try:
            return _ordered(value, resolver.lookup(schema["$ref"]).contents, resolver)
        except referencing.exceptions.Unresolvable:
            return value
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key) or [] if isinstance(b, dict)]
        if branches:
            fits = [b for b in branches if isinstance(value, dict) and isinstance(b.get("properties"), dict)
                    and set(value) <= set(b["properties"])]
            return _ordered(value, fits[0], resolver) if fits else value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_ordered(v, schema["items"], resolver) for v in value]
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props = schema["properties"]
        extra = schema.get("additionalProperties")
        keys = [k for k in props if k in value] + [k for k in value if k not in props]
        return {k: _ordered(value[k], props[k] if k in props else extra, resolver) for k in keys}
    return value


def schema_ordered_call(call: dict, tools: list[Tool]) -> dict:
    """A `{"name", "arguments"}` call with its arguments in `schema_ordered` order for the offered tool
    of its name (unchanged when no tool of that name is offered)."""
    tool = next((t for t in tools if t.name == call.get("name")), None)
    if tool is None or not isinstance(call.get("arguments"), dict):
        return call
    return {**call, "arguments": schema_ordered(call["arguments"], tool.parameters)}


def tool_call_schema(tool: Tool, slot: str = "arguments") -> dict:
    """The schema of one call to `tool`: `{"name": <its name>, "arguments": <its closed parameters>}`.

    A `$ref` in the parameters points into the parameters (`#/$defs/...`, `#` itself), but a JSON
    Schema resolves it against the root of the schema that holds it: the call's. So parameters that
    hold one move into the call's `$defs` under `slot`, `arguments` becomes a reference to them, and
    every reference within is rebased onto that place (`#/$defs/n` -> `#/$defs/<slot>/$defs/n`).
    Parameters without references are embedded as they are. `calls_choice` joins such schemas."""
    params = closed_schema(tool.parameters)
    rebased = _rebased(params, f"/$defs/{slot}")
    arguments = params if rebased == params else {"$ref": f"#/$defs/{slot}"}
    call = {"type": "object", "properties": {"name": {"const": tool.name}, "arguments": arguments},
            "required": ["name", "arguments"], "additionalProperties": False}
    return call if rebased == params else {**call, "$defs": {slot: rebased}}


def calls_choice(options: list[dict]) -> dict:
    """One schema for a choice among call schemas (`anyOf`; one option as it is), the `$defs` of each
    (`tool_call_schema`'s, under slots of their own) gathered at its root, where references resolve."""
    if len(options) == 1:
        return options[0]
    defs = {k: v for option in options for k, v in option.get("$defs", {}).items()}
    branches = [{k: v for k, v in option.items() if k != "$defs"} for option in options]
    return {"anyOf": branches, **({"$defs": defs} if defs else {})}


# where subschemas stand (examples.py's lists, which its `$ref` check walks) and draft 7's `dependencies`, whose
# values may be schemas too; every other keyword's value is data, never walked
_SCHEMA_MAPS = SUBSCHEMA_MAPS + ("dependencies",)


def _map_subschemas(node: dict, f) -> dict:
    """`node` with `f` applied to each of its subschemas (the values of `SUBSCHEMA`, the items of
    `SUBSCHEMA_LISTS`, the values of `_SCHEMA_MAPS`); every other keyword's value as it is."""
    out = {}
    for key, value in node.items():
        if key in SUBSCHEMA_LISTS and isinstance(value, list):  # draft 4-7 `items` lists too
            out[key] = [f(v) for v in value]
        elif key in SUBSCHEMA:
            out[key] = f(value)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: f(sub) for name, sub in value.items()}
        else:
            out[key] = value
    return out


def _rebased(schema, base: str):
    """`schema` with every local `$ref` (`#` and a JSON pointer) moved under the pointer `base`: where
    `schema` sits in the schema that will hold it. Other references are left as they are."""
    if not isinstance(schema, dict):
        return schema
    out = _map_subschemas(schema, lambda sub: _rebased(sub, base))
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        out["$ref"] = "#" + base + schema["$ref"][1:]
    return out


def callable_tools(tools: list[Tool], tool_choice="auto") -> list[Tool]:
    """The tools a call may name under `tool_choice` ([] for "none"). Raises `CalltuneError` for
    an unknown choice, a named tool that is not offered, or "required" with no tools."""
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        if tool_choice.get("type") != "function" or not isinstance(name, str):
            raise CalltuneError(f"tool_choice {json.dumps(tool_choice)}: expected "
                                '{"type": "function", "function": {"name": ...}}')
        named = [t for t in tools if t.name == name]
        if not named:
            raise CalltuneError(f"tool_choice names '{name}', which is not an offered tool")
        return named[:1]
    if tool_choice not in TOOL_CHOICES:
        raise CalltuneError(f"tool_choice must be one of {', '.join(TOOL_CHOICES)} or a named function, "
                            f"not {tool_choice!r}")
    if tool_choice == "required" and not tools:
        raise CalltuneError('tool_choice "required" needs at least one tool')
    return [] if tool_choice == "none" else list(tools)


class AnyOrder:
    """Lark rules for calls whose objects take their keys in any order: llguidance's JSON schemas write
    `properties` only in their declared order, and a model trained on arguments in the order a request
    mentions them (as calltune's generator writes them) cannot follow that order under them.

    An object is freed when it is flat: a closed (`closed_schema`) `type: object` with 1 to
    `ANY_ORDER_MAX` properties and no other keyword than `required`, `description` and `title`. Its rules
    are a state per set of keys written so far (2^n of them): from each, any key not yet written, or the
    end once every required key is in. Values are llguidance's `%json` of the property's schema (or, when
    that is a flat object too, or an array of them with no bound on its length, rules of their own), so
    every constraint on them holds as before. A tool
    whose parameters hold a `$ref` keeps the schema's order throughout (a property's schema alone would
    lose what the reference points at) unless its references can be written out in place (`_inlined`: no
    cycle, nothing beside a `$ref` but annotations), as pydantic's schemas of nested models can."""

    def __init__(self):
        self.rules: list[str] = []
        self._names = 0

    def _name(self, kind: str) -> str:
        self._names += 1
        return f"{kind}{self._names}"

    def call(self, tool: Tool) -> str:
        """The name of a rule for one call to `tool`: `{"name": ..., "arguments": {...}}`."""
        rule = self._name("call")
        params = closed_schema(tool.parameters)
        if "$ref" in json.dumps(params):
            params = _inlined(params)
        if params is None:
            self.rules.append(f"{rule}: %json {json.dumps({**tool_call_schema(tool), 'x-guidance': JSON_OPTIONS})}")
            return rule
        head = '{"name": ' + json.dumps(tool.name, ensure_ascii=False) + ', "arguments": '
        self.rules.append(f'{rule}: {json.dumps(head)} {self.value(params)} "}}"')
        return rule

    def value(self, schema) -> str:
        """The name of a rule for one JSON value valid for `schema`."""
        if _flat_object(schema):
            return self._object(schema)
        if _plain_array(schema) and _flat_object(schema["items"]):  # a list of such objects
            rule, item = self._name("array"), self._object(schema["items"])
            self.rules.append(f'{rule}: "[]" | "[" {item} ("{JSON_OPTIONS["item_separator"]}" {item})* "]"')
            return rule
        rule = self._name("value")
        schema = schema if isinstance(schema, dict) else {}  # `true`: any value (`false` never gets here)
        self.rules.append(f"{rule}: %json {json.dumps({**schema, 'x-guidance': JSON_OPTIONS})}")
        return rule

    def _object(self, schema: dict) -> str:
        names = [k for k, v in schema["properties"].items() if v is not False]
        required = {j for j, k in enumerate(names) if k in schema.get("required", [])}
        obj = self._name("object")
        for j, key in enumerate(names):
            text = json.dumps(key, ensure_ascii=False) + ": "
            self.rules.append(f"{obj}_key{j}: {json.dumps(text)} {self.value(schema['properties'][key])}")
        for written in range(2 ** len(names)):  # bit j: key j is written
            options = ['"}"'] if all(written >> j & 1 for j in required) else []
            comma = '", " ' if written else ""
            options += [f"{comma}{obj}_key{j} {obj}_{written | 1 << j}"
                        for j in range(len(names)) if not written >> j & 1]
            self.rules.append(f"{obj}_{written}: " + " | ".join(options))
        self.rules.append(f'{obj}: "{{" {obj}_0')
        return obj


_ANNOTATIONS = {"description", "title", "examples", "default", "$comment"}


def _inlined(schema: dict) -> dict | None:
    """`schema` with each of its `$ref`s replaced by what it points at (a `$ref` beside annotations only; the
    annotations of the place it stood are dropped) and its definitions dropped, or None where that cannot be
    done: a reference that does not resolve locally, a cycle, or a `$ref` beside another keyword."""
    resolver = local_resolver(schema)

    def walk(node, expanding: tuple[str, ...]):
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#") or ref in expanding \
                    or not set(node) - {"$ref"} <= _ANNOTATIONS:
                raise _NotInlinable(ref)
            try:
                return walk(resolver.lookup(ref).contents, expanding + (ref,))
            except referencing.exceptions.Unresolvable as err:
                raise _NotInlinable(ref) from err
        kept = {k: v for k, v in node.items() if k not in ("$defs", "definitions")}
        return _map_subschemas(kept, lambda sub: walk(sub, expanding))

    try:
        return walk(schema, ())
    except _NotInlinable:
        return None


class _NotInlinable(Exception):
    """A `$ref` that `_inlined` cannot write out in place."""


def _plain_array(schema) -> bool:
    """Whether `schema` is an array of `items` with no other keyword than annotations (no bounds on its length)."""
    return (isinstance(schema, dict) and schema.get("type") == "array" and isinstance(schema.get("items"), dict)
            and set(schema) <= {"type", "items", "description", "title"})


def _flat_object(schema) -> bool:
    """Whether `AnyOrder` frees the keys of an object valid for (closed) `schema`."""
    if not isinstance(schema, dict) or not set(schema) <= _FLAT_OBJECT_KEYS:
        return False
    properties = schema.get("properties")
    return (schema.get("type", "object") == "object" and isinstance(properties, dict)
            and schema.get("additionalProperties") is False and isinstance(schema.get("required", []), list)
            and 1 <= sum(v is not False for v in properties.values()) <= ANY_ORDER_MAX)


def _tag(tag: str, special: bool) -> str:
    # llguidance holds every added `<...>` token as special: such a tag can only be matched
    # as that token (`<tool_call>` in Lark), never as its spelling in bytes
    return tag if special else json.dumps(tag)


def chat_grammar(tools: list[Tool], tool_choice="auto", parallel: bool = True,
                 special_tags: frozenset[str] = frozenset(), abstaining: bool = False,
                 key_order: str = "schema") -> str:
    """An llguidance Lark grammar for one hermes answer (see the module docstring).
    `special_tags`: the tags (`<tool_call>`, `</tool_call>`) that the tokenizer holds as single
    added tokens (Qwen, Hermes models), written as token references. `abstaining`: the text
    branch of an abstention decision (`abstain.py`): the text may not open with `<` (after
    whitespace), so a model steered off a call cannot write one in a spelling of its own
    (`<tool_call id=...`). `key_order`: "schema" (keys in the schema's order) or "any" (`AnyOrder`)."""
    if key_order not in KEY_ORDERS:
        raise CalltuneError(f"key order must be one of {', '.join(KEY_ORDERS)}, not {key_order!r}")
    callable_ = callable_tools(tools, tool_choice)
    may_text = tool_choice in ("auto", "none")
    lines = ["%llguidance {}", "start: " + " | ".join((["answer"] if may_text else [])
                                                     + (["calls"] if callable_ else []))]
    if may_text:
        # any non-empty text without a call tag in it (a parser would read a call there);
        # special tokens never match a terminal, so `<|im_end|>` cannot appear either
        lines += ["answer: TEXT", f"TEXT: /(?s:.+)/ & ~/(?s:.*){TOOL_CALL_OPEN}(?s:.*)/"
                  + (" & ~/[ \\t\\r\\n]*<(?s:.*)/" if abstaining else "")]
    if callable_:
        lines += ['calls: call ("\\n" call)*' if parallel else "calls: call",
                  f"call: {_tag(TOOL_CALL_OPEN, TOOL_CALL_OPEN in special_tags)} \"\\n\" body "
                  f"\"\\n\" {_tag(TOOL_CALL_CLOSE, TOOL_CALL_CLOSE in special_tags)}"]
        if key_order == "any":
            rules = AnyOrder()
            lines += ["body: " + " | ".join(rules.call(t) for t in callable_), *rules.rules]
        else:
            options = [tool_call_schema(t, f"arguments{i}") for i, t in enumerate(callable_)]
            schema = {**calls_choice(options), "x-guidance": JSON_OPTIONS}
            lines += [f"body: %json {json.dumps(schema)}"]
    return "\n".join(lines) + "\n"
