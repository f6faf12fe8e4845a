"""Shared by the listed and crossed parallel-request tests and the novel and context value tests: the catalogues a
call is checked against, the records one generator option tags, and the check that they stay recoverable."""

from __future__ import annotations

from calltune.synth.catalogue import all_tools
from calltune.synth.checks import check_call
from calltune.synth.composer import composed_catalogue
from calltune.synth.generator import SynthConfig, generate

HAND = {t.name: t for t in all_tools()}
COMPOSED = {t.name: t for t in composed_catalogue(0, "train").tools}
PLAIN = dict(rename_rate=0.0, mask_rate=0.0, shuffle_rate=0.0)


def tagged(option: str, tag: str, **kw) -> list[dict]:
    """Records tagged `tag` from one-tool parallel requests with `option` at 1.0 (`kw` overrides anything)."""
    cfg = dict(n=120, seed=0, parallel_rate=1.0, parallel_same_tool_rate=1.0, parallel_max_calls=4,
               irrelevant_rate=0.0, procedural_rate=0.5, procedural_split="train", procedural_seed=0) | {option: 1.0}
    return [r for r in generate(SynthConfig(**cfg | kw)) if tag in r["meta"]["augmentations"]]


def catalogue_of(record: dict) -> dict:
    """The catalogue (name -> ToolDef) the record's calls come from."""
    return COMPOSED if "procedural" in record["meta"]["augmentations"] else HAND


def assert_recoverable(records: list[dict], tag: str) -> None:
    """Every call of every record tagged `tag` passes `check_call` against its catalogue tool."""
    for record in records:
        if tag not in record["meta"]["augmentations"]:
            continue
        tools = dict(zip((t["function"]["name"] for t in record["tools"]), record["meta"]["tools"]))
        target = record["target"]
        for call in target if isinstance(target, list) else [target]:
            result = check_call(catalogue_of(record)[tools[call["name"]]], record["instruction"], call["arguments"])
            assert result.ok, (record["id"], result)
