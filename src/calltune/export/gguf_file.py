"""Write a merged Llama-family model as one GGUF file that llama.cpp serves, with the `gguf` package.

    write_gguf(model, tokenizer, "model.gguf", "q8_0", name="calltune-hermes")

What llama.cpp's `convert_hf_to_gguf.py` does for `LlamaForCausalLM`, for the models calltune
trains: tensors renamed by `gguf`'s own name map (`model.layers.3.self_attn.q_proj.weight` ->
`blk.3.attn_q.weight`); the q and k projections permuted per head from HF's rotate-half rotary
layout to the interleaved one llama.cpp applies (`permute_rotary`); norms and other 1-D tensors
kept in f32, 2-D weights in the requested type (q8_0 falls back to f16 for a row whose length is
not a multiple of 32, as llama.cpp's converter does). A tied `lm_head` is left out (llama.cpp
then reads `token_embd`).

The tokenizer metadata is read off the HF tokenizer calltune renders with, so llama.cpp tokenizes
prompts as calltune trained on them: the byte-level BPE vocabulary and merges, token types
(special added tokens are control tokens), special ids, and `tokenizer.ggml.pre`, the name of
llama.cpp's pre-tokenizer regex, from the tokenizer's pre-tokenizer (`pre_tokenizer_name`).
`tokenizer.chat_template` is calltune's template (`chat.template.chat_template_for`). Anything
the writer does not handle (another architecture, rope scaling, biases, a SentencePiece
tokenizer) is a `CalltuneError` that says so.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from calltune.chat.template import chat_template_for
from calltune.errors import CalltuneError

GGUF_TYPES = ("f32", "f16", "q8_0")
ARCHITECTURES = {"llama": "llama"}  # HF model_type -> GGUF architecture the writer handles


def permute_rotary(weight, n_head: int):
    """Reorder the rows of a q or k projection `(n_head * head_dim, in)` within each head from HF's
    rotary layout (the first half of a head's dims rotates with the second half) to llama.cpp's
    (dims 2i and 2i+1 rotate together). The same as `LlamaModel.permute` in llama.cpp's converter."""
    head_dim = weight.shape[0] // n_head
    return (weight.reshape(n_head, 2, head_dim // 2, *weight.shape[1:])
            .swapaxes(1, 2)
            .reshape(weight.shape))


def check_supported(config) -> None:
    """Raise a CalltuneError naming what the GGUF writer does not handle in `config`."""
    model_type = getattr(config, "model_type", None)
    if model_type not in ARCHITECTURES:
        raise CalltuneError(f"GGUF export handles Llama-family models (model_type {', '.join(ARCHITECTURES)}); "
                            f"this model is '{model_type}': export --format hf instead")
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        raise CalltuneError(f"GGUF export: rope scaling '{rope.get('rope_type', rope.get('type'))}' is not handled; "
                            f"export --format hf and convert with llama.cpp's convert_hf_to_gguf.py")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        raise CalltuneError("GGUF export: attention or MLP biases are not handled; export --format hf instead")


def pre_tokenizer_name(pre_tokenizer: dict | None) -> str:
    """llama.cpp's name for the regex that splits text before BPE (`tokenizer.ggml.pre`), read off a
    `tokenizer.json` pre-tokenizer: plain byte-level (GPT-2's regex) -> `gpt-2`; single digits, then
    byte-level (SmolLM2's original tokenizer) -> `smollm`. Others are an error rather than a guess:
    a wrong regex tokenizes some text differently from the model's training."""
    def byte_level(p):
        return p.get("type") == "ByteLevel" and p.get("use_regex", True)

    if pre_tokenizer and byte_level(pre_tokenizer):
        return "gpt-2"
    parts = (pre_tokenizer or {}).get("pretokenizers") or []
    if (len(parts) == 2 and parts[0].get("type") == "Digits" and parts[0].get("individual_digits")
            and byte_level(parts[1])):
        return "smollm"
    raise CalltuneError(f"GGUF export: pre-tokenizer {json.dumps(pre_tokenizer)[:200]} is not one the writer "
                        f"maps to llama.cpp (byte-level BPE as GPT-2 or SmolLM2); export --format hf instead")


def tokenizer_fields(tokenizer, vocab_size: int) -> dict:
    """The `tokenizer.*` GGUF metadata of a byte-level BPE HF tokenizer, as a dict:
    tokens, token_types, merges, pre, the special ids and whether BOS/EOS are added."""
    import gguf

    if not getattr(tokenizer, "is_fast", False):
        raise CalltuneError("GGUF export needs a fast (tokenizer.json) tokenizer")
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec["model"]
    if model.get("type") != "BPE" or model.get("byte_fallback") or spec.get("normalizer"):
        raise CalltuneError("GGUF export handles byte-level BPE tokenizers (GPT-2 style); this one is "
                            f"{model.get('type')}{' with byte fallback' if model.get('byte_fallback') else ''}"
                            f"{' with a normalizer' if spec.get('normalizer') else ''}: export --format hf instead")
    pre = pre_tokenizer_name(spec.get("pre_tokenizer"))
    by_id = {i: token for token, i in tokenizer.get_vocab().items()}
    if max(by_id) >= vocab_size:
        raise CalltuneError(f"tokenizer has token id {max(by_id)} but the model's vocabulary is {vocab_size}")
    added = tokenizer.added_tokens_decoder  # id -> AddedToken
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:  # embedding rows past the tokenizer (padded vocabularies)
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(added[i].content)
            types.append(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a", add_special_tokens=True)["input_ids"]
    return {"tokens": tokens, "token_types": [int(t) for t in types], "merges": merges, "pre": pre,
            "bos": tokenizer.bos_token_id, "eos": tokenizer.eos_token_id, "unk": tokenizer.unk_token_id,
            "pad": tokenizer.pad_token_id,
            "add_bos": len(full) > len(plain) and full[0] == tokenizer.bos_token_id,
            "add_eos": len(full) > len(plain) and full[-1] == tokenizer.eos_token_id}


def add_tokenizer(writer, tokenizer, vocab_size: int) -> None:
    fields = tokenizer_fields(tokenizer, vocab_size)
    writer.add_tokenizer_model("gpt2")  # llama.cpp's name for byte-level BPE
    writer.add_tokenizer_pre(fields["pre"])
    writer.add_token_list(fields["tokens"])
    writer.add_token_types(fields["token_types"])
    writer.add_token_merges(fields["merges"])
    for key, add in (("bos", writer.add_bos_token_id), ("eos", writer.add_eos_token_id),
                     ("unk", writer.add_unk_token_id), ("pad", writer.add_pad_token_id)):
        if fields[key] is not None:
            add(fields[key])
    writer.add_add_bos_token(fields["add_bos"])
    writer.add_add_eos_token(fields["add_eos"])
    writer.add_chat_template(chat_template_for(tokenizer))


def add_hyperparameters(writer, config) -> None:
    n_head = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_head
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_block_count(config.num_hidden_layers)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(getattr(config, "num_key_value_heads", None) or n_head)
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_rope_dimension_count(head_dim)
    if head_dim != config.hidden_size // n_head:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)


def tensor_type(gguf_type: str, name: str, shape: tuple):
    """The GGML type a tensor is stored in: 1-D tensors and norms in f32; 2-D weights in the requested
    type, f16 where a q8_0 row does not split into 32-value blocks."""
    import gguf

    q = gguf.GGMLQuantizationType
    if len(shape) <= 1 or name.endswith("_norm.weight") or gguf_type == "f32":
        return q.F32
    if gguf_type == "q8_0" and shape[-1] % gguf.GGML_QUANT_SIZES[q.Q8_0][0] == 0:
        return q.Q8_0
    return q.F16


def gguf_tensors(model, gguf_type: str):
    """Yield `(gguf_name, numpy_array, ggml_type)` for every weight of a Llama-family `model`."""
    import gguf
    import numpy as np

    config = model.config
    n_head = config.num_attention_heads
    n_kv = getattr(config, "num_key_value_heads", None) or n_head
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    tied = getattr(config, "tie_word_embeddings", False)
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue
        data = tensor.detach().to("cpu").float().numpy()
        if hf_name.endswith("self_attn.q_proj.weight"):
            data = permute_rotary(data, n_head)
        elif hf_name.endswith("self_attn.k_proj.weight"):
            data = permute_rotary(data, n_kv)
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise CalltuneError(f"GGUF export: no llama.cpp name for tensor '{hf_name}'")
        qtype = tensor_type(gguf_type, name, data.shape)
        yield name, np.ascontiguousarray(gguf.quants.quantize(data, qtype)), qtype


FILE_TYPES = {"f32": "ALL_F32", "f16": "MOSTLY_F16", "q8_0": "MOSTLY_Q8_0"}


def write_gguf(model, tokenizer, out: str, gguf_type: str = "f16", name: str | None = None,
               description: str | None = None) -> dict:
    """Write `model` (a merged, full-precision Llama-family model) and `tokenizer` to the GGUF file
    `out`, atomically (a temporary file in the same directory, then a rename). Returns
    `{"tensors": n, "types": {ggml_type: count}, "bytes": size}`."""
    import gguf

    if gguf_type not in GGUF_TYPES:
        raise CalltuneError(f"unknown GGUF type '{gguf_type}' (choose from {', '.join(GGUF_TYPES)})")
    check_supported(model.config)
    target = Path(out)
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as an ordinary file would be, not mkstemp's 0600
    try:
        writer = gguf.GGUFWriter(tmp, ARCHITECTURES[model.config.model_type])
        if name:
            writer.add_name(name)
        if description:
            writer.add_description(description)
        add_hyperparameters(writer, model.config)
        writer.add_file_type(gguf.LlamaFileType[FILE_TYPES[gguf_type]])
        if gguf_type == "q8_0":
            writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        add_tokenizer(writer, tokenizer, model.config.vocab_size)
        counts: dict[str, int] = {}
        for tensor_name, data, qtype in gguf_tensors(model, gguf_type):
            writer.add_tensor(tensor_name, data, raw_dtype=qtype)
            counts[qtype.name] = counts.get(qtype.name, 0) + 1
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"tensors": sum(counts.values()), "types": counts, "bytes": target.stat().st_size}
