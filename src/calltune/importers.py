"""Import tool-calling data from common public formats into calltune example records.

Formats (`--format`):
- `openai`: `{"messages": [...], "tools": [...]}` (or legacy `functions` / `function_call`);
  `tool_calls` arguments are JSON strings.
- `glaive`: Glaive function-calling-v2 `{"system": "SYSTEM: ... -\\n{fn}\\n\\n{fn}", "chat": "USER: ...
  ASSISTANT: <functioncall> {...} <|endoftext|> FUNCTION RESPONSE: ..."}`; arguments are a
  single-quoted JSON string.
- `xlam`: Salesforce xLAM / APIGen `{"query", "tools", "answers"}` (JSON strings or lists), Python
  type names converted to JSON Schema; empty `answers` means no call, several mean parallel calls.
- `sharegpt`: ShareGPT / Hermes `{"conversations": [{"from", "value"}]}` with `<tools>` in the
  system turn, `<tool_call>` blocks in `gpt` turns and `<tool_response>` blocks in `tool` turns.

Input is JSON Lines or one JSON array. The last assistant turn is the answer: its calls are the
target (one call, a list of parallel calls, or null with its text as `target_content`). When only
a user turn comes before it the record is `{"instruction", "system"?, "tools", "target"}` as it
always was; otherwise the turns before it become `messages`, calls without ids numbered `call_0`,
`call_1`, ... and tool results answering the calls still open, in order. Tool-listing system
prompts (Glaive, Hermes) are not carried over. Every record either becomes an example that passes
`parse_example` or is reported with its file, line or index, field and a reason from `REASONS`:

    records, report = import_file("glaive.jsonl", "glaive", on_error="skip")
    print(report.summary())
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from calltune.errors import CalltuneError, located
from calltune.examples import parse_example
from calltune.jsonl import read_text

FORMATS = ("openai", "glaive", "xlam", "sharegpt")
ON_ERROR = ("stop", "skip")
REASONS = ("malformed record", "missing field", "bad field", "no tools offered", "malformed call",
           "unsupported type", "invalid tool", "target fails schema", "invalid example", "duplicate id")


class RecordProblem(Exception):
    """One source record cannot be imported: a reason from `REASONS`, the field, and details."""

    def __init__(self, reason: str, field: str | None, detail: str):
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


@dataclass(frozen=True)
class Skipped:
    """A record left out under `--on-error skip`."""

    index: int
    line: int | None
    field: str | None
    reason: str
    detail: str

    def where(self) -> str:
        at = f"line {self.line}" if self.line is not None else f"record {self.index}"
        return at + (f", field '{self.field}'" if self.field else "")


@dataclass(frozen=True)
class ImportReport:
    """What one import read, wrote and left out."""

    path: str
    source_format: str
    n_records: int
    n_imported: int
    skipped: tuple[Skipped, ...] = ()

    def by_reason(self) -> dict[str, int]:
        return dict(Counter(s.reason for s in self.skipped).most_common())

    def summary(self, max_examples: int = 3) -> str:
        """A few lines: counts, then each skip reason with its count and the first few records."""
        lines = [f"imported {self.n_imported} of {self.n_records} records from {self.path} "
                 f"({self.source_format}); skipped {len(self.skipped)}"]
        for reason, count in self.by_reason().items():
            first = [s for s in self.skipped if s.reason == reason][:max_examples]
            lines.append(f"  {count} {reason}: " + "; ".join(f"{s.where()}: {s.detail}" for s in first))
        return "\n".join(lines)


# ---- reading -------------------------------------------------------------------------------------

def read_records(path: str) -> Iterator[tuple[int, int | None, Any]]:
    """Yield `(index, line, record)` from a JSON array file (line None) or JSON Lines.

    A JSON Lines line that is not JSON is yielded as a `RecordProblem` so it can be skipped.
    """
    text = read_text(path)  # unreadable or not UTF-8: a located error
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as err:
            raise located(path, err.lineno, None, f"malformed JSON array ({err.msg})") from None
        yield from ((i, None, obj) for i, obj in enumerate(records))
        return
    index = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj: Any = json.loads(line)
        except json.JSONDecodeError as err:
            obj = RecordProblem("malformed record", None, f"malformed JSON ({err.msg} at column {err.colno})")
        yield index, number, obj
        index += 1


def _loads_lenient(text: str) -> Any:
    """JSON, or a Python literal (Hermes data often holds `repr`-ed dicts); ValueError if neither."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError("neither JSON nor a Python literal") from None


def _values(text: str, field: str) -> list:
    """One value (a list is flattened), a run of JSON values, or one Python literal per line."""
    text = text.strip()
    attempts = (lambda: [_loads_lenient(text)], lambda: _json_run(text),
                lambda: [_loads_lenient(line) for line in text.splitlines() if line.strip()])
    for attempt in attempts:
        try:
            values = attempt()
        except ValueError:
            continue
        return [v for value in values for v in (value if isinstance(value, list) else [value])]
    raise RecordProblem("bad field", field, "cannot parse the tool definitions as JSON")


def _json_run(text: str) -> list:
    decoder, values, pos = json.JSONDecoder(), [], 0
    while pos < len(text):
        value, pos = decoder.raw_decode(text, pos)
        values.append(value)
        pos += len(text[pos:]) - len(text[pos:].lstrip())
    return values


def _get(obj: dict, key: str, kind: type | tuple[type, ...]) -> Any:
    if key not in obj:
        raise RecordProblem("missing field", key, "missing")
    if not isinstance(obj[key], kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise RecordProblem("bad field", key, f"expected {names}, got {type(obj[key]).__name__}")
    return obj[key]


def _json_field(obj: dict, key: str, kind: type) -> Any:
    """A field that holds `kind` either directly or as a JSON string (as xLAM ships it)."""
    value = _get(obj, key, (kind, str))
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise RecordProblem("bad field", key, f"not valid JSON ({err.msg})") from None
    if not isinstance(value, kind):
        raise RecordProblem("bad field", key, f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _call(obj: Any, field: str) -> dict:
    """`{"name", "arguments"}` from a parsed call; string arguments are parsed as JSON."""
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise RecordProblem("malformed call", field, "a call needs a string 'name'")
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as err:
            raise RecordProblem("malformed call", field + ".arguments", f"not valid JSON ({err.msg})") from None
    if not isinstance(args, dict):
        raise RecordProblem("malformed call", field + ".arguments", "arguments must be an object")
    return {"name": obj["name"], "arguments": args}


def _as_tool(fn: Any, field: str) -> dict:
    if not isinstance(fn, dict):
        raise RecordProblem("invalid tool", field, "a tool must be a JSON object")
    return fn if fn.get("type") == "function" else {"type": "function", "function": fn}


# ---- openai --------------------------------------------------------------------------------------

def _text(content: Any) -> str:
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def convert_openai(obj: dict) -> dict:
    """An OpenAI chat record: leading system (or developer) messages, then the conversation."""
    messages = _get(obj, "messages", list)
    tools = obj.get("tools") or [{"type": "function", "function": f} for f in obj.get("functions") or []]
    if not tools:
        raise RecordProblem("no tools offered", "tools", "no 'tools' (or 'functions') list")
    system, turns = [], []
    for i, msg in enumerate(messages):
        field = f"messages[{i}]"
        role = msg.get("role") if isinstance(msg, dict) else None
        if role in ("system", "developer") and not turns:
            system.append(_text(msg.get("content")).strip())
        elif role == "user":
            turns.append({"role": "user", "content": _text(msg.get("content")), "field": field})
        elif role == "assistant":
            turns.append(_openai_assistant(msg, field))
        elif role in ("tool", "function"):  # `function`: the legacy result of a `function_call`
            content = msg.get("content")
            content = _text(content) if isinstance(content, (str, list)) else json.dumps(content)
            ref = msg.get("tool_call_id") if role == "tool" else None
            turns.append({"role": "tool", "content": content, "id": ref, "field": field})
        else:
            raise RecordProblem("bad field", field + ".role", f"unexpected role {role!r}")
    return _conversation(turns, tools, "\n\n".join(system), "messages")


def _openai_assistant(msg: dict, field: str) -> dict:
    content = None if msg.get("content") is None else _text(msg["content"])
    if msg.get("function_call"):
        calls, ids = [_call(msg["function_call"], field + ".function_call")], [None]
    else:
        items = msg.get("tool_calls") or []
        calls = [_call(c.get("function") if isinstance(c, dict) else None, f"{field}.tool_calls[{j}]")
                 for j, c in enumerate(items)]
        ids = [c.get("id") if isinstance(c.get("id"), str) else None for c in items]
    return {"role": "assistant", "content": content, "calls": calls, "ids": ids, "field": field}


# ---- glaive --------------------------------------------------------------------------------------

_GLAIVE_TURN = re.compile(r"(?:^|\n+)\s*(USER|ASSISTANT|FUNCTION RESPONSE):[ \t]*")


def _glaive_call(text: str, field: str) -> dict:
    """Parse `{"name": ..., "arguments": '{...}'}`: the arguments are a single-quoted JSON string."""
    body = text.split("<functioncall>", 1)[1].replace("<|endoftext|>", "").strip()
    quoted = re.search(r"\"arguments\"\s*:\s*'", body)
    if quoted:
        end = body.rfind("'")
        args = body[quoted.end():end]
        body = body[:quoted.end() - 1] + json.dumps(args) + body[end + 1:]
    try:
        obj, _ = json.JSONDecoder().raw_decode(body)
    except json.JSONDecodeError as err:
        raise RecordProblem("malformed call", field, f"not valid JSON ({err.msg})") from None
    return _call(obj, field)


def convert_glaive(obj: dict) -> dict:
    """A Glaive v2 record: functions from `system`, the conversation from `chat`."""
    system = _get(obj, "system", str)
    start = system.find("{")
    if start < 0:
        raise RecordProblem("no tools offered", "system", "no function definitions in the system prompt")
    tools = [_as_tool(fn, f"system.functions[{i}]") for i, fn in enumerate(_values(system[start:], "system"))]
    parts = _GLAIVE_TURN.split(_get(obj, "chat", str))
    turns = []
    for role, text in zip(parts[1::2], parts[2::2]):
        text = text.replace("<|endoftext|>", "").strip()
        if role == "USER":
            turns.append({"role": "user", "content": text, "field": "chat"})
        elif role == "FUNCTION RESPONSE":
            turns.append({"role": "tool", "content": text, "field": "chat"})
        else:
            said, *calls = text.split("<functioncall>")
            turns.append({"role": "assistant", "content": said.strip() or None, "field": "chat",
                          "calls": [_glaive_call("<functioncall>" + c, "chat") for c in calls]})
    if not turns or turns[0]["role"] != "user" or all(t["role"] != "assistant" for t in turns):
        raise RecordProblem("bad field", "chat", "expected 'USER: ...' followed by 'ASSISTANT: ...'")
    return _conversation(turns, tools, "", "chat")


# ---- xlam ----------------------------------------------------------------------------------------

_SIMPLE_TYPES = {"str": "string", "string": "string", "int": "integer", "integer": "integer",
                 "float": "number", "number": "number", "bool": "boolean", "boolean": "boolean",
                 "dict": "object", "object": "object", "list": "array", "array": "array",
                 "none": "null", "nonetype": "null"}
_ARRAYS = ("list", "sequence", "set", "tuple", "iterable")


def _split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "[") - (ch == "]")
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [p.strip() for p in parts + [text[start:]]]


def python_type_schema(text: str) -> tuple[dict, bool]:
    """A Python-style type name as `(JSON Schema, optional)`.

    str/int/float/bool -> string/integer/number/boolean, List[x]/Tuple[x, ...]/Set[x] -> array of x,
    dict/Dict[...] -> object, Any -> no constraint; `Optional[x]`, `Union[x, None]`, `x | None` and
    qualifiers like `"int, optional"` or `"str, default='a'"` make it optional. ValueError otherwise.
    """
    head, *qualifiers = _split_top(text.strip(), ",")
    for q in qualifiers:
        if not q.lower().startswith(("optional", "default")):
            raise ValueError(f"unsupported type '{text}'")
    schema, optional = _type_expr(head)
    return schema, optional or bool(qualifiers)


def _type_expr(expr: str) -> tuple[dict, bool]:
    alternatives = _split_top(expr, "|")
    if len(alternatives) > 1:
        return _union(alternatives)
    match = re.fullmatch(r"(?:typing\.)?(\w+)\s*(?:\[(.*)\])?", expr.strip())
    if not match:
        raise ValueError(f"unsupported type '{expr}'")
    name, args = match[1].lower(), _split_top(match[2], ",") if match[2] else []
    if name == "optional" and len(args) == 1:
        return _type_expr(args[0])[0], True
    if name == "union" and args:
        return _union(args)
    if name in _ARRAYS:
        items = [a for a in args if a != "..."]
        if items and len(set(items)) == 1:
            return {"type": "array", "items": _type_expr(items[0])[0]}, False
        return {"type": "array"}, False
    if name in ("dict", "mapping"):
        return {"type": "object"}, False
    if name == "any":
        return {}, False
    if name in _SIMPLE_TYPES and not args:
        return {"type": _SIMPLE_TYPES[name]}, False
    raise ValueError(f"unsupported type '{expr}'")


def _union(alternatives: list[str]) -> tuple[dict, bool]:
    schemas = [_type_expr(a)[0] for a in alternatives]
    kept = [s for s in schemas if s != {"type": "null"}]
    optional = len(kept) < len(schemas)
    return (kept[0] if len(kept) == 1 else {"anyOf": kept}), optional


def xlam_parameters(params: dict, field: str) -> dict:
    """xLAM `{param: {"type", "description", "default"}}` as a JSON Schema object.

    A parameter is required unless its type says optional or it has a default.
    """
    if isinstance(params.get("type"), str):  # already JSON Schema
        return params
    properties, required = {}, []
    for name, spec in params.items():
        pfield = f"{field}.{name}"
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise RecordProblem("bad field", pfield, "a parameter needs a string 'type'")
        try:
            schema, optional = python_type_schema(spec["type"])
        except ValueError as err:
            raise RecordProblem("unsupported type", pfield + ".type", str(err)) from None
        properties[name] = {**schema, **{k: spec[k] for k in ("description", "default") if k in spec}}
        if not optional and "default" not in spec:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def convert_xlam(obj: dict) -> dict:
    """An xLAM / APIGen record: `query`, `tools` (types converted), `answers`."""
    query = _get(obj, "query", str)
    tools = []
    for i, fn in enumerate(_json_field(obj, "tools", list)):
        field = f"tools[{i}]"
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise RecordProblem("invalid tool", field, "a tool needs a string 'name'")
        params = fn.get("parameters") or {}
        if not isinstance(params, dict):
            raise RecordProblem("invalid tool", field + ".parameters", "must be an object")
        tools.append({"type": "function", "function": {
            "name": fn["name"], "description": fn.get("description", ""),
            "parameters": xlam_parameters(params, field + ".parameters")}})
    answers = _json_field(obj, "answers", list)
    calls = [_call(a, f"answers[{i}]") for i, a in enumerate(answers)]
    return _example(query, tools, _target(calls))


# ---- sharegpt / hermes ---------------------------------------------------------------------------

_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
          "tool": "tool"}


def convert_sharegpt(obj: dict) -> dict:
    """A ShareGPT / Hermes record: `<tools>` of the leading system turn, then the conversation."""
    system, turns = None, []
    for i, turn in enumerate(_get(obj, "conversations", list)):
        field = f"conversations[{i}]"
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise RecordProblem("bad field", field, "a turn needs 'from' and a string 'value'")
        role, value = _ROLES.get(turn.get("from")), turn["value"]
        if role == "system" and not turns:
            system = value
        elif role == "user":
            turns.append({"role": "user", "content": value, "field": field})
        elif role == "assistant":
            blocks = re.findall(r"<tool_call>(.*?)</tool_call>", value, re.S)
            if len(blocks) != value.count("<tool_call>"):
                raise RecordProblem("malformed call", field, "<tool_call> without </tool_call>")
            said = re.sub(r"<tool_call>.*?</tool_call>", "", value, flags=re.S).strip()
            calls = [_call(_lenient_call(b, field), field + ".value") for b in blocks]
            turns.append({"role": "assistant", "content": said or None, "calls": calls, "field": field})
        elif role == "tool":  # one result per <tool_response> block, or the whole value
            results = re.findall(r"<tool_response>(.*?)</tool_response>", value, re.S) or [value]
            turns += [{"role": "tool", "content": r.strip(), "field": field} for r in results]
        else:
            raise RecordProblem("bad field", field + ".from", f"unexpected role {turn.get('from')!r}")
    return _conversation(turns, _sharegpt_tools(obj, system), "", "conversations")


def _lenient_call(text: str, field: str) -> Any:
    try:
        return _loads_lenient(text)
    except ValueError:
        raise RecordProblem("malformed call", field + ".value", "the tool call is not JSON") from None


def _sharegpt_tools(obj: dict, system: str | None) -> list[dict]:
    # Hermes prompts also mention "<tools></tools>" in prose: use the block that holds something
    blocks = [b for b in re.findall(r"<tools>(.*?)</tools>", system or "", re.S) if b.strip()]
    if blocks:
        return [_as_tool(t, f"system.tools[{i}]") for i, t in enumerate(_values(blocks[-1], "system"))]
    if obj.get("tools"):
        return [_as_tool(t, f"tools[{i}]") for i, t in enumerate(_json_field(obj, "tools", list))]
    raise RecordProblem("no tools offered", "conversations[0]", "no <tools> block in the system turn")


# ---- driver --------------------------------------------------------------------------------------

def _example(instruction: str, tools: list, target: dict | list | None, system: str = "") -> dict:
    """The converted fields of a single-turn record."""
    return {"instruction": instruction, **({"system": system} if system.strip() else {}),
            "tools": tools, "target": target}


def _target(calls: list[dict]) -> dict | list[dict] | None:
    """No call, one call, or a list of parallel calls."""
    return None if not calls else calls[0] if len(calls) == 1 else calls


def _conversation(turns: list[dict], tools: list, system: str, field: str) -> dict:
    """The converted fields of a conversation: the last assistant turn is the answer.

    `turns`: `{"role": "user" | "tool" | "assistant", "content", "field"}`; an assistant turn also
    has `calls` (`{"name", "arguments"}`) and maybe `ids` (None where the source has none), a tool
    turn maybe `id` (the call it answers; None: the first call still open).
    """
    last = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=-1)
    if not any(t["role"] == "user" for t in turns[:last]):
        raise RecordProblem("missing field", field, "no user message followed by an assistant message")
    history, waiting, n_calls = [], [], 0
    for turn in turns[:last]:
        if turn["role"] == "user":
            history.append({"role": "user", "content": turn["content"]})
        elif turn["role"] == "assistant":
            tool_calls = []
            for call, call_id in zip(turn["calls"], turn.get("ids") or [None] * len(turn["calls"])):
                tool_calls.append({"id": call_id or f"call_{n_calls}", "type": "function", "function": call})
                n_calls += 1
            waiting += [c["id"] for c in tool_calls]
            history.append({"role": "assistant", "content": turn["content"],
                            **({"tool_calls": tool_calls} if tool_calls else {})})
        else:
            call_id = turn.get("id") or (waiting[0] if waiting else None)
            if call_id is None:
                raise RecordProblem("bad field", turn["field"], "a tool result answers no earlier call")
            waiting = [w for w in waiting if w != call_id]
            history.append({"role": "tool", "tool_call_id": call_id, "content": turn["content"]})
    answer = turns[last]
    target = _target(answer["calls"])
    if len(history) == 1:  # single-turn: the old, flat record
        fields = _example(history[0]["content"], tools, target, system)
    else:
        fields = {"messages": [{"role": "system", "content": system}] * bool(system.strip()) + history,
                  "tools": tools, "target": target}
    if target is None and answer["content"] and answer["content"].strip():
        fields["target_content"] = answer["content"]
    return fields


CONVERTERS = {"openai": convert_openai, "glaive": convert_glaive, "xlam": convert_xlam,
              "sharegpt": convert_sharegpt}


def _checked(record: dict) -> None:
    """Run `parse_example`, turning its error into a `RecordProblem` with the field it names."""
    try:
        parse_example(record)
    except CalltuneError as err:
        match = re.match(r"field '([^']*)': (.*)", str(err), re.S)
        field, detail = (match[1], match[2]) if match else (None, str(err))
        reason = ("target fails schema" if field and field.startswith("target") else
                  "invalid tool" if field and field.startswith("tools") else "invalid example")
        raise RecordProblem(reason, field, detail) from None


def convert_record(obj: Any, fmt: str, index: int, stem: str) -> dict:
    """One source record as a checked calltune example record (raises `RecordProblem`)."""
    if isinstance(obj, RecordProblem):
        raise obj
    if not isinstance(obj, dict):
        raise RecordProblem("malformed record", None, f"expected a JSON object, got {type(obj).__name__}")
    source_id = obj.get("id")
    ex_id = str(source_id) if isinstance(source_id, (str, int)) and str(source_id) else f"{stem}-{index}"
    record = {"id": ex_id, **CONVERTERS[fmt](obj), "meta": {"source_format": fmt, "source_index": index}}
    _checked(record)
    return record


def import_file(path: str, fmt: str, on_error: str = "stop") -> tuple[list[dict], ImportReport]:
    """Convert every record of `path` from `fmt`; returns the example records and a report.

    `on_error="stop"` raises a `CalltuneError` naming file, line (or record index), field and
    reason at the first bad record; `"skip"` leaves it out and lists it in the report.
    """
    if fmt not in CONVERTERS:
        raise CalltuneError(f"unknown import format '{fmt}' (choose from {', '.join(FORMATS)})")
    if on_error not in ON_ERROR:
        raise CalltuneError(f"unknown on-error mode '{on_error}' (choose from {', '.join(ON_ERROR)})")
    stem, records, skipped, seen, n = Path(path).stem, [], [], set(), 0
    for index, line, obj in read_records(path):
        n += 1
        try:
            record = convert_record(obj, fmt, index, stem)
            if record["id"] in seen:
                raise RecordProblem("duplicate id", "id", f"duplicate id '{record['id']}'")
        except RecordProblem as problem:
            if on_error == "stop":
                field = f"field '{problem.field}': " if problem.field else ""
                message = f"record {index}: {field}{problem.reason}: {problem.detail}"
                raise located(path, line, None, message) from None
            skipped.append(Skipped(index, line, problem.field, problem.reason, problem.detail))
            continue
        seen.add(record["id"])
        records.append(record)
    return records, ImportReport(path, fmt, n, len(records), tuple(skipped))
