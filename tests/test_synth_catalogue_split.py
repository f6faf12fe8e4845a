"""`catalogue_split` (`--catalogue-split`): the hand-written catalogue's every 5th domain kept out, so that a
dev set of hand-written tools never trained on can be made (as `procedural_split` does for composed tools)."""

import json

import pytest

from calltune.config import load_config
from calltune.errors import CalltuneError
from calltune.examples import load_examples
from calltune.synth.catalogue import all_tools, split_domains
from calltune.synth.generator import SynthConfig, generate
from test_synth import synth

HELD = ("ecommerce", "maps", "statistics")
HELD_TOOLS = {t.name for t in all_tools() if t.domain in HELD}
MIXED = dict(parallel_rate=0.25, parallel_max_calls=4, dialogue_rate=0.1, irrelevant_rate=0.12, near_miss_rate=0.08,
             procedural_rate=0.5, procedural_split="train", session_rate=0.1)


def offered_and_called(record: dict) -> set[str]:
    """Every catalogue tool name an example offers or calls (renamed and masked tools by their meta)."""
    meta = record["meta"]
    tools = meta["tool"] if isinstance(meta["tool"], list) else [meta["tool"]]
    names = {t["function"]["name"] for t in record["tools"]} | set(meta.get("tools") or []) | set(tools)
    for message in record.get("messages") or []:
        names |= {c["function"]["name"] for c in message.get("tool_calls") or []}
    return names


def test_the_splits_partition_the_domains_by_a_fixed_rule():
    everything = sorted({t.domain for t in all_tools()})
    assert split_domains("all") == everything
    assert tuple(split_domains("heldout")) == HELD  # sorted domains 4, 9 and 14
    assert sorted(split_domains("train") + split_domains("heldout")) == everything
    assert len(HELD_TOOLS) == 20


def test_train_split_never_offers_a_held_out_tool():
    records = generate(SynthConfig(n=400, seed=3, catalogue_split="train", **MIXED))
    assert not set().union(*map(offered_and_called, records)) & HELD_TOOLS
    assert not {r["meta"]["domain"] for r in records} & set(HELD)
    # without the split the same settings do offer them: the check above can fail
    records = generate(SynthConfig(n=400, seed=3, **MIXED))
    assert set().union(*map(offered_and_called, records)) & HELD_TOOLS


def test_heldout_split_draws_only_held_out_tools():
    records = generate(SynthConfig(n=150, seed=1, catalogue_split="heldout", parallel_rate=0.25,
                                   parallel_max_calls=4, irrelevant_rate=0.08))
    called = {r["meta"]["domain"] for r in records if r["target"] is not None}
    assert called == set(HELD)
    assert {name for r in records for name in r["meta"]["tools"]} <= HELD_TOOLS  # catalogue names (before renaming)


def test_split_is_the_same_bytes_as_listing_its_domains(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert synth("synth", "--n", "80", "--seed", "1", "--catalogue-split", "heldout", "--out", str(a)) == 0
    assert synth("synth", "--n", "80", "--seed", "1", "--domains", ",".join(HELD), "--out", str(b)) == 0
    assert a.read_bytes() == b.read_bytes() and len(load_examples(str(a))) == 80


def test_bad_split_and_empty_pool_are_clear_errors():
    with pytest.raises(CalltuneError, match="--catalogue-split must be one of all, train, heldout"):
        SynthConfig(catalogue_split="dev")
    with pytest.raises(CalltuneError, match="leave no tool"):
        generate(SynthConfig(n=5, catalogue_split="train", domains=("maps",)))


def test_recipe_config_takes_the_split():
    cfg = load_config("configs/best.yaml", ["data.synth.catalogue_split=train"])
    assert cfg.data.synth.catalogue_split == "train"
    assert json.loads(json.dumps(cfg.to_dict()))["data"]["synth"]["catalogue_split"] == "train"
    assert load_config("configs/best.yaml").data.synth.catalogue_split == "all"
