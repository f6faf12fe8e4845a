"""`calltune predict`: render prompts, decode, extract calls, write predictions.

Predictions are written atomically in input order. While a run is going,
finished batches are appended to `OUT.partial` (first line: a fingerprint of
model, adapter path and contents, quantization, prompts and decoding settings); a
rerun of the same command after an interruption resumes from it, and a different
command (or a retrained adapter) discards it. Errors found before generation (a
schema constrained decoding cannot enforce) leave no `OUT.partial`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from dataclasses import asdict, dataclass

from calltune.chat.grammar import KEY_ORDERS
from calltune.errors import CalltuneError
from calltune.examples import Example, Prediction, load_examples
from calltune.extract import extract_call
from calltune.jsonl import dumps_line, write_jsonl
from calltune.prompts import PROMPT_STYLES, render_prompt


DECODINGS = ("greedy", "repair", "constrained")


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
    prompt_style: str = "auto"
    """`paper` (the report's template), `chat` (the model's chat template, one JSON call), `hermes`
    (the standard chat format with tools: text or `<tool_call>` blocks; `calltune.chat`), or `auto`:
    the style the adapter's run trained with, else hermes (`models.resolve_prompt_style`)."""
    max_new_tokens: int | None = None
    """Generation budget per example; None: 64 for one JSON call (paper, chat), 256 for hermes
    (room for parallel calls)."""
    batch_size: int = 8
    """Prompts decoded together (left padded)."""
    quantization: str = "auto"
    """Base weights: `none`, `nf4`, or `auto` (as the adapter's run trained them)."""
    decoding: str = "greedy"
    """`greedy`, `repair` (greedy, then JSON repair: `repair.py`) or `constrained`
    (grammar-constrained to the offered tools' schemas: `constrain.py`)."""
    no_call: str = "allow"
    """Constrained decoding: `allow` the answer `{"name": null, "arguments": {}}`, or `forbid` it."""
    on_unsupported: str = "error"
    """Constrained decoding, a schema the engine cannot express: `error`, or decode that
    example `unconstrained`."""
    tool_choice: str | None = None
    """hermes + constrained: `auto`, `required`, `none` or a tool's name for every example; None
    keeps each example's own `tool_choice` (default auto)."""
    parallel_tool_calls: bool | None = None
    """hermes + constrained: allow several calls (True) or at most one (False) for every example;
    None keeps each example's own setting (default True)."""
    abstain_margin: float | None = None
    """hermes + constrained, answers under tool_choice auto with tools: answer in text when
    log p(text) + M >= log p(call) at the answer's start, else call (`abstain.py`); None: the
    grammar lets greedy decoding choose. Calibrate M on synthetic dev (`calltune calibrate-abstention`)."""
    optional_margin: float | None = None
    """Constrained decoding: where the grammar allows both another argument and the end of a call's
    arguments, give another when log p(more) + M > log p(close) (`constrain.py`); None: greedy
    decides. M > 0 states optional arguments more often, M < 0 less; choose M on synthetic dev."""
    next_call_margin: float | None = None
    """hermes + constrained, parallel calls: after each call block, open another when log p(another)
    + M > log p(end) (`constrain.py`); None: greedy decides. M > 0 makes more calls, M < 0 fewer;
    choose M on synthetic dev."""
    copy_margin: float | None = None
    """Constrained decoding: add B to each of the best allowed tokens that keeps an argument value a
    piece of the request's text (`copying.py`); None: greedy decides. Choose B on synthetic dev."""
    key_order: str = "schema"
    """hermes + constrained: a call's keys come in the schema's order (`schema`, llguidance's JSON
    schemas) or in any order, each once (`any`: `chat.grammar.AnyOrder`), such as the order a request
    mentions them in, which calltune's generated data trains on."""
    engine: bool | None = None
    """hermes: decode through `calltune serve`'s engine (`serve.engine`) instead of batches of
    `model.generate`: continuous batching of `batch_size` rows, speculative steps of `draft_tokens`,
    the prompt prefix cache; the same greedy choices in fewer forward passes. None (default): the
    engine for hermes prompts when the model's layers all use full attention (`engine_fits`)."""
    draft_tokens: int = 8
    """With `engine`: tokens guessed ahead per row and step (0: none)."""
    num_beams: int = 1
    """hermes: 1 decodes greedily; K > 1 keeps the K best answers so far by the model's summed log-probabilities
    and returns the most likely finished one (`beam.py`; `batch_size` prompts at a time, each with its own K beams,
    outside the engine)."""
    length_penalty: float = 0.0
    """With `num_beams` > 1: finished answers ranked by their sum / n^A (n their tokens; Hugging Face's
    `length_penalty`); 0 ranks by the sum alone."""
    distinct_calls: bool = False
    """With `num_beams` > 1: no beam repeats a call it has already written (the same name and arguments); see
    `beam.py`."""

    def __post_init__(self):
        if self.prompt_style == "auto":
            from calltune.models import resolve_prompt_style

            self.prompt_style = resolve_prompt_style(self.prompt_style, self.adapter, self.model)
        if self.max_new_tokens is None:
            self.max_new_tokens = 256 if self.prompt_style == "hermes" else 64
        if self.prompt_style not in PROMPT_STYLES:
            raise CalltuneError(f"unknown prompt style '{self.prompt_style}' (choose from {', '.join(PROMPT_STYLES)})")
        if self.decoding not in DECODINGS:
            raise CalltuneError(f"unknown decoding '{self.decoding}' (choose from {', '.join(DECODINGS)})")
        if self.no_call not in ("allow", "forbid"):
            raise CalltuneError(f"no_call must be 'allow' or 'forbid', got '{self.no_call}'")
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise CalltuneError("--max-new-tokens and --batch-size must be at least 1")
        if self.prompt_style == "hermes" and self.decoding == "repair":
            raise CalltuneError("--decoding repair mends one JSON call (paper and chat styles): add "
                                "--prompt-style paper, or for hermes use greedy or constrained")
        hermes_only = self.tool_choice is not None or self.parallel_tool_calls is not None
        if hermes_only and self.prompt_style != "hermes":
            raise CalltuneError("--tool-choice and --parallel-tool-calls apply to --prompt-style hermes")
        if self.abstain_margin is not None:
            check_margin(self.abstain_margin, "--abstain-margin")
            self.abstain_margin = float(self.abstain_margin)
            if self.prompt_style != "hermes" or self.decoding != "constrained":
                raise CalltuneError("--abstain-margin applies to --prompt-style hermes with --decoding constrained")
            if self.tool_choice not in (None, "auto"):
                raise CalltuneError(f"--abstain-margin weighs text against calls under tool_choice auto; "
                                    f"--tool-choice {self.tool_choice} leaves no such choice")
        weighed = (("optional_margin", "the grammar's choices", False),
                   ("next_call_margin", "the hermes grammar's choice after each call", True),
                   ("copy_margin", "the tokens of values the grammar allows", False))
        for name, weighs, hermes in weighed:
            value, option = getattr(self, name), "--" + name.replace("_", "-")
            if value is None:
                continue
            check_margin(value, option)
            setattr(self, name, float(value))
            if self.decoding != "constrained" or (hermes and self.prompt_style != "hermes"):
                needs = "--prompt-style hermes with --decoding constrained" if hermes else "--decoding constrained"
                raise CalltuneError(f"{option} weighs {weighs}: it applies to {needs}")
        if self.key_order not in KEY_ORDERS:
            raise CalltuneError(f"--key-order must be one of {', '.join(KEY_ORDERS)}, not {self.key_order!r}")
        if self.key_order != "schema" and (self.prompt_style != "hermes" or self.decoding != "constrained"):
            raise CalltuneError("--key-order applies to --prompt-style hermes with --decoding constrained")
        if self.engine is None and self.prompt_style != "hermes":
            self.engine = False
        if self.engine and self.prompt_style != "hermes":
            raise CalltuneError("--engine decodes --prompt-style hermes (the chat format calltune serve speaks)")
        if self.draft_tokens < 0:
            raise CalltuneError("--draft-tokens must not be negative")
        check_num_beams(self.num_beams)
        self.length_penalty = check_length_penalty(self.length_penalty, self.num_beams)
        check_distinct_calls(self.distinct_calls, self.num_beams)
        if self.num_beams > 1:
            if self.prompt_style != "hermes":
                raise CalltuneError("--num-beams searches hermes answers: add --prompt-style hermes")
            if self.engine:
                raise CalltuneError("--num-beams decodes outside the engine (which is greedy): drop --engine")
            self.engine = False

    @classmethod
    def from_args(cls, args, data: str, out: str) -> "PredictConfig":
        """From the command line's model and decoding options (`cli._add_model_args`)."""
        return cls(data=data, out=out, model=args.model, adapter=args.adapter, prompt_style=args.prompt_style,
                   max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
                   quantization=args.quantization, decoding=args.decoding, no_call=args.no_call,
                   on_unsupported=args.on_unsupported, tool_choice=getattr(args, "tool_choice", None),
                   parallel_tool_calls=getattr(args, "parallel_tool_calls", None),
                   abstain_margin=getattr(args, "abstain_margin", None),
                   optional_margin=getattr(args, "optional_margin", None),
                   next_call_margin=getattr(args, "next_call_margin", None),
                   copy_margin=getattr(args, "copy_margin", None), key_order=getattr(args, "key_order", "schema"),
                   engine=getattr(args, "engine", None),
                   draft_tokens=getattr(args, "draft_tokens", 8), num_beams=getattr(args, "num_beams", 1),
                   length_penalty=getattr(args, "length_penalty", 0.0),
                   distinct_calls=getattr(args, "distinct_calls", False))

    def choice_for(self, example: Example) -> tuple[str | dict, bool]:
        """The `(tool_choice, parallel)` that constrain `example`'s answer (hermes)."""
        choice = example.tool_choice if self.tool_choice is None else self.tool_choice
        if isinstance(choice, str) and choice not in ("auto", "required", "none"):
            choice = {"type": "function", "function": {"name": choice}}
        parallel = example.parallel_tool_calls if self.parallel_tool_calls is None else self.parallel_tool_calls
        return choice, parallel


def check_num_beams(value) -> None:
    """Raise `CalltuneError` unless `value` is a whole number of at least 1 (`--num-beams`)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CalltuneError(f"--num-beams must be a whole number of at least 1, got {value!r}")


def check_length_penalty(value, num_beams: int) -> float:
    """`value` as a float, or `CalltuneError` unless it is a finite number, and 0 unless `num_beams` > 1
    (`--length-penalty` ranks a beam's answers)."""
    check_margin(value, "--length-penalty")
    if value and num_beams == 1:
        raise CalltuneError("--length-penalty ranks the answers of a beam search: add --num-beams K (K > 1)")
    return float(value)


def check_distinct_calls(value, num_beams: int) -> None:
    """Raise `CalltuneError` unless `value` is a bool, and False unless `num_beams` > 1 (`--distinct-calls` keeps
    a beam search's beams from repeating a call)."""
    if not isinstance(value, bool):
        raise CalltuneError(f"--distinct-calls is true or false, got {value!r}")
    if value and num_beams == 1:
        raise CalltuneError("--distinct-calls keeps the beams of a beam search from repeating a call: add "
                            "--num-beams K (K > 1)")


def check_margin(value, option: str) -> None:
    """Raise `CalltuneError` naming `option` unless `value` is a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CalltuneError(f"{option} must be a finite number, got {value!r}")


def prediction_for(example: Example, raw: str, decoding: str = "greedy", style: str = "paper") -> Prediction:
    """The prediction record for one generated text (repaired first under `repair`); hermes
    answers are read by `chat.parse_answer` into `calls` and `content`."""
    if style == "hermes":
        from calltune.chat.parse import parse_answer

        parsed = parse_answer(raw)
        return Prediction(example.id, raw, parsed.calls[0] if parsed.calls else None, parsed.error,
                          calls=parsed.calls, content=parsed.content)
    repaired = None
    if decoding == "repair":
        from calltune.repair import repair_call

        fixed = repair_call(raw, example.tools)
        repaired = fixed if fixed is not None and fixed != raw else None
    ext = extract_call(raw if repaired is None else repaired)
    return Prediction(example.id, raw, ext.call, ext.error, repaired)


def _fingerprint(cfg: PredictConfig, model_path: str, prompts: list[str], engine: bool = False) -> str:
    from calltune.models import adapter_digest, resolve_quantization, tuned_model_digest

    # repair is post-hoc: its generations are greedy ones
    decoding = [cfg.decoding, cfg.no_call, cfg.on_unsupported] if cfg.decoding == "constrained" else "greedy"
    if cfg.abstain_margin is not None:  # only when set: runs without a margin keep their fingerprint
        # "log_odds": partial files from before answers recorded their log-odds are not resumed
        decoding.append({"abstain_margin": cfg.abstain_margin, "log_odds": True})
    if cfg.optional_margin is not None:  # likewise
        decoding.append({"optional_margin": cfg.optional_margin})
    if cfg.next_call_margin is not None:  # likewise
        decoding.append({"next_call_margin": cfg.next_call_margin})
    if cfg.copy_margin is not None:  # likewise
        decoding.append({"copy_margin": cfg.copy_margin})
    if cfg.key_order != "schema":  # likewise
        decoding.append({"key_order": cfg.key_order})
    if cfg.num_beams > 1:  # likewise (greedy, unconstrained, too)
        beams = {"num_beams": cfg.num_beams}
        if cfg.length_penalty:  # likewise
            beams["length_penalty"] = cfg.length_penalty
        if cfg.distinct_calls:  # likewise
            beams["distinct_calls"] = True
        if cfg.next_call_margin is not None:  # since session 51 each beam is held to the margin's choice
            beams["next_call_held"] = True
        decoding = (decoding if isinstance(decoding, list) else [decoding]) + [beams]
    if engine:  # likewise: batch-of-generate runs keep theirs
        decoding = [decoding, {"engine": cfg.batch_size}]
    # the adapter's contents, not only its path: a run retrained into the same directory
    # must not resume from the old adapter's predictions (nor from a full fine-tune's: only
    # for those is the model's digest a key, so that other runs keep their fingerprint)
    tuned = tuned_model_digest(model_path)
    blob = json.dumps({"model": model_path, "adapter": cfg.adapter, **({"model_sha256": tuned} if tuned else {}),
                       "adapter_sha256": adapter_digest(cfg.adapter) if cfg.adapter else None,
                       "quantization": resolve_quantization(cfg.quantization, cfg.adapter),
                       "style": cfg.prompt_style, "max_new_tokens": cfg.max_new_tokens, "prompts": prompts,
                       "decoding": decoding, "tool_choice": cfg.tool_choice,
                       "parallel_tool_calls": cfg.parallel_tool_calls})
    return hashlib.sha256(blob.encode()).hexdigest()


def _load_partial(path: str, fingerprint: str, ids: list[str]) -> dict[str, dict]:
    """Read finished records (`raw`, and `log_odds` under a margin) from a partial file written by
    the same configuration."""
    if not os.path.exists(path):
        return {}
    done: dict[str, dict] = {}
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    try:
        if not lines or json.loads(lines[0]).get("fingerprint") != fingerprint:
            return {}
        for text in lines[1:]:
            rec = json.loads(text)
            done[rec["id"]] = {"raw": rec["raw"], "log_odds": rec.get("log_odds"),
                               "at_budget": bool(rec.get("at_budget"))}
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
    grammars, compile_stats = None, {}
    if cfg.decoding == "constrained":  # before OUT.partial exists: a schema error leaves nothing behind
        grammars, compile_stats = compile_grammars(examples, tokenizer, model, cfg)
    engine = cfg.engine if cfg.engine is not None else engine_fits(model)
    fingerprint = _fingerprint(cfg, model_path, prompts, engine)
    partial = cfg.out + ".partial"
    answers = _load_partial(partial, fingerprint, ids)  # id -> {raw, log_odds}
    if not answers:
        os.makedirs(os.path.dirname(os.path.abspath(partial)), exist_ok=True)
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(dumps_line({"fingerprint": fingerprint}) + "\n")
    resumed = len(answers)
    with open(partial, "a", encoding="utf-8") as handle:
        def on_batch(indices, generations):
            for i, gen in zip(indices, generations):
                answers[ids[i]] = {"raw": gen.text, "log_odds": gen.log_odds, "at_budget": gen.at_budget}
                rec = {"id": ids[i], "raw": gen.text}
                if gen.log_odds is not None:
                    rec["log_odds"] = gen.log_odds
                if gen.at_budget:
                    rec["at_budget"] = True
                handle.write(dumps_line(rec) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

        skip = {i for i, ex_id in enumerate(ids) if ex_id in answers}
        constrain = None if grammars is None else (lambda i: row_for(grammars, examples[i], cfg))
        if engine:
            stats = decode_with_engine(model, tokenizer, prompts, cfg, skip, on_batch, progress,
                                       None if grammars is None else (grammars, constrain))
        else:
            stats = generate_all(model, tokenizer, prompts, cfg.max_new_tokens, cfg.batch_size,
                                 skip=skip, on_batch=on_batch, progress=progress, grammars=grammars,
                                 constrain=constrain, stop="turn" if cfg.prompt_style == "hermes" else "json",
                                 num_beams=cfg.num_beams, length_penalty=cfg.length_penalty,
                                 distinct_calls=cfg.distinct_calls)
    preds = []
    for ex in examples:
        pred = prediction_for(ex, answers[ex.id]["raw"], cfg.decoding, cfg.prompt_style)
        pred.log_odds = answers[ex.id]["log_odds"]
        preds.append(pred.to_json())
    write_jsonl(cfg.out, preds)
    os.unlink(partial)
    at_budget = sum(answers[ex.id]["at_budget"] for ex in examples)
    if at_budget:
        print(f"warning: {at_budget} of {len(examples)} answer(s) were ended by --max-new-tokens "
              f"{cfg.max_new_tokens}, not by the model (cut off, or a call closed early: an answer may lack "
              f"text or calls it meant to write); raise --max-new-tokens", file=sys.stderr)
    return {"config": asdict(cfg), "model_path": model_path, "n": len(examples),
            "resumed": resumed, "at_budget": at_budget, **stats, **compile_stats}


def engine_fits(model) -> bool:
    """Whether the serving engine can decode `model` (every layer full attention: `kv_batch.check_model`)."""
    from calltune.serve.kv_batch import check_model

    try:
        check_model(model)
    except CalltuneError:
        return False
    return True


def decode_with_engine(model, tokenizer, prompts: list[str], cfg: PredictConfig, skip: set[int], on_batch,
                       progress: bool, constrained=None) -> dict:
    """`generate_all` for hermes prompts through the serving engine (`cfg.engine`): every prompt not in
    `skip` is queued at once (longest first), the engine decodes `cfg.batch_size` rows at a time on this
    thread, and `on_batch([i], [generation])` runs as each answer finishes. `constrained`: the
    `(GrammarCache, i -> RowConstraint)` of constrained decoding. Returns the same stats as
    `generate_all`, plus the engine's draft counts."""
    import time

    from tqdm import tqdm

    from calltune.generate import Generation
    from calltune.serve.config import EngineConfig
    from calltune.serve.engine import Engine, Failed, Prepared

    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    todo = sorted((i for i in range(len(prompts)) if i not in skip), key=lambda i: -len(encoded[i]))
    config = EngineConfig(decoding="greedy" if constrained is None else "constrained",
                          max_batch_size=cfg.batch_size, max_queue=max(1, len(todo)),
                          default_max_tokens=cfg.max_new_tokens, draft_tokens=cfg.draft_tokens,
                          abstain_margin=cfg.abstain_margin, optional_margin=cfg.optional_margin,
                          next_call_margin=cfg.next_call_margin, copy_margin=cfg.copy_margin)
    engine = Engine(model, tokenizer, config, None if constrained is None else constrained[0])
    bar = tqdm(total=len(todo), desc="predict", unit="ex", disable=not progress, dynamic_ncols=True)
    done: list[int] = []
    failed: list[str] = []
    start, new_tokens = time.perf_counter(), 0

    def finished(i: int):
        def on_event(event):  # on this thread, inside engine.step()
            nonlocal new_tokens
            if isinstance(event, Failed):
                failed.append(f"prompt {i}: decoding failed: {event.message}")
                return
            tokens = event.completion_tokens - event.end_token  # without the end token
            new_tokens += tokens
            on_batch([i], [Generation(event.text, tokens, log_odds=event.log_odds,
                                      at_budget=event.finish_reason == "length" or event.budget_cut)])
            done.append(i)
            bar.update(1)
        return on_event

    for i in todo:
        row = None if constrained is None else constrained[1](i)
        engine.submit(Prepared(encoded[i], cfg.max_new_tokens, row), finished(i))
    while len(done) < len(todo) and not failed:
        engine.step()
    bar.close()
    if failed:
        raise CalltuneError(failed[0])
    seconds = time.perf_counter() - start
    counts = engine.stats()
    return {"n_generated": len(todo), "seconds": round(seconds, 3), "new_tokens": new_tokens,
            "examples_per_s": round(len(todo) / seconds, 4) if seconds else None,
            "new_tokens_per_s": round(new_tokens / seconds, 3) if seconds else None,
            "max_prompt_tokens": max(map(len, encoded)) if encoded else 0, "steps": counts["steps"],
            "draft_tokens": counts["draft_tokens"], "accepted_draft_tokens": counts["accepted_draft_tokens"],
            "fed_tokens": counts["fed_tokens"],
            **{k: counts[k] for k in ("abstain_decided", "abstained") if k in counts}}


def row_for(cache, example: Example, cfg: PredictConfig):
    """The grammar row of one example: the paper/chat call grammar, or the hermes chat grammar
    restricted by its tool_choice and parallel setting."""
    from calltune.copying import copy_source

    source = copy_source(example.conversation()) if cfg.copy_margin else ""
    if cfg.prompt_style == "hermes":
        choice, parallel = cfg.choice_for(example)
        return cache.chat_row(example.tools, choice, parallel, cfg.abstain_margin, source)
    return cache.row(example.tools, cfg.no_call == "allow", source)


def compile_grammars(examples: list[Example], tokenizer, model, cfg: PredictConfig):
    """Compile every distinct tool set up front (so schema errors come before any generation);
    return `(GrammarCache, stats)`."""
    import time

    from calltune.constrain import GrammarCache

    start = time.perf_counter()
    n_vocab = model.get_output_embeddings().weight.shape[0]
    cache = GrammarCache(tokenizer, n_vocab, cfg.on_unsupported, cfg.optional_margin or 0.0,
                         cfg.next_call_margin, cfg.copy_margin or 0.0, cfg.key_order)
    short = 0  # examples whose budget cannot fit their closing margin: a call may be cut off
    for ex in examples:
        try:
            row = row_for(cache, ex, cfg)
        except CalltuneError as err:
            raise CalltuneError(f"example '{ex.id}': {err}") from None
        short += row is not None and row.close_margin >= cfg.max_new_tokens
    if short:
        import sys

        print(f"warning: for {short} example(s) --max-new-tokens {cfg.max_new_tokens} is below the tokens "
              f"needed to close the shortest call; such calls can be cut off", file=sys.stderr)
    stats = {"grammars_compiled": len(cache.compiled), "grammar_compile_s": round(time.perf_counter() - start, 3),
             "budget_below_margin": short,
             "unconstrained_fallbacks": sorted(set(cache.unsupported.values()))}
    return cache, stats


def repair_predictions(data: str, pred_path: str, out: str) -> dict:
    """Apply `--decoding repair`'s post-hoc repair to an existing predictions file (from any
    system) and write the result; returns counts."""
    from calltune.examples import load_predictions
    from calltune.score import check_all

    examples = {ex.id: ex for ex in load_examples(data)}
    preds = load_predictions(pred_path)
    check_all(list(examples.values()), {p.id: p.raw for p in preds}, source=pred_path)  # coverage errors
    records, counts = [], {"n": len(preds), "repaired": 0, "hopeless": 0, "unchanged": 0}
    for pred in preds:
        new = prediction_for(examples[pred.id], pred.raw, "repair")
        if new.repaired is not None:
            counts["repaired"] += 1
        elif new.error is not None:
            counts["hopeless"] += 1
        else:
            counts["unchanged"] += 1
        records.append(new.to_json())
    write_jsonl(out, records)
    return counts
