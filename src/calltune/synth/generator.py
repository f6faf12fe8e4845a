"""Sampling synthetic examples from the catalogue with one local `random.Random(seed)`.

`generate(SynthConfig(n=5000, seed=0))` returns records in the calltune example format (see
`calltune.examples`): id `synth-{seed}-{i:06d}`, instruction, tools (OpenAI form), target (or null) and
`meta = {"domain", "tool", "template", "tools", "augmentations"}` where `tool` and `tools` hold the
catalogue (pre-renaming) names of the target and of the offered tools. Every tool call passes
`checks.check_call` before augmentation; same config -> the same records, whatever the hash seed.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from calltune.errors import CalltuneError
from calltune.synth import augment
from calltune.synth.catalogue import ToolDef, all_contexts, all_tools, family
from calltune.synth.checks import check_call
from calltune.synth.slots import render_value, sample_value
from calltune.synth.smalltalk import GENERAL_DOMAIN, sample_smalltalk

COMMAND_FRAMES = (
    "{Cmd}.", "Please {cmd}.", "{Cmd}, please.", "Could you {cmd}?", "Can you {cmd}?", "Would you {cmd}?",
    "I'd like you to {cmd}.", "I need you to {cmd}.", "Kindly {cmd}.", "Go ahead and {cmd}.", "Help me {cmd}.",
    "Could you please {cmd}?", "Hey, can you {cmd}?", "{cmd}", "Please {cmd}, thanks.", "Quick one: {cmd}.",
    "{Cmd} for me, would you?", "Can I get you to {cmd}?", "Would you mind if I asked you to {cmd}?", "pls {cmd}",
)
OPENERS = ("Hey, ", "Hi! ", "Hello. ", "Quick question: ", "Okay, ", "So, ", "Hmm, ", "Hi there. ")
LOWER_STARTERS = ("What", "How", "Is", "Are", "Can", "Do", "Does", "Did", "Will", "When", "Where", "Which", "Who",
                  "Any", "Has", "Could", "My", "If", "Please", "Message", "Let", "Don't", "Just", "For", "Event",
                  "Order", "With", "Given", "Quote", "Current", "Tell", "Something", "A", "It's", "We're", "Where's",
                  "What's", "How's", "Who's", "Am")
GENERIC_CONTEXTS = ("I'm in a bit of a hurry.", "Sorry to bother you.", "Hope you're well.", "I need this for work.",
                    "Let me ask you something.", "This is important.")
THANKS = (" Thanks!", " Thank you.", " Thanks in advance.", " Cheers!", " Much appreciated.", " Thx.")
ATTEMPTS_PER_CALL = 200  # failed checks before a tool is declared broken (a catalogue bug)


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
    """Probability that a tool-call example offers 2..max_tools tools instead of one."""
    irrelevant_rate: float = 0.1
    """Probability of an example whose target is null (no offered tool fits)."""
    optional_rate: float = 0.4
    """Per optional parameter: probability that the user states it (and the target includes it)."""
    max_tools: int = 5
    """Most tools offered in one prompt."""
    domains: tuple[str, ...] = ()
    """Only tools of these domains (empty: all)."""
    tools: tuple[str, ...] = ()
    """Only these tools (empty: all), e.g. to hold tools out."""

    def __post_init__(self):
        if not isinstance(self.n, int) or self.n < 1:
            raise CalltuneError(f"--n must be a positive integer, got {self.n}")
        for name in ("rename_rate", "shuffle_rate", "distractor_rate", "irrelevant_rate", "optional_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise CalltuneError(f"--{name.replace('_', '-')} must be between 0 and 1, got {value}")
        if self.max_tools < 1:
            raise CalltuneError(f"--max-tools must be at least 1, got {self.max_tools}")


def select_tools(cfg: SynthConfig) -> list[ToolDef]:
    """The catalogue tools allowed by `cfg.domains` and `cfg.tools`; unknown names are errors."""
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
    pool = [t for t in catalogue
            if (not cfg.domains or t.domain in cfg.domains) and (not cfg.tools or t.name in cfg.tools)]
    if not pool:
        raise CalltuneError("--domains and --tools together leave no tool to generate for")
    return pool


def _lower_first(sentence: str) -> str:
    word = sentence.split(" ", 1)[0]
    return sentence[0].lower() + sentence[1:] if word in LOWER_STARTERS else sentence


def phrase(rng: random.Random, kind: str, core: str, clauses: str, contexts: tuple[str, ...]) -> str:
    """Wrap a filled template into a full user message: frame or opener, optional clauses, context, thanks."""
    if kind == "cmd":
        cmd = core + clauses
        text = rng.choice(COMMAND_FRAMES).format(cmd=cmd, Cmd=cmd[0].upper() + cmd[1:])
    else:
        body, end = re.match(r"^(.*?)([.?!]*)$", core, re.S).groups()
        text = body + clauses + end
        if rng.random() < 0.25:
            opener = rng.choice(OPENERS)
            return opener + (_lower_first(text) if opener.endswith((", ", ": ")) else text)
    if rng.random() < 0.3:
        text = rng.choice(contexts + GENERIC_CONTEXTS) + " " + text
    if rng.random() < 0.2 and text.endswith((".", "?", "!")):
        text += rng.choice(THANKS)
    return text


def sample_call(rng: random.Random, tool: ToolDef, optional_rate: float, contexts: tuple[str, ...]):
    """Return `(instruction, arguments, template_id)` for `tool`, resampling until `check_call` passes."""
    templates = tool.templates()
    for _ in range(ATTEMPTS_PER_CALL):
        args, texts = {}, {}
        for name, param in tool.params.items():
            if param.required or rng.random() < optional_rate:
                args[name] = sample_value(param, rng)
                texts[name] = render_value(param, args[name], rng)
        template_id, template = rng.choice(templates)
        clauses = [rng.choice(tool.clauses[name]).format(**texts) for name in tool.optional if name in args]
        rng.shuffle(clauses)
        instruction = phrase(rng, template_id[:3], template.format(**texts), "".join(clauses), contexts)
        if check_call(tool, instruction, args).ok:
            return instruction, args, template_id
    raise CalltuneError(f"catalogue tool '{tool.name}': no recoverable example in {ATTEMPTS_PER_CALL} tries")


def offer(rng: random.Random, cfg: SynthConfig, tools: list[ToolDef], target: dict | None, target_index: int | None):
    """Turn the chosen tools into offered JSON tools with renaming and shuffling; rename the target to match."""
    taken = {t.name for t in tools}
    offered, applied = [], []
    for i, tool in enumerate(tools):
        spec = tool.to_json()
        if rng.random() < cfg.rename_rate:
            what = rng.choice(("function", "params", "both"))
            spec, mapping = augment.rename_tool(rng, spec, what != "params", what != "function", taken,
                                                plausible=rng.random() < 0.6)
            applied += ["rename_function"] if what != "params" else []
            applied += ["rename_params"] if what != "function" else []
            if i == target_index:
                target = augment.rename_call(target, spec["function"]["name"], mapping)
        if rng.random() < cfg.shuffle_rate:
            spec, changed = augment.shuffle_properties(rng, spec)
            applied += ["shuffle_properties"] if changed else []
        offered.append(spec)
    return offered, target, sorted(set(applied))


def sample_tool_example(rng: random.Random, cfg: SynthConfig, pool: list[ToolDef], contexts: dict) -> dict:
    tool = rng.choice(pool)
    instruction, args, template_id = sample_call(rng, tool, cfg.optional_rate, contexts.get(tool.domain, ()))
    tools, index, extra = [tool], 0, []
    if cfg.max_tools > 1 and len(pool) > 1 and rng.random() < cfg.distractor_rate:
        tools += augment.pick_distractors(rng, tool, list(pool), rng.randint(1, cfg.max_tools - 1))
        rng.shuffle(tools)
        index, extra = tools.index(tool), ["distractors"]
    if any(not tool.params[name].required for name in args):
        extra.append("optional_args")
    offered, target, applied = offer(rng, cfg, tools, {"name": tool.name, "arguments": args}, index)
    meta = {"domain": tool.domain, "tool": tool.name, "template": template_id, "tools": [t.name for t in tools],
            "augmentations": sorted(extra + applied)}
    return {"instruction": instruction, "tools": offered, "target": target, "meta": meta}


def sample_irrelevant(rng: random.Random, cfg: SynthConfig, pool: list[ToolDef], contexts: dict) -> dict:
    """A request no offered tool can serve: small talk, or a real tool request offered only tools of
    other families (a weather question with finance tools)."""
    requesters = [t for t in pool if any(family(o.domain) != family(t.domain) for o in pool)]
    if requesters and rng.random() < 0.5:
        source = rng.choice(requesters)
        instruction, _, template_id = sample_call(rng, source, cfg.optional_rate, contexts.get(source.domain, ()))
        domain, template_id = source.domain, f"{source.name}:{template_id}"
    else:
        template_id, request = sample_smalltalk(rng)
        instruction, domain = phrase(rng, "say", request, "", ()), GENERAL_DOMAIN
    candidates = [t for t in pool if family(t.domain) != family(domain)]
    k = min(rng.randint(1, 3), cfg.max_tools, len(candidates))
    tools = [candidates.pop(rng.randrange(len(candidates))) for _ in range(k)]
    offered, _, applied = offer(rng, cfg, tools, None, None)
    meta = {"domain": domain, "tool": None, "template": template_id, "tools": [t.name for t in tools],
            "augmentations": sorted(["irrelevant"] + applied)}
    return {"instruction": instruction, "tools": offered, "target": None, "meta": meta}


def dedup_key(record: dict) -> str:
    text = re.sub(r"[^a-z0-9]+", " ", record["instruction"].lower()).strip()
    return f"{record['meta']['tool']}|{text}"


def generate(cfg: SynthConfig) -> list[dict]:
    """Generate `cfg.n` unique records (no two with the same normalized instruction and tool)."""
    pool = select_tools(cfg)
    contexts = all_contexts()
    rng = random.Random(cfg.seed)
    records, seen, tries = [], set(), 0
    while len(records) < cfg.n:
        tries += 1
        if tries > 20 * cfg.n + 1000:
            raise CalltuneError(f"only {len(records)} unique examples after {tries - 1} tries; "
                                "ask for fewer or allow more tools")
        if rng.random() < cfg.irrelevant_rate:
            record = sample_irrelevant(rng, cfg, pool, contexts)
        else:
            record = sample_tool_example(rng, cfg, pool, contexts)
        key = dedup_key(record)
        if key in seen:
            continue
        seen.add(key)
        records.append({"id": f"synth-{cfg.seed}-{len(records):06d}", **record})
    return records
