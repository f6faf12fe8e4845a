"""`word_value_rate`: optional enums and booleans stated in words from their names and values ("without
photos", "the full detail level", "measured in °F"), composed tools with such options, and the checks that
accept them; at 0 the output keeps every byte."""

import hashlib
import re

import pytest

from calltune.errors import CalltuneError
from calltune.jsonl import write_jsonl
from calltune.synth.catalogue import all_tools, tool
from calltune.synth.checks import check_call, stated_choices
from calltune.synth.composer import composed_catalogue, with_word_options
from calltune.synth.generator import SynthConfig, generate
from calltune.synth.phrasing import carried
from calltune.synth.slots import choice, flag, text
from calltune.synth.wording import boolean_words, enum_words, worded

WORDED = with_word_options(composed_catalogue(0), 0)
BY_NAME = {t.name: t for t in WORDED.tools} | {t.name: worded(t) for t in all_tools()}
EVERY_KIND = dict(procedural_rate=0.5, procedural_seed=0, parallel_rate=0.15, parallel_max_calls=3,
                  dialogue_rate=0.1, near_miss_rate=0.1, irrelevant_rate=0.1, mask_rate=0.1, description_style_rate=0.2)
REPORT = tool("fetch_site_report", "demo", "Get the report of a site.",
              {"site": text("Site name", ("Alder Point", "Birch Hill")),
               "include_photos": flag("Whether to include photos", required=False, true=("photos too",)),
               "detail_level": choice("Level of detail", {"brief": (), "full": ()}, required=False),
               "distance_unit": choice("Unit", {"km": ("kilometres",), "miles": ()}, required=False)},
              commands=["get the report of {site}"],
              clauses={"include_photos": [", {include_photos}"], "detail_level": [", {detail_level}"],
                       "distance_unit": [" in {distance_unit}"]})


def sha(records: list[dict], tmp_path) -> str:
    path = tmp_path / "out.jsonl"
    write_jsonl(str(path), records)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def calls(record: dict) -> list[tuple[str, dict]]:
    """`(catalogue name, canonical arguments)` of each target call of an unrenamed record."""
    target = record["target"]
    targets = target if isinstance(target, list) else [target] if target else []
    names = record["meta"]["tool"] if isinstance(record["meta"]["tool"], list) else [record["meta"]["tool"]]
    return [(name, call["arguments"]) for name, call in zip(names, targets)]


def user_text(record: dict) -> str:
    if "instruction" in record:
        return record["instruction"]
    return next(m["content"] for m in reversed(record["messages"]) if m["role"] == "user")


# Computed on main (a8693e8), before word_value_rate existed: the default 0 must keep every byte.
def test_rate_zero_leaves_the_output_unchanged(tmp_path):
    cfg = SynthConfig(n=300, seed=7, optional_rate=0.6, **EVERY_KIND | {"procedural_seed": None})
    assert sha(generate(cfg), tmp_path) == "dda9748f9dc5a8ddd1b0423f494bfa6e37f7dd41051b0683ffec3b97b1e8c374"


def test_the_rate_is_checked_and_reaches_the_command_line(tmp_path):
    with pytest.raises(CalltuneError, match="--word-value-rate"):
        SynthConfig(word_value_rate=1.5)
    from calltune.cli import main

    out = tmp_path / "words.jsonl"
    assert main(["data", "synth", "--n", "40", "--seed", "2", "--word-value-rate", "1", "--out", str(out)]) == 0
    assert sha(generate(SynthConfig(n=40, seed=2, word_value_rate=1.0)), tmp_path) == \
        hashlib.sha256(out.read_bytes()).hexdigest()


# -- the phrases --------------------------------------------------------------------------------------

def test_boolean_phrases_come_from_the_name():
    words = boolean_words("include_photos")
    assert "with photos" in words[True] and "including photos" in words[True]
    assert "without photos" in words[False] and "excluding photos" in words[False]
    assert "with archived ones" in boolean_words("includeArchived")[True]  # camelCase; an adjective gets "ones"
    assert "just the unread ones" in boolean_words("unread_only")[True] and "with no tolls" in \
        boolean_words("avoid_tolls")[True]
    assert boolean_words("notify") == {} and boolean_words("confidential") == {}  # their cues stay


def test_enum_phrases_from_units_and_names():
    weather = next(t for t in all_tools() if t.name == "current_weather_report")
    units = enum_words("temperature_unit", weather.params["temperature_unit"])
    assert {"in Fahrenheit", "in °F", "measured in degrees Fahrenheit"} <= set(units["fahrenheit"])
    assert enum_words("detail_level", REPORT.params["detail_level"]) == {"brief": ("brief detail level",),
                                                                         "full": ("full detail level",)}
    products = next(t for t in all_tools() if t.name == "search_products")
    assert enum_words("sort_by", products.params["sort_by"]) == {}  # "newest sort by" is no phrase


def test_checks_accept_the_phrases_of_a_worded_tool_and_catch_them_left_out():
    worded_report = worded(REPORT)
    assert REPORT.to_json() == worded_report.to_json()  # the offered tool does not change
    ask = "Get the report of Birch Hill without photos, the full detail level, in miles."
    args = {"site": "Birch Hill", "include_photos": False, "detail_level": "full", "distance_unit": "miles"}
    assert check_call(worded_report, ask, args).ok
    assert check_call(REPORT, ask, args).error_type == "unrecoverable"  # without the lever: not a cue
    left_out = check_call(worded_report, ask, {k: v for k, v in args.items() if k != "include_photos"})
    assert left_out.error_type == "stated_but_omitted"
    assert check_call(worded_report, ask, {**args, "include_photos": True}).error_type == "unrecoverable"


# -- generated data --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def at_rate_one():
    return generate(SynthConfig(n=800, seed=4, word_value_rate=1.0, optional_rate=0.6, rename_rate=0.0,
                                **EVERY_KIND | {"mask_rate": 0.0}))


def test_rate_one_states_optional_enums_and_booleans_in_words(at_rate_one):
    paths, negatives = set(), 0
    for record in at_rate_one:
        if "word_values" not in record["meta"]["augmentations"]:
            continue
        paths.add("procedural" if "procedural" in record["meta"]["augmentations"] else "hand-written")
        text = user_text(record)
        for name, args in calls(record):
            t = BY_NAME[name]
            for pname, value in args.items():
                param = t.params[pname]
                if param.required or param.kind not in ("enum", "boolean") or pname in carried(t):
                    continue
                words = {k: list(v) for k, v in param.word_phrases.items()}
                if param.kind == "boolean" and words:
                    assert value in stated_choices(text, words), (text, pname, value)
                    assert not re.search(r"\b(true|false)\b", text, re.I) and pname not in text
                    negatives += value is False
                elif param.kind == "enum" and (words or param.synonyms[value]):
                    phrases = words.get(value, []) + list(param.synonyms[value])
                    assert any(p.lower() in text.lower() for p in phrases), (text, pname, value)
                    assert "_" not in value or value not in text  # never "price_asc" or "read_only"
    assert paths == {"procedural", "hand-written"} and negatives >= 5
    tagged = sum("word_values" in r["meta"]["augmentations"] for r in at_rate_one)
    assert tagged >= 60, tagged


def test_negative_phrasing_gives_false(at_rate_one):
    seen = 0
    for record in at_rate_one:
        for name, args in calls(record):
            for pname, value in args.items():
                if re.fullmatch(r"include_?[a-z]+", pname, re.I) and value is False:
                    noun = re.sub(r"^include_?", "", pname).lower()
                    assert re.search(rf"\b(without|excluding|with no|leaving out( the)?) {noun}", user_text(record),
                                     re.I), user_text(record)
                    seen += 1
    assert seen >= 5


def test_every_record_still_passes_the_checks_and_unstated_options_stay_out(at_rate_one):
    checked = omitted = 0
    for record in at_rate_one:
        text = user_text(record)
        if "messages" in record and record["target"] is not None:
            text += "\n" + record["messages"][-1]["content"]  # a follow-up reads a value of the result
        for name, args in calls(record):
            result = check_call(BY_NAME[name], text, args)
            assert result.ok, (result, text, args)
            checked += 1
            for pname, param in BY_NAME[name].params.items():
                if pname not in args and param.word_phrases:  # the contrast: never stated, never in the call
                    assert not stated_choices(text, {k: list(v) for k, v in param.word_phrases.items()})
                    omitted += 1
    assert checked >= 400 and omitted >= 100


def test_composed_options_numbers_with_units_and_years(at_rate_one):
    original = {t.name: t for t in composed_catalogue(0).tools}
    added = 0
    for t in WORDED.tools:
        before = original[t.name]
        assert {k: p.schema() for k, p in before.params.items()} == \
            {k: t.params[k].schema() for k in before.params}  # what was composed stays
        assert set(t.clauses) == set(t.params)
        added += len(t.params) - len(before.params)
        for unit, number in carried(t).items():  # only a unit is carried, by its number
            assert (unit.lower().replace("_", ""), number.lower().replace("_", "")) == ("ageunit", "maxage")
    assert added > 300
    ages = years = 0
    for record in at_rate_one:
        for _, args in calls(record):
            age = next((args[k] for k in ("max_age", "maxAge") if k in args), None)
            unit = next((args[k] for k in ("age_unit", "ageUnit") if k in args), None)
            assert (age is None) == (unit is None)  # a unit only with its number
            if age is not None:
                assert re.search(rf"\b\w+(-\w+)? {unit}\b", user_text(record)), user_text(record)
                ages += 1
            if "year" in args:
                assert re.search(rf"\b(from|in|for the year|during) {args['year']}\b", user_text(record))
                years += 1
    assert ages >= 5 and years >= 3


def test_same_seed_same_data():
    cfg = dict(n=120, word_value_rate=0.5, procedural_rate=0.5)
    first = generate(SynthConfig(seed=9, **cfg))
    assert generate(SynthConfig(seed=9, **cfg)) == first
    assert generate(SynthConfig(seed=10, **cfg)) != first
