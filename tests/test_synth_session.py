"""Sessions (`session.py`, the generator's `session_rate`): earlier rounds on the offered tools, named as offered,
every call recoverable from its request, every assistant turn supervised, byte-identical output at rate 0."""

import hashlib
import json

import pytest

from calltune.cli import main
from calltune.config import config_from_dict
from calltune.errors import CalltuneError
from calltune.examples import parse_example
from calltune.jsonl import write_jsonl
from calltune.synth.catalogue import all_tools
from calltune.synth.checks import check_call
from calltune.synth.composer import composed_catalogue
from calltune.synth.generator import SynthConfig, generate

HAND = {t.name: t for t in all_tools()}
COMPOSED = {t.name: t for t in composed_catalogue(0, "train").tools}


def sessions(**kw) -> list[dict]:
    cfg = dict(n=150, seed=0, session_rate=1.0, irrelevant_rate=0.0, procedural_rate=0.5, procedural_split="train",
               procedural_seed=0, rename_rate=0.5, mask_rate=0.2)
    return [r for r in generate(SynthConfig(**cfg | kw)) if "session" in r["meta"]["augmentations"]]


@pytest.fixture(scope="module")
def records():
    return sessions()


def rounds(record: dict) -> list[tuple[str, dict, dict, str]]:
    """(request, offered call, result, reply) of each earlier round."""
    m = record["messages"]
    assert len(m) % 4 == 1 and m[-1]["role"] == "user"
    out = []
    for i in range(0, len(m) - 1, 4):
        user, call, tool, reply = m[i:i + 4]
        assert [user["role"], call["role"], tool["role"], reply["role"]] == ["user", "assistant", "tool", "assistant"]
        (tc,) = call["tool_calls"]
        assert tool["tool_call_id"] == tc["id"] and call["content"] is None and reply["content"].strip()
        out.append((user["content"], tc["function"], json.loads(tool["content"]), reply["content"]))
    return out


def test_every_single_call_can_become_a_session_of_one_to_max_rounds(records):
    assert len(records) > 100  # of 150: only near misses, parallel requests and dialogues are other kinds, all off
    counts = {len(rounds(r)) for r in records}
    assert counts == {1, 2, 3}
    assert {len(rounds(r)) for r in sessions(n=60, session_max_rounds=1)} == {1}
    assert any("procedural" in r["meta"]["augmentations"] for r in records)
    assert any("procedural" not in r["meta"]["augmentations"] for r in records)


def test_rounds_call_offered_tools_named_as_offered(records):
    for r in records:
        parse_example(r)  # the history's calls and the target validate against the offered tools they name
        offered = {t["function"]["name"]: origin for t, origin in zip(r["tools"], r["meta"]["tools"])}
        assert all(call["name"] in offered and result for _, call, result, _ in rounds(r))
        assert offered[r["target"]["name"]] == r["meta"]["tool"]


def test_every_round_is_recoverable_from_its_request_and_has_a_result():
    for r in sessions(n=80, rename_rate=0.0, mask_rate=0.0, shuffle_rate=0.0):
        catalogue = COMPOSED if "procedural" in r["meta"]["augmentations"] else HAND
        for request, call, result, reply in rounds(r):
            assert check_call(catalogue[call["name"]], request, call["arguments"]).ok, (request, call)
            assert result and reply


def test_every_assistant_turn_is_supervised(records, tok):
    from calltune.render import render_example

    for r in records[:10]:
        item = render_example(parse_example(r), tok, "hermes", "completion")
        spans = sum(1 for i, m in enumerate(item.loss_mask) if m and (i == 0 or not item.loss_mask[i - 1]))
        assert spans == 2 * len(rounds(r)) + 1  # each round's call and reply, then the target


def test_same_seed_same_records_and_the_command_line_reaches_the_options(tmp_path):
    assert json.dumps(sessions(n=60)) == json.dumps(sessions(n=60))
    out = tmp_path / "s.jsonl"
    assert main(["data", "synth", "--n", "40", "--seed", "2", "--session-rate", "1", "--session-max-rounds", "2",
                 "--irrelevant-rate", "0", "--out", str(out)]) == 0
    records = generate(SynthConfig(n=40, seed=2, session_rate=1.0, session_max_rounds=2, irrelevant_rate=0.0))
    write_jsonl(str(tmp_path / "same.jsonl"), records)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256((tmp_path / "same.jsonl").read_bytes()).hexdigest()
    assert {len(rounds(r)) for r in records if "messages" in r} <= {1, 2} and any("messages" in r for r in records)


# Computed on main (6215681), before session_rate existed: at 0 every byte stays.
def test_rate_zero_leaves_the_output_unchanged(tmp_path):
    cfg = SynthConfig(n=200, seed=11, procedural_rate=0.7, procedural_split="train", dialogue_rate=0.2,
                      parallel_rate=0.2, parallel_max_calls=4, word_value_rate=0.3, irrelevant_rate=0.1,
                      near_miss_rate=0.1, mask_rate=0.1, description_style_rate=0.3, composed_dialogue_rate=0.5)
    write_jsonl(str(tmp_path / "out.jsonl"), generate(cfg))
    assert hashlib.sha256((tmp_path / "out.jsonl").read_bytes()).hexdigest() == (
        "9cd84f4b10d57acf53fa1a3f62a03e91259422f1c4d067ab60e02b4bb156902d")


def test_the_options_are_checked_and_reach_a_recipe_config():
    with pytest.raises(CalltuneError, match="--session-rate"):
        SynthConfig(session_rate=1.5)
    with pytest.raises(CalltuneError, match="--session-max-rounds"):
        SynthConfig(session_max_rounds=0)
    cfg = config_from_dict({"data": {"synth": {"n": 10, "session_rate": 0.5, "session_max_rounds": 2}}})
    assert cfg.data.synth.session_rate == 0.5 and cfg.data.synth.session_max_rounds == 2
