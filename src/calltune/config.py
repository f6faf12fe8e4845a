"""Training configuration: typed dataclasses, one per concern, mirrored by YAML.

    model:  {name, quantization, compute_dtype, gradient_checkpointing}
    data:   {train, dev, prompt_style, loss, max_length, overlong,
             synth: {n, seed, ...rates}, split: {by, dev_fraction, seed, dedup}, train_size, dev_size}
    lora:   {r, alpha, dropout, targets}
    train:  {method, epochs, max_steps, batch_size, grad_accum, lr, autocast, ...}
    eval:   {every, generate, max_new_tokens, batch_size}

`load_config(path, overrides)` reads a YAML file, applies `section.field=value`
overrides (values parsed as YAML; nested fields too: `data.synth.n=300`), and checks
unknown keys, types and cross-field rules, naming the file and key in every error.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field

import yaml

from calltune.decisions import KINDS as DECISION_KINDS
from calltune.errors import CalltuneError
from calltune.jsonl import read_text
from calltune.splits import SPLIT_BY
from calltune.synth.generator import SynthConfig


@dataclass
class ModelConfig:
    name: str = "embedded"
    """`embedded`, a local HF model directory, or a hub id."""
    quantization: str = "none"
    """`none` (LoRA over full-precision weights) or `nf4` (QLoRA: 4-bit NF4 base, double quantization)."""
    compute_dtype: str = "float32"
    """Dtype of the non-quantized weights and of nf4 compute; fp32 trains well on CPUs (for bfloat16 matrix products
    over fp32 weights, see train.autocast)."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward: about -40% memory, +15-30% time."""

    def __post_init__(self):
        if self.quantization not in ("none", "nf4"):
            raise CalltuneError(f"model.quantization: '{self.quantization}' is not one of none, nf4")
        if self.compute_dtype not in ("float32", "bfloat16", "float16"):
            raise CalltuneError(f"model.compute_dtype: '{self.compute_dtype}' is not float32, bfloat16 or float16")


@dataclass
class SplitConfig:
    """How generated data is split: `calltune data split`'s options."""

    by: str = "example"
    """`example` (random examples) or `tool` (held-out tools, never offered in train)."""
    dev_fraction: float = 0.2
    """Share of the examples that go to dev."""
    seed: int = 11711
    """Seed of the split."""
    dedup: bool = True
    """Remove exact duplicates (instruction, tool names, target) first."""

    def __post_init__(self):
        if self.by not in SPLIT_BY:
            raise CalltuneError(f"data.split.by: '{self.by}' is not one of {', '.join(SPLIT_BY)}")
        if not 0.0 < self.dev_fraction < 1.0:
            raise CalltuneError(f"data.split.dev_fraction must be between 0 and 1, got {self.dev_fraction}")


# The data fields that generate a run's data; left out of `RunConfig.to_dict` when unset.
GENERATION_FIELDS = ("synth", "split", "train_size", "dev_size")


@dataclass
class DataConfig:
    train: str | None = "seed:train"
    """Training examples (JSONL path or seed:SPLIT); null (the default when data.synth is given): the
    generated train split."""
    dev: str | None = "seed:dev"
    """Dev examples for periodic evaluation, or null (with data.synth, the default: the generated dev split)."""
    prompt_style: str = "hermes"
    """`hermes` (the standard chat format with tools, the default; calltune.chat), `paper` (the
    report's template) or `chat` (see prompts.py). The report's configs name `paper`."""
    loss: str = "completion"
    """`full` (every token, the report's) or `completion` (only the answer: for `paper`/`chat` the
    call and its EOS, for `hermes` every assistant turn of the conversation)."""
    max_length: int | None = None
    """Longest tokenized prompt+answer; longer examples are dropped and reported, never cut. None:
    1536 for hermes (the tools block and whole conversations), 384 for paper and chat."""
    overlong: str = "drop"
    """What to do with examples over max_length: `drop` (and report) or `error`."""
    argument_order: str = "given"
    """The order of each call's arguments in the answers trained on: `given` (as the data file has them)
    or `schema` (the offered tool's `properties` order, nested objects too: the only order constrained
    decoding writes; `render.in_schema_order`). The data files are not changed. On the best recipe it
    was not better (session 46, cand48 in the README)."""
    synth: SynthConfig | None = None
    """Generate the data: `calltune data synth`'s options as fields (`{n: 5000, seed: 0, parallel_rate:
    0.1, ...}`, each documented on `SynthConfig`). `train` then writes RUN/data/synth.jsonl, its split
    (train.jsonl, dev.jsonl) and trains on it, byte for byte what the commands give by hand
    (`recipe_data.py`). A data.train given explicitly wins: nothing is generated."""
    split: SplitConfig | None = None
    """How the generated data is split (`calltune data split`'s options); null: its defaults."""
    train_size: int | None = None
    """Train on the first N examples of the generated train split (`head -n N`); null: all of them."""
    dev_size: int | None = None
    """Evaluate on the first N examples of the generated dev split; null: all of them."""

    def __post_init__(self):
        if self.synth is None:
            if self.train is None:
                raise CalltuneError("data.train: null needs data.synth (data generated for the run)")
            if self.split is not None or self.train_size is not None or self.dev_size is not None:
                raise CalltuneError("data.split, data.train_size and data.dev_size apply to generated data: "
                                    "add data.synth")
        elif self.split is None:
            self.split = SplitConfig()
        for name in ("train_size", "dev_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise CalltuneError(f"data.{name} must be at least 1 (or null for all), got {getattr(self, name)}")
        if self.prompt_style not in ("paper", "chat", "hermes"):
            raise CalltuneError(f"data.prompt_style: '{self.prompt_style}' is not paper, chat or hermes")
        if self.loss not in ("full", "completion"):
            raise CalltuneError(f"data.loss: '{self.loss}' is not full or completion")
        if self.overlong not in ("drop", "error"):
            raise CalltuneError(f"data.overlong: '{self.overlong}' is not drop or error")
        if self.argument_order not in ("given", "schema"):
            raise CalltuneError(f"data.argument_order: '{self.argument_order}' is not given or schema")
        if self.max_length is None:
            self.max_length = 1536 if self.prompt_style == "hermes" else 384
        if self.max_length < 8:
            raise CalltuneError("data.max_length must be at least 8")


@dataclass
class LoraConfig:
    r: int = 8
    """Rank of the low-rank update."""
    alpha: int = 16
    """Scale numerator: the update is (alpha / r) * B A."""
    dropout: float = 0.05
    """Dropout on the LoRA input."""
    targets: str | list[str] = "attention"
    """`attention`, `all-linear`, or a list of module names (e.g. [q_proj, v_proj])."""
    top_layers: int | None = None
    """Adapt only the last N transformer blocks (null: all). Backward then stops at the lowest
    adapted block, so fewer blocks train faster."""
    save_dtype: str = "float32"
    """The dtype the adapter's weights are saved in: float32 (as trained), or float16 / bfloat16 for half
    the file (loading casts them back to the model's dtype). Training and checkpoints are unchanged."""

    def __post_init__(self):
        if self.save_dtype not in ("float32", "float16", "bfloat16"):
            raise CalltuneError(f"lora.save_dtype: '{self.save_dtype}' is not float32, float16 or bfloat16")
        if self.top_layers is not None and self.top_layers < 1:
            raise CalltuneError("lora.top_layers must be at least 1 (or null for all layers)")
        if self.r < 1 or self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise CalltuneError("lora: need r >= 1, alpha > 0 and 0 <= dropout < 1")
        if isinstance(self.targets, str) and self.targets not in ("attention", "all-linear"):
            raise CalltuneError(f"lora.targets: '{self.targets}' is not attention, all-linear or a list of names")


@dataclass
class TrainConfig:
    method: str = "lora"
    """`lora`: adapters (the `lora` section) on the frozen base, saved as RUN/adapter/. `full`: every
    weight of the blocks `lora.top_layers` names (all blocks when null) and the final norm trains
    itself (the embeddings, tied to the LM head, stay frozen; the rest of `lora` is unused), saved as a
    whole model in RUN/model/ (`--model RUN`)."""
    epochs: float = 3
    """Passes over the training data (ignored when max_steps is set)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps."""
    batch_size: int = 4
    """Examples per forward pass (per process)."""
    grad_accum: int = 1
    """Forward passes per optimizer step."""
    lr: float = 2e-4
    """Peak learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    warmup_ratio: float = 0.0
    """Fraction of steps with linear warmup."""
    scheduler: str = "linear"
    """`linear` or `cosine` decay to zero, or `constant`."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm (0 disables)."""
    seed: int = 11711
    """Seed for data order, LoRA init and dropout."""
    threads: int | None = None
    """torch threads per process; null = torch's default."""
    group_by_length: bool = True
    """Batch examples of similar length (less padding); order still shuffled by seed."""
    pad_mask: bool = True
    """Give attention the padding mask; false: right-padded batches attend causally without one (the same loss to
    float rounding, faster; `benchmarks/pad_mask.py`)."""
    autocast: str = "none"
    """`bfloat16`: mixed precision, the forward pass (and so its backward) under `torch.autocast`, matrix products in
    bfloat16 while the weights, their gradients, the optimizer and the loss stay in model.compute_dtype float32
    (best.yaml trained 1.35x faster on an AMD EPYC with AVX512-BF16; losses equal to about 3 digits;
    `benchmarks/autocast.py`).
    `none`: every operation in model.compute_dtype."""
    save_every: int = 0
    """Checkpoint every N optimizer steps (0: only at the end)."""
    log_every: int = 1
    """Write the loss every N optimizer steps."""
    interpolate: float = 1.0
    """Keep this share of what training changed in the saved weights: base + W * (trained - base) (WiSE-FT;
    LoRA: B scaled by W); 1 keeps the fine-tune as trained. See `calltune interpolate`."""
    decision_weight: float = 1.0
    """Loss weight of the answer tokens where the model decides (to call, which function, which arguments, where a
    value ends, whether another argument or call follows; `calltune.decisions`), the rest weighing 1; each step is
    normalized by the summed weights, so the step size stays and only its share moves. 1: every token alike; other
    values need hermes prompts."""
    decision_kinds: tuple[str, ...] = DECISION_KINDS
    """Which decisions `decision_weight` weighs (`calltune.decisions.KINDS`): call (the answer's first token: call
    or not), function (the name's first token), argument (each key's first token), value_end (a value's end through
    the `,` or `}` after it) and next_call (what follows each call: another or the end); the others weigh 1.
    Default: all five."""

    def __post_init__(self):
        if self.method not in ("lora", "full"):
            raise CalltuneError(f"train.method: '{self.method}' is not lora or full")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise CalltuneError("train.batch_size and train.grad_accum must be at least 1")
        if self.max_steps is None and self.epochs <= 0:
            raise CalltuneError("train.epochs must be > 0 (or set train.max_steps)")
        if self.max_steps is not None and self.max_steps < 1:
            raise CalltuneError("train.max_steps must be at least 1")
        if self.lr <= 0:
            raise CalltuneError("train.lr must be > 0")
        if self.scheduler not in ("linear", "cosine", "constant"):
            raise CalltuneError(f"train.scheduler: '{self.scheduler}' is not linear, cosine or constant")
        if self.autocast not in ("none", "bfloat16"):
            raise CalltuneError(f"train.autocast: '{self.autocast}' is not none or bfloat16")
        if self.threads is not None and self.threads < 1:
            raise CalltuneError(f"train.threads must be at least 1 (or null for torch's default), "
                                f"got {self.threads}")
        if not self.interpolate >= 0:  # also NaN
            raise CalltuneError(f"train.interpolate must be >= 0 (1 keeps the fine-tune as trained), "
                                f"got {self.interpolate}")
        if not self.decision_weight > 0:  # also NaN
            raise CalltuneError(f"train.decision_weight must be > 0 (1 weighs every answer token alike), "
                                f"got {self.decision_weight}")
        unknown = [k for k in self.decision_kinds if k not in DECISION_KINDS]
        if unknown or not self.decision_kinds:
            raise CalltuneError(f"train.decision_kinds: {'unknown kind ' + repr(unknown[0]) if unknown else 'empty'} "
                                f"(known: {', '.join(DECISION_KINDS)})")
        self.decision_kinds = tuple(k for k in DECISION_KINDS if k in self.decision_kinds)  # one order, no repeats
        if self.decision_kinds != DECISION_KINDS and self.decision_weight == 1.0:
            raise CalltuneError("train.decision_kinds chooses what train.decision_weight weighs: set "
                                "train.decision_weight (other than 1) too")


@dataclass
class EvalConfig:
    every: int = 0
    """Evaluate on data.dev every N optimizer steps (0: only at the end)."""
    generate: bool = True
    """Also decode the dev set and compute the three metrics (slower than loss alone)."""
    max_new_tokens: int = 64
    """Generation budget for evaluation."""
    batch_size: int = 8
    """Generation batch size."""


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self):
        if self.train.method == "full" and self.model.quantization != "none":
            raise CalltuneError("train.method full trains the weights themselves: it needs model.quantization none "
                                f"(got {self.model.quantization})")
        if self.train.autocast != "none" and self.model.compute_dtype != "float32":
            raise CalltuneError(f"train.autocast {self.train.autocast} computes in it over float32 weights: it needs "
                                f"model.compute_dtype float32 (got {self.model.compute_dtype})")
        if self.data.dev is None and self.data.synth is None and self.eval.every:  # synth: the generated dev
            raise CalltuneError("eval.every needs data.dev")
        if self.train.decision_weight != 1.0 and self.data.prompt_style != "hermes":
            raise CalltuneError(f"train.decision_weight reads hermes answers (<tool_call> blocks): it needs "
                                f"data.prompt_style hermes (got {self.data.prompt_style})")

    def to_dict(self) -> dict:
        """Plain nested dicts and lists. The data-generation fields appear only when set, data.argument_order
        only when it is not given, train.method only when it is not lora, train.autocast only when it is not none,
        train.interpolate and
        train.decision_weight only when they are not 1 and train.decision_kinds only when it is not all of
        them, so a config that uses none of them serializes as before they existed (experiment cache keys,
        checkpoints)."""
        values = _plain(dataclasses.asdict(self))
        for name in GENERATION_FIELDS:
            if values["data"][name] is None:
                del values["data"][name]
        if values["data"]["argument_order"] == "given":
            del values["data"]["argument_order"]
        if values["train"]["method"] == "lora":
            del values["train"]["method"]
        if values["train"]["autocast"] == "none":
            del values["train"]["autocast"]
        if values["train"]["interpolate"] == 1.0:
            del values["train"]["interpolate"]
        if values["train"]["decision_weight"] == 1.0:
            del values["train"]["decision_weight"]
        if tuple(values["train"]["decision_kinds"]) == DECISION_KINDS:
            del values["train"]["decision_kinds"]
        return values


def _plain(value):
    """Tuples (SynthConfig's name lists) as lists, for YAML and for comparison with JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _coerce(value, annotation, where: str):
    """Check `value` against a field annotation (int, float, str, bool, X | None, list[str],
    tuple[str, ...], or a dataclass given as a mapping)."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if dataclasses.is_dataclass(option) and isinstance(value, dict):
            try:
                return _section(option, value, where)
            except CalltuneError as err:  # name the field unless the message does
                message, field = str(err), where.rsplit(": ", 1)[-1]
                raise CalltuneError(message if message.startswith((where, field)) else f"{where}: {message}") from None
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option is float and isinstance(value, str):  # YAML 1.1 reads `1e-4` as a string
            try:
                return float(value)
            except ValueError:
                pass
        if option is str and isinstance(value, str):
            return value
        if typing.get_origin(option) is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if typing.get_origin(option) is tuple and isinstance(value, (list, tuple)) and \
                all(isinstance(v, str) for v in value):
            return tuple(value)
    names = " or ".join("null" if o is type(None) else "a mapping" if dataclasses.is_dataclass(o)
                        else getattr(o, "__name__", str(o)) for o in options)
    raise CalltuneError(f"{where}: expected {names}, got {type(value).__name__} {value!r}")


def _section(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise CalltuneError(f"{where}: expected a mapping")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise CalltuneError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    return cls(**kwargs)


def config_from_dict(values: dict, source: str = "config") -> RunConfig:
    """Build a checked `RunConfig` from nested dicts; errors name `source` and the key."""
    if not isinstance(values, dict):
        raise CalltuneError(f"{source}: expected a mapping at the top level")
    hints = typing.get_type_hints(RunConfig)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise CalltuneError(f"{source}: unknown section '{unknown[0]}' (known: {', '.join(hints)})")
    values = {**values, "data": _generated_data(values.get("data") or {})}
    try:
        sections = {name: _section(hints[name], values.get(name) or {}, f"{source}: {name}") for name in hints}
        return RunConfig(**sections)
    except CalltuneError as err:
        message = str(err)
        raise CalltuneError(message if message.startswith(source) else f"{source}: {message}") from None


def _generated_data(data: dict) -> dict:
    """The data section as given, where `synth` changes two defaults: `train` and `dev` not given are
    null (the generated splits). A `train` given explicitly wins over `synth`: the generation
    fields are dropped, so that the resolved config says what was trained on."""
    if not isinstance(data, dict) or data.get("synth") is None:
        return data
    if data.get("train") is not None:
        return {k: v for k, v in data.items() if k not in GENERATION_FIELDS}
    return {"dev": None, **data, "train": None}


def apply_override(values: dict, override: str) -> None:
    """Apply one `section.key=value` (or `section.key.field=value`) override in place (value parsed as YAML)."""
    if "=" not in override or "." not in override.split("=", 1)[0]:
        raise CalltuneError(f"override '{override}': expected section.key=value")
    key, raw = override.split("=", 1)
    *path, name = key.split(".")
    node = values
    for depth, part in enumerate(path):
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            what = "section" if depth == 0 else "mapping"
            raise CalltuneError(f"override '{override}': '{'.'.join(path[:depth + 1])}' is not a {what}")
    try:
        node[name] = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError as err:
        raise CalltuneError(f"override '{override}': the value is not valid YAML "
                            f"({getattr(err, 'problem', None) or 'parse error'}); quote it or fix it") from None


def read_yaml(path: str):
    """Parse a YAML file; unreadable files, bytes that are not UTF-8 and YAML errors are
    `CalltuneError`s naming file and line."""
    text = read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise CalltuneError(f"{path}{line}: invalid YAML: {getattr(err, 'problem', err)}") from None


def load_config(path: str | None, overrides: list[str] = ()) -> RunConfig:
    values: dict = (read_yaml(path) or {}) if path is not None else {}
    for override in overrides:
        apply_override(values, override)
    return config_from_dict(values, source=path or "config")


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
