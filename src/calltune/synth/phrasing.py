"""User messages from catalogue templates: frames, openers and context around a filled template, a
continuation form for a second request in the same message, and `sample_call`, which draws a call and a
message that states every argument (resampling until `checks.check_call` passes), optional enums and
booleans in words at the generator's `word_value_rate` (`wording.py`).
"""

from __future__ import annotations

import random
import re

from calltune.errors import CalltuneError
from calltune.synth.catalogue import ToolDef
from calltune.synth.checks import check_call
from calltune.synth.slots import render_value, sample_value
from calltune.synth.wording import word_clause

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
                  "What's", "How's", "Who's", "Am", "Why", "Write", "Explain", "Describe", "Suggest", "Recommend",
                  "Give", "Use", "Help", "The")
GENERIC_CONTEXTS = ("I'm in a bit of a hurry.", "Sorry to bother you.", "Hope you're well.", "I need this for work.",
                    "Let me ask you something.", "This is important.")
THANKS = (" Thanks!", " Thank you.", " Thanks in advance.", " Cheers!", " Much appreciated.", " Thx.")
# A second request in the same message: "<first request> Also, could you <cmd>?"
CONTINUE_JOINERS = ("Also, ", "And ", "Plus, ", "One more thing: ", "And also, ")
CONTINUE_FRAMES = ("{cmd}.", "could you {cmd}?", "can you {cmd}?", "please {cmd}.", "{cmd} as well.",
                   "{cmd} too, please.")
ATTEMPTS_PER_CALL = 200  # failed checks before a tool is declared broken (a catalogue bug)


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


def continuation(rng: random.Random, kind: str, core: str, clauses: str) -> str:
    """A request that follows another one in the same message: "Also, could you check ...?",
    "And what's the weather in Rome?". No opener, context or thanks."""
    if kind == "cmd":
        text = rng.choice(CONTINUE_FRAMES).format(cmd=core + clauses)
    else:
        body, end = re.match(r"^(.*?)([.?!]*)$", core, re.S).groups()
        text = body + clauses + (end or ".")
        if not re.match(r"I\b", text):  # "I'm ..." keeps its capital; other first words are not names
            text = text[0].lower() + text[1:]
    return rng.choice(CONTINUE_JOINERS) + text


def split_thanks(message: str) -> tuple[str, str]:
    """`(request, thanks)`: a closing thanks split off, so that another sentence can go before it."""
    for thanks in THANKS:
        if message.endswith(thanks):
            return message[:-len(thanks)], thanks
    return message, ""


def join_sentences(first: str, second: str) -> str:
    """`first` then `second` in one message, a closing thanks of `first` moved to the end."""
    first, thanks = split_thanks(first)
    if not first.endswith((".", "?", "!")):
        first += "."
    return f"{first} {second}{thanks}"


def carried(tool: ToolDef) -> dict[str, str]:
    """Optional parameter -> the optional parameter whose clauses state it too ("from the last {max_age}
    {age_unit}" carries the unit with its number): drawn and phrased with it, never alone."""
    return {field: name for name, clauses in tool.clauses.items() for clause in clauses[:1]
            for field in re.findall(r"{(\w+)}", clause)
            if field != name and name in tool.params and not tool.params[name].required}


def draw_arguments(rng: random.Random, tool: ToolDef, optional_rate: float, skip: str | None = None):
    """`(arguments, texts)`: every required parameter but `skip`, each optional one with probability
    `optional_rate` (with the ones it carries), a value and how the user writes it."""
    carry = carried(tool)
    args, texts = {}, {}
    for name, param in tool.params.items():
        if name == skip or name in carry:
            continue
        if param.required or rng.random() < optional_rate:
            for drawn in [name] + [c for c, by in carry.items() if by == name]:
                args[drawn] = sample_value(tool.params[drawn], rng)
                texts[drawn] = render_value(tool.params[drawn], args[drawn], rng)
    return args, texts


def optional_clauses(rng: random.Random, tool: ToolDef, args: dict, texts: dict, word_rate: float = 0.0,
                     worded: list | None = None, by_name: dict | None = None) -> list[str]:
    """The clause of each optional argument, in parameter order; with probability `word_rate` an enum or
    boolean is stated in words instead (`wording.word_clause`), its name then appended to `worded`.
    `by_name` (a dict), if given, receives each clause under its parameter's name."""
    carry = carried(tool)
    out = []
    for name in tool.optional:
        if name not in args or name in carry:
            continue
        param, clause = tool.params[name], None
        if word_rate and param.kind in ("enum", "boolean") and rng.random() < word_rate:
            clause = word_clause(rng, name, param, args[name])
            if clause is not None and worded is not None:
                worded.append(name)
        out.append(clause or rng.choice(tool.clauses[name]).format(**texts))
        if by_name is not None:
            by_name[name] = out[-1]
    return out


def _message(rng: random.Random, kind: str, core: str, clauses: list[str], contexts: tuple[str, ...],
             follows: bool) -> str:
    if follows:
        return continuation(rng, kind, core, "".join(clauses))
    return phrase(rng, kind, core, "".join(clauses), contexts)


def _without_each_option(state: tuple, tool: ToolDef, kind: str, core: str, clauses: list[str], by_name: dict,
                         args: dict, contexts: tuple[str, ...], follows: bool) -> list[tuple[str, dict]]:
    """For each stated optional argument, `(message, arguments)` without it: its clause cut out of a message
    phrased from the RNG state `state` (the frame, opener, context and thanks the message got, which do not
    depend on the clauses), the argument (and those its clause carries) out of the call; kept where
    `check_call` passes."""
    carry = carried(tool)
    out = []
    for name, clause in by_name.items():
        rest = list(clauses)
        rest.remove(clause)
        replay = random.Random()
        replay.setstate(state)
        message = _message(replay, kind, core, rest, contexts, follows)
        dropped = {name} | {field for field, by in carry.items() if by == name}
        kept = {k: v for k, v in args.items() if k not in dropped}
        if check_call(tool, message, kept).ok:
            out.append((message, kept))
    return out


def _with_each_option(state: tuple, tool: ToolDef, kind: str, core: str, clauses: list[str], args: dict,
                      texts: dict, contexts: tuple[str, ...], follows: bool) -> list[tuple[str, dict]]:
    """For each optional argument the call leaves out, `(message, arguments)` with it: a value (and those its
    clause carries) and a clause drawn from an RNG seeded by the RNG state `state` (so `rng` itself draws
    nothing), the clause put among the others of a message phrased from `state` as the original was; the
    arguments in the order `draw_arguments` gives them; kept where `check_call` passes."""
    carry = carried(tool)
    extra = random.Random(repr(state))
    out = []
    for name in tool.optional:
        if name in args or name in carry:
            continue
        drawn = [name] + [c for c, by in carry.items() if by == name]
        values = {d: sample_value(tool.params[d], extra) for d in drawn}
        said = {**texts, **{d: render_value(tool.params[d], values[d], extra) for d in drawn}}
        rest = list(clauses)
        rest.insert(extra.randint(0, len(rest)), extra.choice(tool.clauses[name]).format(**said))
        replay = random.Random()
        replay.setstate(state)
        message = _message(replay, kind, core, rest, contexts, follows)
        full = {**args, **values}
        order = [d for n in tool.params if n not in carry
                 for d in [n] + [c for c, by in carry.items() if by == n]]
        full = {k: full[k] for k in order if k in full}
        if check_call(tool, message, full).ok:
            out.append((message, full))
    return out


def sample_call(rng: random.Random, tool: ToolDef, optional_rate: float, contexts: tuple[str, ...],
                follows: bool = False, word_rate: float = 0.0, worded: list | None = None,
                without: list | None = None, added: list | None = None):
    """Return `(message, arguments, template_id)` for `tool`, resampling until `check_call` passes.

    `follows=True` writes the request as a continuation of an earlier one in the same message. With
    `word_rate` (the tool `wording.worded`), stated optional enums and booleans are phrased in words at that
    rate; `worded` (a list) then receives the names of those that were. `without` (a list) receives, for
    each stated optional argument, the same message without its clause and the arguments without it
    (`_without_each_option`); `added` (a list), for each optional argument left out, the same message with a
    clause stating it and the arguments with it (`_with_each_option`); `rng` draws nothing more for either."""
    templates = tool.templates()
    for _ in range(ATTEMPTS_PER_CALL):
        args, texts = draw_arguments(rng, tool, optional_rate)
        template_id, template = rng.choice(templates)
        names: list[str] = []
        by_name: dict[str, str] = {}
        clauses = optional_clauses(rng, tool, args, texts, word_rate, names, by_name)
        rng.shuffle(clauses)
        state = rng.getstate()
        core = template.format(**texts)
        message = _message(rng, template_id[:3], core, clauses, contexts, follows)
        if check_call(tool, message, args).ok:
            if worded is not None:
                worded.extend(names)
            if without is not None:
                without.extend(_without_each_option(state, tool, template_id[:3], core, clauses, by_name, args,
                                                    contexts, follows))
            if added is not None:
                added.extend(_with_each_option(state, tool, template_id[:3], core, clauses, args, texts, contexts,
                                               follows))
            return message, args, template_id
    raise CalltuneError(f"catalogue tool '{tool.name}': no recoverable example in {ATTEMPTS_PER_CALL} tries")
