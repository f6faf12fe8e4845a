"""Each metric and each error type, on hand-made predictions."""

import json

import pytest

from calltune.examples import parse_example
from calltune.score import canonical, check_all, check_prediction, mcnemar_exact, summarize, wilson_interval
from calltune.errors import CalltuneError

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city.",
           "parameters": {"type": "object", "properties": {
               "location": {"type": "string"},
               "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
               "days": {"type": "integer", "minimum": 1, "maximum": 7}},
               "required": ["location"], "additionalProperties": False}}}
TIME = {"name": "get_time", "description": "Time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def example(target="default", tools=(WEATHER, TIME)):
    rec = {"id": "e1", "instruction": "Weather in Paris for 3 days in celsius?", "tools": list(tools)}
    if target == "default":
        rec["target"] = {"name": "get_weather", "arguments": {"location": "Paris", "days": 3, "unit": "celsius"}}
    elif target != "unlabeled":
        rec["target"] = target
    return parse_example(rec)


def call(name, **arguments):
    return json.dumps({"name": name, "arguments": arguments})


def replaced(text, old, new):
    """`text.replace(old, new)`, refusing a no-op: a table row must really perturb its input."""
    changed = text.replace(old, new)
    assert changed != text, f"replacing {old!r} by {new!r} leaves {text!r} unchanged"
    return changed


@pytest.mark.parametrize("raw, valid, schema_ok, exact, error", [
    (call("get_weather", location="Paris", days=3, unit="celsius"), True, True, True, None),
    # key order, int/float equality and whitespace do not matter for exact match
    ('{"arguments": {"unit": "celsius", "days": 3.0, "location": "  Paris "}, "name": "get_weather"}',
     True, True, True, None),
    ("It is sunny in Paris.", False, False, False, "invalid_json"),
    ('{"name": "get_weather"}', True, False, False, "missing_keys"),
    ('{"name": "get_weather", "arguments": {}, "x": 1}', True, False, False, "extra_keys"),
    ('{"name": ["get_weather"], "arguments": {}}', True, False, False, "bad_name"),
    ('{"name": "get_weather", "arguments": []}', True, False, False, "bad_arguments"),
    (call("get_forecast", location="Paris"), True, False, False, "unknown_tool"),
    (call("get_weather", days=3), True, False, False, "missing_required"),
    (call("get_weather", location="Paris", days="3"), True, False, False, "type_mismatch"),
    (call("get_weather", location="Paris", days=True), True, False, False, "type_mismatch"),
    (call("get_weather", location="Paris", unit="kelvin"), True, False, False, "enum_violation"),
    (call("get_weather", location="Paris", country="FR"), True, False, False, "extra_argument"),
    (call("get_weather", location="Paris", days=30), True, False, False, "schema_violation"),
    ('{"name": null, "arguments": {}}', True, True, False, "no_call_when_should"),
    (call("get_time", city="Paris"), True, True, False, "wrong_function"),
    (call("get_weather", location="Paris", days=3), True, True, False, "missing_argument"),
    # the call followed by prose: the first JSON object is the answer
    (replaced(call("get_weather", location="Paris", days=3, unit="celsius"), '"celsius"}}',
              '"celsius"}} I hope this helps, {name}!'), True, True, True, None),
    (call("get_weather", location="London", days=3, unit="celsius"), True, True, False, "wrong_value"),
])
def test_check_prediction_table(raw, valid, schema_ok, exact, error):
    check = check_prediction(example(), raw)
    assert (check.json_valid, check.schema_ok, check.exact, check.error_type) == (valid, schema_ok, exact, error)


def test_unexpected_optional_argument():
    ex = example({"name": "get_weather", "arguments": {"location": "Paris"}})
    check = check_prediction(ex, call("get_weather", location="Paris", unit="celsius"))
    assert check.schema_ok and not check.exact and check.error_type == "unexpected_argument"


def test_extra_argument_when_schema_is_silent_about_additional_properties():
    ex = example({"name": "get_time", "arguments": {"city": "Paris"}})
    check = check_prediction(ex, call("get_time", city="Paris", tz="CET"))
    assert not check.schema_ok and check.error_type == "extra_argument"


def test_null_target_rewards_any_non_call():
    ex = example(None)
    assert check_prediction(ex, '{"name": null, "arguments": {}}').exact is True
    prose = check_prediction(ex, "I cannot help with that.")
    assert prose.exact is True and not prose.json_valid and prose.error_type == "invalid_json"
    called = check_prediction(ex, call("get_weather", location="Paris"))
    assert called.exact is False and called.schema_ok and called.error_type == "called_when_should_not"


def test_unlabeled_examples_have_no_exact_match():
    ex = example("unlabeled")
    check = check_prediction(ex, call("get_weather", location="Paris"))
    assert check.exact is None and check.schema_ok and check.error_type is None


def test_canonical_distinguishes_bool_from_number_and_keeps_list_order():
    assert canonical(1) == canonical(1.0)
    assert canonical(True) != canonical(1)
    assert canonical([1, 2]) != canonical([2, 1])
    assert canonical({"a": "x  y", "b": 2}) == canonical({"b": 2.0, "a": " x y "})


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(0, 4)
    assert lo == 0.0 and hi == pytest.approx(0.4899, abs=1e-4)
    lo, hi = wilson_interval(8, 10)
    assert (lo, hi) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))


def test_summarize_counts_and_fractions():
    ex = example()
    raws = [call("get_weather", location="Paris", days=3, unit="celsius"), "prose",
            call("get_weather", location="Rome", days=3, unit="celsius"), call("get_weather", days=1)]
    metrics = summarize([check_prediction(ex, r) for r in raws])
    assert metrics["n"] == 4 and metrics["n_labeled"] == 4
    assert metrics["json_validity"] == 0.75
    assert metrics["schema_adherence"] == 0.5
    assert metrics["exact_match"] == 0.25
    assert metrics["schema_adherence_given_valid"] == pytest.approx(2 / 3)
    assert metrics["errors"] == {"invalid_json": 1, "missing_required": 1, "wrong_value": 1}
    assert set(metrics["intervals"]) == {"json_validity", "schema_adherence", "exact_match"}


def test_check_all_requires_matching_ids():
    ex = example()
    with pytest.raises(CalltuneError, match="no prediction"):
        check_all([ex], {})
    with pytest.raises(CalltuneError, match="unknown example id 'zzz'"):
        check_all([ex], {"e1": "x", "zzz": "y"})


def test_mcnemar_exact_known_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # all six discordant pairs one way
    assert mcnemar_exact(9, 1) == pytest.approx(2 * 11 / 1024)  # symmetric in its arguments
    assert mcnemar_exact(1, 9) == mcnemar_exact(9, 1)
    assert mcnemar_exact(5, 5) == 1.0
