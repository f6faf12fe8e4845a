"""Multi-turn examples: a request, the assistant's tool call, the tool's result, then the answer to learn.

Two kinds, in the `messages` form of the calltune example format:

- `dialogue_answer`: [user, assistant call, tool result] -> target null, `target_content` a short reply
  that reports the result ("It's 18°C and sunny in Lisbon right now ...");
- `dialogue_followup`: the request also asks for a second step that needs the result ("Then check
  the status of the cheapest one") -> target the second call, whose arguments come from the user's words
  or the result (`followups.py`).

Both calls pass `checks.check_call`: the first against the request, the second against the request
plus the result's JSON. Names in the history and the target follow the offered (renamed) tools.
"""

from __future__ import annotations

import json
import random

from calltune.errors import CalltuneError
from calltune.synth import augment
from calltune.synth.checks import check_call
from calltune.synth.followups import CHAINS
from calltune.synth.phrasing import ATTEMPTS_PER_CALL, join_sentences, sample_call
from calltune.synth.results import has_outcome, outcome
from calltune.synth.slots import render_value, sample_value

ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


def call_id(rng: random.Random) -> str:
    return "call_" + "".join(rng.choice(ID_CHARS) for _ in range(10))


def history(rng: random.Random, request: str, call: dict, result: dict) -> list[dict]:
    """[user, assistant with one tool call, tool result] in OpenAI chat form."""
    cid = call_id(rng)
    return [{"role": "user", "content": request},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": cid, "type": "function",
                             "function": {"name": call["name"], "arguments": call["arguments"]}}]},
            {"role": "tool", "tool_call_id": cid, "content": json.dumps(result, ensure_ascii=False)}]


def with_optionals(rng: random.Random, clause: str, tool, args: dict, optional_rate: float) -> tuple[str, dict]:
    """Let the user also state optional parameters of the follow-up that the chain left open, through the
    tool's own clauses (" on foot", ", just the first 20 lines")."""
    args = dict(args)
    for name in tool.optional:
        if name not in args and rng.random() < optional_rate:
            args[name] = sample_value(tool.params[name], rng)
            clause += rng.choice(tool.clauses[name]).format(**{name: render_value(tool.params[name], args[name], rng)})
    return clause, args


def chains_for(pool: list) -> list:
    """The follow-up chains whose two tools are both in `pool`."""
    names = {t.name for t in pool}
    return [c for c in CHAINS if c.first in names and c.second in names]


def sample_answer(rng: random.Random, cfg, pool: list, contexts: dict) -> dict | None:
    """A `dialogue_answer` record (without id), or None when no tool of `pool` has a result."""
    firsts = [t for t in pool if has_outcome(t.name)]
    if not firsts:
        return None
    tool = rng.choice(firsts)
    in_words: list[str] = []
    request, args, template_id = sample_call(rng, tool, cfg.optional_rate, contexts.get(tool.domain, ()),
                                             word_rate=cfg.word_value_rate, worded=in_words)
    result, replies = outcome(rng, tool.name, args)
    return answer_record(rng, cfg, pool, tool, request, args, template_id, result, replies,
                         ["word_values"] if in_words else [])


def answer_record(rng: random.Random, cfg, pool: list, tool, request: str, args: dict, template_id: str,
                  result: dict, replies: tuple, extra: list[str]) -> dict:
    """The `dialogue_answer` record of a drawn call of `tool` and its result: distractors from `pool`, the
    offered tools, the history and one of `replies`; `extra` adds augmentation tags."""
    tools, distract = augment.with_distractors(rng, [tool], pool, cfg.max_tools, cfg.distractor_rate,
                                               cfg.distractor_same_domain_rate)
    offered, (call,), applied = augment.offer_config(rng, cfg, tools,
                                                     [(tools.index(tool), {"name": tool.name, "arguments": args})])
    extra = ["dialogue_answer"] + extra + (["distractors"] if distract else [])
    extra += ["optional_args"] if any(name in tool.optional for name in args) else []
    meta = {"domain": tool.domain, "tool": None, "template": f"{tool.name}:{template_id}",
            "tools": [t.name for t in tools], "augmentations": sorted(extra + applied)}
    return {"messages": history(rng, request, call, result), "tools": offered, "target": None,
            "target_content": rng.choice(replies), "meta": meta}


def sample_followup(rng: random.Random, cfg, pool: list, contexts: dict) -> dict | None:
    """A `dialogue_followup` record (without id), or None when `pool` holds no chain's two tools."""
    chains = chains_for(pool) if cfg.max_tools >= 2 else []
    if not chains:
        return None
    chain = rng.choice(chains)
    first = next(t for t in pool if t.name == chain.first)
    second = next(t for t in pool if t.name == chain.second)
    for _ in range(ATTEMPTS_PER_CALL):
        request, a_args, template_id = sample_call(rng, first, cfg.optional_rate, contexts.get(first.domain, ()))
        result, _ = outcome(rng, first.name, a_args)
        made = chain.follow(rng, a_args, result, second)
        if made is None:
            continue
        clause, b_args = with_optionals(rng, made[0], second, made[1], cfg.optional_rate)
        request = join_sentences(request, clause + ".")
        seen = request + "\n" + json.dumps(result, ensure_ascii=False)
        if check_call(first, request, a_args).ok and check_call(second, seen, b_args).ok:
            break
    else:
        raise CalltuneError(f"follow-up {chain.first} -> {chain.second}: no recoverable example in "
                            f"{ATTEMPTS_PER_CALL} tries")
    return followup_record(rng, cfg, pool, first, second, request, a_args, b_args, template_id, result, [])


def followup_record(rng: random.Random, cfg, pool: list, first, second, request: str, a_args: dict, b_args: dict,
                    template_id: str, result: dict, extra: list[str]) -> dict:
    """The `dialogue_followup` record of a checked chain: `first` called with `a_args` gave `result`, the
    target calls `second` with `b_args`; distractors from `pool`; `extra` adds augmentation tags."""
    tools, distract = augment.with_distractors(rng, [second, first], pool, cfg.max_tools, cfg.distractor_rate,
                                               cfg.distractor_same_domain_rate)
    calls = [(tools.index(first), {"name": first.name, "arguments": a_args}),
             (tools.index(second), {"name": second.name, "arguments": b_args})]
    offered, (a_call, b_call), applied = augment.offer_config(rng, cfg, tools, calls)
    extra = ["dialogue_followup"] + extra + (["distractors"] if distract else [])
    extra += ["optional_args"] if any(name in second.optional for name in b_args) else []
    meta = {"domain": second.domain, "tool": second.name, "template": f"{first.name}:{template_id}>{second.name}",
            "tools": [t.name for t in tools], "augmentations": sorted(extra + applied)}
    return {"messages": history(rng, request, a_call, result), "tools": offered, "target": b_call, "meta": meta}
