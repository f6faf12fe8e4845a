"""The data a training recipe generates for itself (`data.synth` in the config).

    calltune train --config configs/best.yaml --out RUN [data.synth.n=300 ...]

`prepare_data(cfg, out)` writes, into RUN/data/,

    synth.jsonl  `calltune data synth` with data.synth's options
    train.jsonl  the first data.train_size examples of `calltune data split`'s train file (data.split's options)
    dev.jsonl    the first data.dev_size examples of its dev file
    data.json    the generation settings, counts, the split's report and each file's sha256 (written last)

by calling the functions those commands call, so the files are byte for byte what the commands and
`head -n N` give by hand. Each file is written atomically. A run that finds data.json with the same
settings and files with the recorded hashes reuses them (a resumed run trains on the same bytes).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from calltune.config import GENERATION_FIELDS, RunConfig
from calltune.examples import load_examples
from calltune.jsonl import file_sha256, write_json, write_jsonl
from calltune.splits import dedup, split
from calltune.synth.generator import generate

FILES = ("synth", "train", "dev")


def data_dir(out: str) -> str:
    return os.path.join(out, "data")


def generation_settings(cfg: RunConfig) -> dict:
    """The data fields that decide the generated files (what data.json records and reuse compares)."""
    return {name: value for name, value in cfg.to_dict()["data"].items() if name in GENERATION_FIELDS}


def _reusable(folder: str, settings: dict) -> dict | None:
    """data.json of earlier generated files, when they were made with `settings` and are intact."""
    path = os.path.join(folder, "data.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        record = json.load(handle)
    if record.get("settings") != settings:
        return None
    for name in FILES:
        file = os.path.join(folder, f"{name}.jsonl")
        if not os.path.exists(file) or file_sha256(file) != record["sha256"].get(name):
            return None
    return record


def generate_files(cfg: RunConfig, folder: str) -> dict:
    """Synthesize, split and cut into `folder`; returns the data.json record (also written, last)."""
    data = cfg.data
    paths = {name: os.path.join(folder, f"{name}.jsonl") for name in FILES}
    write_jsonl(paths["synth"], generate(data.synth))  # as `calltune data synth`
    examples = load_examples(paths["synth"])  # as `calltune data split`, from the file
    dedup_report = None
    if data.split.dedup:
        examples, dedup_report = dedup(examples)
    train, dev, report = split(examples, data.split.by, data.split.dev_fraction, data.split.seed)
    for name, part, size in (("train", train, data.train_size), ("dev", dev, data.dev_size)):
        if size is not None and size > len(part):
            print(f"warning: data.{name}_size {size}, but the split has {len(part)} {name} examples; "
                  f"using all of them (generate more with data.synth.n)", file=sys.stderr)
        write_jsonl(paths[name], [ex.record for ex in part[:size]])  # as `head -n SIZE`
    record = {"settings": generation_settings(cfg),
              "counts": {"synth": data.synth.n, "after_dedup": len(examples), "split_train": len(train),
                         "split_dev": len(dev), "train": len(train[:data.train_size]),
                         "dev": len(dev[:data.dev_size])},
              "dedup": dedup_report.summary() if dedup_report else None, "split": report.summary(),
              "sha256": {name: file_sha256(path) for name, path in paths.items()}}
    write_json(os.path.join(folder, "data.json"), record)  # last: it marks the files complete
    return record


def prepare_data(cfg: RunConfig, out: str, quiet: bool = False) -> tuple[RunConfig, dict | None]:
    """With data.synth: generate (or reuse) RUN/data/ and return the config with data.train (and
    data.dev, unless given) pointing there, plus the data.json record. Without it: `(cfg, None)`.

    Under torchrun every process calls this; each writes the same bytes atomically, so any of
    them may finish first.
    """
    if cfg.data.synth is None:
        return cfg, None
    folder = data_dir(out)
    record = _reusable(folder, generation_settings(cfg))
    if record is None:
        record = generate_files(cfg, folder)
        verb = "generated"
    else:
        verb = "reused"
    if not quiet:
        counts = record["counts"]
        print(f"data: {verb} {folder}: {counts['synth']} synthetic -> {counts['train']} train, "
              f"{counts['dev']} dev ({record['split']})", file=sys.stderr)
    dev = cfg.data.dev if cfg.data.dev is not None else os.path.join(folder, "dev.jsonl")
    data = dataclasses.replace(cfg.data, train=os.path.join(folder, "train.jsonl"), dev=dev)
    return dataclasses.replace(cfg, data=data), record
