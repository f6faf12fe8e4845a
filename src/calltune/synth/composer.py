"""The procedural tool composer: many distinct tools, built deterministically from a seed out of the word
lists in `composer_words.py`, as catalogue `ToolDef`s that the rest of the generator samples like the
hand-written ones.

A composed tool is an operation (search, list, count, export, get, create, update, delete, share) on a
thing of a domain ("seed order" in the garden planner): `garden.createSeedOrder`, `search_vehicles`,
`countServiceTickets`. Its parameters come from the domain's slots and generic ones (limit, tags,
notify, ...), of every JSON type (string, integer, number, boolean, enum, date, time, arrays of strings
and numbers, an object now and then), required and optional, defaults stated in the description and
sometimes in the schema. Its templates append one mention per required parameter to a verb phrase
("create a seed order" + " for {plant}" + " in bed {bed_number}"); `clauses` holds the mentions of every
parameter, required ones included, so that `nearmiss.py` can leave one out.

`composed_catalogue(seed, split)` makes one tool per (domain, thing, operation): the same seed gives the
same tools whatever the hash seed; another seed gives other names, parameters, descriptions and
phrasings for the same operations. `split` "heldout" keeps every fifth domain, "train" the others.
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass
from functools import lru_cache

from calltune.synth.catalogue import ToolDef, all_tools, tool
from calltune.synth.composer_words import (AGE, DETAIL, DOMAINS, GENERIC, INCLUDE_NOUNS, OBJECT_OPS, OBJECT_SLOTS,
                                           WORD_OPTIONS, YEAR, include_slot, s)
from calltune.synth.slots import MISSING, ident, text
from calltune.synth.wording import worded

SPLITS = ("all", "train", "heldout")
HELDOUT_EVERY = 5  # split "heldout": domains 4, 9, 14, ... of DOMAINS
WORD_OPTION_RATE = 0.4  # per tool and option of its operation (`with_word_options`)
WORD_DEFAULTS = {"detail_level": "brief", "age_unit": "days"}


@dataclass(frozen=True)
class Op:
    """An operation: its group (near misses ask for another group), name verbs, command phrases and
    description summaries ({a} "a seed order", {the} "the seed order", {objs} "seed orders")."""

    group: str
    plural: bool
    verbs: tuple
    commands: tuple
    summaries: tuple


OPS = {
    "search": Op("read", True, ("search", "find", "query", "lookup"),
                 ("search {objs}", "find {objs}", "look up {objs}"),
                 ("Search {objs} by the given criteria.", "Find {objs} that match a filter.", "Look up {objs}.")),
    "list": Op("read", True, ("list", "browse", "fetch"),
               ("list the {objs}", "show me the {objs}", "list all {objs}"),
               ("List {objs}.", "Return a list of {objs}, filtered.", "Browse the {objs}.")),
    "count": Op("read", True, ("count", "tally"),
                ("count the {objs}", "tell me how many {objs} there are", "give me the number of {objs}"),
                ("Count {objs}.", "Return how many {objs} match.", "Tally the {objs} that fit a filter.")),
    "export": Op("read", True, ("export", "download", "dump"),
                 ("export the {objs}", "download the {objs}", "give me an export of the {objs}"),
                 ("Export {objs} to a file.", "Download {objs} in a chosen file format.")),
    "get": Op("read", False, ("get", "read", "retrieve", "describe"),
              ("get the details of {the}", "show me {the}", "pull up {the}"),
              ("Get one {obj} by its ID.", "Return the details of a single {obj}.", "Fetch a {obj} record.")),
    "create": Op("create", False, ("create", "add", "new", "register"),
                 ("create {a}", "add {a_new}", "set up {a}", "make {a}"),
                 ("Create {a}.", "Add {a_new} record.", "Register {a_new}.")),
    "update": Op("update", False, ("update", "edit", "modify", "patch"),
                 ("update {the}", "edit {the}", "change {the}"),
                 ("Update one field of an existing {obj}.", "Modify {a} that already exists.")),
    "delete": Op("delete", False, ("delete", "remove", "cancel", "discard"),
                 ("cancel {the}", "delete {the}", "remove {the}"),
                 ("Delete {a}.", "Cancel and remove an existing {obj}.", "Remove {a} permanently.")),
    "share": Op("share", False, ("share", "send", "grant"),
                ("share {the}", "give someone access to {the}", "send {the}"),
                ("Share {a} with another person by email.", "Grant someone access to {a}.")),
}
SAY = ("I want to {cmd}.", "I need to {cmd}.", "I'd like to {cmd}.", "Is it possible to {cmd}?")
ID_MENTIONS = (" {v}", " with ID {v}", " number {v}")
UPDATE_MENTIONS = (", setting its {label} to {v}", " and change its {label} to {v}", " so that its {label} is {v}")
DEFAULTS = {"limit": (10, 20, 25), "page": (1,), "sort_order": ("descending",), "include_archived": (False,),
            "notify": (True, False), "access": ("read_only",)}


@dataclass(frozen=True)
class Composed:
    """A composed catalogue: its tools, context sentences per domain, and each tool's
    `(domain, thing, operation)` by name."""

    tools: tuple
    contexts: dict
    origin: dict

    def group(self, name: str) -> str:
        return OPS[self.origin[name][2]].group


def camel(words: list[str]) -> str:
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def id_slot(thing: str) -> tuple:
    """The ID slot of a thing ("seed order" -> seed_order_id, values "SO-12345")."""
    words = thing.split()
    prefix = "".join(w[0] for w in words).upper() + "-"
    return s("_".join(words + ["id"]), f"{thing} ID", text("", ident(prefix, 5)), *ID_MENTIONS)


def _param_description(rng: random.Random, label: str, param, thing: str | None, default) -> str:
    """`thing` names what a domain attribute belongs to ("Plant of the seed order."); None for IDs and
    generic options."""
    if param.kind == "boolean":
        text = rng.choice((f"Whether to {label}.", f"If true, {label}.", f"Set to true to {label}."))
    else:
        forms = (f"The {label}.", f"{label[0].upper() + label[1:]}.")
        text = rng.choice(forms + ((f"{label[0].upper() + label[1:]} of the {thing}.",) if thing else ()))
    if param.kind == "date":
        text += rng.choice((" Format: YYYY-MM-DD.", " ISO 8601 date.", ""))
    elif param.kind == "time":
        text += rng.choice((" 24-hour HH:MM.", " Format HH:MM.", ""))
    if default is not MISSING:
        shown = str(default).lower() if isinstance(default, bool) else default
        text = rng.choice((f"{text} Defaults to {shown}.", f"{text} Default: {shown}.", f"{text[:-1]} (default {shown})."))
    return text


def _pick(rng: random.Random, options: list, k: int) -> list:
    options = list(options)
    return [options.pop(rng.randrange(len(options))) for _ in range(min(k, len(options)))]


def _params(rng: random.Random, op: str, attrs: list, thing_id: tuple) -> tuple[list, list, tuple | None]:
    """`(required slots, optional slots, the update's slot)` for an operation on a thing."""
    plain = [a for a in attrs if a[2].kind in ("string", "integer", "number", "enum", "date")]
    if op in ("search", "list", "count", "export"):
        required = _pick(rng, attrs, 1) + ([GENERIC["file_format"]] if op == "export" else [])
        rest = [a for a in attrs if a not in required]
        filters = {"search": ("limit", "sort_order", "include_archived", "created_after", "tags"),
                   "list": ("page", "limit", "sort_order", "created_after"),
                   "count": ("created_after", "include_archived", "tags"),
                   "export": ("created_after", "include_archived")}[op]
        optional = _pick(rng, rest, rng.randint(0, 1)) + [GENERIC[f] for f in _pick(rng, filters, rng.randint(0, 2))]
        return required, optional, None
    if op == "get":
        return [thing_id], _pick(rng, [GENERIC["include_archived"]], rng.randint(0, 1)), None
    if op == "create":
        required = _pick(rng, attrs, rng.randint(1, 3))
        rest = [a for a in attrs if a not in required] + [GENERIC["notify"], GENERIC["tags"]]
        return required, _pick(rng, rest, rng.randint(0, 2)), None
    if op == "update":
        target = rng.choice(plain)
        return [thing_id, target], _pick(rng, [GENERIC["notify"]], rng.randint(0, 1)), target
    if op == "delete":
        return [thing_id], _pick(rng, [GENERIC["reason"], GENERIC["notify"]], rng.randint(0, 2)), None
    return [thing_id, GENERIC["recipient"]], _pick(rng, [GENERIC["access"], GENERIC["notify"]], rng.randint(0, 2)), None


def compose_tool(rng: random.Random, domain: tuple, thing: tuple, op_name: str, taken: set) -> ToolDef:
    """One tool for an operation on a thing of a domain; its name is not in `taken` (which gets it)."""
    key, label, _, attrs = domain
    obj, objs = thing
    op = OPS[op_name]
    words = {"obj": obj, "objs": objs, "a": article(obj), "a_new": f"a new {obj}", "the": f"the {obj}"}
    # name: snake_case, camelCase, or dotted module.func
    tokens = [rng.choice(op.verbs)] + (objs if op.plural else obj).split()
    style, snake = rng.random(), "_".join(tokens)
    # never "seed_orders.create": a dotted name's last part must name the thing too, or it matches every
    # benchmark function "x.create" once `overlap.normalize_name` drops the module
    name = snake if style < 0.45 else camel(tokens) if style < 0.7 else f"{key}.{rng.choice((snake, camel(tokens)))}"
    if name in taken:
        name = f"{key}_{snake}"
    taken.add(name)
    camel_params = style >= 0.45 and rng.random() < 0.7
    required, optional, updated = _params(rng, op_name, list(attrs), id_slot(obj))
    params, clauses, names = {}, {}, {}
    for slot, is_required in [(r, True) for r in required] + [(o, False) for o in optional]:
        slot_name, slot_label, param, mentions = slot
        pname = camel(slot_name.split("_")) if camel_params else slot_name
        names[slot_name] = pname
        default = MISSING
        if not is_required and (slot_name in DEFAULTS or param.kind in ("enum", "boolean")) and rng.random() < 0.6:
            default = rng.choice(DEFAULTS.get(slot_name) or (list(param.synonyms) if param.kind == "enum" else [False]))
        description = _param_description(rng, slot_label, param, obj if slot in attrs else None, default)
        in_schema = default if default is not MISSING and rng.random() < 0.5 else MISSING
        params[pname] = dataclasses.replace(param, description=description, required=is_required, default=in_schema)
        if slot is updated:
            mentions = tuple(m.replace("{label}", slot_label) for m in UPDATE_MENTIONS)
        clauses[pname] = tuple(m.replace("{v}", "{" + pname + "}") for m in mentions)
    commands = []
    for phrase in _pick(rng, op.commands, rng.randint(2, 3)):
        text = phrase.format(**words)
        for slot in required:  # an ID follows its thing at once ("the seed order SO-12345")
            text += rng.choice(clauses[names[slot[0]]])
        commands.append(text)
    plain = [c for c in commands if not c.startswith(("tell me", "show me", "give "))]  # "I want to show me" is wrong
    phrases = [rng.choice(SAY).format(cmd=plain[-1])] if plain else []
    summary = rng.choice(op.summaries).format(**words)
    description = rng.choice((summary, f"{label[0].upper() + label[1:]}: {summary[0].lower() + summary[1:]}",
                              f"{summary} Part of the {label}."))
    return tool(name, key, description, params, commands=commands, phrases=phrases, clauses=clauses)


def split_domains(split: str) -> list[tuple]:
    if split not in SPLITS:
        raise ValueError(f"unknown procedural split {split!r} (choose from {', '.join(SPLITS)})")
    held = [d for i, d in enumerate(DOMAINS) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1]
    return held if split == "heldout" else [d for d in DOMAINS if d not in held] if split == "train" else list(DOMAINS)


def possible_names() -> list[str]:
    """Every function name the composer can give any seed's tools (for overlap checks)."""
    out = []
    for key, _, things, _ in DOMAINS:
        for obj, objs in things:
            for op in OPS.values():
                for verb in op.verbs:
                    tokens = [verb] + (objs if op.plural else obj).split()
                    snake = "_".join(tokens)
                    out += [snake, camel(tokens), f"{key}.{snake}", f"{key}.{camel(tokens)}", f"{key}_{snake}"]
    return out


@lru_cache(maxsize=8)
def composed_catalogue(seed: int, split: str = "all") -> Composed:
    """Every composed tool of the split's domains for `seed`: one per (domain, thing, operation)."""
    rng = random.Random(f"calltune-procedural-{seed}")  # str seeds hash with sha512: no PYTHONHASHSEED
    taken = {t.name for t in all_tools()}
    tools, origin, contexts = [], {}, {}
    for domain in split_domains(split):
        key, label = domain[0], domain[1]
        contexts[key] = (f"I'm working in the {label}.", f"This is for our {label}.", f"I'm using the {label}.")
        for thing in domain[2]:
            for op_name in OPS:
                made = compose_tool(rng, domain, thing, op_name, taken)
                tools.append(made)
                origin[made.name] = (key, thing[0], op_name)
    return Composed(tuple(tools), contexts, origin)


def with_word_options(composed: Composed, seed: int) -> Composed:
    """`composed` with options whose values users state in words (the generator's word_value_rate above 0):
    include_X booleans, a detail level, a period (a year, or a maximum age with its unit), each added to a tool with
    probability WORD_OPTION_RATE where its operation takes it (`composer_words.WORD_OPTIONS`). They are drawn
    from their own RNG, so the rest of every tool stays as composed; every tool comes back `wording.worded`."""
    rng = random.Random(f"calltune-word-options-{seed}")
    tools = []
    for tool in composed.tools:
        params, clauses = dict(tool.params), dict(tool.clauses)
        _, thing, op = composed.origin[tool.name]
        camel_params = any(re.search(r"[a-z][A-Z]", name) for name in params)
        for option in WORD_OPTIONS.get(op, ()):
            if rng.random() >= WORD_OPTION_RATE:
                continue
            if option == "include":  # not "coverage notes ... including notes"
                slots = (include_slot(rng.choice([n for n in INCLUDE_NOUNS if n[:-1] not in thing])),)
            else:
                slots = (DETAIL,) if option == "detail" else rng.choice(((YEAR,), AGE))
            names = {slot[0]: camel(slot[0].split("_")) if camel_params else slot[0] for slot in slots}
            dated = option == "period" and any(p.kind == "date" and not p.required for p in params.values())
            if dated or set(names.values()) & set(params):  # a period next to "created after <date>" contradicts
                continue
            for slot_name, label, param, mentions in slots:
                default = MISSING
                if (param.kind == "boolean" or slot_name in WORD_DEFAULTS) and rng.random() < 0.6:
                    default = WORD_DEFAULTS.get(slot_name, False)
                description = _param_description(rng, label, param, None, default)
                in_schema = default if default is not MISSING and rng.random() < 0.5 else MISSING
                params[names[slot_name]] = dataclasses.replace(param, description=description, required=False,
                                                               default=in_schema)
                clauses[names[slot_name]] = tuple(m.replace("{v}", "{" + names[slot_name] + "}").replace(
                    "{u}", "{" + names.get("age_unit", "") + "}") for m in mentions)
        tools.append(worded(dataclasses.replace(tool, params=params, clauses=clauses)))
    return Composed(tuple(tools), composed.contexts, composed.origin)


def with_object_params(composed: Composed, seed: int, rate: float, early_rate: float = 0.0) -> Composed:
    """`composed` with one optional object-valued parameter (`composer_words.OBJECT_SLOTS`: an address under
    three spellings, a contact, an owner, dimensions, coordinates, a budget) added to each tool of a searching,
    listing, counting or creating operation with probability `rate` (the generator's object_param_rate). Drawn
    from their own RNG, so the rest of every tool stays as composed; a tool that has a parameter of that name
    keeps it. The new parameter comes last in the schema, so no argument follows its value in a call; with
    probability `early_rate` (object_param_early_rate) it is put instead just before one of the tool's optional
    parameters, drawn uniformly. Placed from an RNG of its own: at 0 the tools are the same as without it."""
    rng = random.Random(f"calltune-object-params-{seed}")
    place = random.Random(f"calltune-object-place-{seed}") if early_rate else None
    tools = []
    for tool in composed.tools:
        _, _, op = composed.origin[tool.name]
        if op not in OBJECT_OPS or rng.random() >= rate:
            tools.append(tool)
            continue
        slot_name, label, param, mentions = rng.choice(OBJECT_SLOTS)
        camel_params = any(re.search(r"[a-z][A-Z]", name) for name in tool.params)
        pname = camel(slot_name.split("_")) if camel_params else slot_name
        if pname in tool.params:
            tools.append(tool)
            continue
        description = _param_description(rng, label, param, None, MISSING)
        params = {**tool.params, pname: dataclasses.replace(param, description=description, required=False)}
        clauses = {**tool.clauses, pname: tuple(m.replace("{v}", "{" + pname + "}") for m in mentions)}
        optional = [name for name, p in tool.params.items() if not p.required]
        if place is not None and optional and place.random() < early_rate:
            order = list(tool.params)
            at = order.index(place.choice(optional))
            params = {name: params[name] for name in order[:at] + [pname] + order[at:]}
        tools.append(dataclasses.replace(tool, params=params, clauses=clauses))
    return Composed(tuple(tools), composed.contexts, composed.origin)
