"""JSON repair: the post-hoc baseline to constrained decoding.

`repair_call(raw, tools)` takes unconstrained model output and tries to turn it
into a well-formed tool call, using the `json_repair` library for the JSON
itself (unclosed brackets and strings, single quotes, bare keys, trailing
commas, code fences, prose around the object):

1. Output that already parses as a call that fits its tool's schema is left alone.
2. From the first `{` on, `json_repair` rebuilds an object.
3. Shape: a call spelled `{"function"|"tool"|"tool_name": ..., "parameters"|"args"|
   "params"|"input": ...}` is renamed to `name`/`arguments`; `arguments` given
   as a JSON string is parsed; with a name but no `arguments`, the other keys
   become the arguments.
4. Types: when the name is an offered tool, `json_repair` repairs again against
   that tool's call schema, coercing obvious types ("5" -> 5, "true" -> true,
   7 -> "7"); if the object cannot be made to fit, step 3's object is kept.

Hopeless output (no `{` at all, nothing that becomes an object with a string
name) is refused: `repair_call` returns None and the raw text is scored as is.
"""

from __future__ import annotations

import json

from calltune.examples import Tool
from calltune.extract import call_from_object, extract_call

NAME_ALIASES = ("name", "function", "tool", "tool_name", "function_name")
ARGUMENT_ALIASES = ("arguments", "parameters", "args", "params", "input")


def _reshape(obj: dict) -> dict | None:
    """Normalize a repaired object to `{"name", "arguments"}`, or None when no name is found."""
    if isinstance(obj.get("function"), dict) and "name" not in obj:  # OpenAI's nested form
        obj = obj["function"]
    name_key = next((k for k in NAME_ALIASES if k in obj), None)
    if name_key is None:
        return None
    name = obj[name_key]
    if name is None:
        return {"name": None, "arguments": {}}
    if not isinstance(name, str) or not name:
        return None
    args_key = next((k for k in ARGUMENT_ALIASES if k in obj), None)
    if args_key is None:
        args = {k: v for k, v in obj.items() if k != name_key}
    else:
        args = obj[args_key]
    if isinstance(args, str):
        import json_repair

        args = json_repair.repair_json(args, return_objects=True) if args.strip() else {}
    if not isinstance(args, dict):
        return None
    return {"name": name, "arguments": args}


def _parse_broken(raw: str) -> dict | None:
    """Rebuild a call from text that does not parse as one (steps 2 and 3)."""
    import json_repair

    start = raw.find("{")
    if start < 0:
        return None
    try:
        obj = json_repair.repair_json(raw[start:], return_objects=True)
    except (ValueError, RecursionError):
        return None
    if isinstance(obj, list):  # a call wrapped in a list
        obj = next((o for o in obj if isinstance(o, dict)), None)
    return _reshape(obj) if isinstance(obj, dict) else None


def repair_call(raw: str, tools: list[Tool]) -> str | None:
    """Return repaired answer text (compact JSON), `raw` itself when it needs no repair, or
    None when the output is hopeless."""
    import json_repair

    from calltune.constrain import tool_call_schema

    from calltune.score import schema_errors

    ext = extract_call(raw)
    if ext.error is None:
        if ext.call is None:
            return raw
        tool = next((t for t in tools if t.name == ext.call["name"]), None)
        if tool is None or not schema_errors(ext.call["arguments"], tool.parameters):
            return raw  # nothing a repair could improve
        call = ext.call
    else:
        call = _parse_broken(raw)
        if call is None:
            return None
    tool = next((t for t in tools if t.name == call["name"]), None)
    if tool is not None:
        try:
            coerced = json_repair.repair_json(json.dumps(call), return_objects=True,
                                              schema=tool_call_schema(tool))
            if isinstance(coerced, dict) and call_from_object(coerced)[1] is None:
                call = coerced
        except (ValueError, TypeError):
            pass  # cannot be made to fit; keep the reshaped call for scoring
    return json.dumps(call, ensure_ascii=False)
