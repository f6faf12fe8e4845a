"""Grouped-query attention for the engine's padded batches, without copying the KV cache.

A padded batch needs an attention mask at every step, and with a mask transformers' `sdpa`
attention repeats each KV head once per query head that reads it (`repeat_kv`) before calling
torch: a copy of the whole batch cache, three times over for SmolLM2 (9 query heads on 3 KV
heads), at each of its 30 layers, at every step of more than one token (a one-token step packs
the query heads instead). torch's `scaled_dot_product_attention` takes the grouping itself
(`enable_gqa`), mask and all, and gives bit-identical results (tests/test_serve_engine.py); on this CPU a step of 8 rows x 3 tokens over 450 cached columns
drops from about 375 to 300 ms (`python benchmarks/forward_cost.py`).

    use_grouped_sdpa(model)   # in place; True when the model was switched
"""

from __future__ import annotations

import torch.nn.functional as F
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import sdpa_mask

NAME = "calltune_sdpa_gqa"


def grouped_sdpa(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                 is_causal: bool | None = None, **kwargs):
    """transformers' attention-function signature: query (B, H, Tq, D), key and value (B, Hkv, Tk, D),
    attention_mask (B, 1, Tq, Tk) boolean or None (then causal). Returns ((B, Tq, H, D), None)."""
    if query.shape[2] == 1:  # transformers packs the query heads here, without copying the KV: keep its path
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    if is_causal is None:
        is_causal = getattr(module, "is_causal", True)
    is_causal = attention_mask is None and is_causal  # as transformers' sdpa decides (more than one query)
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=dropout,
                                         scale=scaling, is_causal=is_causal,
                                         enable_gqa=key.shape[1] != query.shape[1])
    return out.transpose(1, 2).contiguous(), None


def use_grouped_sdpa(model) -> bool:
    """Switch `model` to `grouped_sdpa` if it attends with `sdpa` and has fewer KV heads than query
    heads (other models are left as they are). Returns whether it switched."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT model (nf4)
    config = base.config
    heads, kv_heads = getattr(config, "num_attention_heads", None), getattr(config, "num_key_value_heads", None)
    if config._attn_implementation not in ("sdpa", NAME) or not heads or not kv_heads or kv_heads >= heads:
        return False
    AttentionInterface.register(NAME, grouped_sdpa)
    AttentionMaskInterface.register(NAME, sdpa_mask)  # the same boolean masks as sdpa
    base.set_attn_implementation(NAME)
    return True
