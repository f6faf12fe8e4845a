"""`calltune serve` settings: what the engine decodes (`EngineConfig`) and what the server accepts
(`ServeConfig`). Each field's docstring is its command-line help (`add_arguments`), so every
option is documented once, here. Light to import: `calltune --help` reads it."""

from __future__ import annotations

import argparse
import ast
import inspect
import os
from dataclasses import dataclass, field, fields

from calltune.chat.grammar import KEY_ORDERS
from calltune.errors import CalltuneError

DECODINGS = ("constrained", "greedy")
API_KEY_ENV = "CALLTUNE_API_KEY"


@dataclass
class EngineConfig:
    """The decoding engine: batching, queueing and the prefix cache."""

    decoding: str = "constrained"
    """`constrained`: every answer is text or `<tool_call>` blocks whose arguments obey their tool's
    schema, as `tool_choice` and `parallel_tool_calls` allow; `greedy`: unconstrained (neither is enforced)."""
    max_batch_size: int = 8
    """Requests decoded together; new ones join between decode steps."""
    max_queue: int = 64
    """Requests waiting for a batch slot (each new one waits at least until the next decode step);
    beyond it a request gets 503."""
    prefix_cache_mb: float = 256.0
    """Memory for reusable prefixes (the KV cache of prompts and of prompts with their finished answers),
    least recently used first out; 0 turns reuse off."""
    default_max_tokens: int = 256
    """Answer budget (tokens, the end token included) when a request gives no max_tokens."""
    max_prompt_tokens: int | None = None
    """Longest prompt accepted (tokens); default: the model's context."""
    draft_tokens: int = 8
    """Speculative decoding: tokens guessed ahead per row and decode step (what the grammar forces,
    else what followed the same tokens earlier in the prompt or answer), checked in the same forward
    pass; greedy answers do not change, fewer steps produce them. 0 turns it off."""
    draft_step_overhead: float = 24.0
    """Speculative decoding: a forward pass's fixed cost, in fed tokens' worth; a step is widened for
    drafts only as far as the tokens it is expected to keep pay for the extra columns of every row
    (`benchmarks/forward_cost.py` measures it); inf: always as wide as the longest draft."""
    abstain_margin: float | None = None
    """Constrained decoding, requests under tool_choice auto with tools: answer in text when
    log p(text) + M >= log p(call) at the answer's start, else call, as `calltune predict
    --abstain-margin` does (`abstain.py`); default: none, the grammar lets greedy decoding choose."""

    optional_margin: float | None = None
    """Constrained decoding: where a call may give another argument or end its arguments, give another
    when log p(more) + M > log p(close), as `calltune predict --optional-margin` does (`constrain.py`);
    default: none, greedy chooses."""

    next_call_margin: float | None = None
    """Constrained decoding, parallel calls: after each call block, open another when log p(another) + M
    > log p(end), as `calltune predict --next-call-margin` does (`constrain.py`); default: none, greedy
    chooses."""

    copy_margin: float | None = None
    """Constrained decoding: add B to each of the best allowed tokens that keeps an argument's value a piece
    of the request's text (its user messages and tool results), as `calltune predict --copy-margin` does
    (`copying.py`); default: none, greedy chooses."""

    key_order: str = "schema"
    """Constrained decoding: a call's keys in the schema's order (`schema`) or in any order, each once
    (`any`), as `calltune predict --key-order` does (`chat.grammar.AnyOrder`)."""

    num_beams: int = 1
    """Beam search: each answer the likeliest whole answer of K beams, as `calltune predict --num-beams` does
    (`beam.py`; under --abstain-margin within the branch it chooses). Waiting requests with the same
    max_tokens decode together, up to --max-batch-size, outside the batch of greedy rows (no drafts, no
    prefix cache), and a streamed answer arrives in one piece. 1 (default): greedy."""

    length_penalty: float = 0.0
    """With --num-beams: rank finished answers by their summed log-probability / tokens^A, as `calltune predict
    --length-penalty` does (Hugging Face's length_penalty); 0 (default): the sum alone."""

    distinct_calls: bool = False
    """With --num-beams: no beam repeats a call it has already written (the same name and arguments), as
    `calltune predict --distinct-calls` does (`beam.py`)."""

    def __post_init__(self):
        if self.decoding not in DECODINGS:
            raise CalltuneError(f"unknown decoding '{self.decoding}' (choose from {', '.join(DECODINGS)})")
        if min(self.max_batch_size, self.max_queue, self.default_max_tokens) < 1:
            raise CalltuneError("--max-batch-size, --max-queue and --default-max-tokens must be at least 1")
        if self.draft_tokens < 0:
            raise CalltuneError("--draft-tokens must not be negative")
        if not self.draft_step_overhead >= 0:  # NaN too
            raise CalltuneError("--draft-step-overhead must be a number of at least 0 (inf: the widest draft)")
        if self.prefix_cache_mb < 0:
            raise CalltuneError("--prefix-cache-mb must not be negative")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens < 1:
            raise CalltuneError("--max-prompt-tokens must be at least 1")
        from calltune.predict import check_distinct_calls, check_length_penalty, check_margin, check_num_beams

        check_num_beams(self.num_beams)
        self.length_penalty = check_length_penalty(self.length_penalty, self.num_beams)
        check_distinct_calls(self.distinct_calls, self.num_beams)

        if self.key_order not in KEY_ORDERS:
            raise CalltuneError(f"--key-order must be one of {', '.join(KEY_ORDERS)}, not {self.key_order!r}")
        if self.key_order != "schema" and self.decoding != "constrained":
            raise CalltuneError(f"--key-order {self.key_order} frees the grammar's key order under --decoding "
                                f"constrained; --decoding {self.decoding} has no grammar")

        weighed = (("abstain_margin", "text against calls"),
                   ("optional_margin", "another argument against the end of them"),
                   ("next_call_margin", "another call against the end of the answer"),
                   ("copy_margin", "values copied from the request against the rest"))
        for name, weighs in weighed:
            value, option = getattr(self, name), "--" + name.replace("_", "-")
            if value is None:
                continue
            check_margin(value, option)
            setattr(self, name, float(value))
            if self.decoding != "constrained":
                raise CalltuneError(f"{option} weighs {weighs} under --decoding constrained; "
                                    f"--decoding {self.decoding} has no grammar to weigh them by")


@dataclass
class ServeConfig:
    """The model served and what the HTTP server accepts."""

    model: str = "embedded"
    """`embedded`, a local HF model directory, a full fine-tune's run directory, or a hub id."""
    adapter: str | None = None
    """A PEFT adapter directory (or a run directory with `adapter/`), or `builtin` (the tuned adapter
    shipped in the package); its saved tokenizer and chat template are used. Merged into the weights
    for speed unless the base is quantized."""
    quantization: str = "auto"
    """Base weights: `none`, `nf4`, or `auto` (as the adapter's run trained them)."""
    host: str = "127.0.0.1"
    """Address to bind; loopback unless told otherwise."""
    port: int = 8000
    """Port to bind."""
    api_key: str | None = None
    """Require `Authorization: Bearer KEY` on /v1 routes (default: the CALLTUNE_API_KEY environment
    variable, if set)."""
    served_model_name: str = "calltune"
    """The model id that /v1/models lists and requests must name."""
    max_body_bytes: int = 4 * 1024 * 1024
    """Largest request body; a larger one gets 413."""
    max_tools: int = 128
    """Most tools one request may offer."""
    max_messages: int = 512
    """Most messages one request may hold."""
    request_timeout: float = 300.0
    """Seconds a request may take, queueing included; then it fails (504, or an error event when streaming)."""
    log_level: str = "info"
    """uvicorn's log level (`warning` hides the access log)."""
    engine: EngineConfig = field(default_factory=EngineConfig)

    def __post_init__(self):
        if not 0 <= self.port < 65536:
            raise CalltuneError(f"--port {self.port} is not a port number")
        if min(self.max_body_bytes, self.max_tools, self.max_messages) < 1 or self.request_timeout <= 0:
            raise CalltuneError("--max-body-bytes, --max-tools, --max-messages and --request-timeout must be positive")
        if self.api_key is not None and not self.api_key.strip():
            raise CalltuneError("--api-key must not be empty")


def field_docs(cls) -> dict[str, str]:
    """Each field's docstring (the string literal under it in the class body), one line."""
    body = ast.parse(inspect.getsource(cls)).body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _options(cls):
    docs = field_docs(cls)
    return [(f, docs[f.name]) for f in fields(cls) if f.name in docs]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One `--option` per field of `ServeConfig` and `EngineConfig`, its docstring the help."""
    kinds = {"int": int, "float": float, "int | None": int, "float | None": float, "str | None": str, "str": str}
    metavars = {"model": "M", "adapter": "DIR", "host": "HOST", "api_key": "KEY", "served_model_name": "NAME",
                "log_level": "LEVEL", "abstain_margin": "M", "optional_margin": "M",
                "next_call_margin": "M", "copy_margin": "B", "num_beams": "K",
                "length_penalty": "A"}
    choices = {"decoding": DECODINGS, "quantization": ("auto", "none", "nf4"), "key_order": KEY_ORDERS}
    for cls in (ServeConfig, EngineConfig):
        for f, doc in _options(cls):
            if f.type == "bool":  # a switch: unset keeps the default
                parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, action="store_true", default=None,
                                    help=doc)
                continue
            kind = kinds[f.type]
            parser.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=kind, default=None, help=doc,
                                choices=choices.get(f.name),
                                metavar=None if f.name in choices else metavars.get(f.name, "N"))


def from_args(args: argparse.Namespace) -> ServeConfig:
    """The config the command line asks for (unset options keep their defaults)."""
    def given(cls):
        return {f.name: getattr(args, f.name) for f, _ in _options(cls) if getattr(args, f.name, None) is not None}

    values = given(ServeConfig)
    values.setdefault("api_key", os.environ.get(API_KEY_ENV) or None)
    return ServeConfig(**values, engine=EngineConfig(**given(EngineConfig)))
