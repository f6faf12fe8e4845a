"""The calltune data formats: tools, examples and predictions, loaded and checked.

Tool: OpenAI function-tool form `{"type": "function", "function": {"name",
"description", "parameters"}}` or the bare `{"name", "description",
"parameters"}` form; `parameters` is a JSON Schema object.

Example (one JSON object per line): `{"id", "instruction", "system"?,
"tools": [tool, ...], "target": call | [call, ...] | null, "meta"?}`, or
`"messages": [...]` (an OpenAI chat: system, user, assistant with `content`
and/or `tool_calls`, tool with `tool_call_id`) in place of `instruction` and
`system`. A call is `{"name", "arguments"}`; `arguments` may be a JSON string,
parsed into an object. A list target is parallel calls (order does not matter);
`target: null` means the right answer is to call no tool; a missing `target`
means unlabeled. Optional: `target_content` (the expected text answer),
`tool_choice` ("auto" | "required" | "none" | {"type": "function",
"function": {"name"}}), `parallel_tool_calls` (default true). `meta` is
free-form and carried through untouched.

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
from calltune.jsonl import file_sha256, read_jsonl

SEED_SPLITS = ("all", "train", "dev")
ROLES = ("system", "user", "assistant", "tool")
TOOL_CHOICES = ("auto", "required", "none")
_CALL_SHAPE = '{"name": str, "arguments": object or JSON string}'


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
    """One request (an instruction or a conversation) with the tools offered and, when labeled,
    the right answer: one call, parallel calls or none."""

    id: str
    instruction: str
    """The request; for a `messages` example, the last user message's text."""
    tools: list[Tool]
    target: dict | list[dict] | None = None
    """One call, a list of parallel calls or None (no call); arguments always parsed to dicts."""
    labeled: bool = False
    system: str | None = None
    """The system text; for a `messages` example, the content of its leading system message."""
    meta: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict, repr=False)  # the line as read, for lossless rewrites
    messages: list[dict] | None = None
    """The normalized conversation (None for an `instruction` example); see `parse_messages`."""
    target_content: str | None = None
    """The expected text answer, when the file gives one."""
    tool_choice: str | dict = "auto"
    """One of "auto", "required", "none", or {"type": "function", "function": {"name": N}}."""
    parallel_tool_calls: bool = True

    def tool(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)

    @property
    def calls(self) -> list[dict]:
        """The target as a list of calls: [] for no call (and for an unlabeled example)."""
        if self.target is None:
            return []
        return self.target if isinstance(self.target, list) else [self.target]

    def conversation(self) -> list[dict]:
        """The messages to render: `messages` (a shallow copy), or the system and instruction."""
        if self.messages is not None:
            return list(self.messages)
        system = [{"role": "system", "content": self.system}] if self.system else []
        return system + [{"role": "user", "content": self.instruction}]


@dataclass
class Prediction:
    id: str
    raw: str
    call: dict | None
    error: str | None
    repaired: str | None = None
    calls: list[dict] | None = None
    """hermes style: every call read from the answer's `<tool_call>` blocks (`call` is the first)."""
    content: str | None = None
    """hermes style: the answer's text outside the call blocks."""
    log_odds: float | None = None
    """Under an abstention margin: log p(call) - log p(text) at the answer's start (`abstain.py`);
    the answer called iff this exceeded the margin."""

    @property
    def text(self) -> str:
        """The text that is scored: the repaired text when there is one, else the raw output."""
        return self.repaired if self.repaired is not None else self.raw

    def to_json(self) -> dict:
        out = {"id": self.id, "raw": self.raw, "call": self.call, "error": self.error}
        if self.repaired is not None:
            out["repaired"] = self.repaired
        if self.calls is not None:
            out.update(content=self.content, calls=self.calls)
        if self.log_odds is not None:
            out["log_odds"] = self.log_odds
        return out


# Keywords whose value is a subschema, a {name: subschema} map, or a list of subschemas (the places a
# `$ref` can be; `$ref`-looking objects inside `enum`, `const` or `default` are data, not references).
SUBSCHEMA = ("additionalProperties", "items", "contains", "not", "if", "then", "else", "propertyNames",
             "unevaluatedItems", "unevaluatedProperties", "contentSchema", "additionalItems")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")


def local_resolver(schema: dict):
    """A resolver for the `$ref`s within `schema` (a Draft 2020-12 resource at the empty URI; nothing is fetched)."""
    return referencing.Registry().with_resource("", DRAFT202012.create_resource(schema)).crawl().resolver("")


def _subschemas(schema: dict, at: str):
    """Yield `(path, subschema)` for `schema`'s direct subschemas."""
    for key, value in schema.items():
        if key in SUBSCHEMA and isinstance(value, dict):
            yield f"{at}/{key}", value
        elif key in SUBSCHEMA_MAPS and isinstance(value, dict):
            yield from ((f"{at}/{key}/{k}", v) for k, v in value.items() if isinstance(v, dict))
        elif key in SUBSCHEMA_LISTS and isinstance(value, list):
            yield from ((f"{at}/{key}/{i}", v) for i, v in enumerate(value) if isinstance(v, dict))


def _unresolved_ref(schema: dict) -> str | None:
    """The first `$ref` in `schema` that does not resolve within it (nothing is fetched), as a message."""
    stack = [("", schema, local_resolver(schema))]
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


def _arguments(value: Any, where: tuple, field_name: str, ex_id: str) -> dict:
    """A call's arguments as a dict: an object, or a JSON string holding one (OpenAI's form)."""
    path, line = where
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise located(path, line, field_name, f"example '{ex_id}': arguments are not valid JSON "
                          f"({err.msg})") from None
    if not isinstance(value, dict):
        raise located(path, line, field_name, f"example '{ex_id}': arguments must be a JSON object, "
                      f"got {type(value).__name__}")
    return value


def _offered(name: str, tools: list[Tool], where: tuple, field_name: str, ex_id: str) -> Tool:
    tool = next((t for t in tools if t.name == name), None)
    if tool is None:
        raise located(*where, field_name, f"example '{ex_id}': '{name}' is not one of the offered tools "
                      f"{[t.name for t in tools]}")
    return tool


def _target_call(obj: Any, tools: list[Tool], where: tuple, at: str, ex_id: str) -> dict:
    """One target call, checked against its tool's schema; string arguments are parsed."""
    if not (isinstance(obj, dict) and set(obj) == {"name", "arguments"} and isinstance(obj["name"], str)):
        shape = "must be" if at == "target" else "each parallel call must be"
        alternatives = " or a non-empty list of calls, or null" if at == "target" else ""
        raise located(*where, at, f"example '{ex_id}': {shape} {_CALL_SHAPE}{alternatives}")
    tool = _offered(obj["name"], tools, where, at + ".name", ex_id)
    args = _arguments(obj["arguments"], where, at + ".arguments", ex_id)
    problem = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(tool.parameters).iter_errors(args))
    if problem is not None:
        sub = ".".join(str(p) for p in problem.path)
        raise located(*where, f"{at}.arguments" + (f".{sub}" if sub else ""),
                      f"example '{ex_id}': target does not satisfy the schema of '{tool.name}': "
                      f"{problem.message}")
    return obj if args is obj["arguments"] else {"name": obj["name"], "arguments": args}


def parse_target(value: Any, tools: list[Tool], where: tuple, ex_id: str) -> dict | list[dict] | None:
    """A file's `target` normalized: None, one call, or a non-empty list of calls (parallel)."""
    if value is None:
        return None
    if isinstance(value, list):
        if not value:
            raise located(*where, "target", f"example '{ex_id}': a list of parallel calls must not be "
                          "empty (use null for no call)")
        return [_target_call(c, tools, where, f"target[{i}]", ex_id) for i, c in enumerate(value)]
    return _target_call(value, tools, where, "target", ex_id)


def _message_call(obj: Any, tools: list[Tool], where: tuple, at: str, ex_id: str, ids: set) -> dict:
    """One assistant `tool_calls` item, normalized to `{"id", "type", "function": {"name", "arguments"}}`."""
    fn = obj.get("function") if isinstance(obj, dict) else None
    if not isinstance(fn, dict) or obj.get("type", "function") != "function":
        raise located(*where, at, f"example '{ex_id}': a tool call must be "
                      '{"id": str, "type": "function", "function": {"name", "arguments"}}')
    call_id = obj.get("id")
    if not isinstance(call_id, str) or not call_id or call_id in ids:
        raise located(*where, at + ".id", f"example '{ex_id}': a tool call needs a string id unique "
                      "in the conversation")
    if not isinstance(fn.get("name"), str):
        raise located(*where, at + ".function.name", f"example '{ex_id}': must be a string")
    _offered(fn["name"], tools, where, at + ".function.name", ex_id)
    args = _arguments(fn.get("arguments"), where, at + ".function.arguments", ex_id)
    ids.add(call_id)
    return {"id": call_id, "type": "function", "function": {"name": fn["name"], "arguments": args}}


def parse_messages(raw: Any, tools: list[Tool], where: tuple, ex_id: str) -> list[dict]:
    """A file's `messages` normalized to `{"role", "content"}` (system, user), `{"role": "assistant",
    "content": str | None, "tool_calls"?: [...]}` and `{"role": "tool", "tool_call_id", "content"}`.

    A system message may only come first; each tool message answers an earlier assistant call;
    calls name offered tools and their arguments are objects (JSON strings are parsed).
    """
    if not isinstance(raw, list) or not raw:
        raise located(*where, "messages", f"example '{ex_id}': must be a non-empty list of messages")
    out: list[dict] = []
    ids: set[str] = set()  # ids of the calls made so far
    for i, msg in enumerate(raw):
        at = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise located(*where, at, f"example '{ex_id}': a message must be a JSON object")
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES:
            raise located(*where, at + ".role", f"example '{ex_id}': {role!r} is not one of {', '.join(ROLES)}")
        if role == "system" and i > 0:
            raise located(*where, at + ".role", f"example '{ex_id}': a system message may only come first")
        if role == "assistant":
            if content is not None and not isinstance(content, str):
                raise located(*where, at + ".content", f"example '{ex_id}': must be a string or null")
            raw_calls = msg.get("tool_calls") or []
            if not isinstance(raw_calls, list):
                raise located(*where, at + ".tool_calls", f"example '{ex_id}': must be a list")
            calls = [_message_call(c, tools, where, f"{at}.tool_calls[{j}]", ex_id, ids)
                     for j, c in enumerate(raw_calls)]
            if content is None and not calls:
                raise located(*where, at, f"example '{ex_id}': an assistant message needs content or tool_calls")
            out.append({"role": role, "content": content, **({"tool_calls": calls} if calls else {})})
            continue
        if not isinstance(content, str) or (role == "user" and not content.strip()):
            kind = "a non-empty string" if role == "user" else "a string"
            raise located(*where, at + ".content", f"example '{ex_id}': must be {kind}")
        if role == "tool":
            ref = msg.get("tool_call_id")
            if not isinstance(ref, str) or ref not in ids:
                raise located(*where, at + ".tool_call_id", f"example '{ex_id}': {ref!r} answers no earlier "
                              "assistant tool call")
            out.append({"role": role, "tool_call_id": ref, "content": content})
        else:
            out.append({"role": role, "content": content})
    if not any(m["role"] == "user" for m in out):
        raise located(*where, "messages", f"example '{ex_id}': needs a user message")
    return out


def parse_tool_choice(value: Any, tools: list[Tool], where: tuple, ex_id: str) -> str | dict:
    """`tool_choice`: "auto" (also for a missing or null value), "required", "none", or a named tool."""
    if value is None:
        return "auto"
    if isinstance(value, str) and value in TOOL_CHOICES:
        return value
    fn = value.get("function") if isinstance(value, dict) and value.get("type") == "function" else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise located(*where, "tool_choice", f"example '{ex_id}': must be one of {', '.join(TOOL_CHOICES)} "
                      'or {"type": "function", "function": {"name": str}}')
    _offered(fn["name"], tools, where, "tool_choice.function.name", ex_id)
    return {"type": "function", "function": {"name": fn["name"]}}


def _check_target_choice(calls: list[dict], choice: str | dict, parallel: bool, where: tuple,
                         ex_id: str) -> None:
    """The target must be an answer that `tool_choice` and `parallel_tool_calls` allow."""
    problem = None
    if choice == "none" and calls:
        problem = "tool_choice 'none' allows no call"
    elif choice == "required" and not calls:
        problem = "tool_choice 'required' needs at least one call"
    elif isinstance(choice, dict):
        name = choice["function"]["name"]
        if not calls or any(c["name"] != name for c in calls):
            problem = f"tool_choice names '{name}': every target call must call it (at least one)"
    if problem is None and not parallel and len(calls) > 1:
        problem = f"{len(calls)} parallel calls but parallel_tool_calls is false"
    if problem is not None:
        raise located(*where, "target", f"example '{ex_id}': {problem}")


def parse_example(obj: dict, path: str | None = None, line: int | None = None) -> Example:
    """Check one example record and build an `Example`; errors name path, line and field.

    `obj` is kept untouched as `Example.record`; normalized values (string arguments parsed)
    live in the other fields.
    """
    where = (path, line)
    ex_id = obj.get("id")
    if not isinstance(ex_id, str) or not ex_id:
        raise located(path, line, "id", "missing or not a non-empty string")
    raw_messages, instruction = obj.get("messages"), obj.get("instruction")
    if raw_messages is not None and instruction is not None:
        raise located(path, line, "messages", f"example '{ex_id}': give 'instruction' or 'messages', not both")
    if raw_messages is None and (not isinstance(instruction, str) or not instruction.strip()):
        raise located(path, line, "instruction", f"example '{ex_id}': missing or empty (or give 'messages')")
    system = obj.get("system")
    if system is not None and not isinstance(system, str):
        raise located(path, line, "system", f"example '{ex_id}': must be a string")
    if system is not None and raw_messages is not None:
        raise located(path, line, "system", f"example '{ex_id}': with 'messages', put the system text in a "
                      "leading system message")
    raw_tools = obj.get("tools")
    if not isinstance(raw_tools, list) or not raw_tools:
        raise located(path, line, "tools", f"example '{ex_id}': needs a non-empty list of tools")
    tools = [parse_tool(t, where, f"tools[{i}]") for i, t in enumerate(raw_tools)]
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise located(path, line, "tools", f"example '{ex_id}': duplicate tool names {names}")
    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise located(path, line, "meta", f"example '{ex_id}': must be an object")
    labeled = "target" in obj
    messages = None
    if raw_messages is not None:
        messages = parse_messages(raw_messages, tools, where, ex_id)
        instruction = [m for m in messages if m["role"] == "user"][-1]["content"]
        system = messages[0]["content"] if messages[0]["role"] == "system" else None
        if labeled and messages[-1]["role"] not in ("user", "tool"):
            raise located(path, line, f"messages[{len(messages) - 1}].role", f"example '{ex_id}': a labeled "
                          "conversation must end with a user or tool message (the target answers it)")
    target = parse_target(obj.get("target"), tools, where, ex_id)
    tool_choice = parse_tool_choice(obj.get("tool_choice"), tools, where, ex_id)
    parallel = obj.get("parallel_tool_calls", True)
    if not isinstance(parallel, bool):
        raise located(path, line, "parallel_tool_calls", f"example '{ex_id}': must be true or false")
    target_content = obj.get("target_content")
    if target_content is not None and not isinstance(target_content, str):
        raise located(path, line, "target_content", f"example '{ex_id}': must be a string or null")
    if target_content is not None and not labeled:
        raise located(path, line, "target_content", f"example '{ex_id}': needs a 'target' (null for a text "
                      "answer)")
    example = Example(id=ex_id, instruction=instruction, tools=tools, target=target, labeled=labeled,
                      system=system, meta=meta, record=obj, messages=messages, target_content=target_content,
                      tool_choice=tool_choice, parallel_tool_calls=parallel)
    if labeled:
        _check_target_choice(example.calls, tool_choice, parallel, where, ex_id)
    return example


def resolve_data_path(spec: str) -> str:
    """Map `seed:all|train|dev` to the shipped seed files; other specs are paths."""
    if spec.startswith("seed:"):
        split = spec.split(":", 1)[1]
        if split not in SEED_SPLITS:
            raise CalltuneError(f"{spec}: unknown seed split (choose from {', '.join(SEED_SPLITS)})")
        return str(resources.files("calltune") / "seed" / f"{split}.jsonl")
    return spec


def data_sha256(spec: str) -> str:
    """sha256 of the bytes of an examples file (`seed:SPLIT` resolved): the data fingerprint runs record."""
    return file_sha256(resolve_data_path(spec))


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
        calls = obj.get("calls")
        if calls is not None and (not isinstance(calls, list) or any(parse_call(c) is None for c in calls)):
            raise located(path, line, "calls", f"prediction '{pid}': must be null or a list of "
                          '{"name": str, "arguments": object}')
        content = obj.get("content")
        if content is not None and not isinstance(content, str):
            raise located(path, line, "content", f"prediction '{pid}': must be null or a string")
        log_odds = obj.get("log_odds")
        if log_odds is not None and (isinstance(log_odds, bool) or not isinstance(log_odds, (int, float))):
            raise located(path, line, "log_odds", f"prediction '{pid}': must be null or a number")
        preds.append(Prediction(pid, raw, call, error, repaired, calls, content,
                                None if log_odds is None else float(log_odds)))
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
