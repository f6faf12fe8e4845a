"""`calltune merge`: fold a LoRA adapter into its base and save a plain HF model directory.

    calltune merge --adapter RUN_DIR --out MERGED_DIR [--model embedded]

The merged weights are W + (alpha / r) * B A in fp32; a model merged from a QLoRA run
uses the full-precision base, so it matches base+adapter on that base. The tokenizer saved
with the adapter (and so its chat template, calltune's for the `hermes` style) goes with the
merged model; an adapter saved without one gets the base model's.
"""

from __future__ import annotations

from calltune.models import find_adapter_dir, load_model, load_tokenizer
from calltune.train import save_dir_atomically


def merge(model_spec: str, adapter: str, out: str) -> str:
    model, tokenizer, _ = load_model(model_spec, adapter, quantization="none")
    merged = model.merge_and_unload()
    adapter_dir = find_adapter_dir(adapter)
    if (adapter_dir / "tokenizer_config.json").is_file():
        tokenizer = load_tokenizer(str(adapter_dir))

    def write(tmp):
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    save_dir_atomically(out, write)
    return out
