"""Export: calltune models in the formats people serve from, calltune's chat template inside.

- `job`: `ExportConfig` and `run_export`, the `calltune export` command: merge an adapter into its
  full-precision base (`merge.merged_model`) and write it as `hf` or `gguf`.
- `hf`: `write_hf`, a transformers / vLLM model directory (safetensors, tokenizer with the
  template, greedy `generation_config.json` ending at `<|im_end|>`, model card).
- `gguf_file`: `write_gguf`, one GGUF file for llama.cpp (Llama-family models; f32, f16, q8_0),
  tokenizer metadata read off the HF tokenizer and the template in `tokenizer.chat_template`.
- `card`: `provenance` (what the run recorded) and `model_card`.
- `llamacpp`: `LlamaCpp`, greedy decoding through llama-cpp-python (the optional `llama` extra), to
  check that llama.cpp reproduces calltune's answers.
"""

from calltune.export.card import model_card, provenance
from calltune.export.gguf_file import GGUF_TYPES, write_gguf
from calltune.export.hf import HF_TYPES, write_hf
from calltune.export.job import ExportConfig, run_export

__all__ = ["ExportConfig", "GGUF_TYPES", "HF_TYPES", "model_card", "provenance", "run_export", "write_gguf",
           "write_hf"]
