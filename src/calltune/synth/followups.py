"""Follow-up calls: a second call that uses a value from the first call's result.

A `Chain` names a first tool, a second tool and `follow(rng, first_args, result, second)`, which picks an
item of the result ("the cheapest one", "the 10:30 slot") and returns `(clause, second_args)`: the
sentence the user adds to the request ("Then check the status of the cheapest one"), without final
punctuation, and the second call's arguments, each read off the result or the user's words, at least
one off the result. It may return None when the result does not allow a follow-up.

    Are there any cafes near Central Park? Then give me directions to the closest one on foot.
    -> find_nearby_places(...) -> {"places": [{"name": "Moreau Cafe", ...}, ...]}
    -> route_directions(origin="Central Park", destination="Moreau Cafe", mode="walking")
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from calltune.synth.catalogue import ToolDef
from calltune.synth.slots import render_value, sample_value


@dataclass(frozen=True)
class Chain:
    first: str
    second: str
    follow: Callable[[random.Random, dict, dict, ToolDef], tuple[str, dict] | None]


def _pick(rng: random.Random, items: list[dict], ranked: dict[str, Callable] | None = None) -> tuple[str, dict]:
    """Choose `(phrase, item)`: "the first one", "the second one", "the last one", or a ranking phrase
    ("the cheapest one": key) whose best item is unique."""
    options = [("the first one", items[0])]
    if len(items) > 1:
        options += [("the second one", items[1]), ("the last one", items[-1])]
    for phrase, key in (ranked or {}).items():
        best = min(items, key=key)
        if sum(key(i) == key(best) for i in items) == 1:
            options.append((phrase, best))
    return rng.choice(options)


def _value(rng: random.Random, tool: ToolDef, name: str, avoid=()) -> tuple:
    """A fresh value for `tool.name` (not in `avoid`) and how the user writes it."""
    param = tool.params[name]
    value = sample_value(param, rng)
    while value in avoid:
        value = sample_value(param, rng)
    return value, render_value(param, value, rng)


def flight_status(rng, a, r, second):
    phrase, flight = _pick(rng, r["flights"], {"the cheapest one": lambda f: f["price"],
                                               "the earliest one": lambda f: f["departure"]})
    clause = rng.choice((f"Then check the status of {phrase}", f"Then see if {phrase} is on time",
                         f"After that, tell me whether {phrase} is delayed"))
    return clause, {"flight_number": flight["flight_number"], "date": a["date"]}


def add_to_cart(rng, a, r, second):
    phrase, item = _pick(rng, r["results"], {"the cheapest one": lambda p: p["price"],
                                             "the best-rated one": lambda p: -p["rating"]})
    quantity, text = _value(rng, second, "quantity")
    clause = rng.choice((f"Then add {phrase} to my cart, quantity {text}",
                         f"Then put {text} of {phrase} in my cart" if quantity > 1 else
                         f"Then put {phrase} in my cart, just {text}"))
    return clause, {"product_id": item["product_id"], "quantity": quantity}


def cancel_event(rng, a, r, second):
    event = rng.choice(r["events"])
    clause = rng.choice((f"Then cancel \"{event['title']}\"", f"After that, cancel the {event['start_time']} one",
                         f"Then cancel the event called \"{event['title']}\""))
    return clause, {"event_id": event["event_id"]}


def read_listed_file(rng, a, r, second):
    phrase, item = _pick(rng, r["files"])
    clause = rng.choice((f"Then open {item['name']}", f"Then read {item['name']} for me",
                         f"Then show me what's in {phrase}"))
    return clause, {"path": item["path"]}


def move_found_file(rng, a, r, second):
    phrase, path = rng.choice([("it", r["matches"][0])] if len(r["matches"]) == 1 else
                              [("the first match", r["matches"][0]), ("the last match", r["matches"][-1])])
    folder, text = _value(rng, second, "destination", avoid=(a["directory"],))
    return f"Then move {phrase} to {text}", {"source": path, "destination": folder}


def delete_found_file(rng, a, r, second):
    phrase, path = rng.choice([("it", r["matches"][0])] if len(r["matches"]) == 1 else
                              [("the first match", r["matches"][0]), ("the second match", r["matches"][1])])
    return rng.choice((f"Then delete {phrase}", f"Then get rid of {phrase}")), {"path": path}


def directions_to_place(rng, a, r, second):
    phrase, place = _pick(rng, r["places"], {"the closest one": lambda p: p["distance_m"],
                                             "the best-rated one": lambda p: -p["rating"]})
    clause = rng.choice((f"Then give me directions to {phrase}", f"Then show me how to get to {phrase}",
                         f"After that, route me to {phrase}"))
    return clause, {"origin": a["location"], "destination": place["name"]}


def head_to_head(rng, a, r, second):
    games = r["fixtures"]
    phrase, game = rng.choice([("their next opponent", games[0])]
                              + ([("the opponent after that", games[1])] if len(games) > 1
                                 and games[1]["opponent"] != games[0]["opponent"] else []))
    clause = rng.choice((f"Then get the head-to-head record against {phrase}",
                         f"Then tell me how they've done historically against {phrase}"))
    return clause, {"team_a": a["team"], "team_b": game["opponent"]}


def convert_price(rng, a, r, second):
    currency, text = _value(rng, second, "currency_to", avoid=(r["currency"],))
    clause = rng.choice((f"Then convert that price into {text}", f"Then tell me what that is in {text}"))
    return clause, {"amount": r["price"], "currency_from": r["currency"], "currency_to": currency}


def book_slot(rng, a, r, second):
    slots = r["slots"]
    phrase, slot = rng.choice([("the earliest slot", slots[0])] + ([("the last slot", slots[-1])] if len(slots) > 1
                                                                   else []))
    title, text = _value(rng, second, "title")
    clause = rng.choice((f"Then book {phrase} as \"{text}\"", f"Then put \"{text}\" in {phrase}"))
    return clause, {"title": title, "date": a["date"], "start_time": slot["start"],
                    "duration_minutes": a["duration_minutes"], "attendees": a["attendees"]}


def reply_to_sender(rng, a, r, second):
    phrase, mail = _pick(rng, r["messages"])
    subject, subject_text = _value(rng, second, "subject")
    body, body_text = _value(rng, second, "body")
    clause = rng.choice((f"Then email the sender of {phrase} with the subject \"{subject_text}\" saying "
                         f"\"{body_text}\"",
                         f"Then reply to whoever sent {phrase}: subject \"{subject_text}\", message \"{body_text}\""))
    return clause, {"to": mail["from"], "subject": subject, "body": body}


CHAINS = (
    Chain("search_flights", "get_flight_status", flight_status),
    Chain("search_products", "add_to_cart", add_to_cart),
    Chain("list_calendar_events", "cancel_calendar_event", cancel_event),
    Chain("list_directory", "read_file", read_listed_file),
    Chain("search_files", "move_file", move_found_file),
    Chain("search_files", "delete_file", delete_found_file),
    Chain("find_nearby_places", "route_directions", directions_to_place),
    Chain("get_upcoming_fixtures", "get_head_to_head", head_to_head),
    Chain("stock_quote", "exchange_money", convert_price),
    Chain("find_free_slot", "create_calendar_event", book_slot),
    Chain("search_inbox", "compose_email", reply_to_sender),
)
