"""Keep a share of what fine-tuning changed (weight-space interpolation toward the base, WiSE-FT:
Wortsman et al., "Robust fine-tuning of zero-shot models", 2022).

    calltune interpolate --model RUN --weight 0.85 --out DIR      # a full fine-tune: a model directory
    calltune interpolate --adapter RUN --weight 0.85 --out DIR    # a LoRA adapter: an adapter directory
                                                                  # (an existing --out needs --force)

Every weight becomes base + W * (tuned - base): W = 1 is the fine-tune, W = 0 the base, 0 < W < 1 lies
between (W > 1 extrapolates). For a LoRA adapter the change is (alpha / r) * B A with B trained from
zero, so scaling B by W scales the change by W exactly. `train.interpolate` applies the same thing to a
run's final weights, so a recipe with it is reproduced by `calltune train` alone; this command lets a
finished run be tried at a few weights (on synthetic dev data) without training again. The written
directory's calltune.json records the product of the weights in `config.train.interpolate`, which is what
`calltune train` with that config would have written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from calltune.errors import CalltuneError
from calltune.jsonl import write_json
from calltune.models import EMBEDDED, adapter_vocabulary, find_adapter_dir, resolve_model_path
from calltune.train import save_dir_atomically

LORA_B = "lora_B"
"""PEFT's name for the up-projection of a LoRA pair (initialised to zero, so the change is linear in it)."""


def check_weight(weight: float, where: str = "--weight") -> float:
    if not weight >= 0:  # also NaN
        raise CalltuneError(f"{where}: {weight} must be >= 0 (1 keeps the fine-tune, 0 is the base)")
    return float(weight)


def interpolated(tuned: dict[str, torch.Tensor], base: dict[str, torch.Tensor],
                 weight: float) -> dict[str, torch.Tensor]:
    """`base + weight * (tuned - base)` for every tensor of `tuned`, computed in float32 and stored in
    `tuned`'s dtype. Both must hold the same names and shapes (one architecture)."""
    if tuned.keys() != base.keys():
        missing, extra = sorted(base.keys() - tuned.keys()), sorted(tuned.keys() - base.keys())
        raise CalltuneError(f"the fine-tuned weights do not match the base's: missing {missing[:3]}, "
                            f"not in the base {extra[:3]}")
    mixed = {}
    for name, t in tuned.items():
        b = base[name]
        if t.shape != b.shape:
            raise CalltuneError(f"{name}: shape {tuple(t.shape)} in the fine-tune, {tuple(b.shape)} in the base")
        if not t.is_floating_point() or torch.equal(t, b):
            mixed[name] = t
            continue
        b32 = b.to(torch.float32)
        mixed[name] = (b32 + weight * (t.to(torch.float32) - b32)).to(t.dtype).contiguous()
    return mixed


def scaled_lora(adapter: dict[str, torch.Tensor], weight: float) -> dict[str, torch.Tensor]:
    """An adapter's tensors with every LoRA B scaled by `weight` (the rest as they are)."""
    if not any(LORA_B in name for name in adapter):
        raise CalltuneError("the adapter has no LoRA B weights to scale (not a LoRA adapter?)")
    return {name: ((t.to(torch.float32) * weight).to(t.dtype).contiguous() if LORA_B in name else t)
            for name, t in adapter.items()}


def apply_to_trained(model, initial: dict[str, torch.Tensor] | None, weight: float, method: str) -> None:
    """In place, at the end of training: full fine-tuning moves each trained parameter to
    `initial + weight * (trained - initial)` (`initial`: copies taken before the first step); LoRA scales its
    B weights. weight 1 changes nothing."""
    if weight == 1.0:
        return
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not param.requires_grad:
                continue
            if method == "full":
                start = initial[name].to(param.device, param.dtype)
                param.copy_(start + weight * (param - start))
            elif LORA_B in name:
                param.mul_(weight)


def _check_out(out: str, source: Path, force: bool) -> None:
    target = Path(out).resolve()
    if target == source.resolve() or source.resolve().is_relative_to(target):
        raise CalltuneError(f"--out {out}: would replace the weights it reads; choose another directory")
    if target.exists() and not force:
        raise CalltuneError(f"--out {out}: exists (add --force to replace it)")


def _settings(directory: Path) -> dict:
    path = directory / "calltune.json"
    if not path.is_file():
        return {}
    with open(path) as handle:
        return json.load(handle)


def _recorded_base(settings: dict) -> str | None:
    """The base a calltune run trained from (`config.model.name` in its calltune.json), if recorded."""
    return (settings.get("config") or {}).get("model", {}).get("name")


def _record(settings: dict, weight: float, source: str, other_base: str | None = None) -> dict:
    """calltune.json for the written directory: the config says the combined weight (what `calltune train`
    with it writes), `interpolated` says where it came from. Toward `other_base` (a base other than the one
    the fine-tune trained from, e.g. another fine-tune) no training run writes it: the config is left as the
    fine-tune's and `interpolated.base` names the other end."""
    record = json.loads(json.dumps(settings))  # a deep copy
    record["interpolated"] = {"from": source, "weight": weight}
    if other_base is not None:
        record["interpolated"]["base"] = other_base
    elif "config" in record:
        train = record["config"].setdefault("train", {})
        before = train.get("interpolate", 1.0)
        train["interpolate"] = before * weight
        record["interpolated"]["before"] = before
    return record


def _load_safetensors(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(directory.glob("model*.safetensors"))
    if not files:
        raise CalltuneError(f"{directory}: no model*.safetensors to read")
    tensors = {}
    for path in files:
        tensors.update(load_file(str(path)))
    return tensors


def interpolate_model(model: str, weight: float, out: str, base: str | None = None, force: bool = False) -> dict:
    """Write base + weight * (model - base) as a model directory at `out`. `model`: a full fine-tune (its run
    or its model/); `base`: default the base its calltune.json records (`config.model.name`)."""
    from safetensors.torch import save_file

    weight = check_weight(weight)
    tuned_dir = Path(resolve_model_path(model))
    _check_out(out, tuned_dir, force)
    settings = _settings(tuned_dir)
    recorded = _recorded_base(settings)
    base_spec = base or recorded
    if base_spec is None:
        raise CalltuneError(f"{model}: no calltune.json naming its base model; give --base")
    base_dir = Path(resolve_model_path(base_spec))
    other_base = None if recorded is not None and base_dir == Path(resolve_model_path(recorded)) else str(base_dir)
    mixed = interpolated(_load_safetensors(tuned_dir), _load_safetensors(base_dir), weight)

    def write(tmp):
        for path in tuned_dir.iterdir():  # config, tokenizer and chat template as the fine-tune has them
            if path.is_file() and not (path.name.startswith("model") and path.name.endswith(".safetensors")) \
                    and path.name not in ("calltune.json", "model.safetensors.index.json"):
                shutil.copy(path, Path(tmp) / path.name)
        save_file(mixed, str(Path(tmp) / "model.safetensors"), metadata={"format": "pt"})
        write_json(str(Path(tmp) / "calltune.json"), _record(settings, weight, str(tuned_dir), other_base))

    save_dir_atomically(out, write)
    return {"out": out, "kind": "model", "weight": weight, "base": str(base_dir)}


def interpolate_adapter(adapter: str, weight: float, out: str, force: bool = False) -> dict:
    """Write the adapter with its LoRA B weights scaled by `weight` as an adapter directory at `out`."""
    from safetensors.torch import load_file, save_file

    weight = check_weight(weight)
    source = find_adapter_dir(adapter)
    _check_out(out, source, force)
    weights = source / "adapter_model.safetensors"
    if not weights.is_file():
        raise CalltuneError(f"{source}: no adapter_model.safetensors to scale")
    scaled = scaled_lora(load_file(str(weights)), weight)
    settings = _settings(source)
    # an adapter saved without its vocabulary (the builtin one: its run's provenance.json vouches for the
    # base's tokenizer.json) gets that file, so that the written directory stands on its own
    vocabulary = adapter_vocabulary(source, resolve_model_path(_recorded_base(settings) or EMBEDDED))

    def write(tmp):
        for path in source.iterdir():
            if path.is_file() and path.name not in ("adapter_model.safetensors", "calltune.json"):
                shutil.copy(path, Path(tmp) / path.name)
        if vocabulary is not None:
            shutil.copy(vocabulary, Path(tmp) / "tokenizer.json")
        save_file(scaled, str(Path(tmp) / "adapter_model.safetensors"), metadata={"format": "pt"})
        write_json(str(Path(tmp) / "calltune.json"), _record(settings, weight, str(source)))

    save_dir_atomically(out, write)
    return {"out": out, "kind": "adapter", "weight": weight}
