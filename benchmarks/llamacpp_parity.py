"""Does llama.cpp, serving a GGUF export, answer as calltune does? Agreement and speed on the same examples.

    python benchmarks/llamacpp_parity.py --adapter runs/hermes/synth500 \\
        --gguf /tmp/x/f32.gguf --gguf /tmp/x/q8_0.gguf \\
        --data seed:dev --data runs/hermes/dev200.jsonl --sample 30 [--max-new-tokens 128] [--out parity.json]

For each data set: `calltune predict --prompt-style hermes --decoding greedy` runs in its own process
(the command users run: batched, left padded; its examples/s is its own figure, model load excluded).
Then, in this process, each GGUF file is loaded by llama.cpp (llama-cpp-python, every core; KV cache
f16, llama.cpp's default, or f32: `--cache`) and decodes greedily, one example at a time, in two
modes: `raw`, the prompt text calltune renders, tokenized by llama.cpp from the GGUF's metadata;
and `chat`, llama-cpp-python's `create_chat_completion(messages, tools)`, which renders with the
template stored in the GGUF, as an OpenAI-style client would ask (examples/s: rendering,
tokenizing and decoding; load excluded). Reported per file, cache and mode: how many prompts
llama.cpp tokenizes into calltune's ids and how many llama-cpp-python's chat formatter renders
from the GGUF's template exactly as calltune does (raw; the same prompt gives the same answer, so
`chat` is optional), answers identical as text, the same calls and content (`chat.parse_answer`),
both sides' exact match against the labels (`calltune eval`), and the first disagreements. Speed
figures need a quiet machine (one process at a time); `--sample` draws a seeded sample from files
with more examples.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time


def sample_file(spec: str, n: int | None, seed: int, work: str) -> tuple[str, list]:
    from calltune.examples import load_examples, resolve_data_path
    from calltune.jsonl import read_jsonl, write_jsonl

    rows = [obj for _, obj in read_jsonl(resolve_data_path(spec))]
    if n is not None and len(rows) > n:
        rows = [rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), n))]
    path = os.path.join(work, re.sub(r"[^\w.-]", "_", spec) + ".jsonl")
    write_jsonl(path, rows)
    return path, load_examples(path)


def calltune_predict(data: str, out: str, args) -> dict:
    """Run `calltune predict` in its own process; returns its predictions by id and examples/s."""
    cmd = [sys.executable, "-m", "calltune.cli", "predict", "--data", data, "--out", out, "--prompt-style", "hermes",
           "--decoding", "greedy", "--max-new-tokens", str(args.max_new_tokens), "--batch-size",
           str(args.batch_size), "--model", args.model, "--no-progress"]
    if args.adapter:
        cmd += ["--adapter", args.adapter]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"calltune predict failed:\n{done.stderr}")
    speed = re.search(r"\(([\d.]+) examples/s", done.stderr)
    with open(out, encoding="utf-8") as handle:
        preds = {rec["id"]: rec for rec in map(json.loads, handle)}
    return {"preds": preds, "examples_per_s": float(speed.group(1)) if speed else None,
            "wall_s": round(time.perf_counter() - start, 2), "command": " ".join(cmd[1:])}


def llama_cpp_predict(llm, examples, tokenizer, out: str, mode: str, args) -> dict:
    """`raw`: calltune's rendered prompt text, tokenized by llama.cpp, decoded greedily. `chat`:
    `create_chat_completion(messages, tools)` at temperature 0, rendered by the GGUF's template."""
    from calltune.chat.render import openai_tools
    from calltune.jsonl import write_jsonl
    from calltune.predict import prediction_for
    from calltune.prompts import render_prompt

    same_ids = same_chat_prompt = 0
    records = []
    start = time.perf_counter()
    for ex in examples:
        if mode == "raw":
            prompt = render_prompt(ex, "hermes", tokenizer)
            ids = llm.tokenize(prompt)
            same_ids += ids == tokenizer(prompt, add_special_tokens=False)["input_ids"]
            text = llm.greedy(ids, args.max_new_tokens).text
        else:
            text = llm.chat(ex.conversation(), openai_tools(ex.tools), args.max_new_tokens)
        records.append(prediction_for(ex, text, "greedy", "hermes").to_json())
    seconds = time.perf_counter() - start
    if mode == "raw":  # outside the timing: what the chat completion would send, rendered from the GGUF
        same_chat_prompt = sum(llm.render_chat(ex.conversation(), openai_tools(ex.tools))
                               == render_prompt(ex, "hermes", tokenizer) for ex in examples)
    write_jsonl(out, records)
    return {"preds": {r["id"]: r for r in records}, "same_prompt_ids": same_ids if mode == "raw" else None,
            "same_chat_prompt": same_chat_prompt if mode == "raw" else None,
            "examples_per_s": round(len(examples) / seconds, 4), "seconds": round(seconds, 2)}


def exact_match(data: str, pred: str) -> float:
    from calltune.evaluate import run_eval

    return run_eval(data, pred, None)["exact_match"]


def compare(examples, ours: dict, theirs: dict, limit: int = 3) -> dict:
    same_text = same_calls = 0
    differ = []
    for ex in examples:
        a, b = ours[ex.id], theirs[ex.id]
        same_text += a["raw"] == b["raw"]
        agree = a["calls"] == b["calls"] and (a["content"] or "") == (b["content"] or "")
        same_calls += agree
        if not agree and len(differ) < limit:
            differ.append({"id": ex.id, "calltune": a["raw"], "llama.cpp": b["raw"]})
    return {"same_text": same_text, "same_calls_and_content": same_calls, "disagreements": differ}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="embedded")
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--gguf", action="append", required=True, help="a GGUF export of the same model (repeat)")
    parser.add_argument("--data", action="append", default=None, help="examples (repeat); default seed:dev")
    parser.add_argument("--sample", type=int, default=30, help="at most N examples per data set (seeded)")
    parser.add_argument("--seed", type=int, default=11711)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8, help="calltune predict's batch")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="llama.cpp's threads")
    parser.add_argument("--cache", default="f16", help="llama.cpp KV cache types to run: f16 (its default), f32")
    parser.add_argument("--modes", default="raw",
                        help="raw: calltune's prompt text (and a check that the GGUF's template renders it too); "
                             "chat: create_chat_completion with the GGUF's template")
    parser.add_argument("--out", default=None, help="also write the report as JSON")
    args = parser.parse_args(argv)

    from calltune.export.llamacpp import LlamaCpp
    from calltune.models import find_adapter_dir, load_tokenizer, resolve_model_path

    tokenizer = load_tokenizer(str(find_adapter_dir(args.adapter)) if args.adapter
                               else resolve_model_path(args.model))
    work = tempfile.mkdtemp(prefix="calltune-parity-")
    report = {"model": args.model, "adapter": args.adapter, "max_new_tokens": args.max_new_tokens,
              "threads": args.threads, "cpu_count": os.cpu_count(), "sets": []}
    for spec in args.data or ["seed:dev"]:
        data, examples = sample_file(spec, args.sample, args.seed, work)
        pred = os.path.join(work, "calltune.jsonl")
        ours = calltune_predict(data, pred, args)
        entry = {"data": spec, "n": len(examples), "calltune": {
            "examples_per_s": ours["examples_per_s"], "exact_match": exact_match(data, pred),
            "command": ours["command"]}, "llama_cpp": []}
        for gguf in args.gguf:
            for cache in args.cache.split(","):
                llm = LlamaCpp(gguf, n_threads=args.threads, cache=cache)
                for mode in args.modes.split(","):
                    pred = os.path.join(work, "llamacpp.jsonl")
                    theirs = llama_cpp_predict(llm, examples, tokenizer, pred, mode, args)
                    entry["llama_cpp"].append({"gguf": gguf, "cache": cache, "mode": mode,
                                               "examples_per_s": theirs["examples_per_s"],
                                               "same_prompt_ids": theirs["same_prompt_ids"],
                                               "same_chat_prompt": theirs["same_chat_prompt"],
                                               "exact_match": exact_match(data, pred),
                                               **compare(examples, ours["preds"], theirs["preds"])})
                del llm
        report["sets"].append(entry)
        print_entry(entry)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
    return 0


def print_entry(entry: dict) -> None:
    n, ours = entry["n"], entry["calltune"]
    print(f"\n{entry['data']}: {n} examples; calltune predict {ours['examples_per_s']} examples/s, "
          f"exact match {ours['exact_match']:.3f}")
    for row in entry["llama_cpp"]:
        ids = (f"prompt ids {row['same_prompt_ids']}/{n}, chat-template prompt {row['same_chat_prompt']}/{n}, "
               if row["same_prompt_ids"] is not None else "")
        print(f"  {os.path.basename(row['gguf'])} cache {row['cache']} {row['mode']}: {ids}same text "
              f"{row['same_text']}/{n}, same calls+content {row['same_calls_and_content']}/{n}, exact match "
              f"{row['exact_match']:.3f}, {row['examples_per_s']} examples/s")
        for d in row["disagreements"]:
            print(f"    {d['id']}: calltune {d['calltune']!r}\n    {' ' * len(d['id'])}  llama.cpp {d['llama.cpp']!r}")


if __name__ == "__main__":
    sys.exit(main())
