"""Irrelevant requests that are tasks of their own (`tasks.py`, the generator's `irrelevant_task_rate`): a
computation, a fact or a how-to, offered tools that cannot serve it; a null target and a reply that answers."""

import re

import pytest

from calltune.examples import parse_example
from calltune.synth import tasks
from calltune.synth.catalogue import all_tools
from calltune.synth.composer import SPLITS, composed_catalogue
from calltune.synth.generator import SynthConfig, generate

HAND = {t.name: t for t in all_tools()}
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
