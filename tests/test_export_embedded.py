"""GGUF export of the real embedded model (SmolLM2-135M-Instruct). Marked slow.

The embedded model came from a GGUF, so its file is the reference for the tokenizer metadata the
writer derives from the HF tokenizer; llama.cpp (with llama-cpp-python) then has to give calltune's
greedy hermes answers on the seed dev set.
"""

import os

import pytest
import torch

pytestmark = pytest.mark.slow


def test_tokenizer_metadata_equals_the_embedded_gguf():
    from gguf import GGUFReader

    from calltune.export.gguf_file import tokenizer_fields
    from calltune.models import embedded_gguf_path, load_tokenizer, resolve_model_path

    reader = GGUFReader(str(embedded_gguf_path()))
    field = lambda key: reader.fields[key].contents()  # noqa: E731
    mine = tokenizer_fields(load_tokenizer(resolve_model_path("embedded")), field("llama.vocab_size"))
    assert mine["tokens"] == field("tokenizer.ggml.tokens")
    assert mine["token_types"] == field("tokenizer.ggml.token_type")
    assert mine["merges"] == field("tokenizer.ggml.merges")
    assert (mine["bos"], mine["eos"], mine["unk"]) == (field("tokenizer.ggml.bos_token_id"),
                                                      field("tokenizer.ggml.eos_token_id"),
                                                      field("tokenizer.ggml.unknown_token_id"))
    assert mine["add_bos"] == field("tokenizer.ggml.add_bos_token")
    # calltune's tokenizer (transformers' conversion of this GGUF) splits text with GPT-2's regex,
    # not SmolLM2's digit-first one: the export says so, so that llama.cpp tokenizes as calltune trained
    assert field("tokenizer.ggml.pre") == "smollm" and mine["pre"] == "gpt-2"


@pytest.fixture(scope="module")
def embedded_f32(tmp_path_factory):
    from calltune.export import ExportConfig, run_export

    out = str(tmp_path_factory.mktemp("embedded") / "smollm2-f32.gguf")
    run_export(ExportConfig(out=out, format="gguf", type="f32"))
    return out


def test_f32_gguf_of_the_embedded_model_reloads_with_identical_logits(embedded_f32):
    from transformers import AutoModelForCausalLM

    from calltune.models import load_model

    model, tokenizer, _ = load_model("embedded")
    from_gguf = AutoModelForCausalLM.from_pretrained(os.path.dirname(embedded_f32),
                                                     gguf_file=os.path.basename(embedded_f32)).eval()
    ids = tokenizer('<|im_start|>user\nWeather in Oslo on 2024-05-01?<|im_end|>\n', return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(from_gguf(ids).logits, model(ids).logits)


def test_llama_cpp_gives_calltunes_greedy_hermes_answers_on_seed_dev(embedded_f32, tmp_path):
    """Raw completion on calltune's prompt text and chat completion with the GGUF's template both give
    `calltune predict --prompt-style hermes --decoding greedy`'s answers (batch 1: no padding)."""
    pytest.importorskip("llama_cpp")
    from calltune.chat.render import openai_tools
    from calltune.examples import load_examples, load_predictions
    from calltune.export.llamacpp import LlamaCpp
    from calltune.models import load_model
    from calltune.predict import PredictConfig, prediction_for, run_predict
    from calltune.prompts import render_prompt

    loaded = load_model("embedded")
    tokenizer = loaded[1]
    out = str(tmp_path / "pred.jsonl")
    run_predict(PredictConfig(data="seed:dev", out=out, prompt_style="hermes", max_new_tokens=96, batch_size=1),
                loaded=loaded, progress=False)
    ours = {p.id: p for p in load_predictions(out)}
    llm = LlamaCpp(embedded_f32)
    for ex in load_examples("seed:dev"):
        prompt = render_prompt(ex, "hermes", tokenizer)
        ids = llm.tokenize(prompt)
        assert ids == tokenizer(prompt, add_special_tokens=False).input_ids
        theirs = prediction_for(ex, llm.greedy(ids, 96).text, "greedy", "hermes")
        assert (theirs.raw, theirs.calls) == (ours[ex.id].raw, ours[ex.id].calls)
        # an OpenAI-style chat completion, rendered by the template stored in the GGUF
        assert llm.chat(ex.conversation(), openai_tools(ex.tools), 96) == ours[ex.id].raw
