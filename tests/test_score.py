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


# ---- hermes answers: calls as multisets, per-call counts, abstention ------------------------------

from calltune.examples import Example, parse_tool  # noqa: E402
from calltune.score import gold_calls, match_calls  # noqa: E402

TOOLS = [parse_tool(t, (None, None), "tools") for t in (WEATHER, TIME)]


def wcall(location, **extra):
    return {"name": "get_weather", "arguments": {"location": location, **extra}}


def tcall(city):
    return {"name": "get_time", "arguments": {"city": city}}


def hermes_example(target, ex_id="p1", labeled=True):
    """An example built directly: list targets (parallel calls) need no loader support."""
    return Example(id=ex_id, instruction="Weather in Paris and Rome?", tools=TOOLS, target=target, labeled=labeled)


def answer(*calls, text=""):
    blocks = [f"<tool_call>\n{c if isinstance(c, str) else json.dumps(c)}\n</tool_call>" for c in calls]
    return text + "\n".join(blocks)


PARALLEL = [wcall("Paris"), wcall("Rome"), tcall("Rome")]


@pytest.mark.parametrize("raw, exact, matched, error", [
    (answer(*PARALLEL), True, 3, None),
    (answer(*reversed(PARALLEL)), True, 3, None),  # order does not matter
    (answer(wcall(" Rome "), tcall("Rome"), {"arguments": {"location": "Paris"}, "name": "get_weather"}),
     True, 3, None),  # canonical arguments, as for single calls
    (answer(wcall("Paris"), tcall("Rome")), False, 2, "missing_call"),
    (answer(*PARALLEL, wcall("Rome")), False, 3, "extra_call"),  # a duplicate is one call too many
    (answer(wcall("Paris"), wcall("Rome"), wcall("Oslo")), False, 2, "wrong_function"),
    (answer(wcall("Paris"), wcall("Oslo"), tcall("Rome")), False, 2, "wrong_value"),
    (answer(wcall("Paris"), wcall("Rome", unit="celsius"), tcall("Rome")), False, 2, "unexpected_argument"),
    (answer(wcall("Paris"), '{"name": "get_weather", "arguments": {"location": "Rome"', tcall("Rome")),
     False, 2, "invalid_json"),  # a broken block is a call not made
    ("Paris and Rome are both sunny.", False, 0, "no_call_when_should"),
    (answer(*PARALLEL) + "\nDone.", True, 3, "text_after_call"),
])
def test_parallel_calls_match_as_multisets(raw, exact, matched, error):
    check = check_prediction(hermes_example(PARALLEL), raw, style="hermes")
    assert (check.exact, check.matched, check.expected, check.error_type) == (exact, matched, 3, error)


def test_duplicate_target_calls_must_all_be_made():
    ex = hermes_example([wcall("Paris"), wcall("Paris")])
    once = check_prediction(ex, answer(wcall("Paris")), style="hermes")
    twice = check_prediction(ex, answer(wcall("Paris"), wcall("Paris")), style="hermes")
    assert (once.exact, once.matched, once.error_type) == (False, 1, "missing_call")
    assert (twice.exact, twice.matched, twice.error_type) == (True, 2, None)


def test_match_calls_reports_the_first_unmatched_target_call():
    assert match_calls([tcall("Rome")], [wcall("Paris"), tcall("Rome")]) == \
        (1, "missing_call", "'get_weather' not called")
    assert match_calls([], []) == (0, None, "")
    assert match_calls([wcall("Paris")], [])[1] == "extra_call"


@pytest.mark.parametrize("raw, valid, schema_ok, counts, error", [
    # (json_valid, schema_ok) per example; counts = (attempted, calls_valid, calls_ok)
    (answer(*PARALLEL), True, True, (3, 3, 3), None),
    ("No tool needed.", True, True, (0, 0, 0), "no_call_when_should"),
    (answer(wcall("Paris"), "{oops}", tcall("Rome")), False, False, (3, 2, 2), "invalid_json"),
    (answer(wcall("Paris"), {"name": "get_weather"}, tcall("Rome")), True, False, (3, 3, 2), "missing_keys"),
    (answer(wcall("Paris"), wcall("Rome", unit="kelvin"), tcall("Rome")), True, False, (3, 3, 2), "enum_violation"),
    (answer(wcall("Paris"), {"name": "get_forecast", "arguments": {}}, tcall("Rome")), True, False, (3, 3, 2),
     "unknown_tool"),
])
def test_hermes_per_call_validity_and_adherence(raw, valid, schema_ok, counts, error):
    check = check_prediction(hermes_example(PARALLEL), raw, style="hermes")
    assert (check.json_valid, check.schema_ok, check.error_type) == (valid, schema_ok, error)
    assert (check.attempted, check.calls_valid, check.calls_ok) == counts


def test_null_target_in_hermes_wants_a_text_answer():
    ex = hermes_example(None)
    text = check_prediction(ex, "I can only tell you the weather.", style="hermes")
    assert (text.exact, text.json_valid, text.schema_ok, text.no_call, text.error_type) == \
        (True, True, True, True, None)
    called = check_prediction(ex, answer(wcall("Paris")), style="hermes")
    assert (called.exact, called.no_call, called.error_type) == (False, False, "called_when_should_not")
    # a malformed block makes no call: right under the irrelevance rule, but still an error
    broken = check_prediction(ex, answer("{oops}"), style="hermes")
    assert (broken.exact, broken.no_call, broken.json_valid, broken.error_type) == (True, True, False, "invalid_json")


def test_paper_text_read_as_hermes_makes_no_call():
    raw = call("get_weather", location="Paris", days=3, unit="celsius")
    assert check_prediction(example(), raw).exact is True
    hermes = check_prediction(example(), raw, style="hermes")
    assert hermes.exact is False and hermes.no_call and hermes.error_type == "no_call_when_should"


def test_unknown_style_is_an_error():
    with pytest.raises(CalltuneError, match="unknown prediction style"):
        check_prediction(example(), "x", style="json")


def test_gold_calls_normalizes_targets():
    assert gold_calls(hermes_example(None)) == []
    assert gold_calls(hermes_example(wcall("Paris"))) == [wcall("Paris")]
    assert gold_calls(hermes_example(PARALLEL)) == PARALLEL
    assert gold_calls(hermes_example(None, labeled=False)) is None


def test_abstention_precision_and_recall():
    # 6 labeled examples, 3 with target null; the model abstains on 4: 2 right, 2 wrong;
    # it calls on one null-target example; one unlabeled abstention does not count
    cases = [(None, "Nothing to call."), (None, answer("{oops}")), (None, answer(wcall("Paris"))),
             ([wcall("Paris")], answer(wcall("Paris"))), ([wcall("Paris")], "It is sunny."),
             (PARALLEL, "Let me think.")]
    checks = [check_prediction(hermes_example(t, f"a{i}"), raw, style="hermes") for i, (t, raw) in enumerate(cases)]
    checks.append(check_prediction(hermes_example(None, "u", labeled=False), "Hello.", style="hermes"))
    metrics = summarize(checks)
    assert metrics["abstention"] == {"precision": 0.5, "recall": pytest.approx(2 / 3), "n_predicted": 4,
                                     "n_expected": 3, "n_correct": 2}
    assert metrics["style"] == "hermes"
    assert metrics["exact_match"] == pytest.approx(3 / 6)


def test_summarize_per_call_counts():
    ex = hermes_example(PARALLEL)
    raws = [answer(*PARALLEL), answer(wcall("Paris"), "{oops}"), answer(wcall("Paris", unit="kelvin")), "prose"]
    metrics = summarize([check_prediction(ex, r, style="hermes") for r in raws])
    assert metrics["calls"] == {"attempted": 6, "json_valid": 5, "schema_ok": 4, "expected": 12, "matched": 4,
                                "errors": {"enum_violation": 1, "invalid_json": 1}}
    assert metrics["call_validity"] == pytest.approx(5 / 6) and metrics["call_adherence"] == pytest.approx(4 / 6)
    assert metrics["json_validity"] == 0.75 and metrics["schema_adherence"] == 0.5
    assert set(metrics["intervals"]) == {"json_validity", "schema_adherence", "exact_match"}


def test_paper_predictions_get_the_new_keys_too():
    ex = example()
    raws = [call("get_weather", location="Paris", days=3, unit="celsius"), "prose", '{"name": null, "arguments": {}}',
            '{"name": "get_weather"}']
    metrics = summarize([check_prediction(ex, r) for r in raws])
    assert metrics["style"] == "paper"
    assert metrics["calls"] == {"attempted": 3, "json_valid": 2, "schema_ok": 1, "expected": 4, "matched": 1,
                                "errors": {"invalid_json": 1, "missing_keys": 1}}
    assert metrics["abstention"] == {"precision": 0.0, "recall": None, "n_predicted": 3, "n_expected": 0,
                                     "n_correct": 0}


def test_evaluate_reads_the_style_from_the_predictions(tmp_path):
    from calltune.evaluate import evaluate, format_metrics
    from calltune.examples import load_examples

    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps({"id": i, "instruction": "q", "tools": [WEATHER], "target": t})
                              for i, t in (("c", wcall("Paris")), ("n", None))) + "\n")
    examples = load_examples(str(data))
    texts = {"c": answer(wcall("Paris")), "n": "No tool fits."}

    def write(name, with_calls):
        path = tmp_path / name
        path.write_text("".join(json.dumps({"id": i, "raw": raw, "call": None, "error": None,
                                            **({"calls": [], "content": ""} if with_calls(i) else {})}) + "\n"
                                for i, raw in texts.items()))
        return str(path)

    hermes = evaluate(examples, write("h.jsonl", lambda i: True))
    assert hermes["style"] == "hermes" and hermes["json_validity"] == 1.0 and hermes["exact_match"] == 1.0
    assert "no-call: precision 100.0%" in format_metrics(hermes)
    paper = evaluate(examples, write("p.jsonl", lambda i: False))  # the text answer is not JSON
    assert paper["style"] == "paper" and paper["json_validity"] == 0.5
    assert evaluate(examples, str(tmp_path / "p.jsonl"), style="hermes")["json_validity"] == 1.0
    with pytest.raises(CalltuneError, match="mixes hermes predictions"):
        evaluate(examples, write("m.jsonl", lambda i: i == "c"))


# ---- arguments: which of the target's arguments a call gives, and which it adds ----------------------

from calltune.score import ARGUMENT_COUNTS  # noqa: E402


def counts(**nonzero):
    return {k: nonzero.get(k, 0) for k in ARGUMENT_COUNTS}


@pytest.mark.parametrize("target, raw, expected", [
    # the target states both optionals: one given right, one left out
    ({"name": "get_weather", "arguments": {"location": "Paris", "days": 3, "unit": "celsius"}},
     call("get_weather", location="Paris", days=3),
     counts(required_in_target=1, required_given=1, required_right=1, optional_in_target=2, optional_given=1,
            optional_right=1)),
    # a wrong value is given, not right; an optional the target leaves out is given anyway
    ({"name": "get_weather", "arguments": {"location": "Paris", "days": 3}},
     call("get_weather", location="Rome", days=3, unit="celsius"),
     counts(required_in_target=1, required_given=1, optional_in_target=1, optional_given=1, optional_right=1,
            optional_not_in_target=1, optional_given_anyway=1)),
    # a call of another tool pairs with nothing: its arguments are not counted
    ({"name": "get_weather", "arguments": {"location": "Paris"}}, call("get_time", city="Paris"),
     counts(unpaired=1)),
    ({"name": "get_weather", "arguments": {"location": "Paris"}}, "prose", counts(unpaired=1)),
    (None, "No tool fits.", counts()),
])
def test_argument_counts_per_example(target, raw, expected):
    assert check_prediction(example(target), raw).arguments == expected


def test_argument_counts_pair_an_equal_call_first():
    # the second target call is made exactly; the first one's closest call is the other get_weather
    target = [wcall("Paris", unit="celsius"), wcall("Rome", days=2)]
    check = check_prediction(hermes_example(target), answer(wcall("Rome", days=2), wcall("Paris")), style="hermes")
    assert check.arguments == counts(required_in_target=2, required_given=2, required_right=2,
                                     optional_in_target=2, optional_given=1, optional_right=1,
                                     optional_not_in_target=2)


def test_argument_counts_sum_over_labeled_examples_and_print():
    from calltune.evaluate import format_metrics

    checks = [check_prediction(example(), call("get_weather", location="Paris", days=3)),
              check_prediction(example({"name": "get_weather", "arguments": {"location": "Paris"}}),
                               call("get_weather", location="Paris", unit="celsius")),
              check_prediction(example("unlabeled"), call("get_weather", location="Paris", unit="celsius"))]
    assert checks[2].arguments == {}
    metrics = summarize(checks)
    assert metrics["arguments"] == counts(required_in_target=2, required_given=2, required_right=2,
                                          optional_in_target=2, optional_given=1, optional_right=1,
                                          optional_not_in_target=2, optional_given_anyway=1)
    assert ("optional in the target 1 given, 1 right of 2; optional the target leaves out 1 given of 2"
            in format_metrics(metrics))
