"""Parallel requests: two calls asked for in one message; the target is the list of both calls (their
order does not matter).

- `parallel_same_tool`: one tool twice with different values, either as two full requests ("What's the
  weather in Paris? And what's it like in Rome right now?") or as a request plus "What about Rome?", where
  the second call repeats the first with one value changed;
- `parallel_two_tools`: two different tools, half the time from the same family (a flight and a hotel).

Each call passes `checks.check_call` against its own sentence and against the whole message, so a value
stated for one call never leaves the other ambiguous (an optional unit stated for only one of them).
"""

from __future__ import annotations

import random

from calltune.errors import CalltuneError
from calltune.synth import augment
from calltune.synth.catalogue import ToolDef, family
from calltune.synth.checks import check_call, recoverable
from calltune.synth.phrasing import ATTEMPTS_PER_CALL, join_sentences, sample_call
from calltune.synth.slots import Param, render_value, sample_value

SAME_FOR = ("What about {value}?", "Same for {value}, please.", "And the same for {value}.",
            "Do the same for {value} too.", "Then do that again for {value}.", "How about {value}?")
VARIABLE_KINDS = ("string", "integer", "number", "enum", "date", "time")


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


def _both_ok(tool_a: ToolDef, args_a: dict, tool_b: ToolDef, args_b: dict, message: str) -> bool:
    return check_call(tool_a, message, args_a).ok and check_call(tool_b, message, args_b).ok


def _same_for(rng: random.Random, tool: ToolDef, first: str, args: dict, name: str):
    """`(message, second_args)` for "<first> What about <new value>?", or None."""
    param = tool.params[name]
    new = sample_value(param, rng)
    if new == args[name]:
        return None
    text = rng.choice(SAME_FOR).format(value=render_value(param, new, rng))
    second = {**args, name: new}
    message = join_sentences(first, text)
    if recoverable(param, new, text) and not recoverable(param, new, first) and \
            _both_ok(tool, args, tool, second, message):
        return message, second
    return None


def sample_parallel(rng: random.Random, cfg, pool: list, contexts: dict) -> dict:
    """A parallel record (without id): two calls of one tool (probability `cfg.parallel_same_tool_rate`,
    or always when only one tool can be offered) or of two tools."""
    same = rng.random() < cfg.parallel_same_tool_rate or len(pool) < 2 or cfg.max_tools < 2
    for _ in range(ATTEMPTS_PER_CALL):
        tool_a = rng.choice(pool)
        if same:
            tool_b = tool_a
        else:
            others = [t for t in pool if t.name != tool_a.name]
            near = [t for t in others if family(t.domain) == family(tool_a.domain)]
            tool_b = rng.choice(near if near and rng.random() < 0.5 else others)
        first, args_a, template_a = sample_call(rng, tool_a, cfg.optional_rate, contexts.get(tool_a.domain, ()))
        variable = variable_params(tool_a) if same else []
        if variable and rng.random() < 0.5:
            made = _same_for(rng, tool_a, first, args_a, rng.choice(variable))
            if made is None:
                continue
            message, args_b = made
            template = f"{template_a}+same_for"
            break
        second, args_b, template_b = sample_call(rng, tool_b, cfg.optional_rate, (), follows=True)
        message = join_sentences(first, second)
        if (not same or args_b != args_a) and _both_ok(tool_a, args_a, tool_b, args_b, message):
            template = f"{template_a}+{template_b}"
            break
    else:
        raise CalltuneError(f"no recoverable parallel request in {ATTEMPTS_PER_CALL} tries "
                            f"(tools such as {', '.join(t.name for t in pool[:3])})")
    chosen = [tool_a] if same else [tool_a, tool_b]
    tools, distract = augment.with_distractors(rng, chosen, pool, cfg.max_tools, cfg.distractor_rate)
    calls = [(tools.index(tool_a), {"name": tool_a.name, "arguments": args_a}),
             (tools.index(tool_b), {"name": tool_b.name, "arguments": args_b})]
    offered, target, applied = augment.offer_config(rng, cfg, tools, calls)
    extra = ["parallel_same_tool" if same else "parallel_two_tools"] + (["distractors"] if distract else [])
    extra += ["optional_args"] if any(n in tool_a.optional for n in args_a) or \
        any(n in tool_b.optional for n in args_b) else []
    meta = {"domain": tool_a.domain, "tool": [tool_a.name, tool_b.name], "template": template,
            "tools": [t.name for t in tools], "augmentations": sorted(extra + applied)}
    return {"instruction": message, "tools": offered, "target": target, "meta": meta}
