"""`calltune predict`: render prompts, decode, extract calls, write predictions.

Predictions are written atomically in input order. While a run is going,
finished batches are appended to `OUT.partial` (first line: a fingerprint of
model, adapter, prompts and decoding settings); a rerun of the same command
after an interruption resumes from it, and a different command discards it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass

from calltune.errors import CalltuneError
from calltune.examples import Example, Prediction, load_examples
from calltune.extract import extract_call
from calltune.jsonl import dumps_line, write_jsonl
from calltune.prompts import PROMPT_STYLES, render_prompt


@dataclass
class PredictConfig:
    """What `calltune predict` runs."""

    data: str
    """Input examples: a JSONL path or `seed:all|train|dev`."""
    out: str
    """Where the predictions JSONL goes."""
    model: str = "embedded"
    """`embedded`, a local HF model directory, or a hub id."""
    adapter: str | None = None
    """A PEFT adapter directory (or a run directory with `adapter/`)."""
    prompt_style: str = "paper"
    """`paper` (the report's template) or `chat` (the model's chat template)."""
    max_new_tokens: int = 64
    """Generation budget per example."""
    batch_size: int = 8
    """Prompts decoded together (left padded)."""
    quantization: str = "auto"
    """Base weights: `none`, `nf4`, or `auto` (as the adapter's run trained them)."""

    def __post_init__(self):
        if self.prompt_style not in PROMPT_STYLES:
            raise CalltuneError(f"unknown prompt style '{self.prompt_style}' (choose from {', '.join(PROMPT_STYLES)})")
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise CalltuneError("--max-new-tokens and --batch-size must be at least 1")


def prediction_for(example: Example, raw: str) -> Prediction:
    ext = extract_call(raw)
    return Prediction(example.id, raw, ext.call, ext.error)


def _fingerprint(cfg: PredictConfig, model_path: str, prompts: list[str]) -> str:
    blob = json.dumps({"model": model_path, "adapter": cfg.adapter, "style": cfg.prompt_style,
                       "max_new_tokens": cfg.max_new_tokens, "prompts": prompts})
    return hashlib.sha256(blob.encode()).hexdigest()


def _load_partial(path: str, fingerprint: str, ids: list[str]) -> dict[str, str]:
    """Read finished raws from a partial file written by the same configuration."""
    if not os.path.exists(path):
        return {}
    done: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    try:
        if not lines or json.loads(lines[0]).get("fingerprint") != fingerprint:
            return {}
        for text in lines[1:]:
            rec = json.loads(text)
            done[rec["id"]] = rec["raw"]
    except (json.JSONDecodeError, KeyError, AttributeError):
        pass  # a torn last line: keep what was read before it
    known = set(ids)
    return {k: v for k, v in done.items() if k in known}


def check_lengths(examples: list[Example], prompts: list[str], tokenizer, model, max_new_tokens: int) -> None:
    limit = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    if not limit:
        return
    for ex, prompt in zip(examples, prompts):
        n = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if n + max_new_tokens > limit:
            raise CalltuneError(f"example '{ex.id}': prompt is {n} tokens; with {max_new_tokens} new tokens "
                                f"it exceeds the model's {limit} positions")


def run_predict(cfg: PredictConfig, loaded=None, progress: bool = True) -> dict:
    """Run prediction; `loaded` may pass an already loaded `(model, tokenizer, path)`."""
    from calltune.generate import generate_all
    from calltune.models import load_model

    examples = load_examples(cfg.data)
    model, tokenizer, model_path = loaded or load_model(cfg.model, cfg.adapter, quantization=cfg.quantization)
    prompts = [render_prompt(ex, cfg.prompt_style, tokenizer) for ex in examples]
    check_lengths(examples, prompts, tokenizer, model, cfg.max_new_tokens)
    ids = [ex.id for ex in examples]
    fingerprint = _fingerprint(cfg, model_path, prompts)
    partial = cfg.out + ".partial"
    raws = _load_partial(partial, fingerprint, ids)
    if not raws:
        os.makedirs(os.path.dirname(os.path.abspath(partial)), exist_ok=True)
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(dumps_line({"fingerprint": fingerprint}) + "\n")
    resumed = len(raws)
    with open(partial, "a", encoding="utf-8") as handle:
        def on_batch(indices, generations):
            for i, gen in zip(indices, generations):
                raws[ids[i]] = gen.text
                handle.write(dumps_line({"id": ids[i], "raw": gen.text}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

        skip = {i for i, ex_id in enumerate(ids) if ex_id in raws}
        stats = generate_all(model, tokenizer, prompts, cfg.max_new_tokens, cfg.batch_size,
                             skip=skip, on_batch=on_batch, progress=progress)
    write_jsonl(cfg.out, [prediction_for(ex, raws[ex.id]).to_json() for ex in examples])
    os.unlink(partial)
    return {"config": asdict(cfg), "model_path": model_path, "n": len(examples),
            "resumed": resumed, **stats}
