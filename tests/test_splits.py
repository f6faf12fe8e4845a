"""Splits by example and by tool, de-duplication and the leak check."""

import argparse
import itertools
import json

import pytest

from calltune.data_cli import add_parsers, run
from calltune.errors import CalltuneError
from calltune.examples import load_examples, parse_example, resolve_data_path
from calltune.splits import dedup, find_leaks, normalize_text, split_by_tool
from calltune.tool_identity import fingerprint

TOOLS = [f"tool_{i}" for i in range(12)]


def make_example(ex_id: str, instruction: str, offered: list[str], target: str | None, q: str = "x") -> object:
    tools = [{"name": name, "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
             for name in offered]
    call = None if target is None else {"name": target, "arguments": {"q": q}}
    return parse_example({"id": ex_id, "instruction": instruction, "tools": tools, "target": call})


def corpus(n: int = 120) -> list:
    """Each example calls one tool and offers a distractor from the next group of tools (some chains)."""
    examples = []
    for i in range(n):
        target = TOOLS[i % len(TOOLS)]
        distractor = TOOLS[(i * 7 + 3) % len(TOOLS)] if i % 3 == 0 else None
        offered = [target] + ([distractor] if distractor and distractor != target else [])
        examples.append(make_example(f"ex-{i}", f"request number {i} for {target}", offered,
                                     None if i % 10 == 9 else target, q=str(i)))
    return examples


def idents(ex) -> frozenset[str]:
    """The identities of an example's tools (these tools have no description: one per name)."""
    return frozenset(fingerprint(t) for t in ex.tools)


def ident(*names: str) -> set[str]:
    return set().union(*(idents(make_example("x", "x", [name], None)) for name in names))


def data_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="data_command", required=True))
    return run(parser.parse_args(argv))


@pytest.mark.parametrize("seed", [0, 1, 11711])
def test_by_tool_split_shares_no_tool_including_distractors(seed):
    examples = corpus()
    train, dev, report = split_by_tool(examples, 0.2, seed)
    train_tools = set().union(*(idents(ex) for ex in train))
    dev_tools = set().union(*(idents(ex) for ex in dev))
    assert train and dev and not train_tools & dev_tools
    assert dev_tools <= set(report.held_out) and not train_tools & set(report.held_out)
    assert len(train) + len(dev) + report.dropped_train + report.dropped_dev == len(examples)
    assert (report.n_train, report.n_dev) == (len(train), len(dev))


def test_by_tool_split_drops_and_counts_examples_offering_a_held_out_distractor():
    # a, b are only ever offered alone; c is offered with d as a distractor once
    examples = [make_example(f"a{i}", f"use a {i}", ["a"], "a") for i in range(4)]
    examples += [make_example(f"b{i}", f"use b {i}", ["b"], "b") for i in range(4)]
    examples += [make_example("c0", "use c", ["c", "d"], "c"), make_example("d0", "use d", ["d"], "d")]
    for seed in range(20):
        train, dev, report = split_by_tool(examples, 0.1, seed)
        held = set(report.held_out)
        assert not any(idents(ex) & held for ex in train)
        assert all(idents(ex) <= held for ex in dev)
        straddles = ident("c", "d") & held and not ident("c", "d") <= held
        assert (report.dropped_train + report.dropped_dev == 1) == bool(straddles)


def test_by_tool_split_is_deterministic_per_seed():
    examples = corpus()
    ids = lambda split: [[ex.id for ex in part] for part in split[:2]]
    assert ids(split_by_tool(examples, 0.2, 5)) == ids(split_by_tool(examples, 0.2, 5))
    assert len({json.dumps(ids(split_by_tool(examples, 0.2, seed))) for seed in range(6)}) > 1


def test_by_tool_split_aims_at_the_dev_fraction():
    examples = [make_example(f"{t}-{i}", f"call {t} {i}", [t], t) for t in TOOLS for i in range(5)]
    _, dev, report = split_by_tool(examples, 0.25, 3)
    assert len(dev) == 15 and len(report.held_out) == 3  # 60 examples, 5 per tool


def test_null_target_examples_go_by_their_offered_tools():
    examples = [make_example(f"{t}-{i}", f"call {t} {i}", [t], t) for t in "abcd" for i in range(3)]
    examples.append(make_example("none", "tell me a joke", ["a", "b"], None))
    places = set()
    for seed, fraction in itertools.product(range(8), (0.25, 0.5)):
        train, dev, report = split_by_tool(examples, fraction, seed)
        held = set(report.held_out)
        expected = "dev" if ident("a", "b") <= held else "train" if not ident("a", "b") & held else "dropped"
        dev_ids, train_ids = {ex.id for ex in dev}, {ex.id for ex in train}
        place = "dev" if "none" in dev_ids else "train" if "none" in train_ids else "dropped"
        assert place == expected
        places.add(place)
    assert {"dev", "train"} <= places


def test_by_tool_split_needs_two_sides():
    examples = [make_example(f"e{i}", f"x {i}", ["only"], "only") for i in range(5)]
    with pytest.raises(CalltuneError, match="cannot split 5 examples by tool"):
        split_by_tool(examples, 0.2, 0)


def test_dedup_removes_a_hand_made_duplicate():
    original = make_example("a", "Book a flight to Paris, please.", ["book", "weather"], "book")
    duplicate = make_example("b", "  book a FLIGHT to paris please ", ["weather", "book"], "book")
    other_target = make_example("c", "Book a flight to Paris, please.", ["book", "weather"], "book", q="y")
    kept, report = dedup([original, duplicate, other_target])
    assert [ex.id for ex in kept] == ["a", "c"]
    assert (report.n_in, report.n_removed, report.pairs) == (3, 1, (("b", "a"),))


def test_seed_set_has_no_duplicates():
    examples = load_examples("seed:all")
    assert dedup(examples)[0] == examples


def test_leak_check_finds_planted_exact_and_near_duplicates():
    long = ("I am planning a weekend trip with my family and would like to know whether it will rain in "
            "Edinburgh on Saturday afternoon")
    train = [make_example("t0", long, ["w"], "w"), make_example("t1", "What is 2 plus 2?", ["w"], "w"),
             make_example("t2", "Completely unrelated request about stock prices today", ["w"], "w")]
    dev = [make_example("d0", long.replace("Saturday afternoon", "Saturday afternoon, thanks!"), ["w"], "w"),
           make_example("d1", "what is 2 plus 2", ["w"], "w"),
           make_example("d2", "Find vegetarian lasagna recipes for a dinner party", ["w"], "w")]
    report = find_leaks(train, dev)
    assert (report.exact, report.near) == (1, 1)
    leaks = {leak.dev_id: leak for leak in report.leaks}
    assert leaks["d1"].kind == "exact" and leaks["d1"].train_id == "t1"
    assert leaks["d0"].kind == "near" and leaks["d0"].train_id == "t0" and 0.5 <= leaks["d0"].similarity < 1
    assert "d2" not in leaks
    assert "1 of 3 dev instruction(s) also in train" in report.summary()


def test_normalize_text():
    assert normalize_text("  What's   the WEATHER?\n") == "what s the weather"


def test_split_by_example_reproduces_the_shipped_seed_split(tmp_path, capsys):
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    assert data_main(["split", "--data", "seed:all", "--train", str(train), "--dev", str(dev)]) == 0
    for name, path in (("train", train), ("dev", dev)):
        with open(resolve_data_path(f"seed:{name}"), "rb") as handle:
            assert path.read_bytes() == handle.read()
    printed = capsys.readouterr().out
    assert printed.startswith(f"14 train -> {train}, 4 dev -> {dev}\n")
    assert "removed 0 duplicate(s)" in printed and "leak check:" in printed


def test_split_command_by_tool_dedups_and_reports(tmp_path, capsys):
    rows = [ex.record for ex in corpus(40)]
    data = tmp_path / "all.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows + [{**rows[0], "id": "copy"}]))
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    assert data_main(["split", "--data", str(data), "--train", str(train), "--dev", str(dev),
                      "--by", "tool", "--seed", "4"]) == 0
    printed = capsys.readouterr().out
    assert "removed 1 duplicate(s)" in printed and "split by tool" in printed and "leak check" in printed
    train_tools = set().union(*(idents(ex) for ex in load_examples(str(train))))
    assert not train_tools & set().union(*(idents(ex) for ex in load_examples(str(dev))))
    assert data_main(["split", "--data", str(data), "--train", str(train), "--dev", str(dev),
                      "--no-dedup"]) == 0
    assert "copy" in {ex.id for ex in load_examples(str(train)) + load_examples(str(dev))}


def test_dedup_and_leaks_commands(tmp_path, capsys):
    rows = [ex.record for ex in corpus(10)]
    data, out = tmp_path / "all.jsonl", tmp_path / "dedup.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows + [{**rows[3], "id": "again"}]))
    assert data_main(["dedup", "--data", str(data), "--out", str(out)]) == 0
    assert [ex.id for ex in load_examples(str(out))] == [r["id"] for r in rows]
    assert "removed 1 duplicate(s)" in capsys.readouterr().out
    train, dev, report = tmp_path / "train.jsonl", tmp_path / "dev.jsonl", tmp_path / "leaks.json"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows[:6]))
    dev.write_text("".join(json.dumps(r) + "\n" for r in rows[6:] + [{**rows[0], "id": "leaked"}]))
    assert data_main(["leaks", "--train", str(train), "--dev", str(dev), "--out", str(report)]) == 0
    saved = json.loads(report.read_text())
    assert saved["exact"] == 1 and saved["leaks"][0]["dev_id"] == "leaked"
    assert "1 of 5 dev instruction(s) also in train" in capsys.readouterr().out
