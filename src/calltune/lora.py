"""Building the model to train: the base (optionally 4-bit NF4, i.e. QLoRA) plus LoRA adapters, or
the base itself with its top blocks unfrozen (`train.method full`, `unfreeze_blocks`).

Target presets, resolved per architecture:
- `attention`: Llama-style q_proj, k_proj, v_proj, o_proj; GPT-2 attn.c_attn and
  attn.c_proj (Conv1D layers, so `fan_in_fan_out=True`; GPT-2's MLP also has a
  c_proj, hence the pattern anchored on `attn`).
- `all-linear`: every linear/Conv1D layer except the LM head (PEFT's own preset); with
  `top_layers`, the names of the linear/Conv1D layers inside the blocks (Llama: q, k, v, o,
  gate, up and down projections), so that PEFT can limit them to those blocks.
- a list: module names as PEFT matches them (suffixes such as `q_proj`).
"""

from __future__ import annotations

import torch

from calltune.config import LoraConfig, ModelConfig
from calltune.errors import CalltuneError

ATTENTION = {
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gpt2": ["attn.c_attn", "attn.c_proj"],  # PEFT matches suffixes; the MLP's c_proj is not one
}
CONV1D_MODELS = ("gpt2",)
LAYER_LISTS = {"gpt2": "h"}  # name of the ModuleList of blocks where it is not `layers`


def torch_dtype(name: str) -> torch.dtype:
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def cast_saved_adapter(directory: str, dtype: str) -> None:
    """Rewrite the floating-point tensors of `directory/adapter_model.safetensors` in `dtype` (the file
    PEFT's save_pretrained wrote; `lora.save_dtype`). Run on a directory not yet in place (it rewrites the
    file where it is)."""
    import os

    from safetensors.torch import load_file, save_file

    path = os.path.join(directory, "adapter_model.safetensors")
    target = torch_dtype(dtype)
    tensors = {name: (t.to(target) if t.is_floating_point() else t).contiguous()
               for name, t in load_file(path).items()}
    save_file(tensors, path, metadata={"format": "pt"})


def nf4_config(compute_dtype: torch.dtype):
    """bitsandbytes NF4 with double quantization (the QLoRA recipe)."""
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise CalltuneError("model.quantization nf4 needs bitsandbytes: pip install bitsandbytes==0.50.2") from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)


def load_base(cfg: ModelConfig, device: str = "cpu"):
    """Load `(model, tokenizer, resolved_path)` for training, quantized if asked."""
    from transformers import AutoModelForCausalLM

    from calltune.models import load_tokenizer, resolve_model_path

    path = resolve_model_path(cfg.name)
    dtype = torch_dtype(cfg.compute_dtype)
    kwargs = {"dtype": dtype}
    if cfg.quantization == "nf4":
        kwargs["quantization_config"] = nf4_config(dtype)
        if device != "cpu":
            kwargs["device_map"] = {"": device}
    try:
        tokenizer = load_tokenizer(path)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except CalltuneError:
        raise
    except Exception as err:
        raise CalltuneError(f"cannot load model '{cfg.name}' ({cfg.quantization}): "
                            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None
    if cfg.quantization == "none":
        model.to(device)
    return model, tokenizer, path


def block_linear_names(model) -> list[str]:
    """The names (last component) of the linear and Conv1D layers inside the model's blocks, in order."""
    from transformers.pytorch_utils import Conv1D

    blocks = LAYER_LISTS.get(model.config.model_type, "layers")
    names = []
    for path, module in model.named_modules():
        parts = path.split(".")
        if isinstance(module, (torch.nn.Linear, Conv1D)) and blocks in parts[:-1] and parts[-1] not in names:
            names.append(parts[-1])
    return names


def resolve_targets(model, targets: str | list[str], top_layers: int | None = None):
    model_type = model.config.model_type
    if targets == "attention":
        if model_type not in ATTENTION:
            raise CalltuneError(f"lora.targets 'attention' has no preset for model type '{model_type}'; "
                                "list the module names instead")
        return ATTENTION[model_type]
    if targets == "all-linear" and top_layers is not None:
        return block_linear_names(model)  # PEFT's preset cannot be limited to some blocks
    return targets  # "all-linear" (PEFT resolves it) or explicit names


def add_lora(model, lora: LoraConfig, model_cfg: ModelConfig, seed: int):
    """Freeze the base and wrap it with fresh LoRA adapters (initialized under `seed`)."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model, prepare_model_for_kbit_training

    if model_cfg.quantization == "nf4":
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=model_cfg.gradient_checkpointing)
    elif model_cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    layers = {}
    if lora.top_layers is not None:
        n_blocks = model.config.num_hidden_layers
        if lora.top_layers > n_blocks:
            raise CalltuneError(f"lora.top_layers {lora.top_layers}: the model has only {n_blocks} blocks")
        layers = {"layers_to_transform": list(range(n_blocks - lora.top_layers, n_blocks)),
                  "layers_pattern": LAYER_LISTS.get(model.config.model_type, "layers")}
    peft_cfg = PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                              target_modules=resolve_targets(model, lora.targets, lora.top_layers), bias="none",
                              task_type="CAUSAL_LM",
                              fan_in_fan_out=model.config.model_type in CONV1D_MODELS, **layers)
    torch.manual_seed(seed)
    try:
        return get_peft_model(model, peft_cfg)
    except ValueError as err:
        raise CalltuneError(f"lora.targets {lora.targets!r}: {str(err).splitlines()[0]}") from None


def unfreeze_blocks(model, top_layers: int | None, model_cfg: ModelConfig):
    """Full fine-tuning: freeze everything, then let every weight of the last `top_layers` blocks (all
    blocks when None) and the final norm train. The embeddings stay frozen: the LM head is tied to them
    in the embedded model, and tokens that training never shows keep their rows. Returns the model."""
    blocks_name = LAYER_LISTS.get(model.config.model_type, "layers")
    body = getattr(model, model.base_model_prefix)
    blocks = getattr(body, blocks_name)
    if top_layers is not None and top_layers > len(blocks):
        raise CalltuneError(f"lora.top_layers {top_layers}: the model has only {len(blocks)} blocks")
    model.requires_grad_(False)
    for block in blocks[len(blocks) - (top_layers or len(blocks)):]:
        block.requires_grad_(True)
    for name, module in body.named_children():
        if "norm" in name or name == "ln_f":  # Llama's `norm`, GPT-2's `ln_f`: after the last block
            module.requires_grad_(True)
    if model_cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()  # the frozen embeddings' output must carry a gradient
    return model
