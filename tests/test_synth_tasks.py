"""Irrelevant requests that are tasks of their own (`tasks.py`, the generator's `irrelevant_task_rate`): a
computation, a fact or a how-to, offered tools that cannot serve it; a null target and a reply that answers."""

import re

import pytest

from calltune.examples import parse_example
from calltune.synth import tasks
from calltune.synth.catalogue import all_tools
from calltune.synth.composer import SPLITS, composed_catalogue
from calltune.synth.checks import check_call
from calltune.synth.generator import SynthConfig, generate

HAND = {t.name: t for t in all_tools()}
TASK_TOOL_NAMES = ({t[0] for t in tasks.COMPUTE_TOOLS.values()} | {t[0] for t in tasks.FACT_TOOLS}
                   | {tasks.REFERENCE_SEARCH[0], tasks.HOWTO_TOOL[0]})
BASE = dict(n=150, seed=4, irrelevant_rate=1.0, irrelevant_task_rate=1.0, procedural_rate=0.5,
            procedural_split="train", procedural_seed=0, mask_rate=0.1, description_style_rate=0.3)


@pytest.fixture(scope="module")
def records():
    return generate(SynthConfig(**BASE))


def _words(name: str) -> set[str]:
    """The words of a tool name: snake_case, camelCase, dotted."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w}


def test_every_task_is_a_null_target_with_a_reply_that_answers_it(records):
    assert all("irrelevant_task" in r["meta"]["augmentations"] for r in records)
    kinds = {r["meta"]["template"].split("_")[1].rstrip("0123456789") for r in records}
    assert {"fact", "howto"} <= kinds and len(kinds) > 8  # facts, how-tos and many computations
    for r in records:
        parse_example(r)
        assert r["target"] is None and r["meta"]["tool"] is None and r["meta"]["domain"] == tasks.TASK_DOMAIN
        assert r["target_content"] and 1 <= len(r["tools"]) <= 3
    computed = [r for r in records if r["meta"]["template"].startswith("task_digit_sum")]
    assert computed
    for r in computed:  # the reply's number is the sum of the request's digits
        digits = re.search(r"\d{3,}", r["instruction"]).group()
        assert r["target_content"].endswith(f" = {sum(map(int, digits))}.")


def test_a_computation_is_offered_tools_that_take_numbers(records):
    compute = [r for r in records if not r["meta"]["template"].startswith(("task_fact", "task_howto"))]
    hand = [r for r in compute if "procedural" not in r["meta"]["augmentations"]]
    assert len(hand) > 10
    for r in hand:
        assert all(tasks.takes_numbers(HAND[name]) for name in r["meta"]["tools"]), r["meta"]["tools"]


@pytest.mark.parametrize("name,values,answer", [
    ("percent_of", {"p": 15, "x": 200}, "is 30."),
    ("sum_to_n", {"n": 100}, "= 5,050."),
    ("third_angle", {"a": 60, "b": 70}, "third is 50°."),
    ("ellipse", {"a": 3, "b": 2}, "≈ 18.85."),
    ("bill_split", {"x": 100, "n": 3}, "$33.33."),
    ("average_speed", {"d": 135, "t": 7}, "= 19.29 km/h."),
    ("power", {"a": 2, "b": 10, "bth": "10th"}, "is 1,024."),
])
def test_computed_replies_are_right(name, values, answer):
    reply = next(r for n, _, _, r in tasks.COMPUTATIONS if n == name)
    assert reply(values).endswith(answer)


def test_no_catalogue_tool_is_named_for_a_task():
    """A tool named for a task's subject could serve it, and its null target would be wrong."""
    names = set(HAND)
    for split in SPLITS:
        for seed in (0, 1):
            names |= {t.name for t in composed_catalogue(seed, split).tools}
    clashes = {n for n in names if _words(n) & set(tasks.SUBJECTS)}
    assert not clashes
    assert _words("calculate_tip_amount") & set(tasks.SUBJECTS)  # the check would see such a tool


def test_no_task_is_worded_like_a_bfcl_case():
    """BFCL is evaluation data only: no task template shares a run of four words holding a long word (7+ letters,
    not a frame such as "what is the area of") with a BFCL irrelevance question."""
    load_category = pytest.importorskip("calltune.bfcl").load_category
    pytest.importorskip("bfcl_eval")

    def runs(text: str) -> set[tuple]:
        words = re.findall(r"[a-z0-9]+", text.lower())
        return {tuple(words[i:i + 4]) for i in range(len(words) - 3) if any(len(w) >= 7 for w in words[i:i + 4])}

    bfcl = set().union(*(runs(r["instruction"]) for r in load_category("irrelevance")))
    mine = [t for _, requests, _, _ in tasks.COMPUTATIONS for t in requests] + [q for q, _ in tasks.FACTS + tasks.HOWTOS]
    assert not {t: runs(t) & bfcl for t in mine if runs(t) & bfcl}
    assert runs("What is the largest planet in the universe?") & bfcl  # the check sees a copied question


def test_nothing_is_a_task_at_rate_zero():
    records = generate(SynthConfig(**BASE | {"irrelevant_task_rate": 0.0}))
    assert not any("irrelevant_task" in r["meta"]["augmentations"] for r in records)
    assert any("irrelevant" in r["meta"]["augmentations"] for r in records)


# Tasks with a tool that performs them (`tasks.task_tool`, the generator's `task_call_rate`).

CALLS = dict(n=200, seed=6, irrelevant_rate=0.3, irrelevant_task_rate=1.0, task_call_rate=0.6, procedural_rate=0.5,
             procedural_split="train", procedural_seed=0, mask_rate=0.1, description_style_rate=0.3)


@pytest.fixture(scope="module")
def with_calls():
    return generate(SynthConfig(**CALLS))


def test_every_task_tool_call_is_read_off_its_request():
    rng = __import__("random").Random(0)
    seen = set()
    for _ in range(2000):
        template_id, request, tool, args = tasks.task_tool(rng)
        assert template_id.startswith("call_task_") and tool.domain == tasks.TASK_DOMAIN
        assert check_call(tool, request, args).ok, (request, args)
        seen.add(tool.name)
    # every computation's tool, the fact lookups (two are shared by two facts), the reference search, the guides
    assert len(seen) == len(tasks.COMPUTE_TOOLS) + len({t[0] for t in tasks.FACT_TOOLS}) + 2


def test_task_calls_call_the_offered_task_tool_with_the_requests_words(with_calls):
    calls = [r for r in with_calls if "task_call" in r["meta"]["augmentations"]]
    assert len(calls) > 40
    for r in calls:
        parse_example(r)
        offered = {t["function"]["name"]: t for t in r["tools"]}
        assert r["target"]["name"] in offered and r["meta"]["domain"] == tasks.TASK_DOMAIN
        assert r["meta"]["tool"] in r["meta"]["tools"] and r["meta"]["template"].startswith("call_task_")
        for value in r["target"]["arguments"].values():
            assert isinstance(value, (int, float)) or value in r["instruction"], (r["instruction"], value)
    assert any("distractors" in r["meta"]["augmentations"] for r in calls)
    assert {r["meta"]["tool"] for r in calls} >= {"search_how_to_guides", "reference_search", "sum_of_digits"}


def test_the_same_tasks_are_calls_with_a_tool_and_text_without(with_calls):
    """The contrast the option is for: a task's template is a call when its tool is offered, else a reply."""
    called = {r["meta"]["template"].removeprefix("call_") for r in with_calls if "task_call" in r["meta"]["augmentations"]}
    answered = {r["meta"]["template"] for r in with_calls if "irrelevant_task" in r["meta"]["augmentations"]}
    assert len(called & answered) > 10
    for r in with_calls:
        if "irrelevant_task" in r["meta"]["augmentations"]:  # never offered a task's tool
            assert not set(r["meta"]["tools"]) & TASK_TOOL_NAMES


def test_no_task_tool_is_a_bfcl_function():
    pytest.importorskip("bfcl_eval")
    from calltune.overlap import benchmark_overlap
    records = generate(SynthConfig(n=600, seed=5, task_call_rate=1.0, irrelevant_rate=0.0, rename_rate=0.0,
                                   distractor_rate=0.0))
    assert {r["meta"]["tool"] for r in records} == TASK_TOOL_NAMES
    report = benchmark_overlap([parse_example(r) for r in records])
    assert report.tools == {"name": 0, "normalized_name": 0, "params": 0}, report.matches



# Tasks offered a tool of their own topic that does something else (`tasks.sibling`, `task_near_miss_rate`).

SIBLING_NAMES = ({t[0] for t in tasks.COMPUTE_SIBLINGS.values()} | {t[0] for t in tasks.FACT_SIBLINGS}
                 | {tasks.HOWTO_SIBLING[0]})


def _sibling_of(template: str) -> str:
    """The sibling's name for an irrelevant task's template id (task_cube1, task_fact3, task_howto0)."""
    body = template.removeprefix("task_").rstrip("0123456789")
    index = int(template[len("task_") + len(body):] or 0)
    if body == "fact":
        return tasks.FACT_SIBLINGS[index][0]
    return tasks.HOWTO_SIBLING[0] if body == "howto" else tasks.COMPUTE_SIBLINGS[body][0]


def test_every_task_has_a_sibling_that_is_not_its_tool():
    assert set(tasks.COMPUTE_SIBLINGS) == {name for name, *_ in tasks.COMPUTATIONS}
    assert len(tasks.FACT_SIBLINGS) == len(tasks.FACTS) and len(SIBLING_NAMES) == len(tasks.FACTS) + 15
    assert not SIBLING_NAMES & TASK_TOOL_NAMES and not SIBLING_NAMES & set(HAND)


def test_task_near_misses_offer_the_tasks_sibling_and_answer_in_text():
    records = generate(SynthConfig(**BASE | {"task_near_miss_rate": 0.5}))
    near = [r for r in records if "task_near_miss" in r["meta"]["augmentations"]]
    assert 40 < len(near) < 110
    for r in records:
        parse_example(r)
        offered = set(r["meta"]["tools"]) & SIBLING_NAMES
        if r in near:
            assert offered == {_sibling_of(r["meta"]["template"])} and 1 <= len(r["tools"]) <= 3
            assert r["target"] is None and r["target_content"]
        else:
            assert not offered
    assert any(len(r["tools"]) == 1 for r in near)  # the sibling alone, as a near miss often comes


def test_no_sibling_is_a_bfcl_function():
    pytest.importorskip("bfcl_eval")
    from calltune.overlap import benchmark_overlap
    records = generate(SynthConfig(**BASE | {"n": 400, "task_near_miss_rate": 1.0, "rename_rate": 0.0,
                                              "mask_rate": 0.0, "procedural_rate": 0.0}))
    assert {n for r in records for n in r["meta"]["tools"]} & SIBLING_NAMES == SIBLING_NAMES
    report = benchmark_overlap([parse_example(r) for r in records])
    assert report.tools == {"name": 0, "normalized_name": 0, "params": 0}, report.matches
