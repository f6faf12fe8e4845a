"""Augmentations of a generated example: renaming, property shuffling and distractor choice; `offer`
applies the first two to the tools of a prompt and to every call that names them.

Renaming makes the model read the schema instead of memorizing names: a function becomes a plausible
synonym (`current_weather_report` -> `fetch_current_weather_report`, `calculateMean`) or a random identifier
(`fn_x7k2`), parameters likewise (`location` -> `city`, `arg_q3z`). The target is renamed with the same
maps; the instruction is unchanged. All functions take an explicit `random.Random`.
"""

from __future__ import annotations

import copy
import random
import re

from calltune.synth import describe, formats

VERB_SYNONYMS = {
    "get": ("fetch", "retrieve", "lookup", "query", "read"), "calculate": ("compute", "calc", "determine", "eval"),
    "compute": ("calculate", "calc", "evaluate"), "convert": ("transform", "change", "translate"),
    "search": ("find", "lookup", "query"), "find": ("search", "locate", "lookup"), "send": ("dispatch", "deliver"),
    "create": ("make", "add", "new"), "set": ("update", "configure", "adjust"), "list": ("show", "enumerate"),
    "reserve": ("book", "hold"), "rent": ("hire", "book"), "check": ("verify", "test"), "track": ("trace", "follow"),
    "log": ("record", "add", "save"), "add": ("insert", "put"), "delete": ("remove", "erase"),
    "cancel": ("remove", "drop"), "move": ("relocate", "transfer"), "read": ("open", "load"),
    "start": ("launch", "run"), "lock": ("secure",), "apply": ("use", "redeem"), "plan": ("optimize", "build"),
    "post": ("publish", "send"), "balance": ("fix", "solve"), "solve": ("resolve", "find_roots_of"),
    "compress": ("zip", "archive"), "update": ("change", "modify"), "return": ("refund", "send_back"),
    "compare": ("benchmark", "contrast"), "book": ("schedule", "reserve"), "geocode": ("locate", "resolve"),
}
PARAM_SYNONYMS = {
    "location": ("city", "place", "where"), "city": ("city_name", "town", "place"),
    "date": ("day", "on_date", "when"), "origin": ("from_city", "source", "start"),
    "destination": ("to", "dest", "target"), "amount": ("value", "sum", "qty"),
    "quantity": ("count", "qty", "num_items"), "unit": ("units", "measure"), "numbers": ("values", "data", "nums"),
    "time": ("at", "clock_time", "hour"), "message": ("text", "content", "msg"),
    "path": ("file", "filepath", "location"), "radius": ("r", "rad"), "height": ("h", "tall"),
    "base": ("b", "base_length"), "team": ("club", "squad", "team_name"), "query": ("q", "search_term", "keywords"),
    "title": ("name", "summary", "label"), "ticker": ("symbol", "stock"), "room": ("area", "zone"),
    "device": ("appliance", "gadget"), "order_id": ("order", "order_number", "oid"), "season": ("year",),
    "expression": ("function", "f", "formula"), "value": ("amount", "input", "val"),
    "from_unit": ("source_unit", "unit_in", "frm"), "to_unit": ("target_unit", "unit_out"),
    "to": ("recipient", "email"), "subject": ("topic", "headline"), "body": ("content", "text"),
    "formula": ("compound", "molecule"),
}
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
IDENT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def random_ident(rng: random.Random, prefixes: tuple[str, ...]) -> str:
    tail = "".join(rng.choice(ALNUM) for _ in range(rng.randint(2, 4)))
    return rng.choice(prefixes) + rng.choice(ALNUM[:26]) + tail


def plausible_function_name(rng: random.Random, name: str) -> str:
    """A synonym: swap the leading verb, sometimes restyle (camelCase) or add a suffix."""
    verb, _, rest = name.partition("_")
    if verb in VERB_SYNONYMS and rest:
        name = f"{rng.choice(VERB_SYNONYMS[verb])}_{rest}"
    else:
        name = rng.choice(("do_", "run_", "api_")) + name
    style = rng.random()
    if style < 0.25:
        return camel(name)
    if style < 0.4:
        return name + rng.choice(("_v2", "_tool", "_api", "_fn"))
    return name


def plausible_param_name(rng: random.Random, name: str) -> str:
    if name in PARAM_SYNONYMS and rng.random() < 0.7:
        return rng.choice(PARAM_SYNONYMS[name])
    parts = name.split("_")
    options = [name + "_value", "in_" + name, "_".join(p[:3] for p in parts)]
    if len(parts) > 1:
        options += [camel(name), parts[-1] if len(parts[-1]) > 2 else parts[0]]
    return rng.choice(options)


def _fresh(rng: random.Random, candidate: str, taken: set[str], prefixes: tuple[str, ...]) -> str:
    """`candidate` if valid and free, else a random identifier that is."""
    while candidate in taken or not IDENT_RE.match(candidate):
        candidate = random_ident(rng, prefixes)
    return candidate


def rename_tool(rng: random.Random, tool: dict, function: bool, params: bool, taken: set[str],
                plausible: bool) -> tuple[dict, dict[str, str]]:
    """Return `(renamed_tool, param_map)` for an OpenAI-form tool; `taken` holds names in use in the
    prompt (the new name is added). `param_map` maps old parameter names to new ones."""
    tool = copy.deepcopy(tool)
    fn = tool["function"]
    if function:
        if plausible:
            new = plausible_function_name(rng, fn["name"])
        else:
            new = random_ident(rng, ("fn_", "tool_", "f_", "op_"))
        fn["name"] = _fresh(rng, new, taken | {fn["name"]}, ("fn_", "tool_"))
    taken.add(fn["name"])
    schema = fn["parameters"]
    names = list(schema["properties"])
    mapping = {k: k for k in names}
    if params and names:
        used: set[str] = set()
        for old in names:
            new = plausible_param_name(rng, old) if plausible else random_ident(rng, ("arg_", "p_", "x_", ""))
            mapping[old] = _fresh(rng, new, used | {old}, ("arg_", "p_"))
            used.add(mapping[old])
        schema["properties"] = {mapping[k]: v for k, v in schema["properties"].items()}
        schema["required"] = [mapping[k] for k in schema["required"]]
    return tool, mapping


def rename_call(call: dict, new_name: str, mapping: dict[str, str]) -> dict:
    """The target call under a tool's renaming."""
    return {"name": new_name, "arguments": {mapping[k]: v for k, v in call["arguments"].items()}}


def shuffle_properties(rng: random.Random, tool: dict) -> tuple[dict, bool]:
    """Reorder the `properties` keys (and `required` to match); returns the tool and whether the order changed."""
    tool = copy.deepcopy(tool)
    schema = tool["function"]["parameters"]
    keys = list(schema["properties"])
    order = keys[:]
    rng.shuffle(order)
    schema["properties"] = {k: schema["properties"][k] for k in order}
    schema["required"] = [k for k in order if k in schema["required"]]
    return tool, order != keys


def pick_distractors(rng: random.Random, target, pool: list, k: int, same_domain_rate: float = 0.35) -> list:
    """Choose `k` other tools from `pool` (ToolDefs); each is from the target's domain with probability
    `same_domain_rate` while such tools remain, so the model has to tell close tools apart."""
    same = [t for t in pool if t.domain == target.domain and t.name != target.name]
    other = [t for t in pool if t.domain != target.domain]
    chosen = []
    for _ in range(k):
        bucket = same if (same and (rng.random() < same_domain_rate or not other)) else other
        if not bucket:
            break
        chosen.append(bucket.pop(rng.randrange(len(bucket))))
    return chosen


def offer(rng: random.Random, tools: list, calls: list[tuple[int, dict]], rename_rate: float,
          shuffle_rate: float, mask_rate: float = 0.0, style_rate: float = 0.0,
          styles: tuple[str, ...] = (), format_rate: float = 0.0) -> tuple[list[dict], list[dict], list[str]]:
    """Turn catalogue tools (ToolDefs) into offered JSON tools: each has its description rewritten in one
    of `styles` with probability `style_rate` (`describe.py`), is masked (function and/or parameter names
    replaced by random identifiers, as Hammer does) with probability `mask_rate`, else renamed with
    probability `rename_rate`, and has its properties shuffled with probability `shuffle_rate`. Renaming
    and masking carry the new names into the description's code-like references. A rate of 0 draws
    nothing from `rng`, so the defaults give the same examples as before these options existed. First, with
    probability `format_rate`, a tool with a date or city parameter asks for another format of it and its calls
    follow (`formats.py`).

    `calls` pairs the index in `tools` of the tool each call uses with the call (canonical names); they come
    back renamed to match, in the same order. Returns `(offered, calls, applied augmentations)`.
    """
    taken = {t.name for t in tools}
    offered, applied, renamed = [], [], [call for _, call in calls]
    for i, tool in enumerate(tools):
        spec = tool.to_json()
        if format_rate and formats.formattable(tool) and rng.random() < format_rate:
            mine = [k for k, (index, _) in enumerate(calls) if index == i]
            spec, changed, tags = formats.reformat(rng, tool, spec, [renamed[k] for k in mine])
            for k, call in zip(mine, changed):
                renamed[k] = call
            applied += tags
        if style_rate and styles and rng.random() < style_rate:
            style = rng.choice(styles)
            spec = describe.restyle(spec, style)
            applied.append(f"style_{style}")
        masked = bool(mask_rate) and rng.random() < mask_rate
        if masked or rng.random() < rename_rate:
            what = rng.choice(("function", "params", "both"))
            old_name = spec["function"]["name"]
            spec, mapping = rename_tool(rng, spec, what != "params", what != "function", taken,
                                        plausible=not masked and rng.random() < 0.6)
            spec = describe.carry_names(spec, old_name, mapping)
            kind = "mask" if masked else "rename"
            applied += [f"{kind}_function"] if what != "params" else []
            applied += [f"{kind}_params"] if what != "function" else []
            renamed = [rename_call(call, spec["function"]["name"], mapping) if index == i else call
                       for (index, _), call in zip(calls, renamed)]
        if rng.random() < shuffle_rate:
            spec, changed = shuffle_properties(rng, spec)
            applied += ["shuffle_properties"] if changed else []
        offered.append(spec)
    return offered, renamed, sorted(set(applied))


def offer_config(rng: random.Random, cfg, tools: list, calls: list[tuple[int, dict]]):
    """`offer` with the renaming, shuffling, masking and description-style rates of a `SynthConfig`."""
    return offer(rng, tools, calls, cfg.rename_rate, cfg.shuffle_rate, mask_rate=cfg.mask_rate,
                 style_rate=cfg.description_style_rate, styles=cfg.description_styles,
                 format_rate=cfg.value_format_rate)


def with_distractors(rng: random.Random, chosen: list, pool: list, max_tools: int, rate: float,
                     same_domain_rate: float = 0.35) -> tuple[list, bool]:
    """`chosen` (ToolDefs) plus, with probability `rate`, 1..max_tools-len(chosen) distractors from `pool`
    (each of the first chosen tool's domain with probability `same_domain_rate`), all shuffled; returns the
    tools and whether distractors were added."""
    if max_tools <= len(chosen) or rng.random() >= rate:
        return list(chosen), False
    names = {t.name for t in chosen}
    extra = pick_distractors(rng, chosen[0], [t for t in pool if t.name not in names],
                             rng.randint(1, max_tools - len(chosen)), same_domain_rate)
    tools = list(chosen) + extra
    rng.shuffle(tools)
    return tools, bool(extra)
