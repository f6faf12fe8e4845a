"""Parallel requests: two or more calls (up to `parallel_max_calls`) asked for in one message; the target is
the list of the calls (their order does not matter).

- `parallel_same_tool`: one tool twice with different values, either as two full requests ("What's the
  weather in Paris? And what's it like in Rome right now?") or as a request plus "What about Rome?", where
  the second call repeats the first with one value changed. At the generator's `parallel_list_rate` the
  values are listed in one request instead ("What's the weather in Paris, Rome and Berlin?": `_list_calls`),
  the way a user asks one thing for several values. At the generator's `parallel_cross_rate` two parameters
  are listed at once and the calls are every pair of their values ("the weather in Paris and Rome on March 3
  and March 5": four calls, `_cross_calls`), the way a user asks one thing for each combination;
- `parallel_two_tools`: two different tools, half the time from the same family (a flight and a hotel). At
  the generator's `parallel_mixed_rate` one of two tools is asked for several listed values and the other
  once ("Convert 5 and 12 USD to EUR, and what's the weather in Paris?": `_mixed_calls`), so that a request
  holds more calls than tools; at the generator's `parallel_group_rate` both tools are asked for listed
  values ("Convert 5 and 12 USD to EUR, and what's the weather in Paris and Rome?": `_mixed_calls` with
  `b_count`). At the generator's `parallel_repeat_rate` a request of 3 or more calls asks
  fewer tools, one sentence per call, so that a tool comes back with other values after another tool's call
  ("Convert 5 USD to EUR. What's the weather in Paris? Then convert 12 GBP to JPY.": `_repeat_tools`).

Each call passes `checks.check_call` against its own sentence and against the whole message, so a value
stated for one call never leaves the other ambiguous (an optional unit stated for only one of them).
"""

from __future__ import annotations

import random
import re

from calltune.errors import CalltuneError
from calltune.synth import augment
from calltune.synth.catalogue import ToolDef, family
from calltune.synth.checks import check_call, recoverable
from calltune.synth.phrasing import ATTEMPTS_PER_CALL, carried, draw_arguments, join_sentences, optional_clauses, \
    phrase, sample_call
from calltune.synth.slots import Param, join_words, render_value, sample_value

SAME_FOR = ("What about {value}?", "Same for {value}, please.", "And the same for {value}.",
            "Do the same for {value} too.", "Then do that again for {value}.", "How about {value}?")
VARIABLE_KINDS = ("string", "integer", "number", "enum", "date", "time")
# name verbs of tools that change something: every pair of two listed values reads as a contradiction there
# ("set the bathroom and hallway to 16 and 24 degrees"), so `_cross_calls` leaves them out
CHANGING_VERBS = frozenset(("create", "add", "new", "register", "update", "edit", "modify", "patch", "delete",
                            "remove", "cancel", "discard", "share", "send", "grant", "set", "reserve", "rent",
                            "return", "book", "log"))


def _kinds(param: Param) -> set[str]:
    """The value kinds a parameter's text can show; integers and numbers read alike."""
    if param.kind == "array":
        return _kinds(param.items)
    if param.kind == "object":
        return set().union(*(_kinds(p) for p in param.fields.values()))
    return {"number" if param.kind == "integer" else param.kind}


def variable_params(tool: ToolDef) -> list[str]:
    """Required parameters that "What about X?" can change unambiguously: no other parameter of the tool
    takes values of the same kind (a flight's origin and destination are both cities)."""
    out = []
    for name, param in tool.params.items():
        others = set().union(*(_kinds(p) for n, p in tool.params.items() if n != name))
        if param.required and param.kind in VARIABLE_KINDS and not _kinds(param) & others:
            out.append(name)
    return out


def changes_something(tool: ToolDef) -> bool:
    """Whether the tool's name begins with a verb of `CHANGING_VERBS`."""
    return re.split(r"_|(?=[A-Z])", tool.name.split(".")[-1])[0].lower() in CHANGING_VERBS


def listable_params(tool: ToolDef) -> list[str]:
    """The parameters `_list_calls` may list: the `variable_params`, and of a tool that changes something
    (`changes_something`) only its first required parameter, the thing acted on ("cancel orders A, B and C");
    a value it sets is never listed ("change its budget to 5 and 7" asks for two values of one thing)."""
    variable = variable_params(tool)
    return [name for name in variable if name in tool.required[:1]] if changes_something(tool) else variable


def _all_ok(tool_args: list[tuple[ToolDef, dict]], message: str) -> bool:
    return all(check_call(tool, message, args).ok for tool, args in tool_args)


def _same_for(rng: random.Random, tool: ToolDef, message: str, calls: list[dict], name: str):
    """`(message, new_args)` for "<message> What about <new value>?": the first call with `name` changed to a
    value no earlier call has, or None."""
    param = tool.params[name]
    new = sample_value(param, rng)
    if any(new == args[name] for args in calls):
        return None
    text = rng.choice(SAME_FOR).format(value=render_value(param, new, rng))
    second = {**calls[0], name: new}
    joined = join_sentences(message, text)
    if recoverable(param, new, text) and not recoverable(param, new, message) and \
            _all_ok([(tool, args) for args in calls + [second]], joined):
        return joined, second
    return None


def _pick_tools(rng: random.Random, pool: list, tool_a: ToolDef, same: bool, k: int) -> list[ToolDef]:
    """The tool of each of the `k` calls: `tool_a` k times, or k different tools, each next one half the time
    from `tool_a`'s family."""
    if same:
        return [tool_a] * k
    chosen = [tool_a]
    for _ in range(k - 1):
        taken = {t.name for t in chosen}
        others = [t for t in pool if t.name not in taken]
        near = [t for t in others if family(t.domain) == family(tool_a.domain)]
        chosen.append(rng.choice(near if near and rng.random() < 0.5 else others))
    return chosen


def _repeat_tools(rng: random.Random, pool: list, tool_a: ToolDef, k: int, max_tools: int) -> list[ToolDef]:
    """The tool of each of the `k` (3 or more) calls when tools repeat: 2 to k - 1 different tools (as
    `_pick_tools` draws them, at most `max_tools` and the pool's), each called at least once and some twice or
    more, in a shuffled order."""
    distinct = _pick_tools(rng, pool, tool_a, False, rng.randint(2, min(k - 1, max_tools, len(pool))))
    seq = distinct + [rng.choice(distinct) for _ in range(k - len(distinct))]
    rng.shuffle(seq)
    return seq


def _sample_calls(rng: random.Random, cfg, seq: list[ToolDef], same: bool, contexts: dict, in_words: list):
    """`(message, [args per call], template)` for the calls of `seq` asked in one message, or None; the names
    of parameters stated in words go to `in_words`."""
    tool_a = seq[0]
    message, args_a, template = sample_call(rng, tool_a, cfg.optional_rate, contexts.get(tool_a.domain, ()),
                                            word_rate=cfg.word_value_rate, worded=in_words)
    calls, templates = [args_a], [template]
    variable = variable_params(tool_a) if same else []
    name = None
    for tool in seq[1:]:
        if variable and rng.random() < 0.5:
            name = name or rng.choice(variable)  # every "What about X?" changes the same parameter
            made = _same_for(rng, tool_a, message, calls, name)
            if made is None:
                return None
            message, args = made
            templates.append("same_for")
        else:
            text, args, template = sample_call(rng, tool, cfg.optional_rate, (), follows=True,
                                               word_rate=cfg.word_value_rate, worded=in_words)
            message = join_sentences(message, text)
            if any(earlier is tool and args == made for earlier, made in zip(seq, calls)):
                return None  # a tool asked again asks for other values
            templates.append(template)
        calls.append(args)
    if not _all_ok(list(zip(seq, calls)), message):
        return None
    return message, calls, "+".join(templates)


def _distinct_values(rng: random.Random, param: Param, first, k: int) -> list | None:
    """`k` distinct values of `param`, `first` the first of them, or None after 4k draws."""
    values = [first]
    for _ in range(4 * k):
        if len(values) == k:
            return values
        value = sample_value(param, rng)
        if value not in values:
            values.append(value)
    return values if len(values) == k else None


def _list_calls(rng: random.Random, cfg, tool: ToolDef, k: int, contexts: tuple, in_words: list):
    """`(message, [args per call], template)` for one request that lists `k` values of one required parameter
    ("Convert 5, 12 and 40 USD to EUR"), every other argument shared by the `k` calls, or None. A value
    whose text holds a comma or " and " is never listed, so the list splits one way only; of a tool that
    changes something only the thing it acts on is listed (`listable_params`)."""
    variable = listable_params(tool)
    if not variable:
        return None
    name = rng.choice(variable)
    param = tool.params[name]
    args, texts = draw_arguments(rng, tool, cfg.optional_rate)
    values = _distinct_values(rng, param, args[name], k)
    if values is None:
        return None
    listed = [render_value(param, value, rng, in_list=True) for value in values]
    if any("," in text or " and " in text for text in listed):
        return None
    texts[name] = join_words(listed, rng)
    templates = [t for t in tool.templates() if "{" + name + "}" in t[1]]
    if not templates:
        return None
    template_id, template = rng.choice(templates)
    names: list[str] = []
    clauses = optional_clauses(rng, tool, args, texts, cfg.word_value_rate, names)
    rng.shuffle(clauses)
    message = phrase(rng, template_id[:3], template.format(**texts), "".join(clauses), contexts)
    calls = [{**args, name: value} for value in values]
    if not _all_ok([(tool, call) for call in calls], message):
        return None
    in_words.extend(names)
    return message, calls, f"{template_id}+list"


def _crossable(tool: ToolDef) -> tuple[list[str], list[str]]:
    """`(required, optional)` parameters whose values `_cross_calls` may list: the `variable_params`, and
    optional strings and enums that qualify the same way (a value kind no other parameter shows), that no
    clause states together with another parameter, and that are not a sort order, reason or access level
    (one of each per request reads right; "sorted newest and oldest first" does not)."""
    carry = carried(tool)
    together = set(carry) | set(carry.values())
    optional = []
    for name in tool.optional:
        param = tool.params[name]
        others = set().union(*(_kinds(p) for n, p in tool.params.items() if n != name))
        if param.kind in ("string", "enum") and not _kinds(param) & others and name not in together and \
                re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower() not in ("sort_order", "reason", "access"):
            optional.append(name)
    return variable_params(tool), optional


def _cross_calls(rng: random.Random, cfg, tool: ToolDef, contexts: tuple, in_words: list):
    """`(message, [args per call], template)` for one request that lists values of two parameters, one of
    them required ("the weather in Paris and Rome on March 3 and March 5"), a call per pair of values (2 x 2,
    or 2 x 3 when `cfg.parallel_max_calls` allows 6), every other argument shared, or None. A listed optional
    parameter is stated by its clause. As in `_list_calls`, a value whose text holds a comma or " and " is
    never listed; a tool that changes something (`CHANGING_VERBS`) is never crossed."""
    required, optional = _crossable(tool)
    if not required or len(required) + len(optional) < 2 or changes_something(tool):
        return None
    a = rng.choice(required)
    b = rng.choice([name for name in required + optional if name != a])
    sizes = [2, 3 if cfg.parallel_max_calls >= 6 and rng.random() < 0.5 else 2]
    args, texts = draw_arguments(rng, tool, cfg.optional_rate)
    values = {}
    for name, k in zip((a, b), sizes):
        param = tool.params[name]
        values[name] = _distinct_values(rng, param, args[name] if name in args else sample_value(param, rng), k)
        if values[name] is None:
            return None
        listed = [render_value(param, value, rng, in_list=True) for value in values[name]]
        if any("," in text or " and " in text for text in listed):
            return None
        args[name], texts[name] = values[name][0], join_words(listed, rng)
    templates = [t for t in tool.templates() if all("{" + n + "}" in t[1] for n in (a, b) if n in required)]
    if not templates:
        return None
    template_id, template = rng.choice(templates)
    worded: list[str] = []  # an optional value listed is stated by its clause, never in words
    clauses = optional_clauses(rng, tool, args, texts, 0.0 if b in optional else cfg.word_value_rate, worded)
    rng.shuffle(clauses)
    message = phrase(rng, template_id[:3], template.format(**texts), "".join(clauses), contexts)
    calls = [{**args, a: va, b: vb} for va in values[a] for vb in values[b]]
    if not _all_ok([(tool, call) for call in calls], message):
        return None
    in_words.extend(worded)
    return message, calls, f"{template_id}+cross"


def _mixed_calls(rng: random.Random, cfg, tool_a: ToolDef, tool_b: ToolDef, total: int, contexts: dict,
                 in_words: list, b_count: int = 1):
    """`(message, [args per call], template, [tool per call])` for one message that asks `tool_a` for `total -
    b_count` listed values of one parameter (`_list_calls`) and `tool_b` once or, with `b_count` 2 or more, for
    as many listed values of its own, in either order, or None; the names of parameters stated in words go to
    `in_words` only when it succeeds."""
    b_first = rng.random() < 0.5
    worded: list[str] = []
    listed = _list_calls(rng, cfg, tool_a, total - b_count, () if b_first else contexts.get(tool_a.domain, ()),
                         worded)
    if listed is None:
        return None
    list_message, list_args, list_template = listed
    if b_count == 1:
        text, args_b, template_b = sample_call(rng, tool_b, cfg.optional_rate,
                                               contexts.get(tool_b.domain, ()) if b_first else (),
                                               follows=not b_first, word_rate=cfg.word_value_rate, worded=worded)
        calls_b = [args_b]
    else:
        listed_b = _list_calls(rng, cfg, tool_b, b_count, contexts.get(tool_b.domain, ()) if b_first else (), worded)
        if listed_b is None:
            return None
        text, calls_b, template_b = listed_b
    parts = [(text, calls_b, [tool_b] * len(calls_b), template_b),
             (list_message, list_args, [tool_a] * len(list_args), list_template)]
    if not b_first:
        parts.reverse()
    (first, calls_1, tools_1, template_1), (second, calls_2, tools_2, template_2) = parts
    message, calls, tools = join_sentences(first, second), calls_1 + calls_2, tools_1 + tools_2
    if not _all_ok(list(zip(tools, calls)), message):
        return None
    in_words.extend(worded)
    return message, calls, f"{template_1}+{template_2}", tools


def sample_parallel(rng: random.Random, cfg, pool: list, contexts: dict) -> dict:
    """A parallel record (without id): 2 calls (2 to `cfg.parallel_max_calls`, drawn uniformly) of one tool
    (probability `cfg.parallel_same_tool_rate`, or always when only one tool can be offered) or of as many
    different tools, or (probability `cfg.parallel_mixed_rate`) 3 or more calls of two tools, one of them once, or
    (else, probability `cfg.parallel_group_rate`) 4 or more calls of two tools, each for 2 or more listed values,
    or (else, probability `cfg.parallel_repeat_rate`) 3 or more calls of fewer tools, one sentence each."""
    same = rng.random() < cfg.parallel_same_tool_rate or len(pool) < 2 or cfg.max_tools < 2
    k = 2 if cfg.parallel_max_calls <= 2 else rng.randint(2, cfg.parallel_max_calls)
    if not same:
        k = max(2, min(k, cfg.max_tools, len(pool)))
    for _ in range(ATTEMPTS_PER_CALL):
        tool_a = rng.choice(pool)
        seq = _pick_tools(rng, pool, tool_a, same, k)
        in_words: list[str] = []
        grouped = False
        crossed = same and cfg.parallel_cross_rate > 0 and cfg.parallel_max_calls >= 4 and \
            rng.random() < cfg.parallel_cross_rate
        made = _cross_calls(rng, cfg, tool_a, contexts.get(tool_a.domain, ()), in_words) if crossed else None
        listed = same and cfg.parallel_list_rate > 0 and rng.random() < cfg.parallel_list_rate
        if listed and made is None:
            made = _list_calls(rng, cfg, tool_a, k, contexts.get(tool_a.domain, ()), in_words)
        mixed = not same and cfg.parallel_mixed_rate > 0 and cfg.parallel_max_calls >= 3 and \
            rng.random() < cfg.parallel_mixed_rate
        if mixed:
            mixed_made = _mixed_calls(rng, cfg, seq[0], seq[1], max(3, k), contexts, in_words)
            mixed = mixed_made is not None
            if mixed:
                message, call_args, template, seq = mixed_made
                break
        grouped = not same and cfg.parallel_group_rate > 0 and cfg.parallel_max_calls >= 4 and \
            rng.random() < cfg.parallel_group_rate
        listable = [tool for tool in pool if listable_params(tool)] if grouped else []
        grouped = len(listable) >= 2
        if grouped:  # two tools that can list values, the second half the time of the first's family
            pair, total = _pick_tools(rng, listable, rng.choice(listable), False, 2), \
                rng.randint(4, cfg.parallel_max_calls)
            group_made = _mixed_calls(rng, cfg, pair[0], pair[1], total, contexts, in_words,
                                      b_count=rng.randint(2, total - 2))
            grouped = group_made is not None
            if grouped:
                message, call_args, template, seq = group_made
                tool_a = pair[0]  # the record's domain
                break
        repeat = not same and cfg.parallel_repeat_rate > 0 and cfg.parallel_max_calls >= 3 and \
            rng.random() < cfg.parallel_repeat_rate  # not same: two tools or more can be offered
        if repeat:
            seq = _repeat_tools(rng, pool, tool_a, rng.randint(3, cfg.parallel_max_calls), cfg.max_tools)
        made = made or _sample_calls(rng, cfg, seq, same, contexts, in_words)
        if made is not None:
            message, call_args, template = made
            seq = [tool_a] * len(call_args) if same else seq  # a crossed request asks for more than k calls
            break
    else:
        raise CalltuneError(f"no recoverable parallel request in {ATTEMPTS_PER_CALL} tries "
                            f"(tools such as {', '.join(t.name for t in pool[:3])})")
    chosen = [tool_a] if same else [tool for i, tool in enumerate(seq) if tool not in seq[:i]]
    tools, distract = augment.with_distractors(rng, chosen, pool, cfg.max_tools, cfg.distractor_rate,
                                               cfg.distractor_same_domain_rate)
    calls = [(tools.index(tool), {"name": tool.name, "arguments": args}) for tool, args in zip(seq, call_args)]
    offered, target, applied = augment.offer_config(rng, cfg, tools, calls)
    extra = ["parallel_same_tool" if same else "parallel_two_tools"] + (["distractors"] if distract else [])
    extra += ["word_values"] if in_words else []
    extra += ["parallel_list"] if same and template.endswith("+list") else []
    extra += ["parallel_cross"] if same and template.endswith("+cross") else []
    extra += ["parallel_mixed"] if mixed else []
    extra += ["parallel_group"] if grouped else []
    extra += ["parallel_repeat"] if not same and len(chosen) < len(seq) and not mixed and not grouped else []
    extra += ["optional_args"] if any(n in tool.optional for tool, args in zip(seq, call_args) for n in args) else []
    meta = {"domain": tool_a.domain, "tool": [t.name for t in seq], "template": template,
            "tools": [t.name for t in tools], "augmentations": sorted(extra + applied)}
    return {"instruction": message, "tools": offered, "target": target, "meta": meta}
