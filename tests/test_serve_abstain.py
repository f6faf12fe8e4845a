"""`calltune serve --abstain-margin`: a request under tool_choice auto with tools takes the branch
`calltune predict --abstain-margin` takes (`abstain.py`), whole or streamed; other tool choices and
greedy decoding are untouched or refused (tiny random GPT-2, the real `openai` client)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import urllib.request

import openai
import pytest
import torch
from serve_helpers import TOOLS, running
from test_serve_api import check_calls, reassemble

from calltune.abstain import branch_logprobs
from calltune.cli import main
from calltune.errors import CalltuneError
from calltune.examples import load_examples, load_predictions, parse_tool
from calltune.predict import PredictConfig, run_predict
from calltune.serve.api import create_app
from calltune.serve.config import EngineConfig, ServeConfig, add_arguments, from_args
from calltune.serve.engine import AfterPrefix, Engine, Finished

HUGE = 1e6
USER = [{"role": "user", "content": "What is the weather in Oslo?"}]
NAMED = {"type": "function", "function": {"name": "get_time"}}
TOOL_OBJECTS = [parse_tool(t, (None, None), f"tools[{i}]") for i, t in enumerate(TOOLS)]
# predict's examples: auto with calls in mind and without, different tools; then the other choices
ROWS = [
    {"id": "weather", "instruction": "Weather in Oslo?", "tools": TOOLS},
    {"id": "time", "instruction": "What time is it in Rome right now, please?", "tools": TOOLS[1:]},
    {"id": "joke", "instruction": "Tell me a joke about the sea.", "tools": TOOLS},
    {"id": "table", "instruction": "Book me a table for two.", "tools": TOOLS[:1]},
    {"id": "required", "instruction": "Weather in Rome?", "tools": TOOLS, "tool_choice": "required"},
    {"id": "none", "instruction": "Say hello.", "tools": TOOLS, "tool_choice": "none"},
    {"id": "named", "instruction": "Time in Oslo?", "tools": TOOLS, "tool_choice": NAMED,
     "parallel_tool_calls": False},
]
AUTO = ["weather", "time", "joke", "table"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def loaded(tiny_gpt2):
    from calltune.models import load_model

    return load_model(tiny_gpt2)


@pytest.fixture(scope="module")
def eager(tiny_gpt2):
    """The tiny model, but ending its turn as soon as the grammar lets it (its end token's logit
    raised by 100): a random model's text runs to its budget, this one's text stops."""
    from calltune.models import load_model

    model, tokenizer, _ = load_model(tiny_gpt2)
    boost = torch.zeros(model.config.vocab_size)
    boost[tokenizer.eos_token_id] = 100.0
    model.get_output_embeddings().register_forward_hook(lambda module, args, logits: logits + boost)
    return model, tokenizer


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("serve-abstain") / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return str(path)


@contextlib.contextmanager
def serving(model, tokenizer, margin, **config):
    """(openai client, base URL) of a server with this margin (None: without one) and other engine settings."""
    engine = Engine(model, tokenizer, EngineConfig(abstain_margin=margin, **config))
    engine.start()
    try:
        with running(create_app(engine, ServeConfig())) as url:
            yield openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=120), url
    finally:
        engine.stop()


@pytest.fixture(scope="module")
def plain(loaded):
    with serving(*loaded[:2], None) as server:
        yield server


@pytest.fixture(scope="module")
def calling(loaded):
    with serving(*loaded[:2], -HUGE) as server:
        yield server


@pytest.fixture(scope="module")
def texting(eager):
    with serving(*eager, HUGE) as server:
        yield server


def ask(client, **kwargs):
    kwargs = {"tools": TOOLS, "max_tokens": 60, **kwargs}
    return client.chat.completions.create(model="calltune", messages=USER, **kwargs)


def health(url: str) -> dict:
    with urllib.request.urlopen(url + "/health", timeout=60) as response:
        return json.load(response)


def decode(engine: Engine, requests: list, stagger: int = 0) -> list[Finished]:
    """Submit `(messages, tools, tool_choice, parallel)` requests, `stagger` decode steps apart, with
    a budget of 40 tokens; step the engine until each has its final event."""
    done: list[list] = [[] for _ in requests]
    for request, events in zip(requests, done):
        engine.submit(engine.prepare(*request, 40), events.append)
        for _ in range(stagger):
            engine.step()
    while not all(done):
        engine.step()
    assert all(isinstance(events[0], Finished) for events in done)
    return [events[0] for events in done]


# ---- over HTTP, with the openai client -----------------------------------------------------------

def test_a_huge_margin_answers_in_text(texting):
    client, url = texting
    choice = ask(client).choices[0]  # tool_choice auto with tools: the margin weighs the branches
    assert choice.message.content and choice.message.tool_calls is None and choice.finish_reason == "stop"
    content, calls, finish, _ = reassemble(ask(client, stream=True))  # a stream takes the same branch
    assert (content, calls, finish) == (choice.message.content, [], "stop")
    forced = ask(client, tool_choice="required").choices[0]  # required: no choice for the margin to make
    assert check_calls(forced.message) and forced.finish_reason == "tool_calls"
    stats = health(url)
    assert stats["abstain_margin"] == HUGE and stats["abstain_decided"] == stats["abstained"] == 2


def test_a_hugely_negative_margin_calls(calling, plain):
    unweighed = ask(plain[0]).choices[0]
    assert unweighed.message.content and unweighed.message.tool_calls is None  # greedy picks text here
    choice = ask(calling[0]).choices[0]
    calls = check_calls(choice.message)  # each call's arguments obey its tool's schema
    assert calls and choice.message.content is None and choice.finish_reason == "tool_calls"
    content, streamed, finish, _ = reassemble(ask(calling[0], stream=True))
    assert (content, streamed, finish) == (None, [(c.function.name, c.function.arguments) for c in calls],
                                           "tool_calls")
    stats = health(plain[1])
    assert stats["abstain_margin"] is None and "abstain_decided" not in stats  # no margin: nothing weighed


@pytest.mark.parametrize("kwargs", [{"tool_choice": "required"}, {"tool_choice": "none"},
                                    {"tool_choice": NAMED, "parallel_tool_calls": False}, {"tools": []}])
def test_other_choices_ignore_the_margin(calling, plain, kwargs):
    def answer(client):
        message = ask(client, **kwargs).choices[0]
        return message.message.content, [(c.function.name, c.function.arguments)
                                         for c in message.message.tool_calls or []], message.finish_reason

    assert answer(calling[0]) == answer(plain[0])


# ---- the engine: as predict decides and decodes --------------------------------------------------

def test_served_answers_are_predicts_with_the_same_margin(loaded, data, tmp_path):
    """A margin between the auto examples' call log-odds sends two to text and two to calls; served
    (together, staggered, and again from the prefix cache) every answer is predict's, byte for byte,
    and the weighing on the prefilled prompt (`AfterPrefix`) gives predict's branch probabilities."""
    from transformers import DynamicCache

    from calltune.constrain import GrammarCache
    from calltune.prompts import render_prompt
    from calltune.serve.kv_batch import layers_of

    model, tokenizer, _ = loaded
    examples = load_examples(data)
    grammars = GrammarCache(tokenizer, model.get_output_embeddings().weight.shape[0])
    odds = {}
    with torch.inference_mode():
        for ex in examples[:len(AUTO)]:
            row = grammars.chat_row(ex.tools, "auto", True, 0.0)
            enc = tokenizer([render_prompt(ex, "hermes", tokenizer)], return_tensors="pt", add_special_tokens=False)
            [whole] = branch_logprobs(model, tokenizer, enc, [row])
            ids = enc["input_ids"]
            cache = DynamicCache()
            model(input_ids=ids[:, :-1], past_key_values=cache, use_cache=True)
            after = AfterPrefix(model, layers_of(cache), ids.shape[1] - 1)
            [served] = branch_logprobs(after, tokenizer, enc, [row])
            assert (served.log_text, served.log_call) == pytest.approx((whole.log_text, whole.log_call), abs=1e-4)
            assert served.greedy_calls == whole.greedy_calls
            odds[ex.id] = whole.log_odds
    ranked = sorted(odds.values())
    margin = (ranked[1] + ranked[2]) / 2
    assert ranked[2] - ranked[1] > 1e-3 and math.isfinite(margin)  # float noise cannot flip a decision
    cfg = PredictConfig(data=data, out=str(tmp_path / "pred.jsonl"), model="tiny", prompt_style="hermes",
                        decoding="constrained", max_new_tokens=40, abstain_margin=margin)
    stats = run_predict(cfg, loaded=loaded, progress=False)
    preds = load_predictions(cfg.out)
    requests = [(ex.conversation(), ex.tools, *cfg.choice_for(ex)) for ex in examples]
    engine = Engine(model, tokenizer, EngineConfig(abstain_margin=margin))
    together = decode(engine, requests)
    staggered = decode(engine, requests, stagger=2)  # every prompt comes from the prefix cache now
    assert [e.text for e in together] == [e.text for e in staggered] == [p.raw for p in preds]
    assert staggered[0].cached_tokens == staggered[0].prompt_tokens - 1
    assert (stats["abstain_decided"], stats["abstained"]) == (4, 2)
    assert (engine.counts["abstain_decided"], engine.counts["abstained"]) == (8, 4)
    texts = {p.id: not p.calls for p in preds if p.id in odds}
    assert texts == {pid: value <= margin for pid, value in odds.items()}  # text iff the log-odds are <= M
    for ex, event in zip(examples, together):  # each answer carries the log-odds it was decided by
        assert event.log_odds == (pytest.approx(odds[ex.id], abs=1e-4) if ex.id in odds else None)


def test_a_margin_leaves_other_choices_byte_identical(loaded):
    def requests(tool_choice, parallel=True, tools=TOOL_OBJECTS):
        return [([{"role": "user", "content": q}], tools, tool_choice, parallel)
                for q in ("Weather in Oslo?", "Tell me a joke.")]

    other = (requests("required") + requests("none") + requests(NAMED, False)
             + requests("auto", tools=[]))  # no tools offered: nothing to weigh
    unweighed = [e.text for e in decode(Engine(*loaded[:2], EngineConfig()), other)]
    for margin in (HUGE, -HUGE):
        engine = Engine(*loaded[:2], EngineConfig(abstain_margin=margin))
        assert [e.text for e in decode(engine, other)] == unweighed
        assert engine.counts["abstain_decided"] == 0


# ---- the option -----------------------------------------------------------------------------------

def test_the_option_and_where_it_is_refused(capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert from_args(parser.parse_args(["--abstain-margin=-2.5"])).engine.abstain_margin == -2.5
    assert from_args(parser.parse_args([])).engine.abstain_margin is None  # default: no weighing
    assert "log p(text) + M >= log p(call)" in " ".join(parser.format_help().split())
    assert EngineConfig(abstain_margin=2).abstain_margin == 2.0
    with pytest.raises(CalltuneError, match="--decoding constrained"):
        EngineConfig(decoding="greedy", abstain_margin=1.0)  # greedy has no branches to weigh
    for bad in (float("nan"), float("inf"), "1", True):
        with pytest.raises(CalltuneError, match="--abstain-margin must be a finite number"):
            EngineConfig(abstain_margin=bad)
    assert main(["serve", "--decoding", "greedy", "--abstain-margin", "2"]) == 2  # before loading any model
    err = capsys.readouterr().err
    assert err.startswith("error: --abstain-margin") and "--decoding greedy" in err
