"""Near misses: requests that an offered tool of the right domain cannot serve; the target is null and a
text reply says why (or, at `text_answer_rate`, for the wrong operation only).

- `near_miss_operation`: a request for one operation on a thing ("cancel the seed order SO-12345")
  offered tools that act on the same thing but do something else (search or create seed orders), plus
  perhaps tools of other domains. Composed tools only: their operations are known (`composer.OPS`), and
  the request's operation is of another group than every offered one (never search vs list). With
  `operation_contrast_rate`, a one-message single call on a composed tool may be followed by its operation
  twin (`operation_twin`, tagged `operation_contrast` too): the same message offered that tool's siblings
  instead of it, so that two examples differ only in whether the tool that does the asked thing is offered.
- `near_miss_missing`: a request that leaves out a value the tool requires ("book a flight from Paris to
  Rome", no date); the reply asks for it, naming the parameter as offered. Composed tools drop the
  mention from their template (`clauses` holds every parameter's mentions); hand-written ones drop a
  "<preposition> {param}" that ends a phrase ("... on {date}"), never one that completes a verb ("go to"). Booleans and parameters with a default are never left out.
"""

from __future__ import annotations

import dataclasses
import random
import re

from calltune.synth import augment
from calltune.synth.checks import check_call
from calltune.synth.describe import noun
from calltune.synth.phrasing import ATTEMPTS_PER_CALL, draw_arguments, optional_clauses, phrase, sample_call
from calltune.synth.slots import MISSING
from calltune.synth.smalltalk import decline

PREPOSITIONS = ("in", "for", "on", "at", "of", "from", "to", "with", "by", "about", "near", "into", "called",
                "named", "under", "using", "between")
# Prepositions whose phrase can go: not "to", "into", "under", "using", which often complete a verb
# ("turning into {x}", "Can {order} go to {address}?") and would leave it hanging.
DROPPABLE = ("in", "for", "on", "at", "of", "from", "with", "by", "about", "near", "called", "named", "between")
ASK = ("I can do that, but I need {what} first. Could you tell me?", "Sure. What should I use for {what}?",
       "To use `{fn}` I need {what} (`{param}`). What is it?",
       "Happy to help once I know {what}. Could you give it to me?",
       "Could you tell me {what}? `{fn}` requires it.")


def _drop(template: str, name: str, mentions: tuple) -> str | None:
    """`template` without the mention of parameter `name`, or None when it cannot be cut cleanly."""
    for mention in sorted(mentions, key=len, reverse=True):
        if mention in template:
            return template.replace(mention, "", 1)
    words, follow = "|".join(DROPPABLE), "|".join(PREPOSITIONS)
    field = re.escape("{" + name + "}")
    # the lookbehinds keep phrases whole that need their object: "get rid of {path}", "what's in {path}",
    # "bought at {price}"
    guards = "".join(rf"(?<!\b{w})" for w in ("rid", "care", "track", "what's", "is", "are", "was", "bought", "sold",
                                                     "I'm", "checking", "out", "going", "starting", "somewhere"))
    cut = re.sub(rf"{guards}\s+(?:{words})\s+(?:the\s+)?{field}"
                 rf"(?=$|[.,?!]|\s+(?:{follow})\b)", "", template, count=1)
    return cut if cut != template and "{" + name + "}" not in cut else None


_CUTS: dict = {}


def cuts(tool) -> tuple:
    """`(parameter, template id, template without its mention)` for every required parameter of `tool`
    that a request may leave out (not a boolean, no default) and every template that can lose it."""
    key = (tool.name, tool.commands, tool.phrases)
    if key not in _CUTS:
        droppable = [n for n in tool.required if tool.params[n].kind != "boolean" and tool.params[n].default is MISSING]
        _CUTS[key] = tuple((name, tid, cut) for name in droppable for tid, template in tool.templates()
                           if (cut := _drop(template, name, tool.clauses.get(name, ()))) is not None)
    return _CUTS[key]


def sample_missing(rng: random.Random, cfg, pool: list, contexts: dict) -> dict | None:
    """A `near_miss_missing` record (without id), or None when no tool of `pool` can lose a value."""
    candidates = [t for t in pool if cuts(t)]
    if not candidates:
        return None
    for _ in range(ATTEMPTS_PER_CALL):
        tool = rng.choice(candidates)
        missing, template_id, template = rng.choice(cuts(tool))
        args, texts = draw_arguments(rng, tool, cfg.optional_rate, skip=missing)
        clauses = optional_clauses(rng, tool, args, texts)
        rng.shuffle(clauses)
        message = phrase(rng, template_id[:3], template.format(**texts), "".join(clauses),
                         contexts.get(tool.domain, ()))
        # every stated value is recoverable, and the left-out one is not stated (enums: not even by chance)
        relaxed = dataclasses.replace(tool, params={**tool.params, missing: dataclasses.replace(
            tool.params[missing], required=False)})
        if check_call(relaxed, message, args).ok:
            break
    else:
        return None
    tools, distract = augment.with_distractors(rng, [tool], pool, cfg.max_tools, cfg.distractor_rate,
                                               cfg.distractor_same_domain_rate)
    probe = {"name": tool.name, "arguments": {missing: None}}  # learns the offered names of tool and parameter
    offered, (named,), applied = augment.offer_config(rng, cfg, tools, [(tools.index(tool), probe)])
    (param_name,) = named["arguments"]
    reply = rng.choice(ASK).format(what=noun(tool.params[missing].description or missing), fn=named["name"],
                                   param=param_name)
    extra = ["near_miss_missing", "text_answer"] + (["distractors"] if distract else [])
    meta = {"domain": tool.domain, "tool": None, "template": f"{tool.name}:{template_id}-{missing}",
            "tools": [t.name for t in tools], "augmentations": sorted(extra + applied)}
    return {"instruction": message, "tools": offered, "target": None, "target_content": reply, "meta": meta}


def sample_operation(rng: random.Random, cfg, pool: list, contexts: dict, composed) -> dict | None:
    """A `near_miss_operation` record (without id) from composed tools, or None when `pool` holds no
    thing with tools of two groups."""
    by_thing: dict[tuple, list] = {}
    for t in pool:
        if t.name in composed.origin:
            by_thing.setdefault(composed.origin[t.name][:2], []).append(t)
    things = [k for k, ts in by_thing.items() if len({composed.group(t.name) for t in ts}) > 1]
    if not things:
        return None
    siblings = by_thing[rng.choice(things)]
    wanted = rng.choice(siblings)
    others = [t for t in siblings if composed.group(t.name) != composed.group(wanted.name)]
    chosen = [others.pop(rng.randrange(len(others))) for _ in range(min(len(others), rng.randint(1, 2),
                                                                        cfg.max_tools))]
    instruction, _, template_id = sample_call(rng, wanted, cfg.optional_rate, contexts.get(wanted.domain, ()))
    rest = [t for t in pool if t.domain != wanted.domain]
    k = min(rng.randint(0, 2), cfg.max_tools - len(chosen), len(rest))
    tools = chosen + [rest.pop(rng.randrange(len(rest))) for _ in range(k)]
    rng.shuffle(tools)
    offered, _, applied = augment.offer_config(rng, cfg, tools, [])
    record = {"instruction": instruction, "tools": offered, "target": None}
    kinds = ["near_miss_operation"] + (["distractors"] if k else [])
    if rng.random() < cfg.text_answer_rate:
        record["target_content"] = decline(rng, [t["function"]["name"] for t in offered])
        kinds.append("text_answer")
    record["meta"] = {"domain": wanted.domain, "tool": None, "template": f"{wanted.name}:{template_id}",
                      "tools": [t.name for t in tools], "augmentations": sorted(kinds + applied)}
    return record


def siblings_by_thing(composed) -> dict[tuple, list]:
    """The composed tools of each `(domain, thing)`, in catalogue order."""
    by_thing: dict[tuple, list] = {}
    for t in composed.tools:
        if t.name in composed.origin:
            by_thing.setdefault(composed.origin[t.name][:2], []).append(t)
    return by_thing


def operation_twin(rng: random.Random, rate: float, cfg, record: dict, composed, by_thing: dict) -> dict | None:
    """With probability `rate`, `record` (a one-message single call on a composed tool) as a
    `near_miss_operation` (without id): the same message offered, instead of the called tool, one or two tools
    that act on the same thing but do something of another group (`sample_operation`'s rule), beside the
    record's other offered tools (less any of the called tool's thing and group), all offered afresh (renamed,
    styled) by `rng`; the target is null, with a decline at `cfg.text_answer_rate`; tagged
    `operation_contrast`. None (and nothing drawn) when `record` is not such a call or its tool has no such
    sibling."""
    name = record["meta"]["tool"]
    if "instruction" not in record or not isinstance(record["target"], dict) or name not in composed.origin:
        return None
    group = composed.group(name)
    others = [t for t in by_thing[composed.origin[name][:2]] if composed.group(t.name) != group]
    if not others or rng.random() >= rate:
        return None
    chosen = rng.sample(others, min(len(others), rng.randint(1, 2), cfg.max_tools))
    by_name = {t.name: t for t in composed.tools}
    # the record's other tools stay, but none that does the asked thing to the same thing (list for search)
    rest = [by_name[n] for n in record["meta"]["tools"] if n in by_name and by_name[n] not in chosen
            and (composed.origin[n][:2] != composed.origin[name][:2] or composed.group(n) != group)]
    tools = chosen + rest[:cfg.max_tools - len(chosen)]
    rng.shuffle(tools)
    offered, _, applied = augment.offer_config(rng, cfg, tools, [])
    twin = {"instruction": record["instruction"], "tools": offered, "target": None}
    kinds = ["near_miss_operation", "operation_contrast", "procedural"] + (["distractors"] if rest else [])
    if rng.random() < cfg.text_answer_rate:
        twin["target_content"] = decline(rng, [t["function"]["name"] for t in offered])
        kinds.append("text_answer")
    twin["meta"] = {"domain": record["meta"]["domain"], "tool": None, "template": record["meta"]["template"],
                    "tools": [t.name for t in tools], "augmentations": sorted(set(kinds + applied))}
    return twin
