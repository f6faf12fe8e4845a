"""Dialogues on composed tools (`composed_dialogue.py`, the generator's `composed_dialogue_rate`): results that
agree with the call, replies that state only its values, follow-ups whose IDs come from the result, the held-out
split, and byte-identical output at rate 0."""

import hashlib
import json
import random
import re

import pytest

from calltune.cli import main
from calltune.config import config_from_dict
from calltune.errors import CalltuneError
from calltune.examples import parse_example
from calltune.jsonl import write_jsonl
from calltune.synth.checks import check_call, numbers_in
from calltune.synth.composed_dialogue import NEXT, THINGS, outcome, snake
from calltune.synth.composer import composed_catalogue, id_slot, with_word_options
from calltune.synth.generator import SynthConfig, generate
from calltune.synth.phrasing import sample_call

DIGITS = re.compile(r"(?<![\w.^])-?\d+(?:\.\d+)?")
IDS = re.compile(r"\b[A-Z]{1,4}-\d{5}\b")
EMAILS = re.compile(r"[\w.]+@[\w.]+\w")
WORDED = with_word_options(composed_catalogue(0), 0)
BY_NAME = {t.name: t for t in WORDED.tools}
HELDOUT = dict(procedural_rate=1.0, procedural_split="heldout", dialogue_rate=0.9, composed_dialogue_rate=1.0)


def dialogues(**kw) -> list[dict]:
    """Composed dialogues only, unrenamed (names are the catalogue's), options in words at half the rate."""
    cfg = dict(n=300, seed=0, procedural_rate=1.0, procedural_seed=0, dialogue_rate=1.0, irrelevant_rate=0.0,
               composed_dialogue_rate=1.0, followup_rate=0.5, rename_rate=0.0, word_value_rate=0.5, optional_rate=0.5)
    return generate(SynthConfig(**cfg | kw))


@pytest.fixture(scope="module")
def records():
    return dialogues()


def tags(record: dict) -> set[str]:
    return set(record["meta"]["augmentations"])


def turns(record: dict) -> tuple[str, dict, str]:
    """The request, the first call and the tool message's content."""
    user, assistant, tool = record["messages"]
    return user["content"], assistant["tool_calls"][0]["function"], tool["content"]


def sha(records: list[dict], tmp_path) -> str:
    path = tmp_path / "out.jsonl"
    write_jsonl(str(path), records)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_composed_dialogue_passes_the_checks(records):
    firsts, chains = set(), set()
    for r in records:
        parse_example(r)
        assert {"procedural", "dialogue_answer"} <= tags(r) or {"procedural", "dialogue_followup"} <= tags(r)
        request, call, content = turns(r)
        assert check_call(BY_NAME[call["name"]], request, call["arguments"]).ok, request
        assert set(r["meta"]["tools"]) <= set(BY_NAME) and r["meta"]["domain"] == BY_NAME[call["name"]].domain
        if r["target"] is None:
            firsts.add(WORDED.origin[call["name"]][2])
            continue
        second = BY_NAME[r["target"]["name"]]
        assert r["meta"]["tool"] == second.name
        assert check_call(second, request + "\n" + content, r["target"]["arguments"]).ok, (request, r["target"])
        a, b = WORDED.origin[call["name"]], WORDED.origin[second.name]
        assert a[:2] == b[:2] and b[2] in NEXT[a[2]]  # two tools of one thing
        chains.add((a[2], b[2]))
    assert firsts == {"search", "list", "count", "export", "get", "create", "update", "delete", "share"}
    assert chains == {(a, b) for a, nexts in NEXT.items() for b in nexts}
    followups = sum(r["target"] is not None for r in records)
    assert 0.35 * len(records) < followups < 0.65 * len(records)  # followup_rate 0.5: follow-ups rarely fail


def test_followup_ids_come_from_the_result_and_other_values_from_the_request(records):
    for r in (r for r in records if r["target"] is not None):
        request, _, content = turns(r)
        result = json.loads(content)
        id_name = id_slot(WORDED.origin[r["target"]["name"]][1])[0]
        for name, value in r["target"]["arguments"].items():
            if snake(name) == id_name:
                assert json.dumps(value) in content and value not in request  # read off the result only
            else:
                assert check_call(BY_NAME[r["target"]["name"]], request, {name: value}).error_type != "unrecoverable"
        assert result  # a dict with the records or the new ID


def test_replies_state_only_values_of_the_result_or_the_call(records):
    for r in (r for r in records if r["target"] is None):
        request, call, content = turns(r)
        domain, thing, _ = WORDED.origin[call["name"]]
        reply, seen = r["target_content"], request + " " + content
        for _, label, _, _ in THINGS[(domain, thing)][1]:  # attribute names are no values ("score out of 100")
            reply = reply.replace(label, "")
        numbers = {abs(x) for x in numbers_in(seen)}
        assert all(abs(float(x)) in numbers for x in DIGITS.findall(reply)), (reply, content)
        assert all(i in seen for i in IDS.findall(reply)) and all(e in seen for e in EMAILS.findall(reply))
        assert any(str(v) in reply for v in json.loads(content).values() if isinstance(v, (str, int))), reply


@pytest.mark.parametrize("op", ["search", "list"])
def test_listed_records_agree_with_the_filters(op):
    rng = random.Random(3)
    tools = [t for t in WORDED.tools if WORDED.origin[t.name][2] == op]
    for tool in tools * 3:
        _, args, _ = sample_call(rng, tool, 0.7, ())
        result, _ = outcome(rng, WORDED, tool, args)
        (items,) = [v for v in result.values() if isinstance(v, list)]
        call = {snake(k): v for k, v in args.items()}
        assert result["count"] == len(items) and 1 <= len(items) <= min(4, call.get("limit", 4))
        ids = [i[next(k for k in i if snake(k) == id_slot(WORDED.origin[tool.name][1])[0])] for i in items]
        assert len(set(ids)) == len(ids)
        for item in items:
            fields = {snake(k): v for k, v in item.items()}
            assert all(fields[k] == v for k, v in call.items() if k in fields)  # the call's attribute values
            assert fields.get("created_on", "9999") > call.get("created_after", "")
            assert "year" not in call or "created_on" not in fields or fields["created_on"][:4] == str(call["year"])
        dates = [i.get("createdOn", i.get("created_on")) for i in items]
        if "sort_order" in call and dates[0]:
            assert dates == sorted(dates, reverse=call["sort_order"] == "descending")


def test_same_seed_same_records_other_seed_other_records():
    a, b = dialogues(n=80, rename_rate=0.5), dialogues(n=80, rename_rate=0.5)
    assert json.dumps(a) == json.dumps(b) and json.dumps(a) != json.dumps(dialogues(n=80, rename_rate=0.5, seed=1))


def test_renamed_and_masked_tools_are_named_as_offered_everywhere():
    for r in dialogues(n=120, seed=5, rename_rate=0.7, mask_rate=0.3, description_style_rate=0.5):
        parse_example(r)  # the history's call and the target validate against the offered tools they name
        origins = dict(zip((t["function"]["name"] for t in r["tools"]), r["meta"]["tools"]))
        _, call, _ = turns(r)
        assert call["name"] in origins and (r["target"] is None or origins[r["target"]["name"]] == r["meta"]["tool"])


def test_one_offered_tool_gives_answers_only():
    assert all("dialogue_answer" in tags(r) and len(r["tools"]) == 1 for r in dialogues(n=40, max_tools=1))


# Computed on main (85c8fec), before composed_dialogue_rate existed: at 0 every byte stays.
def test_rate_zero_leaves_the_output_unchanged(tmp_path):
    cfg = SynthConfig(n=200, seed=11, procedural_rate=0.7, procedural_split="heldout", dialogue_rate=0.5,
                      followup_rate=0.5, word_value_rate=0.3, irrelevant_rate=0.1, near_miss_rate=0.1, mask_rate=0.1)
    assert sha(generate(cfg), tmp_path) == "3c9782200a00a4ad88f17c3d6616231e75b3d387f01b5588ff9ae5e442e2c47d"


def test_heldout_dev_set_from_the_command_line_has_heldout_tools_only(tmp_path, capsys):
    out = tmp_path / "dev.jsonl"
    flags = ["--procedural-rate", "1.0", "--procedural-split", "heldout", "--dialogue-rate", "0.9",
             "--composed-dialogue-rate", "1.0"]
    assert main(["data", "synth", "--n", "300", "--seed", "0", *flags, "--out", str(out)]) == 0
    records = generate(SynthConfig(n=300, seed=0, **HELDOUT))
    assert sha(records, tmp_path) == hashlib.sha256(out.read_bytes()).hexdigest()
    held, train = composed_catalogue(0, "heldout").origin, composed_catalogue(0, "train").origin
    assert all(set(r["meta"]["tools"]) <= set(held) and not set(r["meta"]["tools"]) & set(train) for r in records)
    composed = [r for r in records if "messages" in r and "procedural" in tags(r)]
    assert len(composed) == sum("messages" in r for r in records) > 240  # dialogue_rate 0.9 of 300


def test_the_rate_is_checked_and_reaches_a_recipe_config():
    with pytest.raises(CalltuneError, match="--composed-dialogue-rate"):
        SynthConfig(composed_dialogue_rate=1.5)
    cfg = config_from_dict({"data": {"synth": {"n": 10, "composed_dialogue_rate": 0.5}}})
    assert cfg.data.synth.composed_dialogue_rate == 0.5
