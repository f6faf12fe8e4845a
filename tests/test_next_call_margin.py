"""The next-call margin of constrained decoding (`ToolCallConstraint._weigh_calls`, `calltune predict
--next-call-margin`, `calltune serve --next-call-margin`): after each hermes call block, log p(another)
+ M > log p(end) decides whether the answer opens another."""

from __future__ import annotations

import json

import pytest

from calltune.cli import main
from calltune.errors import CalltuneError
from calltune.examples import load_predictions
from calltune.predict import PredictConfig, _fingerprint, run_predict
from calltune.serve.config import EngineConfig

TOOL = {"type": "function", "function": {
    "name": "get_forecast", "description": "Forecast for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "enum": ["Oslo", "Rome"]}},
                   "required": ["city"]}}}
ROWS = [{"id": f"r{i}", "instruction": text, "tools": [TOOL], "tool_choice": "required",
         "target": [{"name": "get_forecast", "arguments": {"city": "Oslo"}},
                    {"name": "get_forecast", "arguments": {"city": "Rome"}}]}
        for i, text in enumerate(["Forecast for Oslo and Rome?", "Oslo, then Rome.", "Weather in both cities",
                                  "Rome please"])]
HUGE = 1e6
BUDGET = 160


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("next_call") / "forecast.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return str(path)


def _predict(data, out, tiny_loaded, margin, engine=None, parallel=None) -> dict:
    cfg = PredictConfig(data=data, out=str(out), model="tiny", prompt_style="hermes", decoding="constrained",
                        max_new_tokens=BUDGET, next_call_margin=margin, engine=engine,
                        parallel_tool_calls=parallel)
    run_predict(cfg, loaded=tiny_loaded, progress=False)
    return {p.id: p for p in load_predictions(str(out))}


@pytest.fixture(scope="module")
def runs(data, tiny_loaded, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("runs")
    return {name: _predict(data, out / f"{name}.jsonl", tiny_loaded, margin)
            for name, margin in (("base", None), ("zero", 0.0), ("more", HUGE), ("end", -HUGE))}


def _counts(preds: dict) -> list[int]:
    return [len(p.calls) for p in preds.values()]


def _weighed(stop_score: float, other_score: float, margin: float) -> list[int]:
    """The tokens `_weigh_calls` leaves possible in a 6-token vocabulary: 0 and 1 are stop tokens, 5 is
    masked out, the rest may begin another call (3 the best of them)."""
    import torch

    from calltune.constrain import RowConstraint, ToolCallConstraint

    constraint = object.__new__(ToolCallConstraint)
    constraint.stop_ids = [0, 1]
    row = RowConstraint(None, 4, chat=True, next_call_margin=margin)
    row.recent = '{"city": "Oslo"}}\n</tool_call>'
    scores = torch.tensor([[stop_score - 1, stop_score, other_score - 2, other_score, other_score - 3,
                            float("-inf")]])
    constraint._weigh_calls(row, scores, 0)
    return [i for i in range(6) if scores[0, i] > float("-inf")]


def test_the_rule_compares_the_best_token_of_each_kind():
    """Only the chosen token stays, also where it is the model's first choice (greedy takes it anyway; a beam,
    which would keep the other kind too, is held to the choice: since session 51)."""
    assert _weighed(-1.0, -3.0, 0.5) == [1]  # greedy would end and the margin agrees: the best stop token
    assert _weighed(-1.0, -3.0, 2.5) == [3]  # -3 + 2.5 > -1: the best token of another call
    assert _weighed(-3.0, -1.0, -2.5) == [1]  # -1 - 2.5 < -3: the best stop token
    assert _weighed(-3.0, -1.0, -1.5) == [3]  # greedy would go on and still does
    assert _weighed(-1.0, -3.0, 0.0) == [1] and _weighed(-3.0, -1.0, 0.0) == [3]  # M = 0: the model's own choice


def test_the_rule_acts_only_after_a_closed_call_block_and_outside_the_closing_margin():
    from calltune.constrain import RowConstraint, ToolCallConstraint

    class Matcher:
        def is_stopped(self):
            return False

        def is_error(self):
            return False

        def is_accepting(self):
            return True

    row = RowConstraint(Matcher(), 4, chat=True, next_call_margin=1.0)
    row.recent = "</tool_call>"
    assert ToolCallConstraint._weighs_calls(row, 5) and not ToolCallConstraint._weighs_calls(row, 4)
    row.recent = "a text answer"
    assert not ToolCallConstraint._weighs_calls(row, 50)
    row.recent, row.chat = "</tool_call>", False
    assert not ToolCallConstraint._weighs_calls(row, 50)


def test_huge_margins_make_one_call_or_as_many_as_the_budget_allows(runs, tiny_loaded):
    assert _counts(runs["end"]) == [1] * len(ROWS)
    more = _counts(runs["more"])
    # the tiny random model already goes on after every call (as many as fit): -M is what changes it
    assert min(more) >= 2 and all(m >= b for m, b in zip(more, _counts(runs["base"])))
    assert _counts(runs["base"]) != _counts(runs["end"])
    # however many calls, each answer still ends within its budget as a valid one: the margin stays out
    # of the closing margin, where a row that has closed a block stops
    tokenizer = tiny_loaded[1]
    for p in runs["more"].values():
        assert p.error is None and p.raw.rstrip().endswith("</tool_call>")
        assert len(tokenizer(p.raw)["input_ids"]) <= BUDGET


def test_no_margin_is_greedy_and_zero_changes_only_ties(runs):
    assert [p.raw for p in runs["base"].values()] == [p.raw for p in runs["zero"].values()]


def test_engine_and_batches_of_generate_agree(data, tiny_loaded, runs, tmp_path):
    for name, margin in (("more", HUGE), ("end", -HUGE)):
        generated = _predict(data, tmp_path / f"{name}.jsonl", tiny_loaded, margin, engine=False)
        assert [p.raw for p in generated.values()] == [p.raw for p in runs[name].values()], name


def test_beams_are_held_to_the_choice(data, tiny_loaded, tmp_path):
    """Under --num-beams the choice after each call is the margin's, per beam: M = -HUGE ends every answer after
    its first call (a beam that kept the other token too would go on where the model prefers to), and M = 0,
    the model's next-token choice there, answers otherwise than no margin, whose beams weigh whole answers."""
    def beams(name, margin):
        cfg = PredictConfig(data=data, out=str(tmp_path / f"{name}.jsonl"), model="tiny", prompt_style="hermes",
                            decoding="constrained", max_new_tokens=BUDGET, next_call_margin=margin, num_beams=3)
        run_predict(cfg, loaded=tiny_loaded, progress=False)
        return {p.id: p for p in load_predictions(cfg.out)}

    assert _counts(beams("end", -HUGE)) == [1] * len(ROWS)
    zero, free = beams("zero", 0.0), beams("free", None)
    assert all(p.error is None for p in [*zero.values(), *free.values()])
    assert [p.raw for p in zero.values()] != [p.raw for p in free.values()]


def test_without_parallel_calls_there_is_nothing_to_weigh(data, tiny_loaded, tmp_path):
    single = _predict(data, tmp_path / "single.jsonl", tiny_loaded, HUGE, parallel=False)
    assert _counts(single) == [1] * len(ROWS)


def test_margin_is_part_of_the_fingerprint(data):
    cfgs = [PredictConfig(data=data, out="x", prompt_style="hermes", decoding="constrained", next_call_margin=m)
            for m in (None, 1.0, 2.0)]
    assert len({_fingerprint(cfg, "m", ["p"]) for cfg in cfgs}) == 3  # a resumed run never mixes margins
    # the optional-argument margin's entry is a different one: the two never read as each other
    assert _fingerprint(PredictConfig(data=data, out="x", prompt_style="hermes", decoding="constrained",
                                      optional_margin=1.0), "m", ["p"]) != _fingerprint(cfgs[1], "m", ["p"])


def test_option_errors(data, tmp_path, tiny_gpt2, capsys):
    for kwargs, message in [({"next_call_margin": float("nan")}, "--next-call-margin must be a finite number"),
                            ({"next_call_margin": 1.0, "decoding": "greedy"}, "--decoding constrained"),
                            ({"next_call_margin": 1.0, "prompt_style": "paper"}, "--prompt-style hermes")]:
        with pytest.raises(CalltuneError, match=message):
            PredictConfig(**{"data": data, "out": "x", "prompt_style": "hermes", "decoding": "constrained",
                             **kwargs})
    with pytest.raises(CalltuneError, match="--next-call-margin weighs another call"):
        EngineConfig(decoding="greedy", next_call_margin=1.0)
    base = ["predict", "--data", data, "--out", str(tmp_path / "p.jsonl"), "--model", tiny_gpt2,
            "--prompt-style", "hermes", "--decoding", "constrained", "--no-progress"]
    assert main(base + ["--next-call-margin", "inf"]) == 2
    assert capsys.readouterr().err.startswith("error: --next-call-margin must be a finite number")
    assert main(["predict", "--data", data, "--out", str(tmp_path / "p.jsonl"), "--model", tiny_gpt2,
                 "--prompt-style", "paper", "--decoding", "constrained", "--no-progress",
                 "--next-call-margin", "1"]) == 2
    assert "--next-call-margin" in capsys.readouterr().err
    assert not (tmp_path / "p.jsonl").exists()


def test_serve_engine_carries_the_margin(tiny_loaded):
    from calltune.examples import Tool
    from calltune.serve.engine import Engine

    model, tokenizer = tiny_loaded[0], tiny_loaded[1]
    engine = Engine(model, tokenizer, EngineConfig(decoding="constrained", next_call_margin=1.5))
    assert engine.grammars.next_call_margin == 1.5 and engine.stats()["next_call_margin"] == 1.5
    tool = Tool("get_forecast", "", TOOL["function"]["parameters"])
    prepared = engine.prepare([{"role": "user", "content": "Forecast?"}], [tool], "required", True)
    assert prepared.constraint.next_call_margin == 1.5
