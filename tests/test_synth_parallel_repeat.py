"""Parallel requests whose tools come back (`parallel._repeat_tools`, the generator's `parallel_repeat_rate`): one
message of 3 or more sentences, one call each, fewer tools than calls, so that a tool is asked again with other
values after another tool's call."""

import json
from collections import Counter

from calltune.examples import parse_example
from calltune.synth.catalogue import all_tools
from calltune.synth.checks import check_call
from calltune.synth.composer import composed_catalogue
from calltune.synth.generator import SynthConfig, generate

HAND = {t.name: t for t in all_tools()}
COMPOSED = {t.name: t for t in composed_catalogue(0, "train").tools}
PLAIN = dict(rename_rate=0.0, mask_rate=0.0, shuffle_rate=0.0)
BASE = dict(n=120, seed=0, parallel_rate=1.0, parallel_same_tool_rate=0.0, parallel_repeat_rate=1.0,
            parallel_max_calls=4, irrelevant_rate=0.0, procedural_rate=0.5, procedural_split="train",
            procedural_seed=0)


def repeated(**kw) -> list[dict]:
    return [r for r in generate(SynthConfig(**BASE | kw)) if "parallel_repeat" in r["meta"]["augmentations"]]


def test_a_tool_comes_back_with_other_values_among_other_tools():
    records = repeated(**PLAIN)
    assert len(records) == 120
    shapes = Counter((len(r["target"]), len({c["name"] for c in r["target"]})) for r in records)
    assert set(shapes) == {(3, 2), (4, 2), (4, 3)}, shapes
    interleaved = 0
    for r in records:
        parse_example(r)
        names = [c["name"] for c in r["target"]]
        assert names == r["meta"]["tool"]
        assert "parallel_two_tools" in r["meta"]["augmentations"]
        assert not {"parallel_list", "parallel_mixed"} & set(r["meta"]["augmentations"])
        calls = [json.dumps(c, sort_keys=True) for c in r["target"]]
        assert len(set(calls)) == len(calls), r["instruction"]  # a tool asked again asks for other values
        catalogue = COMPOSED if "procedural" in r["meta"]["augmentations"] else HAND
        for call in r["target"]:
            assert check_call(catalogue[call["name"]], r["instruction"], call["arguments"]).ok, r["instruction"]
        # a tool called again after another tool's call, not only back to back
        interleaved += any(names[i] in names[:i - 1] and names[i - 1] != names[i] for i in range(2, len(names)))
    assert interleaved > 30


def test_renamed_and_masked_tools_keep_the_repeats():
    records = repeated(n=60, rename_rate=0.5, mask_rate=0.3)
    assert records
    for r in records:
        parse_example(r)  # the calls validate against the offered (renamed or masked) tool they name
        names = [c["name"] for c in r["target"]]
        assert len(set(names)) < len(names) and set(names) <= {t["function"]["name"] for t in r["tools"]}


def test_no_repeats_at_rate_zero_or_with_two_calls_at_most():
    assert repeated(n=60, parallel_repeat_rate=0.0) == []
    assert repeated(n=60, parallel_max_calls=2) == []
    plain = generate(SynthConfig(**BASE | {"n": 60, "parallel_repeat_rate": 0.0}))
    assert all(len({c["name"] for c in r["target"]}) == len(r["target"]) for r in plain)  # a call per tool
