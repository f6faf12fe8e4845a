"""The serving engine without HTTP (tiny random models): batched and continuously batched decoding
gives each request exactly what it gets alone, the prefix cache reuses prompts without changing
answers, constrained answers obey their schemas, cancelled and late requests free their slot."""

from __future__ import annotations

import jsonschema
import pytest
import torch
from serve_helpers import SCHEMAS, TOOLS

from calltune.chat.parse import parse_answer
from calltune.errors import CalltuneError
from calltune.examples import parse_tool
from calltune.serve.config import EngineConfig
from calltune.serve.engine import Engine, Failed, Finished, Progress, QueueFull
from calltune.serve.kv_batch import KVBatch, fill_holes
from calltune.serve.prefix_cache import common_prefix

TOOL_OBJECTS = [parse_tool(t, (None, None), f"tools[{i}]") for i, t in enumerate(TOOLS)]
REQUESTS = [  # (question, tool_choice, parallel)
    ("Weather in Oslo?", "auto", True),
    ("What time is it in Rome, and the weather there too, please?", "required", True),
    ("Tell me a joke.", "none", True),
    ("Time in Oslo", {"type": "function", "function": {"name": "get_time"}}, False),
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def loaded(tiny_gpt2):
    from calltune.models import load_model

    model, tokenizer, _ = load_model(tiny_gpt2)
    return model, tokenizer


def make_engine(loaded, **config) -> Engine:
    return Engine(*loaded, EngineConfig(**config))


def run(engine: Engine, requests, max_tokens: int = 40, stagger: int = 0, stream: bool = False) -> list:
    """Submit `requests` (all at once, or `stagger` decode steps apart) and step the engine until
    every one has its final event; returns those events (with the Progress texts when `stream`)."""
    events: dict[int, list] = {i: [] for i in range(len(requests))}
    for i, (question, choice, parallel) in enumerate(requests):
        prepared = engine.prepare([{"role": "user", "content": question}], TOOL_OBJECTS, choice, parallel, max_tokens)
        engine.submit(prepared, events[i].append, stream=stream)
        for _ in range(stagger):
            engine.step()
    while not all(e and isinstance(e[-1], (Finished, Failed)) for e in events.values()):
        engine.step()
    return [events[i] if stream else events[i][-1] for i in range(len(requests))]


@pytest.mark.parametrize("model", ["tiny_gpt2", "tiny_llama"])  # learned positions; rotary with grouped KV heads
def test_a_batch_and_late_joiners_get_what_each_request_gets_alone(model, request):
    from calltune.models import load_model

    loaded = load_model(request.getfixturevalue(model))[:2]
    alone = [run(make_engine(loaded, prefix_cache_mb=0), [r])[0] for r in REQUESTS]
    together = run(make_engine(loaded, prefix_cache_mb=0), REQUESTS)
    joining = run(make_engine(loaded, prefix_cache_mb=0), REQUESTS, stagger=3)  # each joins a running batch
    small = run(make_engine(loaded, prefix_cache_mb=0, max_batch_size=2), REQUESTS)  # waits for a free slot
    assert all(isinstance(e, Finished) for e in alone)
    assert [e.text for e in together] == [e.text for e in alone]
    assert [e.text for e in joining] == [e.text for e in alone]
    assert [e.text for e in small] == [e.text for e in alone]
    assert [(e.finish_reason, e.completion_tokens) for e in together] == \
        [(e.finish_reason, e.completion_tokens) for e in alone]


@pytest.mark.parametrize("model", ["tiny_gpt2", "tiny_llama"])
def test_constrained_answers_obey_tool_choice_and_schemas(model, request):
    from calltune.models import load_model

    engine = make_engine(load_model(request.getfixturevalue(model))[:2])
    for (_, choice, parallel), event in zip(REQUESTS, run(engine, REQUESTS, max_tokens=60)):
        parsed = parse_answer(event.text)
        assert parsed.error is None, event.text
        for call in parsed.calls:
            jsonschema.validate(call["arguments"], SCHEMAS[call["name"]])
        if choice == "none":
            assert not parsed.calls and event.text and "<tool_call>" not in event.text  # a text answer
        elif choice != "auto":
            assert parsed.calls and event.finish_reason == "stop"
        if isinstance(choice, dict):
            assert [c["name"] for c in parsed.calls] == ["get_time"]  # named, and at most one (parallel off)


def test_prefix_cache_reuses_prompts_and_keeps_answers(loaded):
    engine = make_engine(loaded)
    first = run(engine, REQUESTS[:1])[0]
    again = run(engine, REQUESTS[:1])[0]
    other = run(engine, REQUESTS[1:2])[0]  # same tools, another question
    assert first.cached_tokens == 0
    assert again.cached_tokens == again.prompt_tokens - 1  # all but the token fed with the first step
    assert again.text == first.text
    assert 0 < other.cached_tokens < other.prompt_tokens - 5  # the system and tools block, not the question
    assert other.text == run(make_engine(loaded, prefix_cache_mb=0), REQUESTS[1:2])[0].text
    stats = engine.prefix.stats()
    assert stats["hits"] == 2 and stats["reused_tokens"] == again.cached_tokens + other.cached_tokens
    assert stats["computed_tokens"] == (first.prompt_tokens - 1) + (other.prompt_tokens - 1 - other.cached_tokens)


def test_a_second_turn_reuses_the_first(loaded):
    engine = make_engine(loaded)
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    prepared = engine.prepare(messages, TOOL_OBJECTS, "required", False, 40)
    done = []
    engine.submit(prepared, done.append)
    while not done:
        engine.step()
    [entry] = engine.prefix.entries.values()  # the prompt's entry, superseded by the prompt with its answer
    assert len(entry.ids) == done[0].prompt_tokens + done[0].completion_tokens - 1  # all but the unfed end token
    assert list(entry.ids[:done[0].prompt_tokens]) == prepared.prompt_ids
    call = parse_answer(done[0].text).calls[0]
    turn2 = messages + [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": call}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"sky": "clear"}'}]
    prepared2 = engine.prepare(turn2, TOOL_OBJECTS, "auto", True, 20)
    second = []
    engine.submit(prepared2, second.append)
    while not second:
        engine.step()
    # the first prompt and the answer as the template renders it again: only the tool result is computed
    assert second[0].cached_tokens == common_prefix(entry.ids, prepared2.prompt_ids[:-1]) > done[0].prompt_tokens
    assert len(engine.prefix.entries) == 1  # the first turn's entry was superseded by the second's
    alone = make_engine(loaded, prefix_cache_mb=0)
    second_alone = []
    alone.submit(alone.prepare(turn2, TOOL_OBJECTS, "auto", True, 20), second_alone.append)
    while not second_alone:
        alone.step()
    assert second[0].text == second_alone[0].text


def test_finished_answers_are_stored_with_the_kv_of_their_tokens(loaded):
    """Rows decoded together (speculative steps leave masked holes between a row's columns) store
    their prompt and answer; each entry's KV is what one pass over its tokens computes."""
    from transformers import DynamicCache

    model, _ = loaded
    engine = make_engine(loaded)
    events = run(engine, REQUESTS, stagger=2)
    assert len(engine.prefix.entries) == len(REQUESTS)
    assert sorted(len(e.ids) for e in engine.prefix.entries.values()) == \
        sorted(e.prompt_tokens + e.completion_tokens - 1 for e in events)
    for entry in engine.prefix.entries.values():
        cache = DynamicCache()
        with torch.inference_mode():
            model(input_ids=torch.tensor([entry.ids]), past_key_values=cache, use_cache=True)
        for (k, v), layer in zip(entry.layers, cache.layers):
            assert torch.allclose(k, layer.keys, atol=1e-5) and torch.allclose(v, layer.values, atol=1e-5)


def test_streaming_progress_grows_to_the_answer(loaded):
    events = run(make_engine(loaded), REQUESTS[1:2], stream=True)[0]
    texts = [e.text for e in events if isinstance(e, Progress)]
    assert texts and all(b.startswith(a) for a, b in zip(texts, texts[1:]))
    assert events[-1].text.startswith(texts[-1]) and isinstance(events[-1], Finished)


def test_budget_ends_with_length(loaded):
    event = run(make_engine(loaded), [("Tell me a joke.", "none", True)], max_tokens=3)[0]
    assert event.finish_reason == "length" and event.completion_tokens == 3


def test_cancelled_and_late_requests_free_their_slot(loaded):
    engine = make_engine(loaded, max_queue=1)
    prepared = [engine.prepare([{"role": "user", "content": q}], TOOL_OBJECTS, c, p, 200) for q, c, p in REQUESTS]
    running, waiting = [], []
    job = engine.submit(prepared[0], running.append)
    with pytest.raises(QueueFull):
        engine.submit(prepared[1], waiting.append)
    engine.step()
    assert len(engine.rows) == 1 and not engine.queue
    queued = engine.submit(prepared[1], waiting.append)  # the queue has room again
    job.cancel()
    queued.cancel()
    engine.step()
    assert not engine.rows and not engine.queue
    assert [type(e) for e in running + waiting] == [Failed, Failed]
    assert running[0].kind == waiting[0].kind == "cancelled"
    late = []
    engine.submit(prepared[2], late.append, timeout=0.0)
    engine.step()
    assert late[0].kind == "timeout" and not engine.rows
    assert engine.stats()["failed"] == 3


def test_prepare_rejects_what_it_cannot_serve(loaded):
    engine = make_engine(loaded, max_prompt_tokens=50)
    with pytest.raises(CalltuneError, match="at most 50") as err:
        engine.prepare([{"role": "user", "content": "Weather in Oslo?"}], TOOL_OBJECTS)
    assert err.value.code == "context_length_exceeded"
    bad = parse_tool({"name": "f", "parameters": {"type": "object", "properties": {"a": {"not": {"type": "string"}}}}},
                     (None, None), "tools[0]")
    with pytest.raises(CalltuneError, match=r'"not"') as err:
        make_engine(loaded).prepare([{"role": "user", "content": "x"}], [bad])
    assert err.value.param == "tools[0].function.parameters" and err.value.code == "unsupported_schema"
    greedy = make_engine(loaded, decoding="greedy")  # nothing to enforce: the schema is only rendered
    assert greedy.prepare([{"role": "user", "content": "x"}], [bad]).constraint is None


@pytest.mark.parametrize("decoding", ["constrained", "greedy"])
def test_the_engine_answers_as_predict_decodes(loaded, decoding):
    """Parity with `calltune predict --prompt-style hermes` (`generate.generate_batch`): same prompt,
    same budget, same tokens."""
    from calltune.chat.render import render_text
    from calltune.constrain import GrammarCache
    from calltune.generate import generate_batch

    model, tokenizer = loaded
    engine = make_engine(loaded, decoding=decoding)
    served = run(engine, REQUESTS, max_tokens=60)  # constrained: one answer the budget makes stop early
    grammars = GrammarCache(tokenizer, model.get_output_embeddings().weight.shape[0])
    for (question, choice, parallel), event in zip(REQUESTS, served):
        prompt = render_text([{"role": "user", "content": question}], TOOL_OBJECTS, tokenizer,
                             add_generation_prompt=True)
        rows = [grammars.chat_row(TOOL_OBJECTS, choice, parallel)] if decoding == "constrained" else None
        [expected] = generate_batch(model, tokenizer, [prompt], 60, None if rows is None else (rows, grammars),
                                    stop="turn")
        assert event.text == expected.text
        # the budget ended the same answers: cut off (`length`) or made to close (`budget_cut`) here,
        # `at_budget` in predict
        assert (event.finish_reason == "length" or event.budget_cut) == expected.at_budget, (event, expected)
    if decoding == "constrained":  # one answer made to stop early, reported as a normal end
        assert any(e.budget_cut and e.finish_reason == "stop" for e in served), served


@pytest.mark.parametrize("capacity", [1, 8])  # the buffers grow rows as they come; room for all from the start
def test_the_batch_cache_pads_grows_and_drops_rows(capacity):
    """KVBatch against plain concatenation: rows of different lengths joined at different times,
    grown past their buffers' spare room, rows dropped (in a new order, and the fewest moved), rows
    joined again after the window's start moved, one of them longer than the batch."""
    gen = torch.Generator().manual_seed(0)
    batch, expected = KVBatch("cpu", capacity), []  # expected[i]: row i's (keys, values), each (heads, n, dim)

    def step(n_steps):
        for _ in range(n_steps):
            mask, positions = batch.step_inputs()
            assert positions[:, 0].tolist() == batch.lengths.tolist()
            new = torch.randn(len(batch), 2, 1, 4, generator=gen)
            batch.cache.layers[0].update(new, -new)
            batch.advance(mask)
            for i, (k, v) in enumerate(expected):
                expected[i] = (torch.cat([k, new[i]], dim=1), torch.cat([v, -new[i]], dim=1))

    def check():
        keys, values = batch.cache.layers[0].keys, batch.cache.layers[0].values
        assert keys.shape[2] == batch.mask.shape[1] == int(batch.lengths.max())
        for i, (want_k, want_v) in enumerate(expected):
            n = want_k.shape[1]
            assert int(batch.mask[i].sum()) == n == int(batch.lengths[i]) and batch.mask[i, -n:].all()
            assert torch.equal(keys[i, :, -n:], want_k) and torch.equal(values[i, :, -n:], want_v)
            assert not keys[i, :, :-n].any() and not values[i, :, :-n].any()  # padding is zeros

    for length in (5, 12):
        row = torch.randn(1, 2, length, 4, generator=gen)
        batch.join([(row, 2 * row)], length)
        expected.append((row[0], 2 * row[0]))
    step(3)
    row = torch.randn(1, 2, 30, 4, generator=gen)  # longer than the batch: the batch is padded to it
    batch.join([(row, 2 * row)], 30)
    expected.append((row[0], 2 * row[0]))
    check()
    step(150)  # past the buffers' spare columns: they grow
    check()
    batch.keep([2, 0])  # row 1 leaves; the order changes; columns only row 1 used are cut
    expected = [expected[2], expected[0]]
    check()
    step(2)
    check()
    for length in (3, 250, 7):  # 250: longer than the batch, past the room left of the window
        row = torch.randn(1, 2, length, 4, generator=gen)
        batch.join([(row, 2 * row)], length)
        expected.append((row[0], 2 * row[0]))
        check()
    step(5)
    order = fill_holes([1, 3, 4])
    assert order == [3, 1, 4]  # row 1 stays in its slot; rows 3 and 4 (past the end) fill the free ones
    batch.keep(order)
    expected = [expected[i] for i in order]
    check()
    batch.keep([])
    assert len(batch) == 0 and batch.cache is None


def test_grouped_attention_is_bit_identical_to_sdpa(tiny_llama, tiny_gpt2):
    """The engine's attention (grouped KV heads, no copy) against transformers' sdpa, which copies the
    KV heads under a mask: the same logits to the bit for a prompt (no mask), and for steps of 1 and
    3 tokens over a left-padded batch (a mask). A model without grouped heads is left alone."""
    from transformers import AutoModelForCausalLM, DynamicCache

    from calltune.serve.attention import NAME, use_grouped_sdpa
    from calltune.serve.kv_batch import layers_of

    gen = torch.Generator().manual_seed(0)
    prompts = [torch.randint(5, 60, (1, n), generator=gen) for n in (9, 4, 13)]
    steps = [torch.randint(5, 60, (3, w), generator=gen) for w in (1, 3)]

    def logits(model):
        batch, out = KVBatch("cpu"), []
        with torch.inference_mode():
            for ids in prompts:
                cache = DynamicCache()
                out.append(model(input_ids=ids, past_key_values=cache, use_cache=True).logits)
                batch.join(layers_of(cache), ids.shape[1])
            for ids in steps:
                mask, positions = batch.step_inputs(ids.shape[1])
                out.append(model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                 past_key_values=batch.cache, use_cache=True).logits)
                batch.advance(mask)
        return out

    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    assert model.config._attn_implementation == "sdpa"
    expected = logits(model)
    assert use_grouped_sdpa(model) and model.config._attn_implementation == NAME
    assert all(torch.equal(a, b) for a, b in zip(logits(model), expected))
    gpt2 = AutoModelForCausalLM.from_pretrained(tiny_gpt2)
    assert not use_grouped_sdpa(gpt2) and gpt2.config._attn_implementation == "sdpa"


def test_an_adapter_is_served_merged(tiny_gpt2, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from calltune.models import load_model
    from calltune.serve.config import ServeConfig
    from calltune.serve.server import load_for_serving

    torch.manual_seed(0)
    lora = LoraConfig(r=4, target_modules=["c_attn"], init_lora_weights=False, fan_in_fan_out=True)
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_gpt2), lora).save_pretrained(tmp_path / "adapter")
    model, tokenizer = load_for_serving(ServeConfig(model=tiny_gpt2, adapter=str(tmp_path / "adapter")))
    unmerged = load_model(tiny_gpt2, str(tmp_path / "adapter"))[0]
    base = load_model(tiny_gpt2)[0]
    assert not hasattr(model, "peft_config")  # merged into plain weights
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.inference_mode():
        served, adapted, plain = (m(input_ids=ids).logits for m in (model, unmerged, base))
    torch.testing.assert_close(served, adapted, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(served, plain, atol=1e-3)  # the adapter does change the model
    assert isinstance(run(Engine(model, tokenizer), REQUESTS[:1])[0], Finished)


def test_a_speculative_step_keeps_only_the_columns_each_row_accepts():
    """KVBatch fed 3 tokens per row, keeping 1, 3 and 2 of them: each row's kept columns (where its
    mask is 1) hold exactly its kept keys in order; columns no row kept are cut from the right."""
    gen = torch.Generator().manual_seed(1)
    batch, expected = KVBatch("cpu"), []
    for length in (4, 7, 5):
        row = torch.randn(1, 2, length, 4, generator=gen)
        batch.join([(row, -row)], length)
        expected.append(row[0])
    for kept in ([1, 3, 2], [2, 2, 1], [3, 1, 3], [1, 1, 1]):
        mask, positions = batch.step_inputs(3)
        assert positions.tolist() == [[n, n + 1, n + 2] for n in batch.lengths.tolist()]
        new = torch.randn(len(batch), 2, 3, 4, generator=gen)
        batch.cache.layers[0].update(new, -new)
        batch.advance(mask, kept)
        expected = [torch.cat([e, new[i, :, :n]], dim=1) for i, (e, n) in enumerate(zip(expected, kept))]
        assert batch.mask.shape[1] == batch.cache.layers[0].keys.shape[2]
        assert not (batch.mask[:, -1] == 0).all()  # a column nobody kept was cut
    batch.keep([2, 0])
    expected = [expected[2], expected[0]]
    keys, values = batch.cache.layers[0].keys, batch.cache.layers[0].values
    for i, want in enumerate(expected):
        real = batch.mask[i].bool()
        assert int(real.sum()) == want.shape[1] == int(batch.lengths[i])
        assert torch.equal(keys[i][:, real], want) and torch.equal(values[i][:, real], -want)
    assert batch.mask[:, 0].any()  # columns no remaining row used were dropped from the left


@pytest.mark.parametrize("decoding", ["constrained", "greedy"])
@pytest.mark.parametrize("model", ["tiny_gpt2", "tiny_llama"])
def test_speculative_steps_give_the_same_answers_in_fewer_steps(model, decoding, request):
    from calltune.models import load_model

    loaded = load_model(request.getfixturevalue(model))[:2]
    plain = make_engine(loaded, draft_tokens=0, decoding=decoding)
    want = [run(plain, [r], max_tokens=60)[0] for r in REQUESTS]
    fed = {}
    for draft_tokens, overhead in ((1, 24.0), (8, 24.0), (8, 0.0), (8, float("inf"))):
        for stagger in (0, 2):
            engine = make_engine(loaded, draft_tokens=draft_tokens, decoding=decoding, draft_step_overhead=overhead)
            got = run(engine, REQUESTS, max_tokens=60, stagger=stagger)
            assert [(e.text, e.finish_reason, e.completion_tokens) for e in got] == \
                [(e.text, e.finish_reason, e.completion_tokens) for e in want]
            assert engine.counts["accepted_draft_tokens"] > 0 or overhead == 0
            fed[draft_tokens, overhead, stagger] = engine.counts["fed_tokens"] / engine.counts["steps"]
    for stagger in (0, 2):  # a free step overhead narrows steps to what drafts are expected to pay for
        assert fed[8, 0.0, stagger] < fed[8, 24.0, stagger] <= fed[8, float("inf"), stagger]
    alone = make_engine(loaded, draft_tokens=8, decoding=decoding)
    for r, w in zip(REQUESTS, want):
        steps, accepted = alone.counts["steps"], alone.counts["accepted_draft_tokens"]
        [got] = run(alone, [r], max_tokens=60)
        assert got.text == w.text
        # one row: each step yields its own token plus the drafts it accepted
        assert alone.counts["steps"] - steps == w.completion_tokens - (alone.counts["accepted_draft_tokens"] - accepted)
    assert alone.counts["steps"] < sum(w.completion_tokens for w in want)
