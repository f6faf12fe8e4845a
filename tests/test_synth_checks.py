"""The unambiguity check, one case per rule, and every generated call passing it."""

import pytest

from calltune.synth.catalogue import all_tools
from calltune.synth.checks import check_call
from calltune.synth.generator import SynthConfig, generate

TOOLS = {t.name: t for t in all_tools()}


def check(tool, instruction, arguments):
    return check_call(TOOLS[tool], instruction, arguments)


def test_accepts_a_recoverable_call():
    result = check("current_weather_report", "What's the weather in Paris in Fahrenheit?",
                   {"location": "Paris", "temperature_unit": "fahrenheit"})
    assert result.ok and result.error_type is None


def test_rejects_a_value_the_instruction_does_not_state():
    # hand-made ambiguous example: which city?
    result = check("current_weather_report", "What's the weather like today?", {"location": "Paris"})
    assert not result.ok and result.error_type == "unrecoverable" and "location" in result.detail


def test_rejects_two_arguments_with_the_same_value():
    result = check("search_flights", "Find flights from Paris to Paris on 2025-03-14.",
                   {"origin": "Paris", "destination": "Paris", "date": "2025-03-14"})
    assert result.error_type == "duplicate_value"


def test_rejects_an_optional_value_stated_but_omitted():
    result = check("current_weather_report", "What's the weather in Paris in Fahrenheit?", {"location": "Paris"})
    assert result.error_type == "stated_but_omitted"


def test_unknown_and_missing_arguments():
    result = check("local_clock_time", "What time is it in Oslo?", {"city": "Oslo", "tz": "CET"})
    assert result.error_type == "unknown_argument"
    assert check("local_clock_time", "What time is it in Oslo?", {}).error_type == "missing_required"
    result = check("set_device_power", "Turn on the TV in the kitchen.", {"device": "TV", "room": "kitchen"})
    assert result.error_type == "missing_required"


@pytest.mark.parametrize("text,n,ok", [
    ("What is three factorial?", 3, True), ("What's 12! equal to?", 12, True), ("What is three factorial?", 4, False),
    ("Compute twenty factorial.", 20, True), ("What is 13 factorial?", 3, False)])
def test_numbers_as_digits_or_words(text, n, ok):
    assert check("factorial_of_integer", text, {"n": n}).ok is ok


def test_thousands_separators_and_percentages():
    args = {"principal": 12500, "annual_rate": 0.045, "years": 10}
    assert check("compound_interest_growth", "What does 12,500 become in 10 years at 4.5%?", args).ok
    assert check("compound_interest_growth", "What does 12500 become in ten years at 4.5 percent?", args).ok
    assert check("compound_interest_growth", "What does 12500 become in ten years at 5%?",
                 args).error_type == "unrecoverable"


@pytest.mark.parametrize("written,ok",
                         [("2025-03-14", True), ("March 14, 2025", True), ("14 March 2025", True),
                          ("March 14th, 2025", True), ("March 4, 2025", False), ("14/03/2025", False)])
def test_dates_in_rendered_formats(written, ok):
    assert check("get_weather_forecast", f"Will it rain in Oslo on {written}?",
                 {"location": "Oslo", "date": "2025-03-14"}).ok is ok


def test_impossible_dates_and_times_are_unrecoverable():
    bad_date = {"location": "Oslo", "date": "2025-02-30"}
    assert not check("get_weather_forecast", "Rain in Oslo on 2025-02-30?", bad_date).ok
    assert not check("set_reminder", "Remind me to water the plants on 2025-03-14 at 25:00.",
                     {"message": "water the plants", "date": "2025-03-14", "time": "25:00"}).ok


@pytest.mark.parametrize("written,ok", [("3:30 pm", True), ("15:30", True), ("3:30PM", True), ("3:30 am", False)])
def test_times_in_rendered_formats(written, ok):
    assert check("set_reminder", f"Remind me to water the plants on 2025-03-14 at {written}.",
                 {"message": "water the plants", "date": "2025-03-14", "time": "15:30"}).ok is ok


def test_enum_synonyms_and_longest_match():
    base = {"origin": "Oslo", "destination": "Rome", "date": "2025-03-14"}
    text = "Find flights from Oslo to Rome on 2025-03-14 in premium economy."
    assert check("search_flights", text, {**base, "cabin_class": "premium"}).ok
    # "economy" inside "premium economy" does not state economy
    assert check("search_flights", text, {**base, "cabin_class": "economy"}).error_type == "unrecoverable"
    assert check("exchange_money", "Convert 20 euros to yen.",
                 {"amount": 20, "currency_from": "EUR", "currency_to": "JPY"}).ok


def test_boolean_cues():
    args = {"device": "TV", "room": "kitchen"}
    assert check("set_device_power", "Turn on the TV in the kitchen.", {**args, "on": True}).ok
    result = check("set_device_power", "Turn off the TV in the kitchen.", {**args, "on": True})
    assert result.error_type == "unrecoverable"


def test_arrays_and_objects_element_by_element():
    assert check("calculate_mean", "Average 3, 4.5 and 10.", {"numbers": [3, 4.5, 10]}).ok
    assert not check("calculate_mean", "Average 3, 4.5 and 10.", {"numbers": [3, 4.5, 11]}).ok
    address = {"street": "12 Oak Street", "city": "Lyon", "zip": "69001"}
    assert check("address_to_coordinates", "Geocode 12 Oak Street, Lyon 69001.", {"address": address}).ok
    assert not check("address_to_coordinates", "Geocode 12 Oak Street, Lyon.", {"address": address}).ok


def test_every_generated_call_passes_the_check():
    """Every call of every kind: a target against its request (plus the tool result it follows, in a
    conversation), and the call a conversation already made against the user's words."""
    records = generate(SynthConfig(n=1500, seed=3, rename_rate=0.0, optional_rate=0.6))
    checked = 0
    for r in records:
        if "messages" in r:
            user, made, result = r["messages"]
            (call,) = made["tool_calls"]
            tool = TOOLS[call["function"]["name"]]
            assert check_call(tool, user["content"], call["function"]["arguments"]).ok, user["content"]
            text = user["content"] + "\n" + result["content"]
        else:
            text = r["instruction"]
        targets = r["target"] if isinstance(r["target"], list) else [r["target"]] if r["target"] else []
        for target in targets:
            result = check_call(TOOLS[target["name"]], text, target["arguments"])
            assert result.ok, (text, result)
            checked += 1
    assert checked > 1200
