"""`--operation-contrast-rate`: a one-message single call on a composed tool is followed by its operation twin,
the same message offered tools that do something else to the same thing instead of the called one, target null."""

import pytest
from test_synth_optional_contrast import CFG, assert_only_inserted

from calltune.synth.composer import composed_catalogue
from calltune.synth.generator import SynthConfig, generate


@pytest.fixture(scope="module")
def pair():
    return generate(SynthConfig(**CFG)), generate(SynthConfig(**CFG, operation_contrast_rate=1.0))


def _twins(records):
    return [(records[i - 1], r) for i, r in enumerate(records) if "operation_contrast" in r["meta"]["augmentations"]]


def test_twins_only_insert_records(pair):
    assert_only_inserted(*pair, "operation_contrast")


def test_each_twin_asks_the_same_of_tools_that_do_something_else_to_the_same_thing(pair):
    _, after = pair
    composed = composed_catalogue(0, "train")
    twins = _twins(after)
    assert twins
    for original, twin in twins:
        meta, called = original["meta"], original["meta"]["tool"]
        assert "messages" not in original and isinstance(original["target"], dict)
        assert "procedural" in meta["augmentations"] and called in composed.origin
        assert twin["instruction"] == original["instruction"]
        assert twin["target"] is None and twin["meta"]["tool"] is None
        assert {"near_miss_operation", "procedural", "text_answer"} <= set(twin["meta"]["augmentations"])
        assert (twin["meta"]["domain"], twin["meta"]["template"]) == (meta["domain"], meta["template"])
        assert called not in twin["meta"]["tools"]
        thing = composed.origin[called][:2]
        same = [n for n in twin["meta"]["tools"] if n in composed.origin and composed.origin[n][:2] == thing]
        assert same and all(composed.group(n) != composed.group(called) for n in same)
        assert set(twin["meta"]["tools"]) - set(same) <= set(meta["tools"])  # the rest: the record's own tools
        offered = [t["function"]["name"] for t in twin["tools"]]
        assert len(offered) == len(twin["meta"]["tools"]) and all(f"`{n}`" in twin["target_content"]
                                                                    for n in offered)


def test_twins_are_deterministic_and_follow_the_rate(pair):
    _, after = pair
    assert generate(SynthConfig(**CFG, operation_contrast_rate=1.0)) == after
    half = generate(SynthConfig(**CFG, operation_contrast_rate=0.5))
    assert 0 < len(_twins(half)) < len(_twins(after))
    assert not _twins(generate(SynthConfig(**CFG | dict(procedural_rate=0.0, operation_contrast_rate=1.0))))


def test_the_rate_is_checked():
    from calltune.errors import CalltuneError

    with pytest.raises(CalltuneError, match="--operation-contrast-rate"):
        SynthConfig(operation_contrast_rate=-0.1)
