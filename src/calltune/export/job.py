"""`calltune export`: a merged model as an HF directory or a GGUF file, calltune's template inside.

    calltune export --adapter RUN --format hf --out DIR [--type f32|f16|bf16]
    calltune export --adapter RUN --format gguf --out FILE.gguf [--type f32|f16|q8_0]
    calltune export --model embedded --format gguf --out base.gguf          # no adapter: the base

The base comes in full precision (an nf4-trained adapter merges into fp32 weights: `merge.merged_model`);
without `--model` it is the base the adapter's run trained on. Output is written to a temporary
path beside `--out` and renamed into place, so `--out` is never half-written; an existing
non-empty `--out` needs `--force`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from calltune.errors import CalltuneError
from calltune.export.gguf_file import GGUF_TYPES
from calltune.export.hf import HF_TYPES

FORMATS = ("hf", "gguf")
DEFAULT_TYPES = {"hf": "f32", "gguf": "f16"}


@dataclass
class ExportConfig:
    """What `calltune export` writes."""

    out: str
    """The HF model directory (`hf`) or the `.gguf` file (`gguf`) to write."""
    format: str = "hf"
    """`hf` (safetensors, config, tokenizer, generation config, model card) or `gguf` (Llama-family
    models, for llama.cpp)."""
    adapter: str | None = None
    """A PEFT adapter directory or a run directory with `adapter/`; none exports the base model."""
    model: str | None = None
    """The base: `embedded`, a local HF directory or a hub id; default the adapter's recorded base,
    else `embedded`."""
    type: str | None = None
    """Weight type: hf f32|f16|bf16 (default f32); gguf f32|f16|q8_0 (default f16)."""
    force: bool = False
    """Replace an existing non-empty `out`."""

    def __post_init__(self):
        if self.format not in FORMATS:
            raise CalltuneError(f"unknown export format '{self.format}' (choose from {', '.join(FORMATS)})")
        self.type = self.type or DEFAULT_TYPES[self.format]
        allowed = HF_TYPES if self.format == "hf" else GGUF_TYPES
        if self.type not in allowed:
            raise CalltuneError(f"--type {self.type} is not a {self.format} type (choose from {', '.join(allowed)})")
        if self.model is None:
            from calltune.export.card import recorded_base
            from calltune.models import EMBEDDED

            self.model = (recorded_base(self.adapter) if self.adapter else None) or EMBEDDED


def check_out(cfg: ExportConfig) -> None:
    """Refuse an `out` that would be clobbered or cannot be written, before any model is loaded."""
    out = Path(cfg.out)
    if cfg.format == "gguf":
        if out.suffix != ".gguf":
            raise CalltuneError(f"--out {cfg.out}: a GGUF export is one file named *.gguf")
        if out.is_dir():
            raise CalltuneError(f"--out {cfg.out}: is a directory; a GGUF export is one file")
        if out.exists() and not cfg.force:
            raise CalltuneError(f"--out {cfg.out}: exists (add --force to replace it)")
    else:
        if out.exists() and not out.is_dir():
            raise CalltuneError(f"--out {cfg.out}: is a file; an HF export is a directory")
        if out.is_dir() and any(out.iterdir()) and not cfg.force:
            raise CalltuneError(f"--out {cfg.out}: directory is not empty (add --force to replace it)")
    parent = out.absolute().parent
    if not parent.is_dir():
        raise CalltuneError(f"--out {cfg.out}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise CalltuneError(f"--out {cfg.out}: cannot write in {parent}")


def export_name(cfg: ExportConfig) -> str:
    """A name for the export's metadata: the run's directory name, else the base's."""
    from calltune.models import find_adapter_dir

    if cfg.adapter:
        adapter_dir = find_adapter_dir(cfg.adapter)
        run = adapter_dir.parent if adapter_dir.name == "adapter" else adapter_dir
        return f"calltune-{run.resolve().name}"
    return f"calltune-{Path(cfg.model).name or cfg.model}"


def write_dir_atomically(target: str, write, force: bool) -> None:
    """Call `write(tmp_dir)` on a fresh directory beside `target`, then rename it into place
    (replacing `target` only with `force`, or when it is an empty directory)."""
    out = Path(target)
    tmp = Path(tempfile.mkdtemp(dir=out.absolute().parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        write(str(tmp))
        # readable as ordinary files are (mkdtemp makes 0700, safetensors writes 0600): a server
        # running as another user must read them
        os.chmod(tmp, 0o777 & ~_umask())
        for path in tmp.iterdir():
            os.chmod(path, 0o666 & ~_umask())
        if out.exists():
            if any(out.iterdir()) and not force:  # appeared while this export ran
                raise CalltuneError(f"--out {target}: directory is not empty (add --force to replace it)")
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run_export(cfg: ExportConfig) -> dict:
    """Merge, then write `cfg.out`; returns `{"out", "format", "type", "bytes", "seconds", ...}`."""
    from calltune.export.card import model_card, provenance
    from calltune.export.gguf_file import check_supported, write_gguf
    from calltune.export.hf import write_hf
    from calltune.merge import merged_model

    check_out(cfg)
    if cfg.format == "gguf":  # an architecture the writer does not handle fails before any weights load
        from transformers import AutoConfig

        from calltune.models import resolve_model_path

        check_supported(AutoConfig.from_pretrained(resolve_model_path(cfg.model)))
    start = time.perf_counter()
    info = provenance(cfg.model, cfg.adapter)
    name = export_name(cfg)
    model, tokenizer, _ = merged_model(cfg.model, cfg.adapter)
    merged_s = time.perf_counter() - start
    result = {"out": cfg.out, "format": cfg.format, "type": cfg.type, "model": cfg.model, "adapter": cfg.adapter}
    if cfg.format == "gguf":
        base = f"on {cfg.model}" if cfg.model != "embedded" else "on SmolLM2-135M-Instruct"
        description = (f"calltune export of {info['adapter']} {base}" if cfg.adapter
                       else f"{cfg.model} with calltune's tool-calling chat template")
        result.update(write_gguf(model, tokenizer, cfg.out, cfg.type, name=name, description=description))
    else:
        card = model_card(info, name, cfg.type)
        write_dir_atomically(cfg.out, lambda tmp: write_hf(model, tokenizer, tmp, cfg.type, card), cfg.force)
        result["bytes"] = sum(p.stat().st_size for p in Path(cfg.out).iterdir() if p.is_file())
    result.update(merge_s=round(merged_s, 2), seconds=round(time.perf_counter() - start, 2))
    return result
