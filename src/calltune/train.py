"""`calltune train`: LoRA / QLoRA fine-tuning with completion-only or full loss.

    calltune train --config configs/paper.yaml --out runs/paper [section.key=value ...] [--resume]

A run directory holds config.yaml (resolved), run.json (data fingerprint, library
versions, dropped examples, throughput, memory, dev evaluations), data_seen.json
(example ids per rank, in training order), train_log.jsonl (loss per step), eval/
(dev metrics), checkpoints/step-N/ and, once finished, adapter/ in PEFT's format with
the tokenizer and its chat template (for prompt style `hermes`, calltune's: the template
the examples were rendered with travels with the weights); with `train.method full`, model/
instead: the whole fine-tuned model in HF's format with the same tokenizer files, which
`--model RUN` loads.
Under `torchrun --nproc_per_node N` the same command trains data-parallel (gloo on
CPU, NCCL on GPUs); rank 0 writes everything.

Resuming: a checkpoint holds the adapter, optimizer, scheduler, RNG streams (CPU and
GPU), position, the evaluations and example ids so far, and the run's identity (every
config field, the data files' hashes, the number of processes). `--resume` continues
exactly and refuses a changed identity unless forced; on a finished run (run.json is
written last) it says so and changes nothing.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sys
import time
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from calltune.batching import collate, rank_slice, run_plan
from calltune.chat.template import ensure_chat_template
from calltune.config import RunConfig, dump_config
from calltune.decisions import decision_weights
from calltune.errors import CalltuneError
from calltune.examples import data_sha256, load_examples
from calltune.overlap import benchmark_overlap
from calltune.jsonl import atomic_write_text, dumps_line, write_json
from calltune.recipe_data import prepare_data
from calltune.render import Rendered, in_schema_order, render_example


class CausalLMLoss(torch.nn.Module):
    """Summed token cross-entropy that runs the LM head only where a label is set.

    The logits of all positions (B x T x vocab: 4 x 256 x 49,152 fp32 = 200 MB for the
    embedded model) dominate training memory; only supervised positions need them.
    Wrapping the whole computation in one module lets DDP see the forward pass.

    With `pad_mask=False` the padding mask is not given to attention: batches are right-padded (`collate`), so
    under the causal mask a real token only sees real tokens, and positions count from 0 either way; the loss,
    taken on real tokens only, is the same to float rounding, and SDPA can take its causal path (no (B, 1, T, T)
    mask, grouped KV heads read in place).

    With `autocast` (a dtype: bfloat16) the model's forward runs under `torch.autocast` (mixed precision: its
    matrix products in that dtype, the weights and the loss in fp32); None: as the weights are.
    """

    def __init__(self, model, pad_mask: bool = True, autocast: torch.dtype | None = None):
        super().__init__()
        self.model = model
        self.pad_mask = pad_mask
        self.autocast = autocast

    def forward(self, input_ids, attention_mask, labels, weights=None):
        """(summed loss, normalizer): the token count, or with `weights` (B, T) the weighted sum and the summed
        weights of the supervised tokens (a token's weight is at its own position, the one it is predicted for)."""
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        body = getattr(base, base.base_model_prefix)
        mask = attention_mask if self.pad_mask else None
        targets = labels[:, 1:]  # position t predicts token t+1
        selected = targets != -100  # (B, T-1)
        with torch.autocast(input_ids.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            hidden = body(input_ids=input_ids, attention_mask=mask).last_hidden_state  # (B, T, H)
            logits = base.get_output_embeddings()(hidden[:, :-1][selected])  # (N, vocab)
        if weights is None:
            return F.cross_entropy(logits.float(), targets[selected], reduction="sum"), selected.sum()
        weight = weights[:, 1:][selected]  # (N,)
        losses = F.cross_entropy(logits.float(), targets[selected], reduction="none")
        return (losses * weight).sum(), weight.sum()


def normalizer(batch: dict) -> float:
    """What a batch's summed loss is divided by: its supervised tokens, or their summed weights."""
    selected = batch["labels"][:, 1:] != -100
    if "weights" in batch:
        return float(batch["weights"][:, 1:][selected].sum())
    return float(selected.sum())


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world == 1:
        return Dist(device="cuda" if cuda else "cpu")
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Dist(dist.get_rank(), world, f"cuda:{local}" if cuda else "cpu")


def fingerprint(spec: str | None) -> str | None:
    if spec is None:
        return None
    return data_sha256(spec)


def render_dataset(spec: str, tokenizer, cfg: RunConfig) -> tuple[list[Rendered], list[str]]:
    """Render every labeled example; return the usable ones and the ids dropped as too long."""
    examples = [ex for ex in load_examples(spec) if ex.labeled]
    if not examples:
        raise CalltuneError(f"{spec}: no labeled examples to train on")
    rendered, dropped = [], []
    for ex in examples:
        if cfg.data.argument_order == "schema":
            ex = in_schema_order(ex)
        item = render_example(ex, tokenizer, cfg.data.prompt_style, cfg.data.loss)
        if len(item.input_ids) > cfg.data.max_length:
            if cfg.data.overlong == "error":
                raise CalltuneError(f"{spec}: example '{ex.id}' is {len(item.input_ids)} tokens, over "
                                    f"data.max_length {cfg.data.max_length}")
            dropped.append(ex.id)
        elif cfg.train.decision_weight != 1.0:
            rendered.append(replace(item, weights=decision_weights(item.input_ids, item.loss_mask, tokenizer,
                                                                   cfg.train.decision_weight,
                                                                   cfg.train.decision_kinds)))
        else:
            rendered.append(item)
    if not rendered:
        raise CalltuneError(f"{spec}: all {len(examples)} examples are longer than data.max_length "
                            f"{cfg.data.max_length}; nothing to train on")
    return rendered, dropped


def make_scheduler(optimizer, cfg: RunConfig, total_steps: int):
    from transformers import get_scheduler

    warmup = int(cfg.train.warmup_ratio * total_steps)
    name = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}[cfg.train.scheduler]
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)


def latest_checkpoint(out: str) -> str | None:
    root = os.path.join(out, "checkpoints")
    if not os.path.isdir(root):
        return None
    steps = sorted(int(d.split("-")[1]) for d in os.listdir(root)
                   if d.startswith("step-") and os.path.exists(os.path.join(root, d, "state.json")))
    return os.path.join(root, f"step-{steps[-1]}") if steps else None


def save_dir_atomically(target: str, write) -> None:
    """Call `write(tmp_dir)`, then move the finished directory into place."""
    tmp = target + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    write(tmp)
    if os.path.exists(target):
        shutil.rmtree(target)
    os.replace(tmp, target)


def rng_state() -> dict:
    """The RNG streams a resumed run must continue: the CPU's and, with GPUs, each GPU's
    (dropout on a GPU draws from the GPU's generator, not the CPU's)."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(saved) -> None:
    """Restore `rng_state()`'s streams (or an older checkpoint's bare CPU state tensor).

    Under torchrun rank 0's streams are saved and every rank restores them, so a data-parallel
    run with dropout resumes close to, not bit-identical with, an uninterrupted one.
    """
    if isinstance(saved, torch.Tensor):
        saved = {"cpu": saved}
    torch.set_rng_state(saved["cpu"])
    if not torch.cuda.is_available():
        return  # GPU streams saved on another machine have nothing to drive here
    cuda = saved.get("cuda")
    if cuda is not None and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    else:
        print(f"warning: the checkpoint has no CUDA RNG state for this machine's {torch.cuda.device_count()} "
              "GPU(s); dropout on the GPU will not repeat the uninterrupted run's", file=sys.stderr)


TRAINABLE_FILE = "trainable.safetensors"  # a full fine-tune's checkpoint: the weights that train, by name


def save_checkpoint(out: str, model, optimizer, scheduler, state: dict, keep: int = 2) -> None:
    target = os.path.join(out, "checkpoints", f"step-{state['step']}")

    def write(tmp):
        if hasattr(model, "peft_config"):
            model.save_pretrained(tmp)
        else:  # full fine-tuning: the frozen weights are the base's, so only the trained ones are saved
            from safetensors.torch import save_file

            save_file({name: p.detach().contiguous() for name, p in model.named_parameters() if p.requires_grad},
                      os.path.join(tmp, TRAINABLE_FILE))
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_state()}, os.path.join(tmp, "trainer.pt"))
        with open(os.path.join(tmp, "state.json"), "w") as handle:
            json.dump(state, handle)

    save_dir_atomically(target, write)
    root = os.path.dirname(target)
    old = sorted((int(d.split("-")[1]) for d in os.listdir(root) if d.startswith("step-") and "." not in d))
    for step in old[:-keep]:
        shutil.rmtree(os.path.join(root, f"step-{step}"), ignore_errors=True)


def load_checkpoint(path: str, model, optimizer, scheduler) -> None:
    """Load a checkpoint's weights, optimizer, scheduler and RNG streams (its state.json: `resume_state`)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    if hasattr(model, "peft_config"):
        set_peft_model_state_dict(model, load_file(os.path.join(path, "adapter_model.safetensors")))
    else:
        saved = load_file(os.path.join(path, TRAINABLE_FILE))
        trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
        if saved.keys() != trainable.keys():
            raise CalltuneError(f"{path}: its trained weights ({len(saved)}) are not this run's ({len(trainable)})")
        with torch.no_grad():
            for name, param in trainable.items():
                param.copy_(saved[name])
    blob = torch.load(os.path.join(path, "trainer.pt"), weights_only=False)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    restore_rng(blob["rng"])


# May differ between a checkpoint and the run resuming it: threads change speed (and at most
# the rounding of CPU reductions), not the recipe. Anything else changes what is trained,
# evaluated or logged, and a mix of two recipes would pass for one run.
RESUME_MAY_CHANGE = ("train.threads",)


def run_identity(cfg: RunConfig, world_size: int, train_sha: str | None, dev_sha: str | None) -> dict:
    """What a checkpoint records and a resume must match: every config field as `section.key`,
    the data files' contents, and the number of processes (it shapes the batch plan)."""
    flat = {f"{section}.{key}": value for section, values in cfg.to_dict().items() for key, value in values.items()}
    return {**flat, "data.train_sha256": train_sha, "data.dev_sha256": dev_sha, "world_size": world_size}


def config_changes(saved: dict, current: dict) -> list[str]:
    """`key old -> new` for every key whose value differs (sorted), except `RESUME_MAY_CHANGE`."""
    keys = sorted((set(saved) | set(current)) - set(RESUME_MAY_CHANGE))
    return [f"{k} {json.dumps(saved.get(k))} -> {json.dumps(current.get(k))}"
            for k in keys if saved.get(k) != current.get(k)]


def resume_state(checkpoint: str, out: str, identity: dict, force: bool) -> dict:
    """The checkpoint's state.json, after checking that this run is the one it was saved from."""
    with open(os.path.join(checkpoint, "state.json")) as handle:
        state = json.load(handle)
    saved = state.get("config")
    if saved is None:
        print(f"warning: {checkpoint} predates config checks; its config is not compared", file=sys.stderr)
    elif changes := config_changes(saved, identity):
        if not force:
            raise CalltuneError(f"{out}: config differs from the checkpoint's: {', '.join(changes)}; "
                                "pass --force to resume anyway")
        print(f"warning: resuming {out} with a changed config: {', '.join(changes)}", file=sys.stderr)
        state.setdefault("forced_resumes", []).append({"step": state["step"], "changes": changes})
    state["config"] = identity  # later checkpoints record what they were trained under
    # checkpoints from before evaluations and example ids were carried
    for key, empty in (("evals", []), ("seen_by_rank", []), ("forced_resumes", [])):
        state.setdefault(key, empty)
    state["seen_by_rank"] += [[] for _ in range(identity["world_size"] - len(state["seen_by_rank"]))]
    return state


def finished_run(out: str) -> dict | None:
    """run.json of a finished run in `out`, else None. run.json is written last, after adapter/ (or
    model/), so a run stopped while finishing still resumes from its checkpoint."""
    path = os.path.join(out, "run.json")
    saved = (os.path.join(out, "adapter", "adapter_config.json"), os.path.join(out, "model", "config.json"))
    if not (os.path.exists(path) and any(os.path.exists(p) for p in saved)):
        return None
    with open(path) as handle:
        return json.load(handle)


@torch.no_grad()
def dev_loss(loss_module, items: list[Rendered], pad_id: int, batch_size: int, device: str) -> float:
    total, count = 0.0, 0
    for lo in range(0, len(items), batch_size):
        chunk = items[lo: lo + batch_size]
        batch = {k: v.to(device) for k, v in collate([i.input_ids for i in chunk], [i.loss_mask for i in chunk],
                                                     pad_id).items()}
        loss, n = loss_module(**batch)
        total, count = total + loss.item(), count + int(n)
    return total / max(count, 1)


def evaluate_dev(cfg: RunConfig, out: str, step: int, model, tokenizer, path: str, dev_items, loss_module,
                 device: str) -> dict:
    """Dev loss and, if configured, the three metrics from greedy generation."""
    model.eval()
    result = {"step": step, "dev_loss": dev_loss(loss_module, dev_items, tokenizer.pad_token_id,
                                                 cfg.train.batch_size, device)}
    if cfg.eval.generate:
        from calltune.evaluate import evaluate
        from calltune.predict import PredictConfig, run_predict

        pred = os.path.join(out, "eval", f"step-{step}", "predictions.jsonl")
        # weights in memory have no files to fingerprint: an earlier attempt's partial
        # predictions at this step may come from other weights (a forced resume), so drop them
        if os.path.exists(pred + ".partial"):
            os.unlink(pred + ".partial")
        pcfg = PredictConfig(data=cfg.data.dev, out=pred, prompt_style=cfg.data.prompt_style,
                             max_new_tokens=cfg.eval.max_new_tokens, batch_size=cfg.eval.batch_size,
                             quantization=cfg.model.quantization)
        stats = run_predict(pcfg, loaded=(model, tokenizer, path), progress=False)
        metrics = evaluate(load_examples(cfg.data.dev), pred)
        write_json(os.path.join(out, "eval", f"step-{step}", "metrics.json"), metrics)
        result.update({k: metrics[k] for k in ("json_validity", "schema_adherence", "exact_match")})
        result["eval_examples_per_s"] = stats["examples_per_s"]
    model.train()
    return result


def truncate_log(path: str, step: int) -> None:
    """Drop log lines written after the checkpoint a run resumes from."""
    if not os.path.exists(path):
        return
    with open(path) as handle:
        keep = [line for line in handle if line.strip() and json.loads(line)["step"] <= step]
    atomic_write_text(path, "".join(keep))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of resident memory (Linux), so that the peak read after
    the training loop belongs to training alone, not to model loading."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def current_peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def train(cfg: RunConfig, out: str, resume: bool = False, progress: bool = True, force: bool = False) -> dict:
    """Run (or resume) training into `out`; returns the summary written to run.json, or {} when
    `resume` finds the run finished. `force` resumes even if the config differs from the checkpoint's."""
    from tqdm import tqdm

    from calltune.interpolate import apply_to_trained
    from calltune.lora import add_lora, cast_saved_adapter, load_base, torch_dtype, unfreeze_blocks
    from calltune.runinfo import versions

    if resume and (done := finished_run(out)) is not None:
        if int(os.environ.get("RANK", "0")) == 0:  # before torchrun's process group: nothing to join
            print(f"run {out} finished at step {done.get('steps')}; nothing to resume — train into a new "
                  "--out to start again", file=sys.stderr)
        return {}
    dist_info = setup_distributed()
    for saved in ("adapter", "model"):
        if not resume and os.path.exists(os.path.join(out, saved)):
            raise CalltuneError(f"{out}: already holds a finished run ({saved}/); choose another --out")
    checkpoint = latest_checkpoint(out) if resume else None
    if resume and checkpoint is None and dist_info.main:
        print(f"no checkpoint in {out}; starting from scratch")
    # data.synth: generate OUT/data/ (or reuse it) and train on it; `recipe` is the config as given
    recipe, (cfg, generated) = cfg, prepare_data(cfg, out, quiet=not dist_info.main)
    train_sha, dev_sha = fingerprint(cfg.data.train), fingerprint(cfg.data.dev)
    identity = run_identity(cfg, dist_info.world_size, train_sha, dev_sha)
    state = {"step": 0, "tokens": 0, "seconds": 0.0, "evals": [], "config": identity, "forced_resumes": [],
             "seen_by_rank": [[] for _ in range(dist_info.world_size)]}
    if checkpoint:
        state = resume_state(checkpoint, out, identity, force)  # before anything is loaded or written
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)

    model, tokenizer, model_path = load_base(cfg.model, dist_info.device)
    if cfg.data.prompt_style == "hermes":
        ensure_chat_template(tokenizer)  # what render_example renders with, and what adapter/ saves
    base_bytes = model.get_memory_footprint()
    train_items, dropped = render_dataset(cfg.data.train, tokenizer, cfg)
    dev_items = render_dataset(cfg.data.dev, tokenizer, cfg)[0] if cfg.data.dev else []
    if cfg.train.method == "full":
        model = unfreeze_blocks(model, cfg.lora.top_layers, cfg.model)
    else:
        model = add_lora(model, cfg.lora, cfg.model, cfg.train.seed)
    loss_module = CausalLMLoss(model, cfg.train.pad_mask,
                               None if cfg.train.autocast == "none" else torch_dtype(cfg.train.autocast))
    trainable = [p for p in model.parameters() if p.requires_grad]
    # train.interpolate on a full fine-tune needs the weights training starts from (before a checkpoint's)
    initial = ({n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}
               if cfg.train.interpolate != 1.0 and cfg.train.method == "full" else None)
    optimizer = torch.optim.AdamW(trainable, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    plan = run_plan([len(i.input_ids) for i in train_items], cfg.train.batch_size, dist_info.world_size,
                    cfg.train.seed, cfg.train.epochs, cfg.train.max_steps, cfg.train.grad_accum,
                    cfg.train.group_by_length)
    total_steps = len(plan) // cfg.train.grad_accum
    scheduler = make_scheduler(optimizer, cfg, total_steps)
    if checkpoint:
        load_checkpoint(checkpoint, model, optimizer, scheduler)
        if dist_info.main:
            truncate_log(os.path.join(out, "train_log.jsonl"), state["step"])
    elif dist_info.main and os.path.exists(os.path.join(out, "train_log.jsonl")):
        os.unlink(os.path.join(out, "train_log.jsonl"))  # a fresh run starts a fresh log
    trainer = loss_module
    if dist_info.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        trainer = DistributedDataParallel(loss_module)

    run_info = {"config": recipe.to_dict(), "model_path": model_path, "versions": versions(),
                "data": {"train": cfg.data.train, "train_sha256": train_sha,
                         "dev": cfg.data.dev, "dev_sha256": dev_sha,
                         **({"generated": generated} if generated else {}),
                         "train_examples": len(train_items), "dropped_overlong": dropped,
                         "boundary_merges": sum(i.boundary_merges for i in train_items)},
                "world_size": dist_info.world_size, "total_steps": total_steps,
                "base_model_bytes": base_bytes,
                "trainable_params": sum(p.numel() for p in trainable)}
    if dist_info.main:
        overlap = benchmark_overlap(load_examples(cfg.data.train))
        if overlap is not None:  # training on a benchmark's own tools would inflate its figures
            print(overlap.summary(), file=sys.stderr)
            run_info["data"]["benchmark_overlap"] = overlap.to_json(max_matches=20)
        os.makedirs(out, exist_ok=True)
        atomic_write_text(os.path.join(out, "config.yaml"), dump_config(recipe))
        if dropped:
            print(f"warning: dropped {len(dropped)} of {len(dropped) + len(train_items)} training examples "
                  f"longer than data.max_length {cfg.data.max_length} (e.g. {dropped[0]})")

    stop = {"requested": False}
    previous = {sig: signal.signal(sig, lambda *_: stop.update(requested=True))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    log_path = os.path.join(out, "train_log.jsonl")
    weighted = cfg.train.decision_weight != 1.0  # else collate adds no weights: the unweighted path, as before
    model.train()
    reset_peak_rss()
    bar = tqdm(total=total_steps, initial=state["step"], desc="train", unit="step",
               disable=not (progress and dist_info.main), dynamic_ncols=True)
    try:
        while state["step"] < total_steps:
            started = time.perf_counter()
            micro = plan[state["step"] * cfg.train.grad_accum: (state["step"] + 1) * cfg.train.grad_accum]
            mine = [rank_slice(g, dist_info.rank, cfg.train.batch_size) for g in micro]
            batches = [collate([train_items[i].input_ids for i in idx], [train_items[i].loss_mask for i in idx],
                               tokenizer.pad_token_id,
                               [train_items[i].weights for i in idx] if weighted else None)
                       for idx in mine]
            # normalize by the step's supervised tokens (their summed weights) over all processes
            count = torch.tensor(float(sum(normalizer(b) for b in batches)))
            if dist_info.world_size > 1:
                torch.distributed.all_reduce(count)
            step_loss = 0.0
            for batch in batches:
                batch = {k: v.to(dist_info.device) for k, v in batch.items()}
                loss_sum, _ = trainer(**batch)
                (loss_sum * dist_info.world_size / count).backward()  # DDP averages over processes
                step_loss += loss_sum.item()
            if cfg.train.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(trainable, cfg.train.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            tokens = sum(int(b["attention_mask"].sum()) for b in batches)
            # every rank records every rank's examples (a function of the plan), so that rank 0's
            # checkpoints carry them all without a collective call
            for rank, seen in enumerate(state["seen_by_rank"][:dist_info.world_size]):
                seen.extend(train_items[i].id for g in micro for i in rank_slice(g, rank, cfg.train.batch_size))
            state["step"] += 1
            state["tokens"] += tokens * dist_info.world_size
            state["seconds"] += time.perf_counter() - started
            loss_value = step_loss * dist_info.world_size / float(count)  # rank-local estimate
            if dist_info.main:
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4f}", tok_s=f"{state['tokens'] / state['seconds']:.0f}")
                if state["step"] % cfg.train.log_every == 0 or state["step"] == total_steps:
                    with open(log_path, "a") as handle:
                        handle.write(dumps_line({"step": state["step"], "loss": loss_value,
                                                 "lr": scheduler.get_last_lr()[0], "tokens": state["tokens"],
                                                 "seconds": round(state["seconds"], 3)}) + "\n")
            done = state["step"] == total_steps
            # evaluate before saving, so that the checkpoint of this step carries its evaluation
            if cfg.eval.every and state["step"] % cfg.eval.every == 0 and not done and dist_info.main:
                state["evals"].append(evaluate_dev(cfg, out, state["step"], model, tokenizer, model_path,
                                                   dev_items, loss_module, dist_info.device))
            if cfg.train.save_every and state["step"] % cfg.train.save_every == 0 and not done and dist_info.main:
                save_checkpoint(out, model, optimizer, scheduler, state)
            if stop["requested"] and not done:
                if dist_info.main:
                    save_checkpoint(out, model, optimizer, scheduler, state)
                raise KeyboardInterrupt
    finally:
        bar.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    train_peak = current_peak_rss_mb()
    apply_to_trained(model, initial, cfg.train.interpolate, cfg.train.method)  # what is saved and evaluated
    summary = {}
    if dist_info.main:
        if cfg.data.dev:
            state["evals"].append(evaluate_dev(cfg, out, state["step"], model, tokenizer, model_path, dev_items,
                                               loss_module, dist_info.device))

        def write_weights(tmp):
            # lora: PEFT's format (adapter_config.json + adapter_model.safetensors); full: HF's whole model
            model.save_pretrained(tmp)
            if cfg.lora.save_dtype != "float32" and cfg.train.method == "lora":
                cast_saved_adapter(tmp, cfg.lora.save_dtype)
            tokenizer.save_pretrained(tmp)  # with its chat template (chat_template.jinja)
            write_json(os.path.join(tmp, "calltune.json"), {k: run_info[k] for k in
                                                            ("config", "model_path", "data", "versions")})

        save_dir_atomically(os.path.join(out, "adapter" if cfg.train.method == "lora" else "model"), write_weights)
        summary = {**run_info, "steps": state["step"], "train_seconds": round(state["seconds"], 2),
                   "steps_per_s": state["step"] / state["seconds"] if state["seconds"] else None,
                   "tokens_per_s": state["tokens"] / state["seconds"] if state["seconds"] else None,
                   "peak_rss_mb": round(peak_rss_mb(), 1), "train_peak_rss_mb": train_peak,
                   "evals": state["evals"], "forced_resumes": state["forced_resumes"],
                   "examples_seen_per_rank": [len(s) for s in state["seen_by_rank"]]}
        write_json(os.path.join(out, "data_seen.json"), state["seen_by_rank"])
        write_json(os.path.join(out, "run.json"), summary)  # last: it marks the run finished
        shutil.rmtree(os.path.join(out, "checkpoints"), ignore_errors=True)
    if dist_info.world_size > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return summary
