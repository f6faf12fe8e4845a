"""Dialogues on composed tools (`composer.py`), for the generator's `composed_dialogue_rate`: what a composed
tool answers, generic by operation, and follow-up calls between two tools of one thing.

`outcome(rng, composed, tool, args) -> (result, replies)`: search and list return 2-4 records of the thing
that agree with the call (its attribute values, created after its date or in its year, sorted as asked, no
more than its limit), count a number, export a file name and a row count, get the record, create the new
ID, update the changed field, delete `deleted: true`, share the recipient and the access level. Each reply
states only values of the result or the call.

A follow-up (`NEXT`) is a search or list, then get, update, delete or share "the first one" / "the newest
one" (the ID read off the result), or a create, then get, update or share "it" (the new ID); a new value or
recipient comes from the user's words. Records have `dialogue.py`'s shapes, tagged `procedural`.

    Please list the vet visits for Luna. Then delete the last one.
    -> browse_vet_visits(pet_name="Luna") -> {"count": 3, "vet_visits": [{"vet_visit_id": "VV-20417", ...}, ...]}
    -> delete_vet_visit(vet_visit_id="VV-88310")
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re

from calltune.synth import dialogue
from calltune.synth.checks import check_call
from calltune.synth.composer import Composed, camel, id_slot
from calltune.synth.composer_words import DOMAINS
from calltune.synth.phrasing import ATTEMPTS_PER_CALL, join_sentences, sample_call
from calltune.synth.results import day, join
from calltune.synth.slots import render_value, sample_value

THINGS = {(key, obj): (objs, attrs) for key, _, things, attrs in DOMAINS for obj, objs in things}
NEXT = {"search": ("get", "update", "delete", "share"), "list": ("get", "update", "delete", "share"),
        "create": ("get", "update", "share")}
LEADS = ("Then ", "After that, ", "And then ", "Once that's done, ")
ACTIONS = {"get": ("show me {it}", "pull up {it}", "get the details of {it}"),
           "update": ("update {it}", "change {it}", "edit {it}"),
           "delete": ("delete {it}", "remove {it}", "get rid of {it}"),
           "share": ("share {it} with {to}", "send {it} to {to}", "give {to} access to {it}")}
ACCESS_WORDS = {"read_only": "read-only access", "read_write": "edit access", "full_control": "full control"}
STATUSES = ("active", "pending", "confirmed", "draft")


def snake(name: str) -> str:
    """A parameter name in snake_case ("seedOrderId" -> "seed_order_id"), as the composer's slots name it."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _keyer(tool):
    """Result keys in the style of the tool's parameters: camelCase for a camelCase tool, else snake_case."""
    if any(re.search(r"[a-z][A-Z]", name) for name in tool.params):
        return lambda name: camel(name.split("_"))
    return lambda name: name


def _id_name(obj: str) -> str:
    return id_slot(obj)[0]


def _list_name(objs: str) -> str:
    return objs.replace(" ", "_")


def _say(param, value) -> str | None:
    """A value as a reply writes it; None for a boolean, which replies leave out."""
    if param.kind == "boolean":
        return None
    if param.kind == "date":
        return day(value)
    if param.kind == "enum":
        return value.replace("_", " ")
    if param.kind == "array":
        return join(value)
    if param.kind == "object":
        return param.fmt.format(**value)
    return str(value)


def _created(rng: random.Random, call: dict) -> str:
    if "created_after" in call:
        start, span = dt.date.fromisoformat(call["created_after"]) + dt.timedelta(days=1), 90
    elif "year" in call:
        start, span = dt.date(call["year"], 1, 1), 364
    else:
        start, span = dt.date(2024, 1, 1), 700
    return (start + dt.timedelta(days=rng.randint(0, span))).isoformat()


def _records(rng: random.Random, obj: str, attrs: tuple, fixed: dict, call: dict, key) -> tuple[list, list]:
    """`(records, shown attributes)`: 2-4 records (at most the call's limit) with distinct IDs, the call's
    attribute values, 1-2 other attributes and perhaps a creation date, which follows the call's filters."""
    free = [a for a in attrs if a[0] not in fixed]
    shown = [free[i] for i in sorted(rng.sample(range(len(free)), min(len(free), rng.randint(1, 2))))]
    shown_names = {a[0] for a in shown}
    # "from the last 3 weeks" needs a today to agree with: no dates then
    dated = "max_age" not in call and ("created_after" in call or "year" in call or "sort_order" in call
                                       or rng.random() < 0.5)
    items, ids, n = [], set(), min(rng.randint(2, 4), call.get("limit", 4))
    while len(items) < n:
        ident = sample_value(id_slot(obj)[2], rng)
        if ident in ids:
            continue
        ids.add(ident)
        item = {key(_id_name(obj)): ident}
        for name, _, param, _ in attrs:
            if name in fixed or name in shown_names:
                item[key(name)] = fixed[name] if name in fixed else sample_value(param, rng)
        if dated:
            item[key("created_on")] = _created(rng, call)
        items.append(item)
    if dated and "sort_order" in call:
        items.sort(key=lambda i: i[key("created_on")], reverse=call["sort_order"] == "descending")
    return items, shown


def outcome(rng: random.Random, composed: Composed, tool, args: dict) -> tuple[dict, tuple[str, ...]]:
    """`(result, replies)` for a call of a composed tool with canonical argument names."""
    domain, obj, op = composed.origin[tool.name]
    objs, attrs = THINGS[(domain, obj)]
    key, call = _keyer(tool), {snake(k): v for k, v in args.items()}
    fixed = {a[0]: call[a[0]] for a in attrs if a[0] in call}
    label = {a[0]: (a[1], a[2]) for a in attrs}
    thing, id_key = obj[0].upper() + obj[1:], key(_id_name(obj))
    if op in ("search", "list"):
        items, shown = _records(rng, obj, attrs, fixed, call, key)
        n, ids = len(items), [i[id_key] for i in items]
        replies = [f"I found {n} {objs if n > 1 else obj}: {join(ids)}."]
        said = [(name, text, param) for name, text, param, _ in shown if param.kind != "boolean"]
        if said:
            name, text, param = said[0]
            details = [f"{i[id_key]} ({text}: {_say(param, i[key(name)])})" for i in items]
            replies.append(f"There {'are' if n > 1 else 'is'} {n} matching {objs if n > 1 else obj}: "
                           f"{join(details)}.")
        if key("created_on") in items[0]:
            newest = max(items, key=lambda i: i[key("created_on")])
            replies.append(f"{n} {objs if n > 1 else obj} came back ({join(ids)}); the most recent, "
                           f"{newest[id_key]}, was created on {day(newest[key('created_on')])}.")
        return {"count": n, key(_list_name(objs)): items}, tuple(replies)
    if op == "count":
        n = rng.randint(2, 300)
        return {"count": n}, (f"There are {n} {objs}.", f"I count {n} {objs} that match.",
                              f"{n} {objs} match your filters.")
    if op == "export":
        fmt, rows = call["file_format"], rng.randint(3, 400)
        name = f"{objs.replace(' ', '_')}_{rng.randint(1000, 9999)}.{fmt}"
        return {key("file_name"): name, "format": fmt, "rows": rows}, (
            f"Done: {rows} {objs} exported to {name}.", f"The export is ready: {name}, with {rows} rows.")
    if op == "get":
        ident = call[_id_name(obj)]
        record, _ = _records(rng, obj, attrs, fixed, {"limit": 1}, key)
        record = {**record[0], id_key: ident, "status": rng.choice(STATUSES)}
        parts = [f"its {text} is {_say(param, record[key(name)])}" for name, (text, param) in label.items()
                 if key(name) in record and param.kind != "boolean"]
        created = record.get(key("created_on"))
        parts += [f"it was created on {day(created)}"] if created else []
        status, said = f"{thing} {ident} is {record['status']}", join(parts) if parts else ""
        if not said:
            return record, (f"{status}.", f"{thing} {ident} exists; its status is {record['status']}.")
        return record, (f"{status}. {said[0].upper()}{said[1:]}.", f"{status}: {said}.",
                        f"Here is {obj} {ident}: {said}; status {record['status']}.")
    if op == "create":
        ident = sample_value(id_slot(obj)[2], rng)
        return {id_key: ident, **{key(k): v for k, v in fixed.items()}, "status": "created"}, (
            f"Done: the new {obj} is {ident}.", f"I've created the {obj}; its ID is {ident}.",
            f"{thing} {ident} has been created.")
    ident = call[_id_name(obj)]
    if op == "update":
        (name,) = fixed
        text, param = label[name]
        value = _say(param, fixed[name])
        return {id_key: ident, key("updated_fields"): {key(name): fixed[name]}, "status": "updated"}, (
            f"Done: the {text} of {obj} {ident} is now {value}.",
            f"{thing} {ident} is updated; its {text} is now {value}.")
    if op == "delete":
        return {id_key: ident, "deleted": True}, (f"{thing} {ident} has been deleted.",
                                                   f"Done: I've deleted {obj} {ident}.")
    access = call.get("access", "read_only")  # the composer's stated default
    to, words = call["recipient"], ACCESS_WORDS[access]
    return {id_key: ident, key("shared_with"): to, "access": access}, (
        f"{thing} {ident} is now shared with {to} ({words}).",
        f"Done: {to} can now open {obj} {ident}, with {words}.")


def _pick(rng: random.Random, obj: str, items: list[dict], shown: list, key) -> tuple[str, dict]:
    """`(phrase, record)`: "the first one", "the last one", "the newest one", "the one with the highest
    bed number" (only where that record is unique), sometimes naming the thing ("the last seed order")."""
    options = [("the first one", items[0])]
    options += [("the second one", items[1]), ("the last one", items[-1])] if len(items) > 1 else []
    ranks = [("newest", "oldest", key("created_on"))] if key("created_on") in items[0] else []
    ranks += [(f"with the highest {text}", f"with the lowest {text}", key(name))
              for name, text, param, _ in shown if param.kind in ("integer", "number")]
    for high, low, field in ranks if len(items) > 1 else ():
        values = [i[field] for i in items]
        for word, best in ((high, max(values)), (low, min(values))):
            if values.count(best) == 1:
                phrase = f"the {word} one" if field == key("created_on") else f"the one {word}"
                options.append((phrase, items[values.index(best)]))
    phrase, item = rng.choice(options)
    return (re.sub(r"\bone\b", obj, phrase, count=1) if rng.random() < 0.3 else phrase), item


def _follow(rng: random.Random, composed: Composed, first, a_args: dict, result: dict, second) -> tuple[str, dict]:
    """`(clause, second's arguments)`: the sentence the user adds (without final punctuation) and the call
    that acts on a record of the result."""
    domain, obj, op = composed.origin[first.name]
    then = composed.origin[second.name][2]
    key, id_name = _keyer(first), _id_name(obj)
    if op == "create":
        phrase, item = rng.choice(("it", f"the new {obj}") if then != "get" else (f"the new {obj}",)), {}
        ident, before = result[key(id_name)], {snake(k): v for k, v in a_args.items()}
    else:
        objs, attrs = THINGS[(domain, obj)]
        items = result[key(_list_name(objs))]
        phrase, item = _pick(rng, obj, items, [a for a in attrs if key(a[0]) in items[0]], key)
        ident, before = item[key(id_name)], {k: item[key(k)] for k, *_ in attrs if key(k) in item}
    names = {snake(n): n for n in second.params}
    args = {names[id_name]: ident}
    to = sample_value(second.params[names["recipient"]], rng) if then == "share" else None
    clause = rng.choice(ACTIONS[then]).format(it=phrase, to=to)
    if to is not None:
        args[names["recipient"]] = to
    if then == "update":
        (target,) = [n for n in second.required if n != names[id_name]]
        value = sample_value(second.params[target], rng)
        while value == before.get(snake(target)):
            value = sample_value(second.params[target], rng)
        args[target] = value
        rendered = render_value(second.params[target], value, rng)
        clause += rng.choice(second.clauses[target]).format(**{target: rendered})
    return rng.choice(LEADS) + clause, args


def _chains(pool: list, composed: Composed) -> list[tuple]:
    """`(first, second)` for every chain of `NEXT` whose two tools of one thing are both in `pool`."""
    by_origin = {composed.origin[t.name]: t for t in pool if t.name in composed.origin}
    return [(t, by_origin[(*origin[:2], then)]) for origin, t in by_origin.items()
            for then in NEXT.get(origin[2], ()) if (*origin[:2], then) in by_origin]


def sample_answer(rng: random.Random, cfg, pool: list, contexts: dict, composed: Composed) -> dict:
    """A `dialogue_answer` record (without id) on a composed tool of `pool`."""
    tool = rng.choice([t for t in pool if t.name in composed.origin])
    in_words: list[str] = []
    request, args, template_id = sample_call(rng, tool, cfg.optional_rate, contexts.get(tool.domain, ()),
                                             word_rate=cfg.word_value_rate, worded=in_words)
    result, replies = outcome(rng, composed, tool, args)
    return dialogue.answer_record(rng, cfg, pool, tool, request, args, template_id, result, replies,
                                  ["procedural"] + (["word_values"] if in_words else []))


def sample_followup(rng: random.Random, cfg, pool: list, contexts: dict, composed: Composed) -> dict | None:
    """A `dialogue_followup` record (without id) on two composed tools of one thing, or None when `pool`
    holds no chain or no draw passes the checks."""
    chains = _chains(pool, composed) if cfg.max_tools >= 2 else []
    if not chains:
        return None
    first, second = rng.choice(chains)
    for _ in range(ATTEMPTS_PER_CALL):
        request, a_args, template_id = sample_call(rng, first, cfg.optional_rate, contexts.get(first.domain, ()))
        result, _ = outcome(rng, composed, first, a_args)
        made = _follow(rng, composed, first, a_args, result, second)
        clause, b_args = dialogue.with_optionals(rng, made[0], second, made[1], cfg.optional_rate)
        request = join_sentences(request, clause + ".")
        seen = request + "\n" + json.dumps(result, ensure_ascii=False)
        if check_call(first, request, a_args).ok and check_call(second, seen, b_args).ok:
            return dialogue.followup_record(rng, cfg, pool, first, second, request, a_args, b_args, template_id,
                                            result, ["procedural"])
    return None


def sample(rng: random.Random, cfg, pool: list, contexts: dict, composed: Composed) -> dict:
    """A composed dialogue: a follow-up with probability `cfg.followup_rate` (an answer when none can be
    made), else an answer."""
    record = sample_followup(rng, cfg, pool, contexts, composed) if rng.random() < cfg.followup_rate else None
    return record or sample_answer(rng, cfg, pool, contexts, composed)
