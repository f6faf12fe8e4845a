"""Write a merged model as a Hugging Face directory that transformers, vLLM and `calltune serve` load.

The directory holds `model.safetensors` and `config.json`, the tokenizer with calltune's chat
template (`chat_template.jinja`), a `generation_config.json` whose end tokens include the
end of an assistant turn (`<|im_end|>`) and that decodes greedily, as calltune does, and the
model card `README.md`.
"""

from __future__ import annotations

from calltune.chat.template import ensure_chat_template

HF_TYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
END_OF_TURN = "<|im_end|>"


def end_token_ids(tokenizer) -> list[int]:
    """EOS and, where the vocabulary has it as one token, `<|im_end|>`: the ids that end an answer."""
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    turn = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    if isinstance(turn, int) and turn != tokenizer.unk_token_id and turn not in ids:
        ids.append(turn)
    return ids


def generation_config_for(model, tokenizer):
    """Greedy decoding that stops at the end of the assistant's turn."""
    from transformers import GenerationConfig

    ends = end_token_ids(tokenizer)
    return GenerationConfig(bos_token_id=model.config.bos_token_id,
                            eos_token_id=ends[0] if len(ends) == 1 else ends,
                            pad_token_id=tokenizer.pad_token_id, do_sample=False)


def write_hf(model, tokenizer, directory: str, hf_type: str = "f32", card: str | None = None) -> None:
    """Save `model` (merged, no adapter layers) in `hf_type` with `tokenizer` into `directory`
    (which exists and is empty); the tokenizer gets calltune's template unless its own serves."""
    import torch

    ensure_chat_template(tokenizer)
    model = model.to(getattr(torch, HF_TYPES[hf_type]))
    model.generation_config = generation_config_for(model, tokenizer)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    if card is not None:
        with open(f"{directory}/README.md", "w", encoding="utf-8") as handle:
            handle.write(card)
