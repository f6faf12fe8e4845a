"""Sessions: several requests over one offered tool set in one conversation, for the generator's `session_rate`.

A single-call example becomes a session with 1 to `session_max_rounds` earlier rounds, each a request to one of
its offered tools that has a result (hand-written tools with `results.outcome`, composed tools with
`composed_dialogue.outcome`), the assistant's call, the tool's result and the assistant's reply; then the
example's own request and target call:

    user: What's the weather in Lisbon?      assistant: <tool_call> get_weather(city="Lisbon")
    tool: {"temperature_c": 18, ...}         assistant: It's 18°C and sunny in Lisbon right now.
    user: And set the office lights to 40%.  -> target: set_lights(room="office", brightness=40)

Why: an example's tokens are mostly its prompt (87% of them unsupervised in cand8's 600 training examples,
582 tokens each), and completion loss supervises every assistant turn of a conversation, history included
(`render.py`). A round costs its request, call, result and reply, about 240 tokens (the result's JSON the
largest part), against about 575 for a new example, so a session trains more calls and replies per token; the price is fewer distinct tool sets per token, and the
earlier rounds' requests are answered in a context (a history) that a first request does not have.

Every round's call is drawn by `phrasing.sample_call` (which passes `checks.check_call` against its request),
names and parameters follow the example's renaming and masking (`augment.offer_config` sees every round's call
and the target together).
"""

from __future__ import annotations

import random

from calltune.synth import composed_dialogue, dialogue
from calltune.synth.phrasing import sample_call
from calltune.synth.results import has_outcome, outcome


def answers(tool, composed) -> bool:
    """Whether a call of `tool` gets a synthesized result."""
    return tool.name in composed.origin if composed is not None else has_outcome(tool.name)


def earlier_rounds(rng: random.Random, cfg, tools: list, contexts: dict, composed) -> list[tuple]:
    """1 to `cfg.session_max_rounds` rounds `(index into tools, request, arguments, result, replies)` on the
    offered `tools` that have results; [] when none has."""
    callable_ = [i for i, tool in enumerate(tools) if answers(tool, composed)]
    if not callable_:
        return []
    rounds = []
    for _ in range(rng.randint(1, cfg.session_max_rounds)):
        index = rng.choice(callable_)
        tool = tools[index]
        request, args, _ = sample_call(rng, tool, cfg.optional_rate, contexts.get(tool.domain, ()),
                                       word_rate=cfg.word_value_rate)
        result, replies = (composed_dialogue.outcome(rng, composed, tool, args) if composed is not None
                           else outcome(rng, tool.name, args))
        rounds.append((index, request, args, result, replies))
    return rounds


def messages(rng: random.Random, rounds: list[tuple], calls: list[dict], request: str) -> list[dict]:
    """The conversation: each round's request, call (`calls`: as offered, renamed like the tools), result and
    reply, then the last `request`."""
    out = []
    for (_, asked, _, result, replies), call in zip(rounds, calls, strict=True):
        out += dialogue.history(rng, asked, call, result)
        out.append({"role": "assistant", "content": rng.choice(replies)})
    return out + [{"role": "user", "content": request}]
