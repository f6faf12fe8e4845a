"""The BFCL bridge: schema conversion, loading, and scoring with BFCL's own AST checker."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

pytest.importorskip("bfcl_eval")

from calltune.bfcl import (CATEGORIES, PARALLEL_CATEGORIES, check_call, convert_function,  # noqa: E402
                           convert_type, load_category, score)
from calltune.errors import CalltuneError  # noqa: E402
from calltune.examples import parse_example  # noqa: E402

COUNTS = {"simple_python": 400, "multiple": 200, "parallel": 200, "parallel_multiple": 200, "irrelevance": 240}
UNFIT = {"parallel_multiple_21", "parallel_multiple_94"}  # ground truth holds a variable name, no valid call


@pytest.fixture(scope="module")
def loaded() -> dict:
    """Every record of every category, parsed: {category: {id: Example}}."""
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
            assert ex.labeled == (ex.id not in UNFIT) and ex.meta["bfcl_category"] == category
            assert ex.meta["bfcl_id"] == ex.id and ("target_unfit" in ex.meta) == (ex.id in UNFIT)
            assert (ex.target is None) == (category == "irrelevance" or ex.id in UNFIT)
            assert isinstance(ex.target, list) == (category in PARALLEL_CATEGORIES and ex.id not in UNFIT)
            if isinstance(ex.target, list):
                assert len(ex.calls) == len(ex.meta["possible_answer"]) >= 2


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


@pytest.mark.parametrize("category", ["simple_python", "multiple", "parallel", "parallel_multiple"])
def test_every_target_passes_bfcls_checker(loaded, category):
    examples = [ex for ex in loaded[category].values() if ex.labeled]
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
    with pytest.raises(CalltuneError, match="irrelevance_0"):
        score(examples, {"irrelevance_0": [call("f", x=1), {"name": "g"}], "irrelevance_1": None}, "irrelevance")
    with pytest.raises(CalltuneError, match="unknown BFCL category"):
        score(examples, {}, "simple_java")


def test_checker_import_leaves_no_stand_in_and_no_vendor_sdks():
    """In a fresh interpreter (the suite itself imports `openai` for the server tests): checking
    calls loads BFCL's AST checker and none of its model handlers or vendor SDKs."""
    script = """
import sys
from calltune.bfcl import check_call, load_category
from calltune.examples import parse_example
ex0, ex1 = (parse_example(r) for r in load_category("simple_python", limit=2))
check_call(ex0, None, "simple_python")
check_call(ex1, {"name": "math.factorial", "arguments": {"number": 5}}, "simple_python")
assert "bfcl_eval.eval_checker.ast_eval.ast_checker" in sys.modules
assert "bfcl_eval.constants.model_config" not in sys.modules
print(sorted({"openai", "anthropic", "bfcl_eval.model_handler"} & set(sys.modules)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- parallel categories: a list of calls, matched order-free ------------------------------------

def test_parallel_record_shape(loaded):
    (rec,) = load_category("parallel", limit=1)
    assert rec["instruction"].startswith("Play songs from the artists Taylor Swift and Maroon 5")
    assert rec["target"] == [call("spotify.play", artist="Taylor Swift", duration=20),
                             call("spotify.play", artist="Maroon 5", duration=15)]
    assert rec["meta"]["possible_answer"] == [{"spotify.play": {"artist": ["Taylor Swift"], "duration": [20]}},
                                              {"spotify.play": {"artist": ["Maroon 5"], "duration": [15]}}]
    assert rec["meta"]["target_fixed"] == [[], []]


def test_parallel_calls_are_matched_in_any_order(loaded):
    ex = loaded["parallel"]["parallel_0"]
    assert check_call(ex, ex.target, "parallel").correct
    assert check_call(ex, list(reversed(ex.target)), "parallel").correct
    ex = loaded["parallel_multiple"]["parallel_multiple_0"]
    sums, primes = ex.target
    assert sums["name"] == "math_toolkit.sum_of_multiples" and primes == call("math_toolkit.product_of_primes", count=5)
    assert check_call(ex, [primes, sums], "parallel_multiple").correct


@pytest.mark.parametrize("category, ex_id", [("parallel", "parallel_0"), ("parallel_multiple", "parallel_multiple_0")])
def test_parallel_missing_or_extra_call_is_wrong_count(loaded, category, ex_id):
    ex = loaded[category][ex_id]
    for calls in (ex.target[:1], ex.target + ex.target[:1], ex.target[0]):  # a lone dict is one call
        v = check_call(ex, calls, category)
        assert not v.correct and v.error_type == "parallel_function_checker_no_order:wrong_count"
    v = check_call(ex, [], category)
    assert not v.correct and v.error_type == "no_call"


def test_parallel_wrong_value_or_same_call_twice_finds_no_match(loaded):
    ex = loaded["parallel"]["parallel_0"]
    wrong = [call("spotify.play", artist="Taylor Swift", duration=20), call("spotify.play", artist="Maroon 5",
                                                                            duration=20)]
    for calls in (wrong, [ex.target[0], ex.target[0]]):
        v = check_call(ex, calls, "parallel")
        assert not v.correct and v.error_type == "parallel_function_checker_no_order:cannot_find_match"
        assert "index 1 of possible answers" in v.error and "sub_error" in v.error  # dicts kept as text


def test_parallel_score_report(loaded):
    examples = [loaded["parallel"][i] for i in ("parallel_0", "parallel_1", "parallel_2")]
    predictions = {"parallel_0": list(reversed(examples[0].target)), "parallel_1": examples[1].target[:1],
                   "parallel_2": None}
    report = score(examples, predictions, "parallel")
    assert (report["n"], report["correct"]) == (3, 1)
    assert report["errors"] == {"parallel_function_checker_no_order:wrong_count": 1, "no_call": 1}


def test_a_list_on_a_single_call_category_is_judged_by_bfcls_count(loaded):
    ex = loaded["simple_python"]["simple_python_0"]
    assert check_call(ex, [ex.target], "simple_python").correct
    v = check_call(ex, [ex.target, ex.target], "simple_python")
    assert not v.correct and v.error_type == "simple_function_checker:wrong_count"
    assert check_call(ex, [], "simple_python").error_type == "no_call"
    assert check_call(loaded["irrelevance"]["irrelevance_0"], [], "irrelevance").correct


def test_undeclared_ground_truth_parameter_is_left_out(loaded):
    # parallel_multiple_26: BFCL's answer lists 'type' ("credit" or omitted), which the function lacks
    ex = loaded["parallel_multiple"]["parallel_multiple_26"]
    assert "type" not in ex.target[1]["arguments"] and ex.meta["target_fixed"] == [[], ["type"]]
    assert check_call(ex, ex.target, "parallel_multiple").correct


def test_a_variable_name_answer_leaves_the_record_unlabeled_but_bfcl_judges_it(loaded):
    ex = loaded["parallel_multiple"]["parallel_multiple_21"]
    assert not ex.labeled and "linear_regression_fit" in ex.meta["target_unfit"]
    answer = [call("data_loading", file_path="dataset.csv"),
              call("linear_regression_fit", x="data['sales']", y="data['future_sales']", return_residuals=True)]
    assert check_call(ex, answer, "parallel_multiple").correct


def test_cli_accepts_the_parallel_categories():
    from calltune.cli import build_parser

    for category in CATEGORIES:
        assert build_parser().parse_args(["bfcl", "--category", category, "--out", "o"]).category == category


def write_predictions(path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_bfcl_run_reads_hermes_calls_and_paper_calls(loaded, tmp_path):
    from calltune.bfcl_run import predicted_calls, score_predictions
    from calltune.chat.render import format_assistant
    from calltune.jsonl import write_jsonl

    examples = tmp_path / "examples.jsonl"
    write_jsonl(str(examples), load_category("parallel", limit=2))
    first, second = (loaded["parallel"][i] for i in ("parallel_0", "parallel_1"))
    # hermes: every <tool_call> block counts, in any order
    hermes = write_predictions(tmp_path / "hermes.jsonl", [
        {"id": "parallel_0", "raw": format_assistant(list(reversed(first.calls))), "call": None, "error": None,
         "calls": list(reversed(first.calls))},
        {"id": "parallel_1", "raw": format_assistant(second.calls[:1]), "call": None, "error": None,
         "calls": second.calls[:1]}])
    assert predicted_calls("parallel", hermes) == {"parallel_0": list(reversed(first.calls)),
                                                   "parallel_1": second.calls[:1]}
    report = score_predictions("parallel", str(examples), hermes)
    assert report["bfcl"]["correct"] == 1 and report["calltune"]["exact_match"] == 0.5
    # paper: one extracted call, which cannot answer a parallel case
    paper = write_predictions(tmp_path / "paper.jsonl", [
        {"id": "parallel_0", "raw": json.dumps(first.calls[0]), "call": first.calls[0], "error": None},
        {"id": "parallel_1", "raw": "no idea", "call": None, "error": "invalid_json"}])
    assert predicted_calls("parallel", paper) == {"parallel_0": first.calls[:1], "parallel_1": []}
    assert predicted_calls("simple_python", paper) == {"parallel_0": first.calls[0], "parallel_1": None}
    report = score_predictions("parallel", str(examples), paper)["bfcl"]
    assert report["errors"] == {"parallel_function_checker_no_order:wrong_count": 1, "no_call": 1}
