"""Sampling synthetic examples from the catalogue with one local `random.Random(seed)`.

`generate(SynthConfig(n=5000, seed=0))` returns records in the calltune example format (see
`calltune.examples`), id `synth-{seed}-{i:06d}`, of seven kinds (each named in `meta.augmentations`):

- a single call: `instruction`, `tools`, `target` = one call;
- `irrelevant`: no offered tool fits; `target` null, and with `text_answer` a `target_content` reply (with
  `irrelevant_task_rate`, some are tasks the assistant answers itself, tagged `irrelevant_task`: `tasks.py`);
  with `task_call_rate`, a single call may instead be such a task offered a tool that performs it (tagged
  `task_call`), and with `task_near_miss_rate` an irrelevant task is offered a tool of its own topic that does
  something else (tagged `task_near_miss`);
- `parallel_same_tool` / `parallel_two_tools`: two calls asked for in one message; `target` = both
  calls (`parallel.py`);
- `dialogue_answer` / `dialogue_followup`: `messages` (request, tool call, tool result) instead of
  `instruction`; `target` null with `target_content`, or the follow-up call (`dialogue.py`);
- `session`: a single call preceded by earlier rounds on the same tools (request, call, result, reply), with
  `session_rate` (`session.py`);
- `near_miss_missing` / `near_miss_operation`: an offered tool of the right domain cannot serve the request
  (a required value left out, or another operation); `target` null with a reply (`nearmiss.py`).

With `procedural_rate`, an example's tools come from the composed catalogue (`composer.py`; tagged
`procedural`) instead of the hand-written one; `mask_rate`, `description_style_rate` and `value_format_rate`
change how offered tools look (`augment.offer`, `describe.py`, `formats.py`); `word_value_rate` states optional enums and booleans in words
(`wording.py`; tagged `word_values`); `composed_dialogue_rate` makes procedural dialogues on composed tools
(`composed_dialogue.py`); `novel_value_rate` replaces names in requests with made-up ones after the examples
are drawn (`novel_values.py`; tagged `novel_values`); `context_value_rate` adds a sentence naming a value of an
argument's kind in another role (`context_values.py`; tagged `context_values`); `round_value_rate` makes
large numbers round amounts written with thousands separators (`round_values.py`; tagged `round_values`);
`operation_contrast_rate` follows a call on a composed tool with the same request offered only tools that do
something else to the same thing (`nearmiss.operation_twin`; tagged `operation_contrast`). Every such option
is off by default, and off it draws nothing from the RNG, so the default output is what it was before they
existed.

`meta = {"domain", "tool", "template", "tools", "augmentations"}`: `tools` holds the catalogue
(pre-renaming) name of every offered tool in offer order, `tool` that of the target's tool (a list, one
per call, for parallel targets; null for null targets). Every tool call passes `checks.check_call`;
same config -> the same records, whatever the hash seed.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from calltune.errors import CalltuneError
from calltune.synth import augment, composed_dialogue, session
from calltune.synth.catalogue import ToolDef, all_contexts, all_tools, family, split_domains
from calltune.synth.composer import SPLITS, Composed, composed_catalogue, with_object_params, with_word_options
from calltune.synth.context_values import with_context_value
from calltune.synth.describe import STYLES
from calltune.synth.dialogue import sample_answer, sample_followup
from calltune.synth.nearmiss import operation_twin, sample_missing, sample_operation, siblings_by_thing
from calltune.synth.novel_values import with_novel_values
from calltune.synth.parallel import sample_parallel
from calltune.synth.phrasing import phrase, sample_call
from calltune.synth.round_values import with_round_values
from calltune.synth.smalltalk import GENERAL_DOMAIN, decline, sample_smalltalk
from calltune.synth.tasks import TASK_DOMAIN, sample_task_drawn, sibling, takes_numbers, task_tool
from calltune.synth.wording import worded

RATES = ("rename_rate", "shuffle_rate", "distractor_rate", "irrelevant_rate", "text_answer_rate",
         "irrelevant_task_rate", "task_call_rate", "task_near_miss_rate", "optional_rate",
         "parallel_rate", "parallel_same_tool_rate", "parallel_list_rate", "parallel_mixed_rate",
         "parallel_repeat_rate", "parallel_group_rate", "dialogue_rate",
         "followup_rate", "procedural_rate", "mask_rate", "description_style_rate", "near_miss_rate",
         "near_miss_missing_rate", "word_value_rate", "composed_dialogue_rate", "session_rate", "value_format_rate",
         "distractor_same_domain_rate", "object_param_rate", "parallel_cross_rate", "novel_value_rate",
         "context_value_rate", "optional_contrast_rate", "optional_addition_rate", "round_value_rate",
         "operation_contrast_rate", "object_param_early_rate")


@dataclass
class SynthConfig:
    """What `calltune data synth` generates."""

    n: int = 1000
    """Number of examples."""
    seed: int = 0
    """Seed of the local RNG; the same config gives a byte-identical file."""
    rename_rate: float = 0.3
    """Per offered tool: probability of renaming its function and/or parameters."""
    shuffle_rate: float = 0.5
    """Per offered tool: probability of shuffling the order of its properties."""
    distractor_rate: float = 0.5
    """Probability that an example offers extra tools besides the ones it calls, up to max_tools in all."""
    distractor_same_domain_rate: float = 0.35
    """Per distractor: probability that it is drawn from the called tool's own domain (while such tools remain), so
    the model has to tell close tools apart by their names and descriptions; the rest come from other domains."""
    irrelevant_rate: float = 0.1
    """Probability of an example whose target is null (no offered tool fits)."""
    text_answer_rate: float = 1.0
    """Per irrelevant example: probability of a short text reply in `target_content` (else the null target alone)."""
    irrelevant_task_rate: float = 0.0
    """Per irrelevant example: probability that the request is a task the assistant answers itself (a computation
    with stated numbers, a question of fact, a how-to; `tasks.py`), offered 1 to 3 tools that cannot serve it
    (for a computation, tools that take numbers when there are such), instead of small talk or another family's
    request; tagged irrelevant_task, the reply states the answer."""
    task_call_rate: float = 0.0
    """Per single-call example: probability that its request is instead one of those tasks offered a tool that
    performs it (a calculator for the computation, a lookup or a reference search for the fact, a guide search for
    the how-to; `tasks.task_tool`) and, with distractor_rate, other tools; the target calls it with values copied
    from the request; tagged task_call. With irrelevant_task_rate, the same tasks are calls when a tool fits and
    answered in text when none does."""
    task_near_miss_rate: float = 0.0
    """Per irrelevant task (irrelevant_task_rate): probability that one of its offered tools is of the task's own
    topic but does something else (the cube's surface area for its volume, the year of a discovery for who made
    it; `tasks.sibling`), so that a tool named like the request is not by itself a reason to call; tagged
    task_near_miss, the reply still answers the task."""
    optional_rate: float = 0.4
    """Per optional parameter: probability that the user states it (and the target includes it)."""
    parallel_rate: float = 0.0
    """Probability of a parallel request: two calls in one message, the target a list of both
    (hermes style only: `paper` and `chat` answer one call, so the default is 0)."""
    parallel_same_tool_rate: float = 0.5
    """Per parallel request: probability that both calls use one tool with different values (else two tools)."""
    parallel_list_rate: float = 0.0
    """Per parallel request of one tool: probability that its values are listed in one request ("the
    weather in Paris, Rome and Berlin") instead of asked for one by one ("... And in Rome?")."""
    parallel_cross_rate: float = 0.0
    """Per parallel request of one tool (with parallel_max_calls 4 or more): probability that it lists values of
    two parameters and asks for every pair ("the weather in Paris and Rome on March 3 and March 5": four calls;
    half the time 2 x 3 with parallel_max_calls 6 or more), where the tool has two such parameters and changes
    nothing; else as without it."""
    parallel_mixed_rate: float = 0.0
    """Per parallel request of different tools (with parallel_max_calls 3 or more): probability that it asks
    one of two tools for several listed values and the other once ("Convert 5 and 12 USD to EUR, and what's
    the weather in Paris?"): more calls than tools, 3 to parallel_max_calls of them."""
    parallel_group_rate: float = 0.0
    """Per parallel request of different tools not mixed (with parallel_max_calls 4 or more): probability that
    it asks each of two tools for several listed values ("Convert 5 and 12 USD to EUR, and what's the weather
    in Paris and Rome?"): 4 to parallel_max_calls calls, 2 or more of each tool; tagged parallel_group."""
    parallel_repeat_rate: float = 0.0
    """Per parallel request of different tools neither mixed nor grouped (with parallel_max_calls 3 or more):
    probability that it asks 3 to parallel_max_calls calls of fewer tools, one sentence per call in a shuffled
    order, so that a tool is asked again with other values after another tool's call ("Convert 5 USD to EUR.
    What's the weather in Paris? Then convert 12 GBP to JPY."); tagged parallel_repeat."""
    parallel_max_calls: int = 2
    """Most calls in a parallel request; each asks for 2 to this many calls, drawn uniformly."""
    dialogue_rate: float = 0.0
    """Probability of a multi-turn example (`messages`: request, tool call, tool result, then the target;
    hermes style only, so the default is 0)."""
    followup_rate: float = 0.4
    """Per dialogue: probability that the target is a follow-up call using a value of the result (else a
    final text answer)."""
    max_tools: int = 5
    """Most tools offered in one prompt."""
    domains: tuple[str, ...] = ()
    """Only tools of these domains (empty: all)."""
    tools: tuple[str, ...] = ()
    """Only these tools (empty: all), e.g. to hold tools out."""
    procedural_rate: float = 0.0
    """Probability that an example's tools come from the composed catalogue (many procedurally built tools
    of other domains, `composer.py`) instead of the hand-written one; its dialogues use hand-written tools unless
    composed_dialogue_rate says otherwise."""
    procedural_seed: int | None = None
    """Seed of the composed catalogue (default: seed); another seed composes other tools for the same operations."""
    procedural_split: str = "all"
    """Domains of the composed catalogue: all, train (4 of every 5) or heldout (the 5th: tools never trained on)."""
    catalogue_split: str = "all"
    """Domains of the hand-written catalogue: all, train (4 of every 5 in alphabetical order) or heldout (the 5th:
    ecommerce, maps and statistics), so that a dev set of hand-written tools never trained on can be made."""
    mask_rate: float = 0.0
    """Per offered tool: probability of masking it instead of renaming (function and/or parameter names replaced
    by random identifiers, carried into the description), so that only the description tells what it does."""
    description_style_rate: float = 0.0
    """Per offered tool: probability of rewriting its description in one of description_styles."""
    value_format_rate: float = 0.0
    """Per offered tool with a date or city parameter: probability that its description asks for another format
    (dates as MM-DD-YYYY, DD/MM/YYYY, "March 7, 2025", ...; places as "Denver, CO", "Denver, Colorado" or
    "Lyon, France") and its calls write the value so (`formats.py`; tagged format_date, format_place)."""
    description_styles: tuple[str, ...] = STYLES
    """Description styles to draw from: terse, verbose, docstring (Args: ...), openapi."""
    near_miss_rate: float = 0.0
    """Probability of a near miss: target null and a reply, for a request that an offered tool of the right domain
    cannot serve (a required value left out, or an operation the offered tools do not do)."""
    near_miss_missing_rate: float = 0.5
    """Per near miss on composed tools: probability that a required value is left out (the reply asks for it);
    else the request asks for another operation. Near misses on hand-written tools always leave a value out."""
    word_value_rate: float = 0.0
    """Per stated optional enum or boolean: probability of words from its name and values instead of its clause
    ("without photos", "the full detail level", "measured in °F"; `wording.py`); above 0, composed tools also
    get such options (include_X, detail_level, year, a number with its unit: "from the last 3 weeks")."""
    composed_dialogue_rate: float = 0.0
    """Per dialogue drawn with procedural_rate: probability that it is on composed tools (a result for any
    operation, follow-ups such as list then delete "the last one"; `composed_dialogue.py`) instead of
    hand-written ones."""
    session_rate: float = 0.0
    """Per single-call example: probability that it becomes a session, its request and call preceded by
    earlier rounds on the same offered tools (request, call, the tool's result, the assistant's reply;
    `session.py`), so that one rendering of the tools trains several calls and replies."""
    session_max_rounds: int = 3
    """Most earlier rounds in a session; each has 1 to this many, drawn uniformly."""
    object_param_rate: float = 0.0
    """Per composed tool that searches, lists, counts or creates: probability that it also takes an optional
    object-valued parameter (an address under one of three spellings, a contact, an owner, dimensions,
    coordinates or a budget: `composer.with_object_params`), stated like any optional value ("at 12 Oak Street,
    Lyon 69001"). 0 leaves the composed catalogue as it is."""
    object_param_early_rate: float = 0.0
    """Per object-valued parameter that object_param_rate adds to a tool with optional parameters: probability
    that it goes just before one of them (drawn uniformly) instead of last, so that a call's other stated
    arguments can follow the object value (`address` before `tags` and `sort_order`). 0: last."""
    novel_value_rate: float = 0.0
    """Per one-message request with a name among its string arguments (a city, person, team, hotel, ...):
    probability that its names are replaced by made-up ones of the same shape, in the instruction and every
    call alike (`novel_values.py`), so a model must copy them. Drawn from its own RNG after the examples are:
    the same examples and tools as at 0, only the names differ. 0 draws nothing."""
    context_value_rate: float = 0.0
    """Per one-message request with a city, a person, another name or a date among its arguments: probability
    that it gets one more sentence naming another value of that kind in a role no parameter takes ("I'm writing
    from Oslo.", "Today is March 3, 2026.", "I already did this for Lakers."), before or after the request, the
    calls unchanged (`context_values.py`; tagged context_values), so a model must pick values by their role.
    Drawn from its own RNG after the examples (and novel values) are: the same examples, tools and targets as
    at 0. 0 draws nothing."""
    optional_contrast_rate: float = 0.0
    """Per one-message single call that states an optional argument: probability that its contrast follows it,
    the same message (frame, context, offered tools) without that argument's clause and the call without the
    argument, so that two examples differ only in whether the option is stated (tagged optional_contrast).
    A contrast takes the next record's place (n stays n); drawn from its own RNG. 0 draws nothing."""
    optional_addition_rate: float = 0.0
    """Per one-message single call that leaves out an optional argument: probability that its addition follows
    it, the same message (frame, context, offered tools) with a clause stating that argument, a value drawn for
    it, and the call with the argument (tagged optional_addition): the contrast in the other direction. It takes
    the next record's place (n stays n); drawn from its own RNG (with --value-format-rate, the added values
    also take part in the formats drawn). 0 draws nothing."""

    operation_contrast_rate: float = 0.0
    """Per one-message single call on a composed tool whose thing has tools of another operation group:
    probability that its operation twin follows it (`nearmiss.operation_twin`; tagged near_miss_operation and
    operation_contrast): the same message offered one or two of those sibling tools instead of the called one,
    target null with a decline, so that the model learns to read the operation, not only the thing ("delete
    the ad campaign" offered update_ad_campaign). It takes the next record's place (n stays n); drawn from its
    own RNG. 0 draws nothing."""
    round_value_rate: float = 0.0
    """Per one-message request with a number of 1,000 or more among its arguments (not a possible year):
    probability that its large numbers become round amounts of as many digits, with one or two significant
    digits, written with thousands separators ("45,575" -> "40,000", "759221" -> "760,000"), in the instruction
    and every call alike (`round_values.py`; tagged round_values), so a model must copy "500,000" as 500000.
    Drawn from its own RNG after the examples (novel and context values) are: the same examples and tools as at
    0. 0 draws nothing."""

    def __post_init__(self):
        if not isinstance(self.n, int) or self.n < 1:
            raise CalltuneError(f"--n must be a positive integer, got {self.n}")
        for name in RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise CalltuneError(f"--{name.replace('_', '-')} must be between 0 and 1, got {value}")
        kinds = self.irrelevant_rate + self.parallel_rate + self.dialogue_rate + self.near_miss_rate
        if kinds > 1.0 + 1e-9:
            raise CalltuneError(f"--irrelevant-rate, --parallel-rate, --dialogue-rate and --near-miss-rate add up to "
                                f"{kinds:g}; they are shares of the examples and must not exceed 1")
        if self.procedural_split not in SPLITS:
            raise CalltuneError(f"--procedural-split must be one of {', '.join(SPLITS)}, got {self.procedural_split!r}")
        if self.catalogue_split not in SPLITS:
            raise CalltuneError(f"--catalogue-split must be one of {', '.join(SPLITS)}, got {self.catalogue_split!r}")
        bad = [s for s in self.description_styles if s not in STYLES]
        if bad or not self.description_styles:
            raise CalltuneError(f"--description-styles: choose one or more of {', '.join(STYLES)}, "
                                f"got {', '.join(self.description_styles) or 'none'}")
        if self.parallel_max_calls < 2:
            raise CalltuneError(f"--parallel-max-calls must be at least 2, got {self.parallel_max_calls}")
        if self.session_max_rounds < 1:
            raise CalltuneError(f"--session-max-rounds must be at least 1, got {self.session_max_rounds}")
        if self.max_tools < 1:
            raise CalltuneError(f"--max-tools must be at least 1, got {self.max_tools}")


def select_tools(cfg: SynthConfig) -> list[ToolDef]:
    """The catalogue tools allowed by `cfg.catalogue_split`, `cfg.domains` and `cfg.tools`; unknown names are
    errors."""
    catalogue = all_tools()
    domains = sorted({t.domain for t in catalogue})
    names = [t.name for t in catalogue]
    bad = [d for d in cfg.domains if d not in domains]
    if bad:
        raise CalltuneError(f"unknown domain(s) {', '.join(bad)} (choose from {', '.join(domains)})")
    bad = [n for n in cfg.tools if n not in names]
    if bad:
        raise CalltuneError(f"unknown tool(s) {', '.join(bad)}; `calltune data stats` lists tools of a file, "
                            f"the catalogue has {len(names)} tools such as {', '.join(names[:4])}")
    in_split = set(split_domains(cfg.catalogue_split))
    pool = [t for t in catalogue if t.domain in in_split
            and (not cfg.domains or t.domain in cfg.domains) and (not cfg.tools or t.name in cfg.tools)]
    if not pool:
        raise CalltuneError(f"--catalogue-split {cfg.catalogue_split}, --domains and --tools together leave no "
                            "tool to generate for")
    return pool


def sample_tool_example(rng: random.Random, cfg: SynthConfig, pool: list[ToolDef], contexts: dict,
                        composed: Composed | None = None) -> dict:
    """A single call; with `cfg.session_rate`, a session (`session.py`) ending in it."""
    tool = rng.choice(pool)
    in_words: list[str] = []
    without: list | None = [] if cfg.optional_contrast_rate else None
    added: list | None = [] if cfg.optional_addition_rate else None
    instruction, args, template_id = sample_call(rng, tool, cfg.optional_rate, contexts.get(tool.domain, ()),
                                                 word_rate=cfg.word_value_rate, worded=in_words, without=without,
                                                 added=added)
    tools, index, extra = [tool], 0, ["word_values"] if in_words else []
    if cfg.max_tools > 1 and len(pool) > 1 and rng.random() < cfg.distractor_rate:
        tools += augment.pick_distractors(rng, tool, list(pool), rng.randint(1, cfg.max_tools - 1),
                                          cfg.distractor_same_domain_rate)
        rng.shuffle(tools)
        index, extra = tools.index(tool), ["distractors"]
    if any(not tool.params[name].required for name in args):
        extra.append("optional_args")
    # at rate 0 nothing is drawn: the output stays what it was before the option existed
    rounds = session.earlier_rounds(rng, cfg, tools, contexts, composed) if (
        cfg.session_rate and rng.random() < cfg.session_rate) else []
    calls = [(i, {"name": tools[i].name, "arguments": a}) for i, _, a, _, _ in rounds]
    # the additions' calls are offered with the record's own (renamed alike); at rate 0 there are none
    more = [(index, {"name": tool.name, "arguments": a}) for _, a in (added or []) if not rounds]
    offered, offered_calls, applied = augment.offer_config(
        rng, cfg, tools, calls + [(index, {"name": tool.name, "arguments": args})] + more)
    meta = {"domain": tool.domain, "tool": tool.name, "template": template_id, "tools": [t.name for t in tools],
            "augmentations": sorted(extra + applied)}
    if not rounds:
        record = {"instruction": instruction, "tools": offered, "target": offered_calls[0], "meta": meta}
        if without:  # offering renames arguments but keeps their order: drop the same positions
            record["_contrasts"] = [(message, {"name": offered_calls[0]["name"], "arguments": {
                k: v for (old, _), (k, v) in zip(args.items(), offered_calls[0]["arguments"].items())
                if old in kept}}) for message, kept in without]
        if more:
            record["_additions"] = [(message, call) for (message, _), call in zip(added, offered_calls[1:])]
        return record
    meta["augmentations"] = sorted(meta["augmentations"] + ["session"] + (["procedural"] if composed else []))
    return {"messages": session.messages(rng, rounds, offered_calls[:-1], instruction), "tools": offered,
            "target": offered_calls[-1], "meta": meta}


def sample_irrelevant(rng: random.Random, cfg: SynthConfig, pool: list[ToolDef], contexts: dict) -> dict:
    """A request no offered tool can serve: small talk, or a real tool request offered only tools of
    other families (a weather question with finance tools), or with `irrelevant_task_rate` a task of its own
    (`sample_task_irrelevant`). With `text_answer_rate` it carries a reply: the small-talk answer, or a decline
    that names the offered tools."""
    # at rate 0 nothing is drawn: the output stays what it was before the option existed
    if cfg.irrelevant_task_rate and rng.random() < cfg.irrelevant_task_rate:
        return sample_task_irrelevant(rng, cfg, pool)
    families = {family(t.domain) for t in pool}  # a request needs another family to be offered
    requesters = [t for t in pool if len(families) > 1]
    reply = None
    if requesters and rng.random() < 0.5:
        source = rng.choice(requesters)
        instruction, _, template_id = sample_call(rng, source, cfg.optional_rate, contexts.get(source.domain, ()))
        domain, template_id = source.domain, f"{source.name}:{template_id}"
    else:
        template_id, request, reply = sample_smalltalk(rng)
        instruction, domain = phrase(rng, "say", request, "", ()), GENERAL_DOMAIN
    candidates = [t for t in pool if family(t.domain) != family(domain)]
    k = min(rng.randint(1, 3), cfg.max_tools, len(candidates))
    tools = [candidates.pop(rng.randrange(len(candidates))) for _ in range(k)]
    offered, _, applied = augment.offer_config(rng, cfg, tools, [])
    record = {"instruction": instruction, "tools": offered, "target": None}
    kinds = ["irrelevant"]
    if rng.random() < cfg.text_answer_rate:
        record["target_content"] = reply or decline(rng, [t["function"]["name"] for t in offered])
        kinds.append("text_answer")
    record["meta"] = {"domain": domain, "tool": None, "template": template_id, "tools": [t.name for t in tools],
                      "augmentations": sorted(kinds + applied)}
    return record


def sample_task_irrelevant(rng: random.Random, cfg: SynthConfig, pool: list[ToolDef]) -> dict:
    """A task the assistant answers itself (`tasks.sample_task`), offered 1 to 3 tools of `pool`, none of which
    performs it; a computation is offered tools that take numbers when `pool` has some. With
    `cfg.task_near_miss_rate` one of them is the task's sibling (`tasks.sibling`: its topic, another operation)
    instead. The reply answers it."""
    (kind, template_id, request, reply), drawn = sample_task_drawn(rng)
    instruction = phrase(rng, "say", request, "", ())
    candidates = [t for t in pool if takes_numbers(t)] if kind == "compute" else []
    candidates = candidates or list(pool)
    k = min(rng.randint(1, 3), cfg.max_tools, len(candidates))
    tools = [candidates.pop(rng.randrange(len(candidates))) for _ in range(k)]
    kinds = ["irrelevant", "irrelevant_task"]
    # at rate 0 nothing is drawn: the output stays what it was before the option existed
    if cfg.task_near_miss_rate and rng.random() < cfg.task_near_miss_rate:
        tools[rng.randrange(len(tools))] = sibling(*drawn)
        kinds.append("task_near_miss")
    offered, _, applied = augment.offer_config(rng, cfg, tools, [])
    record = {"instruction": instruction, "tools": offered, "target": None}
    if rng.random() < cfg.text_answer_rate:
        record["target_content"] = reply
        kinds.append("text_answer")
    record["meta"] = {"domain": TASK_DOMAIN, "tool": None, "template": template_id, "tools": [t.name for t in tools],
                      "augmentations": sorted(kinds + applied)}
    return record


def request_text(record: dict) -> str:
    """The user's words a record answers: its instruction, or its last user message."""
    if "instruction" in record:
        return record["instruction"]
    return next(m["content"] for m in reversed(record["messages"]) if m["role"] == "user")


def dedup_key(record: dict) -> str:
    text = re.sub(r"[^a-z0-9]+", " ", request_text(record).lower()).strip()
    return f"{record['meta']['tool']}|{text}"


def sample_near_miss(rng: random.Random, cfg: SynthConfig, pool: list[ToolDef], contexts: dict,
                     composed: Composed | None) -> dict | None:
    """A near miss: the wrong operation (composed tools only) or a required value left out."""
    if composed is not None and rng.random() >= cfg.near_miss_missing_rate:
        record = sample_operation(rng, cfg, pool, contexts, composed)
        if record is not None:
            return record
    return sample_missing(rng, cfg, pool, contexts)


def sample_record(rng: random.Random, cfg: SynthConfig, pool: list[ToolDef], contexts: dict,
                  composed: Composed | None = None) -> dict:
    """One record of a kind drawn by the rates, from the composed catalogue with probability
    `cfg.procedural_rate` (tagged `procedural`; its dialogues are on composed tools with probability
    `cfg.composed_dialogue_rate`, else on the hand-written `pool` and untagged); a kind the pool cannot make (a
    dialogue when no tool has a synthesized result, a follow-up without both tools of a chain) falls back to the
    next simpler one."""
    procedural = composed is not None and rng.random() < cfg.procedural_rate
    tools, where = (list(composed.tools), composed.contexts) if procedural else (pool, contexts)
    record = _sample_kind(rng, cfg, tools, where, (pool, contexts), composed if procedural else None)
    if procedural and "messages" not in record:
        record["meta"]["augmentations"] = sorted(record["meta"]["augmentations"] + ["procedural"])
    return record


def _sample_kind(rng: random.Random, cfg: SynthConfig, pool: list[ToolDef], contexts: dict, hand: tuple,
                 composed: Composed | None) -> dict:
    draw = rng.random()
    if draw < cfg.irrelevant_rate:
        return sample_irrelevant(rng, cfg, pool, contexts)
    if draw < cfg.irrelevant_rate + cfg.parallel_rate:
        return sample_parallel(rng, cfg, pool, contexts)
    if draw < cfg.irrelevant_rate + cfg.parallel_rate + cfg.dialogue_rate:
        # at rate 0 nothing is drawn: the output stays what it was before the option existed
        if composed is not None and cfg.composed_dialogue_rate and rng.random() < cfg.composed_dialogue_rate:
            return composed_dialogue.sample(rng, cfg, pool, contexts, composed)
        record = sample_followup(rng, cfg, *hand) if rng.random() < cfg.followup_rate else None
        record = record or sample_answer(rng, cfg, *hand)
        if record is not None:
            return record
    shares = cfg.irrelevant_rate + cfg.parallel_rate + cfg.dialogue_rate
    if cfg.near_miss_rate and shares <= draw < shares + cfg.near_miss_rate:
        record = sample_near_miss(rng, cfg, pool, contexts, composed)
        if record is not None:
            return record
    # at rate 0 nothing is drawn: the output stays what it was before the option existed
    if cfg.task_call_rate and rng.random() < cfg.task_call_rate:
        return sample_task_call(rng, cfg, pool)
    return sample_tool_example(rng, cfg, pool, contexts, composed)


def sample_task_call(rng: random.Random, cfg: SynthConfig, pool: list[ToolDef]) -> dict:
    """A task (`tasks.task_tool`) offered the tool that performs it, with distractors from `pool` at
    `cfg.distractor_rate`; the target calls it."""
    template_id, request, tool, args = task_tool(rng)
    instruction = phrase(rng, "say", request, "", ())
    for name, value in args.items():  # a question copied whole, as the message writes it ("Hey, who ...")
        if isinstance(value, str) and value not in instruction:
            start = instruction.lower().find(value.lower())
            args[name] = instruction[start:start + len(value)] if start >= 0 else value
    tools, distracted = augment.with_distractors(rng, [tool], pool, cfg.max_tools, cfg.distractor_rate,
                                                 cfg.distractor_same_domain_rate)
    offered, calls, applied = augment.offer_config(rng, cfg, tools, [(tools.index(tool),
                                                                      {"name": tool.name, "arguments": args})])
    extra = ["task_call"] + (["distractors"] if distracted else [])
    meta = {"domain": TASK_DOMAIN, "tool": tool.name, "template": template_id, "tools": [t.name for t in tools],
            "augmentations": sorted(extra + applied)}
    return {"instruction": instruction, "tools": offered, "target": calls[0], "meta": meta}


def generate(cfg: SynthConfig) -> list[dict]:
    """Generate `cfg.n` unique records (no two with the same normalized request and tool)."""
    pool = select_tools(cfg)
    contexts = all_contexts()
    composed = None
    seed = cfg.seed if cfg.procedural_seed is None else cfg.procedural_seed
    if cfg.procedural_rate:
        composed = composed_catalogue(seed, cfg.procedural_split)
    if cfg.word_value_rate:  # the word phrases on the parameters, for the checks (`wording.worded`)
        pool = [worded(t) for t in pool]
        composed = composed and with_word_options(composed, seed)
    if cfg.object_param_rate:
        composed = composed and with_object_params(composed, seed, cfg.object_param_rate,
                                                   cfg.object_param_early_rate)
    rng = random.Random(cfg.seed)
    novel = random.Random(f"novel-values:{cfg.seed}") if cfg.novel_value_rate else None
    context = random.Random(f"context-values:{cfg.seed}") if cfg.context_value_rate else None
    contrast = random.Random(f"optional-contrast:{cfg.seed}") if cfg.optional_contrast_rate else None
    addition = random.Random(f"optional-addition:{cfg.seed}") if cfg.optional_addition_rate else None
    rounding = random.Random(f"round-values:{cfg.seed}") if cfg.round_value_rate else None
    operation = random.Random(f"operation-contrast:{cfg.seed}") if cfg.operation_contrast_rate else None
    by_thing = siblings_by_thing(composed) if operation is not None and composed is not None else None
    records, seen, tries = [], set(), 0
    while len(records) < cfg.n:
        tries += 1
        if tries > 20 * cfg.n + 1000:
            raise CalltuneError(f"only {len(records)} unique examples after {tries - 1} tries; "
                                "ask for fewer or allow more tools")
        record = sample_record(rng, cfg, pool, contexts, composed)
        contrasts = record.pop("_contrasts", [])
        additions = record.pop("_additions", [])
        key = dedup_key(record)
        if key in seen:
            continue
        seen.add(key)
        made = [record]
        twins = []
        if contrasts and contrast.random() < cfg.optional_contrast_rate:
            twins.append(with_contrast(record, *contrast.choice(contrasts)))
        if additions and addition.random() < cfg.optional_addition_rate:
            twins.append(with_contrast(record, *addition.choice(additions), tag="optional_addition"))
        if by_thing is not None:
            twin = operation_twin(operation, cfg.operation_contrast_rate, cfg, record, composed, by_thing)
            twins += [twin] if twin is not None else []
        for twin in twins:
            if dedup_key(twin) not in seen:
                seen.add(dedup_key(twin))
                made.append(twin)
        for one in made[:cfg.n - len(records)]:
            if novel is not None:
                one = with_novel_values(one, novel, cfg.novel_value_rate)
            if context is not None:
                one = with_context_value(one, context, cfg.context_value_rate)
            if rounding is not None:
                one = with_round_values(one, rounding, cfg.round_value_rate)
            records.append({"id": f"synth-{cfg.seed}-{len(records):06d}", **one})
    return records


def with_contrast(record: dict, message: str, call: dict, tag: str = "optional_contrast") -> dict:
    """`record` (a one-message single call) asking `message` for `call`: its contrast, tagged `tag`
    (optional_contrast, or optional_addition), `optional_args` kept only while the call has an optional
    argument."""
    tool = next(t["function"] for t in record["tools"] if t["function"]["name"] == call["name"])
    required = set(tool["parameters"].get("required", []))
    tags = set(record["meta"]["augmentations"]) - {"optional_args"} | {tag}
    tags |= {"optional_args"} if any(k not in required for k in call["arguments"]) else set()
    meta = {**record["meta"], "augmentations": sorted(tags)}
    return {**record, "instruction": message, "target": call, "meta": meta}
