"""The BFCL bridge: schema conversion, loading, and scoring with BFCL's own AST checker."""

from __future__ import annotations

import sys

import jsonschema
import pytest

pytest.importorskip("bfcl_eval")

from calltune.bfcl import (CATEGORIES, check_call, convert_function, convert_type,  # noqa: E402
                           load_category, score)
from calltune.errors import CalltuneError  # noqa: E402
from calltune.examples import parse_example  # noqa: E402

COUNTS = {"simple_python": 400, "multiple": 200, "irrelevance": 240}


@pytest.fixture(scope="module")
def loaded() -> dict:
    """Every record of the three categories, parsed: {category: {id: Example}}."""
    return {c: {r["id"]: parse_example(r) for r in load_category(c)} for c in CATEGORIES}


def call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


def verdict(loaded: dict, category: str, ex_id: str, prediction: dict | None):
    return check_call(loaded[category][ex_id], prediction, category)


# -- schema conversion ---------------------------------------------------------------------------

NUMBERS = {"type": "tuple", "items": {"type": "float"}}
POINT = {"type": "dict", "properties": {"x": {"type": "float"}, "y": {"type": "any"}}, "required": ["x"]}
POINT_JS = {"type": "object", "properties": {"x": {"type": "number"}, "y": {}}, "required": ["x"]}


@pytest.mark.parametrize("bfcl, expected", [
    ({"type": "dict", "properties": {}}, {"type": "object", "properties": {}}),
    ({"type": "float"}, {"type": "number"}),
    ({"type": "tuple", "items": {"type": "integer"}}, {"type": "array", "items": {"type": "integer"}}),
    ({"type": "any", "description": "d"}, {"description": "d"}),
    ({"type": "string", "enum": ["a", "b"], "default": "a"},
     {"type": "string", "enum": ["a", "b"], "default": "a"}),
    ({"type": "boolean", "optional": True}, {"type": "boolean"}),
    ({"type": "array", "items": POINT}, {"type": "array", "items": POINT_JS}),
    ({"type": "dict", "properties": {"inner": {"type": "dict", "properties": {"t": NUMBERS}}}},
     {"type": "object", "properties": {"inner": {"type": "object", "properties": {
         "t": {"type": "array", "items": {"type": "number"}}}}}}),
])
def test_convert_type(bfcl, expected):
    assert convert_type(bfcl) == expected
    jsonschema.Draft202012Validator.check_schema(convert_type(bfcl))


def test_convert_type_keeps_a_property_named_optional():
    out = convert_type({"type": "dict", "properties": {"optional": {"type": "float"}}, "optional": ["x"]})
    assert out == {"type": "object", "properties": {"optional": {"type": "number"}}}


def test_convert_function_gives_openai_form():
    fn = {"name": "math.hypot", "description": "d", "parameters": {"type": "dict", "properties": {
        "x": {"type": "integer"}}, "required": ["x"]}}
    params = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    assert convert_function(fn) == {"type": "function", "function": {
        "name": "math.hypot", "description": "d", "parameters": params}}


# -- loading -------------------------------------------------------------------------------------

def test_every_record_parses(loaded):
    assert {c: len(exs) for c, exs in loaded.items()} == COUNTS
    for category, examples in loaded.items():
        for ex in examples.values():
            assert ex.labeled and ex.meta["bfcl_category"] == category and ex.meta["bfcl_id"] == ex.id
            assert (ex.target is None) == (category == "irrelevance")


def test_record_shape():
    (rec,) = load_category("simple_python", limit=1)
    assert rec["id"] == "simple_python_0" and rec["instruction"].startswith("Find the area of a triangle")
    assert rec["target"] == call("calculate_triangle_area", base=10, height=5, unit="units")
    truth = {"base": [10], "height": [5], "unit": ["units", ""]}
    assert rec["meta"]["possible_answer"] == [{"calculate_triangle_area": truth}]
    assert rec["meta"]["functions"][0]["parameters"]["type"] == "dict"  # BFCL's doc, untouched
    assert "system" not in rec


def test_leading_blank_is_omitted_and_a_required_param_takes_its_next_value(loaded):
    # simple_python_200: fuel_efficiency ["", 25.0] is required, efficiency_reduction [0, ""] is not
    ex = loaded["simple_python"]["simple_python_200"]
    assert ex.target["arguments"]["fuel_efficiency"] == 25.0
    assert ex.meta["target_fixed"] == ["fuel_efficiency"]
    sides = call("triangle_properties.get", side1=5, side2=4, side3=3)  # three ["", true] flags left out
    assert loaded["multiple"]["multiple_0"].target == sides


def test_limit_and_unknown_category():
    assert [r["id"] for r in load_category("irrelevance", limit=3)] == ["irrelevance_0", "irrelevance_1",
                                                                         "irrelevance_2"]
    with pytest.raises(CalltuneError, match="unknown BFCL category"):
        load_category("simple_java")


@pytest.mark.parametrize("category", ["simple_python", "multiple"])
def test_every_target_passes_bfcls_checker(loaded, category):
    examples = list(loaded[category].values())
    report = score(examples, {ex.id: ex.target for ex in examples}, category)
    assert report["accuracy"] == 1.0 and report["errors"] == {}


# -- scoring: one case per checker rule ----------------------------------------------------------

def test_simple_correct_call(loaded):
    assert verdict(loaded, "simple_python", "simple_python_0",
                   call("calculate_triangle_area", base=10, height=5, unit="units")).correct


def test_simple_optional_param_may_be_omitted(loaded):
    no_unit = call("calculate_triangle_area", base=10, height=5)
    assert verdict(loaded, "simple_python", "simple_python_0", no_unit).correct


def test_simple_wrong_values(loaded):
    v = verdict(loaded, "simple_python", "simple_python_0",
                call("calculate_triangle_area", base=11, height=5))
    assert not v.correct and v.error_type == "value_error:others"
    v = verdict(loaded, "simple_python", "simple_python_0",
                call("calculate_triangle_area", base=10, height=5, unit="meters"))
    assert not v.correct and v.error_type == "value_error:string" and "meters" in v.error


def test_simple_wrong_function_name(loaded):
    v = verdict(loaded, "simple_python", "simple_python_0", call("calculate_circle_area", base=10, height=5))
    assert not v.correct and v.error_type == "simple_function_checker:wrong_func_name"


def test_simple_missing_required_and_unexpected_param(loaded):
    v = verdict(loaded, "simple_python", "simple_python_0", call("calculate_triangle_area", base=10))
    assert v.error_type == "simple_function_checker:missing_required"
    v = verdict(loaded, "simple_python", "simple_python_0",
                call("calculate_triangle_area", base=10, height=5, x=1))
    assert v.error_type == "simple_function_checker:unexpected_param"


def test_simple_type_error_and_int_for_float(loaded):
    v = verdict(loaded, "simple_python", "simple_python_0",
                call("calculate_triangle_area", base="10", height=5))
    assert v.error_type == "type_error:simple"
    args = dict(loaded["simple_python"]["simple_python_200"].target["arguments"], fuel_efficiency=25)
    assert verdict(loaded, "simple_python", "simple_python_200", call("calculate_emissions", **args)).correct


@pytest.mark.parametrize("location, ok", [
    ("New York, NY", True), ("new york ny", True), ("New-York NY.", True), ("NYC", False)])
def test_strings_are_compared_as_bfcl_normalizes_them(loaded, location, ok):
    # BFCL lowercases and drops spaces and ,./-_*^ before comparing strings
    v = verdict(loaded, "simple_python", "simple_python_35",
                call("vegan_restaurant.find_nearby", location=location, operating_hours=23))
    assert v.correct is ok and (ok or v.error_type == "value_error:string")


def test_no_call_on_a_call_category(loaded):
    v = verdict(loaded, "simple_python", "simple_python_0", None)
    assert not v.correct and v.error_type == "no_call"


def test_multiple_right_and_wrong_function(loaded):
    ex = loaded["multiple"]["multiple_0"]
    assert check_call(ex, ex.target, "multiple").correct
    other = next(t.name for t in ex.tools if t.name != ex.target["name"])
    v = check_call(ex, call(other, **ex.target["arguments"]), "multiple")
    assert not v.correct and v.error_type == "simple_function_checker:wrong_func_name"


def test_irrelevance(loaded):
    ex = loaded["irrelevance"]["irrelevance_0"]
    assert check_call(ex, None, "irrelevance").correct
    v = check_call(ex, call(ex.tools[0].name, weight=70.0, height=1.8), "irrelevance")
    assert not v.correct and v.error_type == "irrelevance:called"


# -- the report ----------------------------------------------------------------------------------

def test_score_report(loaded):
    ids = ("simple_python_0", "simple_python_1", "simple_python_2")
    examples = [loaded["simple_python"][i] for i in ids]
    predictions = {"simple_python_0": examples[0].target, "simple_python_1": None,
                   "simple_python_2": call("math.hypot", x=4, y=6)}
    report = score(examples, predictions, "simple_python")
    assert (report["category"], report["n"], report["correct"]) == ("simple_python", 3, 1)
    assert report["accuracy"] == pytest.approx(1 / 3)
    assert report["errors"] == {"no_call": 1, "value_error:others": 1}
    assert [(r["id"], r["correct"], r["error_type"]) for r in report["per_example"]] == [
        ("simple_python_0", True, None), ("simple_python_1", False, "no_call"),
        ("simple_python_2", False, "value_error:others")]


def test_score_rejects_missing_and_malformed_predictions(loaded):
    examples = list(loaded["irrelevance"].values())[:2]
    with pytest.raises(CalltuneError, match="irrelevance_1"):
        score(examples, {"irrelevance_0": None}, "irrelevance")
    with pytest.raises(CalltuneError, match="irrelevance_0"):
        score(examples, {"irrelevance_0": {"name": "f"}, "irrelevance_1": None}, "irrelevance")
    with pytest.raises(CalltuneError, match="unknown BFCL category"):
        score(examples, {}, "parallel")


def test_checker_import_leaves_no_stand_in_and_no_vendor_sdks(loaded):
    verdict(loaded, "simple_python", "simple_python_0", None)
    verdict(loaded, "simple_python", "simple_python_1", call("math.factorial", number=5))
    assert "bfcl_eval.eval_checker.ast_eval.ast_checker" in sys.modules
    assert "bfcl_eval.constants.model_config" not in sys.modules
    assert not {"openai", "anthropic", "bfcl_eval.model_handler"} & set(sys.modules)
