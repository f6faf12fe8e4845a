"""The serving engine: the model, a scheduler thread that decodes requests in batches, the
prefix cache. It never sees HTTP: callers `prepare` a request (chat messages and tools in,
prompt ids and a fresh grammar matcher out; bad requests raise `CalltuneError`), `submit` it
with a callback for its events, and may `cancel` it.

    engine = Engine(model, tokenizer, EngineConfig())
    engine.start()
    job = engine.submit(engine.prepare(messages, tools, "auto", True, max_tokens=64), on_event)
    ...                                      # on_event(Progress | Finished | Failed), engine thread
    engine.stop()

Scheduling (continuous batching): between two decode steps the scheduler admits waiting requests
while the batch has room. A new request is prefilled alone (prompt minus its last token; the
longest cached prefix is reused, `prefix_cache`) and its KV joins the left-padded batch
(`kv_batch`). Each decode step feeds every row its pending token, one (B, 1) forward pass; each
row then picks its next token greedily from its logits, masked by its own grammar matcher
(`constrain.ToolCallConstraint` with the row's budget), and ends at an end token
(`constrain.stop_ids`, or `<|im_end|>` spelled out in text), at its budget, when cancelled or
past its deadline. Finished rows leave at once and free their slot; with the prefix cache on, a
finished row first stores the KV of its prompt and answer (`KVBatch.row_layers`), so that the next
turn of its conversation, which resends both, computes only what is new (the tool results). A row decodes as it would
alone: its padding is masked and its positions count only its own tokens.

Speculative steps (`EngineConfig.draft_tokens` > 0): each row also feeds up to that many draft
tokens after its pending one (`draft`: what its grammar forces next, else what followed the
same last tokens earlier in its prompt or answer), in one (B, width) forward pass, the width
chosen for what the drafts are expected to yield (`draft.StepWidth`). The row then
picks its tokens position by position as above, and keeps going while each pick equals the
draft token fed there: one pass yields 1 + (drafts accepted) tokens, the same tokens a
one-token step would have picked. Rejected columns are masked out (`KVBatch.advance`).

Beam search (`EngineConfig.num_beams` > 1) replaces the batch of greedy rows: each scheduler iteration
takes the first waiting job and the waiting jobs with its budget (up to `max_batch_size`) and decodes them
together with `beam.beam_search`, as `predict --num-beams` does (its own copy of the tokenizer, so no lock
is held meanwhile); a streaming job gets its whole answer in one event, and a job cancelled or past its
deadline during the search gets its failure instead of the answer.

Under an abstention margin (`EngineConfig.abstain_margin`), a request under tool_choice auto with
tools takes its branch at admission, as `predict` does before decoding: `abstain.decide` weighs
text against calls in one forward pass over the tag's tokens on top of the prefilled prompt
(`AfterPrefix`), and the row then decodes under the text-only or the calls-only grammar, so a
streamed answer follows the same branch as a whole one.

The model attends through `attention.grouped_sdpa` (switched in place; the same logits to the
bit): a padded batch's steps read the grouped KV heads without copying them.

The queue of waiting requests is bounded (`QueueFull`). Everything tensor-side runs on the
engine thread; `prepare` runs on the caller's thread (tokenizing and grammar compiling under locks).
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import torch

from calltune.chat.grammar import callable_tools
from calltune.chat.render import render_text
from calltune.copying import copy_source
from calltune.errors import CalltuneError
from calltune.examples import Tool
from calltune.generate import END_OF_TURN, cut_turn
from calltune.serve.attention import use_grouped_sdpa
from calltune.serve.config import EngineConfig
from calltune.serve.draft import ContextIndex, Draft, StepWidth, forced_tokens
from calltune.serve.kv_batch import KVBatch, check_model, fill_holes, layers_of
from calltune.serve.prefix_cache import PrefixCache

log = logging.getLogger("calltune.serve")
GRAMMAR_CACHE_LIMIT = 512  # compiled grammars kept; past it the cache starts over (bounded memory)


class QueueFull(Exception):
    """The engine's queue of waiting requests is full."""


class RequestProblem(CalltuneError):
    """A request the engine cannot serve; `param` names the request field at fault, `code` is
    OpenAI-style (`context_length_exceeded`, `unsupported_schema`, ...)."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.param, self.code = param, code


@dataclass(frozen=True)
class Progress:
    """The answer so far (streaming requests only): text up to the last token, end of turn cut."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The whole answer. `finish_reason`: "stop" (an end token) or "length" (the budget ran out)."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    log_odds: float | None = None
    """Under an abstention margin: the answer's call-branch log-odds (`abstain.Branches.log_odds`)."""
    end_token: bool = False
    """Whether the last completion token is an end token (counted in `completion_tokens`, not in `text`)."""
    budget_cut: bool = False
    """Constrained: whether the budget made the answer stop or close a call where the model would have
    gone on (`RowConstraint.budget_cut`). Its calls are complete and valid, so the API still reports
    "tool_calls" (clients act on that); `predict` counts such answers."""


@dataclass(frozen=True)
class Failed:
    """The request ended without an answer: `kind` "timeout", "cancelled", "shutdown" or "internal"."""

    kind: str
    message: str


@dataclass
class Prepared:
    """A request ready to decode: prompt ids, budget, and its grammar row (None: unconstrained)."""

    prompt_ids: list[int]
    max_tokens: int
    constraint: object | None = None


@dataclass
class Job:
    """A submitted request. `cancel()` may be called from any thread; it takes effect before the
    next decode step (a waiting job leaves the queue, a running one frees its batch slot)."""

    prepared: Prepared
    on_event: Callable[[object], None]
    stream: bool = False
    deadline: float | None = None
    cancelled: bool = False
    done: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class Row:
    """A job being decoded: its tokens chosen so far (`out`, end token included once chosen),
    the token to feed next, its constraint processor."""

    job: Job
    processor: object | None
    pending: int
    cached: int
    out: list[int] = field(default_factory=list)
    context: ContextIndex | None = None
    """Prompt and answer so far, for draft lookups (None: drafts off)."""
    log_odds: float | None = None
    """The call-branch log-odds when the row was weighed under an abstention margin."""
    finished: bool = False
    """The answer is complete (`Finished` was sent)."""


class Engine:
    """The model (eval mode, any device), its tokenizer, the scheduler and the prefix cache (see the
    module docstring). Raises `CalltuneError` for a model whose cache is not full attention."""

    def __init__(self, model, tokenizer, config: EngineConfig | None = None, grammars=None):
        """`grammars`: the `constrain.GrammarCache` of constrained decoding, if the caller compiled its
        rows already (`predict --engine`); by default the engine makes its own."""
        from calltune.constrain import stop_ids

        self.model, self.tokenizer = model, tokenizer
        self.config = config or EngineConfig()
        check_model(model)
        use_grouped_sdpa(model)  # in place, same logits: padded steps stop copying the KV heads (`attention`)
        self.device = next(model.parameters()).device
        self.stop_ids = set(stop_ids(tokenizer))
        self.context = (getattr(model.config, "max_position_embeddings", None)
                        or getattr(model.config, "n_positions", None))
        limits = [n for n in (self.config.max_prompt_tokens, self.context) if n]
        self.max_prompt = min(limits) if limits else None
        self.grammars = grammars
        if self.config.decoding == "constrained":
            from calltune.constrain import GrammarCache

            self.grammars = grammars or GrammarCache(tokenizer, model.get_output_embeddings().weight.shape[0],
                                                     optional_margin=self.config.optional_margin or 0.0,
                                                     next_call_margin=self.config.next_call_margin,
                                                     copy_margin=self.config.copy_margin or 0.0,
                                                     key_order=self.config.key_order)
            _ = self.grammars.policy  # decodes the vocabulary once (about a second), before any request
        self.prefix = PrefixCache(int(self.config.prefix_cache_mb * 1024 * 1024))
        self.batch = KVBatch(self.device, self.config.max_batch_size)
        self.rows: list[Row] = []
        self.queue: deque[Job] = deque()
        self.lock = threading.Condition()
        self.prepare_lock = threading.Lock()  # HF fast tokenizers and the grammar cache are not thread-safe
        self.schema_problems: dict[str, str | None] = {}
        self.thread: threading.Thread | None = None
        self.running = False
        self.counts = {"requests": 0, "finished": 0, "failed": 0, "steps": 0, "completion_tokens": 0,
                       "draft_tokens": 0, "accepted_draft_tokens": 0, "fed_tokens": 0}
        self.widths = StepWidth(self.config.draft_tokens, self.config.draft_step_overhead)
        if self.config.abstain_margin is not None:
            self.counts.update(abstain_decided=0, abstained=0)  # answers weighed / sent to text
        # beam search runs on the engine thread with its own tokenizer (HF fast tokenizers are not thread-safe)
        self.beam_tokenizer = copy.deepcopy(tokenizer) if self.config.num_beams > 1 else None

    # ---- the caller's side -------------------------------------------------------------------

    def prepare(self, messages: list[dict], tools: list[Tool], tool_choice="auto", parallel: bool = True,
                max_tokens: int | None = None) -> Prepared:
        """Render and tokenize a conversation (the chat template, as `predict --prompt-style hermes`
        does) and give it a fresh grammar matcher. `max_tokens` None: the configured default, cut to
        what the model's context leaves. Raises `RequestProblem` (a `CalltuneError`) for a
        tool_choice naming no offered tool, a schema the constraint engine cannot enforce, or a
        prompt too long."""
        try:
            callable_ = callable_tools(tools, tool_choice)
        except CalltuneError as err:
            raise RequestProblem(str(err), "tool_choice") from None
        with self.prepare_lock:
            try:
                text = render_text(messages, tools, self.tokenizer, add_generation_prompt=True)
            except Exception as err:  # a template that cannot render these messages (jinja2 errors)
                raise RequestProblem(f"the chat template cannot render these messages: {err}", "messages") from None
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) < 2:
            raise RequestProblem("the rendered prompt is empty", "messages")
        if max_tokens is None:  # the default budget, cut to what the context leaves
            max_tokens = self.config.default_max_tokens
            if self.context:
                max_tokens = max(1, min(max_tokens, self.context - len(ids)))
        if self.max_prompt and len(ids) > self.max_prompt:
            raise RequestProblem(f"the prompt is {len(ids)} tokens; at most {self.max_prompt} are accepted",
                                 "messages", "context_length_exceeded")
        if self.context and len(ids) + max_tokens > self.context:
            raise RequestProblem(f"the prompt is {len(ids)} tokens and max_tokens is {max_tokens}: together "
                                 f"more than the model's context of {self.context} tokens",
                                 "max_tokens", "context_length_exceeded")
        constraint = None
        if self.grammars is not None:
            with self.prepare_lock:
                for tool in callable_:
                    self._check_schema(tool, tools)
                if len(self.grammars.compiled) > GRAMMAR_CACHE_LIMIT:
                    self.grammars.compiled.clear()
                try:
                    source = copy_source(messages) if self.grammars.copy_margin else ""
                    constraint = self.grammars.chat_row(tools, tool_choice, parallel, self.config.abstain_margin,
                                                        source)
                except CalltuneError as err:
                    raise RequestProblem(str(err), "tools", "unsupported_schema") from None
        return Prepared(ids, max_tokens, constraint)

    def _check_schema(self, tool: Tool, tools: list[Tool]) -> None:
        key = json.dumps(tool.parameters, sort_keys=True)
        if key not in self.schema_problems:
            if len(self.schema_problems) > GRAMMAR_CACHE_LIMIT:
                self.schema_problems.clear()
            self.schema_problems[key] = self.grammars.problem(tool)
        problem = self.schema_problems[key]
        if problem is not None:
            index = next(i for i, t in enumerate(tools) if t is tool)
            raise RequestProblem(f"tool '{tool.name}': its parameters schema cannot be enforced by constrained "
                                 f"decoding: {problem.strip()}", f"tools[{index}].function.parameters",
                                 "unsupported_schema")

    def submit(self, prepared: Prepared, on_event: Callable[[object], None], stream: bool = False,
               timeout: float | None = None) -> Job:
        """Queue a prepared request; `on_event` gets `Progress` (if `stream`), then `Finished` or
        `Failed`, on the engine's thread. Raises `QueueFull`."""
        job = Job(prepared, on_event, stream, None if timeout is None else time.monotonic() + timeout)
        with self.lock:
            if len(self.queue) >= self.config.max_queue:
                raise QueueFull(f"{len(self.queue)} requests are waiting already; try again later")
            self.queue.append(job)
            self.counts["requests"] += 1
            self.lock.notify()
        return job

    def stats(self) -> dict:
        """Counters for /health: requests, queue and batch sizes, the prefix cache's savings."""
        return {**self.counts, "queued": len(self.queue), "active": len(self.rows),
                "max_batch_size": self.config.max_batch_size, "max_queue": self.config.max_queue,
                "decoding": self.config.decoding, "abstain_margin": self.config.abstain_margin,
                "optional_margin": self.config.optional_margin,
                "next_call_margin": self.config.next_call_margin, "copy_margin": self.config.copy_margin,
                "key_order": self.config.key_order, "num_beams": self.config.num_beams,
                "length_penalty": self.config.length_penalty, "distinct_calls": self.config.distinct_calls,
                "prefix_cache": self.prefix.stats()}

    def warm_up(self) -> None:
        """Decode one short request before serving (not on the engine thread): the first constrained
        step compiles llguidance's masking kernel (seconds), which no client should wait for."""
        done = []
        self.submit(self.prepare([{"role": "user", "content": "Hi"}], [], "auto", True, 2), done.append)
        while not done:
            self.step()
        if isinstance(done[0], Failed):
            raise CalltuneError(f"the model failed its first decode: {done[0].message}")
        self.counts = dict.fromkeys(self.counts, 0)
        self.widths = StepWidth(self.config.draft_tokens, self.config.draft_step_overhead)
        self.prefix.lookups = self.prefix.hits = self.prefix.reused_tokens = self.prefix.computed_tokens = 0

    # ---- the engine thread -------------------------------------------------------------------

    def start(self) -> None:
        """Run the scheduler on a daemon thread."""
        if self.thread is not None:
            return
        self.running = True
        self.thread = threading.Thread(target=self._loop, name="calltune-engine", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the scheduler; requests still waiting or running get `Failed("shutdown")`."""
        with self.lock:
            self.running = False
            self.lock.notify()
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        for job in [row.job for row in self.rows] + list(self.queue):
            self._emit(job, Failed("shutdown", "the server is shutting down"))
        self.rows, self.queue = [], deque()
        self.batch = KVBatch(self.device, self.config.max_batch_size)

    def _loop(self) -> None:
        while True:
            with self.lock:
                while self.running and not self.rows and not self.queue:
                    self.lock.wait()
                if not self.running:
                    return
            try:
                self.step()
            except Exception as err:  # a bug or out of memory: fail this batch, keep serving
                log.exception("decode step failed")
                for row in self.rows:
                    self._emit(row.job, Failed("internal", f"internal error: {type(err).__name__}: {err}"))
                self.rows, self.batch = [], KVBatch(self.device, self.config.max_batch_size)

    @torch.inference_mode()
    def step(self) -> None:
        """One scheduler iteration: admit waiting jobs while there is room, then one decode step
        (speculative when drafts are on: see the module docstring)."""
        self._sweep_queue()
        if self.config.num_beams > 1:
            self._beam_step()
            return
        self._admit()
        if not self.rows:
            return
        drafts = [self._draft(row) for row in self.rows]
        width = self.widths.choose(drafts)
        drafts = [Draft(d.tokens[:width - 1], d.forced) for d in drafts]
        self.counts["draft_tokens"] += sum(len(d.tokens) for d in drafts)
        self.counts["fed_tokens"] += width * len(drafts)
        fed = [[row.pending] + d.tokens + [row.pending] * (width - 1 - len(d.tokens))
               for row, d in zip(self.rows, drafts)]
        mask, positions = self.batch.step_inputs(width)
        out = self.model(input_ids=torch.tensor(fed, device=self.device), attention_mask=mask,
                         position_ids=positions, past_key_values=self.batch.cache, use_cache=True)
        logits = out.logits.float()  # (B, width, vocab)
        self.counts["steps"] += 1
        keep, kept = [], []
        for i, (row, draft) in enumerate(zip(self.rows, drafts)):
            n, alive = self._verify(row, logits[i], draft)
            kept.append(n)
            if alive:
                keep.append(i)
                if row.job.stream:
                    self._emit(row.job, Progress(self.tokenizer.decode(row.out, skip_special_tokens=False)))
        self.batch.advance(mask, kept)
        if self.prefix.max_bytes:  # a finished answer's KV serves the next turn, which resends it
            for i, row in enumerate(self.rows):
                if row.finished:
                    ids = (row.job.prepared.prompt_ids + row.out)[:int(self.batch.lengths[i])]
                    self.prefix.store(ids, self.batch.row_layers(i))
        if len(keep) < len(self.rows):
            order = fill_holes(keep)  # the last rows take the free slots: the others are not copied
            self.rows = [self.rows[i] for i in order]
            self.batch.keep(order)

    def _beam_step(self) -> None:
        """Beam search (see the module docstring): the first waiting job and those with its budget."""
        from calltune.beam import beam_search

        with self.lock:
            if not self.queue:
                return
            budget = self.queue[0].prepared.max_tokens
            jobs = [job for job in self.queue if job.prepared.max_tokens == budget][:self.config.max_batch_size]
            for job in jobs:
                self.queue.remove(job)
        prompts = [job.prepared.prompt_ids for job in jobs]
        width = max(map(len, prompts))
        pad = self.beam_tokenizer.pad_token_id or 0  # masked out: any id does
        enc = {"input_ids": torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device),
               "attention_mask": torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts],
                                              device=self.device)}
        try:
            answers = beam_search(self.model, self.beam_tokenizer, enc, budget, self.config.num_beams,
                                  [job.prepared.constraint for job in jobs], self.grammars, self.counts,
                                  self.config.length_penalty, self.config.distinct_calls)
        except Exception as err:  # a bug or out of memory: fail these jobs, keep serving
            log.exception("beam search failed")
            for job in jobs:
                self._emit(job, Failed("internal", f"internal error: {type(err).__name__}: {err}"))
            return
        now = time.monotonic()
        for job, answer in zip(jobs, answers):
            if job.cancelled:
                self._emit(job, Failed("cancelled", "the request was cancelled"))
                continue
            if job.deadline is not None and now > job.deadline:
                self._emit(job, Failed("timeout", "the request took longer than the server's request timeout"))
                continue
            ended = len(answer.ids) < budget  # a finished beam's end token is not in its ids
            self.counts["completion_tokens"] += len(answer.ids) + ended
            if job.stream:
                self._emit(job, Progress(answer.text))
            self._emit(job, Finished(answer.text, "stop" if ended else "length", len(job.prepared.prompt_ids),
                                     len(answer.ids) + ended, 0, answer.log_odds, ended,
                                     ended and answer.at_budget))

    def _draft(self, row: Row) -> Draft:
        """Up to `draft_tokens` guesses at the row's next tokens (none past its budget)."""
        k = min(self.config.draft_tokens, row.job.prepared.max_tokens - len(row.out) - 1)
        if row.context is None or k <= 0:
            return Draft([], False)
        if row.processor is not None:
            forced = forced_tokens(row.processor.rows[0].matcher, row.out[-1] if row.out else None, k)
            if forced:
                return Draft(forced, True)
        return Draft(row.context.lookup(k), False)

    def _verify(self, row: Row, logits: torch.Tensor, draft: Draft) -> tuple[int, bool]:
        """Pick the row's tokens from its (width, vocab) logits, position by position, while each
        pick equals the draft token fed next. Returns (columns of this step the row keeps, whether
        it goes on decoding)."""
        j = 0
        while True:
            alive = self._choose(row, logits[j:j + 1])
            if not alive or j == len(draft.tokens) or row.pending != draft.tokens[j]:
                if alive:  # a row that ended tells nothing about its draft
                    self.widths.record(draft, j)
                return j + 1, alive
            self.counts["accepted_draft_tokens"] += 1
            j += 1

    def _choose(self, row: Row, scores: torch.Tensor) -> bool:
        """Pick row's next token from its (1, vocab) scores; emit its end; False once it is done."""
        job = row.job
        if job.cancelled:
            self._emit(job, Failed("cancelled", "the request was cancelled"))
            return False
        if job.deadline is not None and time.monotonic() > job.deadline:
            self._emit(job, Failed("timeout", "the request took longer than the server's request timeout"))
            return False
        if row.processor is not None:
            scores = row.processor(torch.tensor([row.out[:]], dtype=torch.long, device=self.device), scores)
        token = int(scores[0].argmax())
        row.out.append(token)
        if row.context is not None:
            row.context.extend([token])
        self.counts["completion_tokens"] += 1
        # an end token, or `<|im_end|>` spelled out by a vocabulary without it (the tiny test models)
        ended = token in self.stop_ids or END_OF_TURN in self.tokenizer.decode(row.out[-8:],
                                                                                skip_special_tokens=False)
        if ended or len(row.out) >= job.prepared.max_tokens:
            kept = row.out[:-1] if token in self.stop_ids else row.out
            text = cut_turn(self.tokenizer.decode(kept, skip_special_tokens=False))
            prompt = job.prepared.prompt_ids
            cut = row.processor is not None and row.processor.rows[0].budget_cut  # the budget ended it
            self._emit(job, Finished(text, "stop" if ended else "length", len(prompt), len(row.out), row.cached,
                                     row.log_odds, token in self.stop_ids, cut))
            row.finished = True
            return False
        row.pending = token
        return True

    def _sweep_queue(self) -> None:
        """Drop waiting jobs that were cancelled or ran out of time (they free their queue place now)."""
        now = time.monotonic()
        with self.lock:
            gone = [job for job in self.queue
                    if job.cancelled or (job.deadline is not None and now > job.deadline)]
            for job in gone:
                self.queue.remove(job)
        for job in gone:
            self._emit(job, Failed("cancelled", "the request was cancelled") if job.cancelled else
                       Failed("timeout", "the request waited longer than the server's request timeout"))

    def _admit(self) -> None:
        while len(self.rows) < self.config.max_batch_size:
            with self.lock:
                job = self.queue.popleft() if self.queue else None
            if job is None:
                return
            try:
                self._prefill(job)
            except Exception as err:
                log.exception("prefill failed")
                self._emit(job, Failed("internal", f"internal error: {type(err).__name__}: {err}"))

    def _prefill(self, job: Job) -> None:
        """Compute the KV of the job's prompt minus its last token (reusing the longest cached
        prefix), store it for later prompts, and add the job to the batch."""
        from transformers import DynamicCache

        ids = job.prepared.prompt_ids[:-1]
        cached, layers = self.prefix.lookup(ids) if self.prefix.max_bytes else (0, None)
        cache = DynamicCache(ddp_cache_data=layers) if layers else DynamicCache()
        rest = ids[cached:]
        if rest:
            self.model(input_ids=torch.tensor([rest], device=self.device),
                       position_ids=torch.arange(cached, len(ids), device=self.device)[None],
                       attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=self.device),
                       past_key_values=cache, use_cache=True, logits_to_keep=1)
        self.prefix.record(cached, len(rest))
        layers = layers_of(cache)
        if self.prefix.max_bytes and rest:
            self.prefix.store(ids, layers)
        processor, constraint, log_odds = None, job.prepared.constraint, None
        if constraint is not None and constraint.abstain is not None:
            constraint, log_odds = self._branch(job.prepared.prompt_ids, layers, constraint)
        if constraint is not None:
            from calltune.constrain import ToolCallConstraint

            processor = ToolCallConstraint([constraint], 0, job.prepared.max_tokens, self.grammars.policy,
                                           self.tokenizer)
        self.batch.join(layers, len(ids))
        context = ContextIndex(job.prepared.prompt_ids) if self.config.draft_tokens else None
        self.rows.append(Row(job, processor, job.prepared.prompt_ids[-1], cached, context=context, log_odds=log_odds))

    def _branch(self, prompt_ids: list[int], layers, constraint):
        """The text-only or calls-only row that replaces an auto row under the margin
        (`abstain.decide`), and the call branch's log-odds; `layers`: the KV of the prompt minus its
        last token."""
        from calltune.abstain import decide

        ids = torch.tensor([prompt_ids], device=self.device)  # (1, T)
        enc = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        odds: list = []
        with self.prepare_lock:  # it tokenizes the tag (the tokenizer is shared with `prepare`)
            [row] = decide(AfterPrefix(self.model, layers, len(prompt_ids) - 1), self.tokenizer, enc, [constraint],
                           self.counts, odds)
        return row, odds[0]

    def _emit(self, job: Job, event) -> None:
        if job.done:
            return
        if isinstance(event, (Finished, Failed)):
            job.done = True
            self.counts["finished" if isinstance(event, Finished) else "failed"] += 1
        try:
            job.on_event(event)
        except Exception:  # a caller that went away must not stop the engine
            log.exception("event callback failed")


class AfterPrefix:
    """The model as `abstain.branch_logprobs` calls it (one unpadded row: the whole prompt plus the
    tag's tokens), computing only the tokens past `layers`, the KV of the prompt's first `length`
    tokens that the engine has just prefilled. The layers are not modified (the copy's cache
    concatenates into new tensors)."""

    def __init__(self, model, layers, length: int):
        self.model, self.layers, self.length = model, layers, length

    def __call__(self, input_ids, attention_mask, position_ids, logits_to_keep: int):
        from transformers import DynamicCache

        n = self.length  # input_ids: (1, T + tag tokens - 1); only the last ones go through the model
        return self.model(input_ids=input_ids[:, n:], attention_mask=attention_mask, position_ids=position_ids[:, n:],
                          past_key_values=DynamicCache(ddp_cache_data=self.layers), use_cache=True,
                          logits_to_keep=logits_to_keep)
