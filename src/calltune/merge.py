"""`calltune merge`: fold a LoRA adapter into its base and save a plain HF model directory.

    calltune merge --adapter RUN_DIR --out MERGED_DIR [--model embedded]

The merged weights are W + (alpha / r) * B A in fp32; a model merged from a QLoRA run
uses the full-precision base, so it matches base+adapter on that base. The tokenizer saved
with the adapter (and so its chat template, calltune's for the `hermes` style) goes with the
merged model; an adapter saved without one gets the base model's. `calltune export` builds on
`merged_model` (and installs calltune's template whatever the adapter saved).
"""

from __future__ import annotations

from calltune.models import load_model
from calltune.train import save_dir_atomically


def merged_model(model_spec: str, adapter: str | None):
    """`(model, tokenizer, base_path)`: the base in full precision (an nf4-trained adapter too)
    with `adapter` folded in (none: the base as it is), and the tokenizer saved with the adapter
    if it has one, else the base model's. fp32, CPU or GPU as `load_model` picks, eval mode."""
    model, tokenizer, path = load_model(model_spec, adapter, quantization="none")
    if adapter is not None:
        model = model.merge_and_unload()
    return model, tokenizer, path


def merge(model_spec: str, adapter: str, out: str) -> str:
    merged, tokenizer, _ = merged_model(model_spec, adapter)

    def write(tmp):
        merged.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)

    save_dir_atomically(out, write)
    return out
