"""`--optional-contrast-rate`: a one-message single call that states an optional argument is followed by its
contrast, the same message without that argument's clause and the call without the argument."""

import pytest
from synth_parallel_helpers import PLAIN, assert_recoverable

from calltune.synth.generator import SynthConfig, generate

# best.yaml's kinds of records (renaming, masking and shuffling on: the contrast must follow them)
CFG = dict(n=300, seed=0, parallel_rate=0.25, parallel_max_calls=4, parallel_list_rate=0.8, dialogue_rate=0.1,
           irrelevant_rate=0.2, near_miss_rate=0.08, procedural_rate=0.5, procedural_split="train", mask_rate=0.1,
           description_style_rate=0.3, object_param_rate=0.5)


@pytest.fixture(scope="module")
def pair():
    return generate(SynthConfig(**CFG)), generate(SynthConfig(**CFG, optional_contrast_rate=1.0))


def _strip(record):
    return {k: v for k, v in record.items() if k != "id"}


def _cut(longer: str, shorter: str) -> str:
    """The one contiguous piece `longer` has beyond `shorter` (an assertion error if there is none)."""
    start = next((i for i, (a, b) in enumerate(zip(longer, shorter)) if a != b), len(shorter))
    end = len(longer) - (len(shorter) - start)
    assert longer[:start] + longer[end:] == shorter, (longer, shorter)
    return longer[start:end]


def assert_only_inserted(before, after, tag):
    """`after` is `before` with records tagged `tag` inserted (n and ids kept; the last records give way): about
    one record in ten at rate 1."""
    assert len(after) == len(before) and [r["id"] for r in after] == [f"synth-0-{i:06d}" for i in range(300)]
    kept = [r for r in after if tag not in r["meta"]["augmentations"]]
    assert 15 <= len(after) - len(kept) <= 60
    assert [_strip(r) for r in kept] == [_strip(r) for r in before[:len(kept)]]


def test_contrasts_only_insert_records(pair):
    assert_only_inserted(*pair, "optional_contrast")


def twin_pairs(records, tag):
    """`(original, twin, required)` for each record tagged `tag` and the record before it, after the checks every
    twin passes: the original is an untagged one-message call, the same tools, function and meta but for the tags;
    `required`: the called tool's required parameters."""
    for i, twin in enumerate(records):
        if tag not in twin["meta"]["augmentations"]:
            continue
        original = records[i - 1]
        assert tag not in original["meta"]["augmentations"] and "messages" not in original
        assert twin["tools"] == original["tools"] and twin["target"]["name"] == original["target"]["name"]
        assert {k: v for k, v in twin["meta"].items() if k != "augmentations"} == \
               {k: v for k, v in original["meta"].items() if k != "augmentations"}
        tool = next(t["function"] for t in twin["tools"] if t["function"]["name"] == twin["target"]["name"])
        yield original, twin, set(tool["parameters"].get("required", []))


def test_each_contrast_drops_one_stated_option_from_the_record_before_it(pair):
    _, after = pair
    contrasts = 0
    for original, twin, required in twin_pairs(after, "optional_contrast"):
        contrasts += 1
        assert "optional_args" in original["meta"]["augmentations"]
        clause = _cut(original["instruction"], twin["instruction"])
        assert clause.strip()
        full, part = original["target"]["arguments"], twin["target"]["arguments"]
        dropped = set(full) - set(part)
        assert dropped and all(part[k] == full[k] for k in part)
        assert not dropped & required
        assert ("optional_args" in twin["meta"]["augmentations"]) == any(k not in required for k in part)
    assert contrasts >= 15


def test_contrasts_stay_recoverable_and_deterministic(pair):
    _, after = pair
    twins = [r for r in after if "optional_contrast" in r["meta"]["augmentations"]]
    # the helper's catalogues are the plain ones: no renaming, no object-valued parameters
    plain = CFG | PLAIN | dict(object_param_rate=0.0, optional_contrast_rate=1.0)
    assert_recoverable(generate(SynthConfig(**plain)), "optional_contrast")
    assert generate(SynthConfig(**CFG, optional_contrast_rate=1.0)) == after
    half = generate(SynthConfig(**CFG, optional_contrast_rate=0.5))
    assert 0 < sum("optional_contrast" in r["meta"]["augmentations"] for r in half) < len(twins)


def test_the_rate_is_checked():
    from calltune.errors import CalltuneError

    with pytest.raises(CalltuneError, match="--optional-contrast-rate"):
        SynthConfig(optional_contrast_rate=1.5)
