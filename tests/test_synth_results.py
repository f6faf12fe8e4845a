"""Synthesized tool results, follow-up chains and small-talk replies: every entry runs, computations
are right, and every reply can be written for every value the generator may draw."""

import json
import random
import string

import pytest

from calltune.synth import smalltalk
from calltune.synth.catalogue import all_tools
from calltune.synth.followups import CHAINS
from calltune.synth.phrasing import sample_call
from calltune.synth.results import outcome, outcomes

TOOLS = {t.name: t for t in all_tools()}


def test_outcomes_cover_most_tools_and_run_on_sampled_calls():
    assert set(outcomes()) <= set(TOOLS) and len(outcomes()) >= 85
    rng = random.Random(0)
    for name in outcomes():
        for _ in range(25):
            _, args, _ = sample_call(rng, TOOLS[name], 0.5, ())
            result, replies = outcome(rng, name, args)
            assert isinstance(result, dict) and json.loads(json.dumps(result)) == result
            assert replies and all(isinstance(r, str) and r and "{" not in r for r in replies)


def test_same_rng_same_result():
    args = {"location": "Paris", "date": "2025-05-01"}
    assert outcome(random.Random(5), "get_weather_forecast", args) == outcome(random.Random(5), "get_weather_forecast",
                                                                             args)


@pytest.mark.parametrize("tool, args, field, value", [
    ("calculate_mean", {"numbers": [1, 2, 6]}, "mean", 3),
    ("calculate_median", {"numbers": [5, 1, 3, 2]}, "median", 2.5),
    ("calculate_percentile", {"numbers": [1, 2, 3, 4, 5], "percentile": 25}, "value", 2),
    ("greatest_common_divisor", {"first_number": 84, "second_number": 36}, "gcd", 12),
    ("real_roots_of_quadratic", {"coef_a": 1, "coef_b": -3, "coef_c": 2}, "roots", [1, 2]),
    ("check_prime", {"number": 91}, "smallest_factor", 7),
    ("convert_number_base", {"number": 255, "base": 16}, "digits", "FF"),
    ("calculate_hypotenuse", {"side_a": 3, "side_b": 4}, "hypotenuse", 5),
    ("calculate_loan_payment", {"loan_amount": 100000, "annual_rate": 0.06, "term_months": 360},
     "monthly_payment", 599.55),
    ("compound_interest_growth", {"principal": 1000, "annual_rate": 0.05, "years": 2}, "final_balance", 1102.5),
    ("convert_temperature", {"temperature": 100, "from_scale": "celsius", "to_scale": "fahrenheit"}, "value", 212),
    ("length_unit_conversion", {"length": 1, "from_unit": "mi", "to_unit": "km"}, "value", 1.6093),
    ("calculate_molar_mass", {"formula": "H2O"}, "molar_mass_g_mol", 18.015),
    ("balance_chemical_equation", {"equation": "N2 + H2 -> NH3"}, "balanced", "N2 + 3H2 -> 2NH3"),
    ("calculate_break_even_point", {"fixed_costs": 1000, "price_per_unit": 5, "variable_cost_per_unit": 2},
     "units", 334),
])
def test_computations_return_the_true_value(tool, args, field, value):
    result, _ = outcome(random.Random(0), tool, args)
    assert result[field] == pytest.approx(value) if isinstance(value, (int, float)) else result[field] == value


def test_every_chain_joins_catalogue_tools_with_a_result():
    assert len(CHAINS) >= 10
    for chain in CHAINS:
        assert chain.first in outcomes() and chain.second in TOOLS and chain.first != chain.second


def test_every_smalltalk_reply_fills_for_every_slot_value():
    formatter = string.Formatter()
    for request, reply in smalltalk.TEMPLATES:
        slots = [name for _, name, _, _ in formatter.parse(request) if name]
        pools = [smalltalk.SLOTS[name] for name in slots]
        for combo in ([()] if not slots else [(v,) for v in pools[0]]):  # every template has at most one slot
            values = dict(zip(slots, combo))
            text = reply.format(**values, **smalltalk._facts(values))
            assert text and "{" not in text
    assert max(len([n for _, n, _, _ in formatter.parse(r) if n]) for r, _ in smalltalk.TEMPLATES) <= 1


def test_decline_names_the_offered_tools():
    text = smalltalk.decline(random.Random(1), ["fn_a", "get_b"])
    assert "`fn_a`" in text and "`get_b`" in text
