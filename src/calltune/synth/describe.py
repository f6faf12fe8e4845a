"""Tool descriptions in the styles real APIs use, and names carried into them when a tool is renamed.

`restyle(spec, style)` rewrites the `description` of an OpenAI-form tool from its schema:

- `terse`: the first sentence, no final period ("Search seed orders by the given criteria");
- `verbose`: the description plus sentences naming each parameter in backticks, what it is and its default;
- `docstring`: a Python docstring (summary, then `Args:` with `name (type[, optional]): ...`);
- `openapi`: an OpenAPI-like block (`summary:`, `operationId:`, `parameters:` one per line).

`carry_names` rewrites those references after renaming or masking (`augment.offer`), so a masked
tool's description names its masked parameters. Only code-like references change (`` `name` ``, a
parameter line `name (`, `operationId: name`), never prose: the hand-written catalogue has none, so
renaming it stays as before.
"""

from __future__ import annotations

import copy
import json
import re

STYLES = ("terse", "verbose", "docstring", "openapi")
PY_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "array": "list",
            "object": "dict"}


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text.strip(), maxsplit=1)[0]


def noun(description: str) -> str:
    """A parameter description as a noun phrase for a sentence: "The plant. Defaults to x." -> "the plant"."""
    text = re.split(r"[.;,(]| e\.g\.", description.strip(), maxsplit=1)[0].strip() or "value"
    if len(text) > 1 and text[1].islower():
        text = text[0].lower() + text[1:]
    return text if re.match(r"(the|a|an|whether|if|set to) ", text) else "the " + text


def _py_type(schema: dict) -> str:
    kind = PY_TYPES.get(schema.get("type", ""), "Any")
    if kind == "list" and isinstance(schema.get("items"), dict):
        return f"list[{PY_TYPES.get(schema['items'].get('type', ''), 'Any')}]"
    return kind


def _default(schema: dict) -> str | None:
    return json.dumps(schema["default"]) if "default" in schema else None


def restyle(spec: dict, style: str) -> dict:
    """A copy of the OpenAI-form tool `spec` with its description written in `style` (one of STYLES)."""
    spec = copy.deepcopy(spec)
    fn = spec["function"]
    schema = fn.get("parameters", {})
    props, required = schema.get("properties", {}), set(schema.get("required", []))
    summary = fn.get("description", "").strip() or fn["name"]
    if style == "terse":
        fn["description"] = first_sentence(summary).rstrip(".")
    elif style == "verbose":
        parts = [summary if summary.endswith((".", "!", "?")) else summary + "."]
        req = [f"`{k}` ({noun(p.get('description', k))})" for k, p in props.items() if k in required]
        opt = [f"`{k}` ({noun(p.get('description', k))}"
               + (f", default {_default(p)})" if _default(p) else ")") for k, p in props.items() if k not in required]
        if req:
            parts.append(f"It needs {_join(req)}.")
        if opt:
            parts.append(f"You may also pass {_join(opt)}; leave {'them' if len(opt) > 1 else 'it'} out unless asked.")
        fn["description"] = " ".join(parts)
    elif style == "docstring":
        lines = [summary, "", "Args:"]
        for k, p in props.items():
            kind = _py_type(p) + ("" if k in required else ", optional")
            text = p.get("description", "").strip()
            if _default(p) and "default" not in text.lower():
                text = (text + " " if text else "") + f"Defaults to {_default(p)}."
            lines.append(f"    {k} ({kind}): {text}".rstrip())
        fn["description"] = "\n".join(lines if props else lines[:1])
    elif style == "openapi":
        lines = [f"summary: {summary.rstrip('.')}", f"operationId: {fn['name']}"]
        if props:
            lines.append("parameters:")
        for k, p in props.items():
            flags = [p.get("type", "any"), "required" if k in required else "optional"]
            flags += [f"default {_default(p)}"] if _default(p) else []
            flags += [f"one of {', '.join(map(str, p['enum']))}"] if "enum" in p else []
            lines.append(f"  - {k} ({'; '.join(flags)}): {p.get('description', '').strip()}".rstrip())
        fn["description"] = "\n".join(lines)
    else:
        raise ValueError(f"unknown description style {style!r} (choose from {', '.join(STYLES)})")
    return spec


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def carry_names(spec: dict, old_name: str, mapping: dict[str, str]) -> dict:
    """`spec` (already renamed) with the description's references to `old_name` and to the old
    parameter names (`mapping` old -> new) rewritten to the new names; unchanged when it has none."""
    fn = spec["function"]
    text = fn.get("description")
    renames = {old: new for old, new in {**mapping, old_name: fn["name"]}.items() if old != new}
    if not isinstance(text, str) or not renames:
        return spec
    names = "|".join(map(re.escape, sorted(renames, key=len, reverse=True)))
    # `name` anywhere; a parameter line of the docstring or openapi style; the openapi operationId
    pattern = re.compile(rf"(?<=`)({names})(?=`)|(?<=^    )({names})(?= \()|(?<=^  - )({names})(?= \()"
                         rf"|(?<=^operationId: )({names})$", re.M)
    new = pattern.sub(lambda m: renames[m.group(0)], text)
    if new == text:
        return spec
    spec = copy.deepcopy(spec)
    spec["function"]["description"] = new
    return spec
