"""Training throughput: calltune's trainer vs a plain HF Trainer + PEFT baseline set up as in the
seed report (every example padded to 384 tokens, full loss), same model, data and steps.

    python benchmarks/train_throughput.py [--model embedded] [--data seed:train] [--steps 10]
        [--batch-size 2] [--quantization nf4] [--threads 2] [--max-length 384] [--top-layers N]

Each configuration runs in its own process (so peak memory is its own) on a quiet machine;
figures: wall time per step, real (non-padding) tokens per second, peak RSS of the whole process
and of the training loop alone (the kernel's high-water mark reset before the first step), and the
ratio against the baseline. The ceiling: a LoRA step costs about 4 x 135M FLOPs per token and a
1024^3 fp32 matmul runs at ~81 GFLOP/s on 2 threads here, so ~150 tokens/s is the physical
limit for the embedded model; the achieved fraction of it is printed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

CEILING_TOKENS_PER_S = 150.0


def run_baseline(args) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import (AutoModelForCausalLM, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments)

    from calltune.examples import load_examples
    from calltune.lora import nf4_config, resolve_targets
    from calltune.models import load_tokenizer, resolve_model_path
    from calltune.prompts import format_call, render_prompt

    torch.set_num_threads(args.threads)
    path = resolve_model_path(args.model)
    tok = load_tokenizer(path)
    tok.padding_side = "right"
    kwargs = {"dtype": torch.float32}
    if args.quantization == "nf4":
        kwargs["quantization_config"] = nf4_config(torch.float32)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if args.quantization == "nf4":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, task_type="CAUSAL_LM",
                                             target_modules=resolve_targets(model, "attention")))
    examples = [ex for ex in load_examples(args.data) if ex.labeled]
    texts = [render_prompt(ex, "paper") + format_call(ex.target) + tok.eos_token for ex in examples]
    enc = tok(texts, padding="max_length", truncation=True, max_length=args.max_length, add_special_tokens=False)
    real_tokens = [sum(m) for m in enc["attention_mask"]]
    dataset = [{"input_ids": i, "attention_mask": m} for i, m in zip(enc["input_ids"], enc["attention_mask"])]
    targs = TrainingArguments(output_dir="/tmp/calltune-bench-hf", per_device_train_batch_size=args.batch_size,
                              learning_rate=5e-5, max_steps=args.steps, logging_steps=10 ** 6, save_strategy="no",
                              report_to=[], seed=11711, use_cpu=not torch.cuda.is_available(),
                              dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=targs, train_dataset=dataset,
                      data_collator=DataCollatorForLanguageModeling(tok, mlm=False))
    from calltune.train import current_peak_rss_mb, reset_peak_rss

    reset_peak_rss()
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    # the HF sampler draws examples at random; count real tokens at the dataset average
    tokens = args.steps * args.batch_size * sum(real_tokens) / len(real_tokens)
    return {"seconds": seconds, "real_tokens": tokens, "train_peak_rss_mb": current_peak_rss_mb()}


def run_calltune(args, loss: str, top_layers: int | None) -> dict:
    import shutil

    from calltune.config import load_config
    from calltune.train import train

    out = f"/tmp/calltune-bench-{loss}-{top_layers}"
    shutil.rmtree(out, ignore_errors=True)
    cfg = load_config(None, [f"model.name={args.model}", f"model.quantization={args.quantization}",
                             f"data.train={args.data}", "data.dev=null", f"data.loss={loss}",
                             f"train.batch_size={args.batch_size}", f"train.max_steps={args.steps}",
                             "train.lr=5e-5", f"train.threads={args.threads}",
                             f"data.max_length={args.max_length}",
                             f"lora.top_layers={top_layers if top_layers else 'null'}"])
    summary = train(cfg, out, progress=False)
    return {"seconds": summary["train_seconds"], "real_tokens": summary["tokens_per_s"] * summary["train_seconds"],
            "train_peak_rss_mb": summary["train_peak_rss_mb"]}


def run_child(cmd: list[str]) -> dict | None:
    """Run one configuration in its own process; its `RESULT {json}` line, or None (its stderr printed)."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    if proc.returncode or line is None:
        print(proc.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(line[len("RESULT "):])


def ceiling(args, tokens_per_s: float) -> str:
    """Fraction of the embedded model's physical limit (meaningless for other models)."""
    return f"{tokens_per_s / CEILING_TOKENS_PER_S:.0%}" if args.model == "embedded" else "-"


def child(args) -> None:
    if args.child == "baseline":
        result = run_baseline(args)
    else:  # calltune-<loss>[-top<N>]
        parts = args.child.split("-")
        result = run_calltune(args, parts[1], int(parts[2][3:]) if len(parts) > 2 else None)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--data", default="seed:train")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--quantization", default="nf4", choices=["none", "nf4"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=384, help="the report's padded length")
    parser.add_argument("--top-layers", type=int, default=None,
                        help="also run calltune with LoRA on the last N blocks only (lora.top_layers)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    rows = {}
    names = ["baseline", "calltune-full", "calltune-completion"]
    if args.top_layers:
        names.append(f"calltune-completion-top{args.top_layers}")
    for name in names:
        cmd = [sys.executable, __file__, "--child", name, "--model", args.model, "--data", args.data,
               "--steps", str(args.steps), "--batch-size", str(args.batch_size),
               "--quantization", args.quantization, "--threads", str(args.threads),
               "--max-length", str(args.max_length)]
        rows[name] = run_child(cmd)
        if rows[name] is None:
            return 1
    base = rows["baseline"]
    print(f"model={args.model} data={args.data} steps={args.steps} batch={args.batch_size} "
          f"quantization={args.quantization} threads={args.threads}")
    print(f"{'trainer':<22}{'s/step':>8}{'real tok/s':>12}{'x baseline':>12}{'of ceiling':>12}{'peak RSS MB':>13}"
          f"{'train peak MB':>15}")
    for name, r in rows.items():
        tps = r["real_tokens"] / r["seconds"]
        speedup = base["seconds"] / r["seconds"]
        print(f"{name:<22}{r['seconds'] / args.steps:>8.2f}{tps:>12.1f}{speedup:>12.2f}"
              f"{ceiling(args, tps):>12}{r['peak_rss_mb']:>13.0f}{r['train_peak_rss_mb'] or 0:>15.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
