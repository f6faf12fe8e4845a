"""`calltune serve --num-beams K`: each answer is the one `calltune predict --num-beams K` gives, whole or
streamed, with or without an abstention margin (tiny random GPT-2, the real `openai` client)."""

from __future__ import annotations

import argparse
import json

import pytest
from serve_helpers import TOOLS
from test_serve_abstain import HUGE, ROWS, ask, decode, health, serving
from test_serve_api import check_calls, reassemble

from calltune.cli import main
from calltune.errors import CalltuneError
from calltune.examples import load_examples, load_predictions
from calltune.predict import PredictConfig, run_predict
from calltune.serve.config import EngineConfig, add_arguments, from_args
from calltune.serve.engine import Engine, Failed, Finished

BEAMS = 3


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def loaded(tiny_gpt2):
    from calltune.models import load_model

    return load_model(tiny_gpt2)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("serve-beam") / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return str(path)


@pytest.mark.parametrize("margin,penalty,distinct", [(None, 0.0, False), (-HUGE, 0.0, False), (None, 1.0, False),
                                                     (-HUGE, 0.0, True)])
def test_served_beams_are_predicts(loaded, data, tmp_path, margin, penalty, distinct):
    """Seven requests (every tool_choice; auto ones weighed under the margin) decoded together by the engine's
    beam search: predict's answers with the same beams, length penalty and distinct calls, byte for byte, and
    predict's branch log-odds."""
    model, tokenizer, _ = loaded
    cfg = PredictConfig(data=data, out=str(tmp_path / "pred.jsonl"), model="tiny", prompt_style="hermes",
                        decoding="constrained", max_new_tokens=40, abstain_margin=margin, num_beams=BEAMS,
                        length_penalty=penalty, distinct_calls=distinct)
    run_predict(cfg, loaded=loaded, progress=False)
    preds = load_predictions(cfg.out)
    examples = load_examples(data)
    requests = [(ex.conversation(), ex.tools, *cfg.choice_for(ex)) for ex in examples]
    engine = Engine(model, tokenizer, EngineConfig(abstain_margin=margin, num_beams=BEAMS, length_penalty=penalty,
                                                   distinct_calls=distinct))
    served = decode(engine, requests)
    assert [e.text for e in served] == [p.raw for p in preds]
    greedy = decode(Engine(model, tokenizer, EngineConfig(abstain_margin=margin)), requests)
    assert [e.text for e in served] != [e.text for e in greedy]  # the beams do change answers here
    assert engine.counts["steps"] > 0 and engine.counts["finished"] == len(requests)
    assert engine.counts["completion_tokens"] == sum(e.completion_tokens for e in served)
    for event, pred in zip(served, preds):
        assert event.log_odds == (None if pred.log_odds is None else pytest.approx(pred.log_odds, abs=1e-4))
        assert event.end_token == (event.finish_reason == "stop")
        assert event.prompt_tokens > 0 and event.cached_tokens == 0
    if margin is not None:
        assert engine.counts["abstain_decided"] == 4  # the auto requests with tools


def test_a_job_cancelled_during_the_search_gets_no_answer(loaded, monkeypatch):
    import calltune.beam

    search = calltune.beam.beam_search
    jobs = []

    def cancelling(*args, **kwargs):
        answers = search(*args, **kwargs)
        jobs[0].cancel()
        return answers

    monkeypatch.setattr(calltune.beam, "beam_search", cancelling)
    engine = Engine(*loaded[:2], EngineConfig(num_beams=BEAMS))
    events: list[list] = [[], []]
    for question, got in zip(("Weather in Oslo?", "Time in Rome?"), events):
        prepared = engine.prepare([{"role": "user", "content": question}], [], "auto", True, 8)
        jobs.append(engine.submit(prepared, got.append))
    engine.step()  # one search: both jobs share the budget
    assert isinstance(events[0][0], Failed) and events[0][0].kind == "cancelled"
    assert isinstance(events[1][0], Finished)


def test_the_openai_client_gets_the_beams_answer_whole_or_streamed(loaded):
    with serving(*loaded[:2], -HUGE, num_beams=BEAMS) as (client, url):
        choice = ask(client).choices[0]
        calls = check_calls(choice.message)  # each call's arguments obey its tool's schema
        assert calls and choice.finish_reason == "tool_calls"
        content, streamed, finish, usage = reassemble(ask(client, stream=True,
                                                          stream_options={"include_usage": True}))
        assert (content, streamed, finish) == (None, [(c.function.name, c.function.arguments) for c in calls],
                                               "tool_calls")
        assert usage.completion_tokens == ask(client).usage.completion_tokens
        forced = ask(client, tool_choice="required", tools=TOOLS[1:]).choices[0]
        assert [c.function.name for c in check_calls(forced.message)] == ["get_time"] * len(forced.message.tool_calls)
        stats = health(url)
        assert stats["num_beams"] == BEAMS and stats["finished"] == 4 and stats["length_penalty"] == 0.0
        assert stats["distinct_calls"] is False


def test_the_option(capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert from_args(parser.parse_args(["--num-beams", "4"])).engine.num_beams == 4
    assert from_args(parser.parse_args([])).engine.num_beams == 1  # default: greedy
    assert "--num-beams K" in parser.format_help()
    for bad in (0, -2, 1.5, True):
        with pytest.raises(CalltuneError, match="--num-beams"):
            EngineConfig(num_beams=bad)
    assert main(["serve", "--num-beams", "0"]) == 2  # before loading any model
    assert capsys.readouterr().err.startswith("error: --num-beams")
    assert from_args(parser.parse_args(["--num-beams", "4", "--length-penalty", "1"])).engine.length_penalty == 1.0
    assert "--length-penalty A" in parser.format_help()
    for bad in (float("nan"), float("inf"), "1"):
        with pytest.raises(CalltuneError, match="--length-penalty"):
            EngineConfig(num_beams=2, length_penalty=bad)
    assert main(["serve", "--length-penalty", "1"]) == 2  # without beams: before loading any model
    assert "--num-beams" in capsys.readouterr().err
    assert from_args(parser.parse_args(["--num-beams", "4", "--distinct-calls"])).engine.distinct_calls is True
    assert from_args(parser.parse_args(["--num-beams", "4"])).engine.distinct_calls is False
    with pytest.raises(CalltuneError, match="--distinct-calls"):
        EngineConfig(num_beams=2, distinct_calls=1)
    assert main(["serve", "--distinct-calls"]) == 2  # without beams: before loading any model
    assert "--num-beams" in capsys.readouterr().err
