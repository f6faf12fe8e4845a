"""Value formats asked for by descriptions (`formats.py`, the generator's `value_format_rate`): dates and places
written the way the offered tool's description says, the schema's pattern matching them."""

import re

import jsonschema
import pytest

from calltune.examples import parse_example
from calltune.synth import formats, pools
from calltune.synth.catalogue import all_tools
from calltune.synth.generator import SynthConfig, generate

HAND = {t.name: t for t in all_tools()}
FORECAST = HAND["get_weather_forecast"]  # location (a city) and date (YYYY-MM-DD)


def _reformat(seed: int, call: dict):
    import random
    return formats.reformat(random.Random(seed), FORECAST, FORECAST.to_json(), [call])


def test_a_date_and_a_us_city_take_every_form_and_match_the_schema():
    call = {"name": FORECAST.name, "arguments": {"location": "Boston", "date": "2026-03-07"}}
    dates, places = set(), set()
    for seed in range(60):
        spec, (new,), tags = _reformat(seed, call)
        props = spec["function"]["parameters"]["properties"]
        assert tags == ["format_date", "format_place"] and "format" not in props["date"]
        assert re.fullmatch(props["date"]["pattern"], new["arguments"]["date"])
        assert "YYYY-MM-DD" not in props["date"]["description"] and "Lisbon" not in props["location"]["description"]
        jsonschema.validate(new["arguments"], spec["function"]["parameters"])
        dates.add(new["arguments"]["date"])
        places.add(new["arguments"]["location"])
    assert dates == {"03-07-2026", "03/07/2026", "07/03/2026", "07.03.2026", "2026/03/07", "March 7, 2026"}
    assert places == {"Boston, MA", "Boston, Massachusetts", "Boston, USA"}
    assert call["arguments"] == {"location": "Boston", "date": "2026-03-07"}  # the input is left alone
    assert FORECAST.to_json()["function"]["parameters"]["properties"]["date"]["format"] == "date"


def test_a_city_outside_the_us_gets_its_country_and_an_unknown_value_is_left_alone():
    for seed in range(10):
        _, (new,), _ = _reformat(seed, {"name": FORECAST.name, "arguments": {"location": "Lyon", "date": "2026-01-02"}})
        assert new["arguments"]["location"] == "Lyon, France"
    spec, (new,), tags = _reformat(0, {"name": FORECAST.name, "arguments": {"location": "Gotham", "date": "soon"}})
    assert new["arguments"] == {"location": "Gotham", "date": "soon"} and tags == []
    assert spec["function"]["parameters"] == FORECAST.to_json()["function"]["parameters"]


def test_every_city_of_the_pool_has_a_country():
    assert set(pools.CITIES) <= set(formats.COUNTRIES) and set(formats.US_STATES) <= set(pools.CITIES)


@pytest.fixture(scope="module")
def records():
    return generate(SynthConfig(n=300, seed=5, value_format_rate=1.0, parallel_rate=0.25, parallel_max_calls=4,
                                dialogue_rate=0.1, session_rate=0.3, procedural_rate=0.5, procedural_split="train",
                                mask_rate=0.1, rename_rate=0.3, description_style_rate=0.3))


def test_generated_calls_follow_the_offered_formats(records):
    tagged = [r for r in records if {"format_date", "format_place"} & set(r["meta"]["augmentations"])]
    assert len(tagged) > 60
    for r in tagged:
        parse_example(r)
        for call in ([] if r["target"] is None else r["target"] if isinstance(r["target"], list) else [r["target"]]):
            tool = next(t["function"] for t in r["tools"] if t["function"]["name"] == call["name"])
            jsonschema.validate(call["arguments"], tool["parameters"])
            for name, value in call["arguments"].items():
                schema = tool["parameters"]["properties"][name]
                if "pattern" in schema and isinstance(value, str):
                    assert re.fullmatch(schema["pattern"], value), (name, value, schema)


def test_nothing_is_reformatted_at_rate_zero():
    records = generate(SynthConfig(n=150, seed=5, procedural_rate=0.5, procedural_split="train"))
    assert not any({"format_date", "format_place"} & set(r["meta"]["augmentations"]) for r in records)
