"""`--optional-addition-rate`: a one-message single call that leaves out an optional argument is followed by its
addition, the same message with a clause stating that argument and the call with it (the contrast in the other
direction)."""

import pytest
from synth_parallel_helpers import PLAIN, assert_recoverable
from test_synth_optional_contrast import CFG, _cut, twin_pairs

from calltune.synth.generator import SynthConfig, generate


def _tagged(records, tag):
    return [r for r in records if tag in r["meta"]["augmentations"]]


def _strip(record):
    return {k: v for k, v in record.items() if k != "id"}


@pytest.fixture(scope="module")
def pair():
    return generate(SynthConfig(**CFG)), generate(SynthConfig(**CFG, optional_addition_rate=1.0))


def test_additions_only_insert_records(pair):
    before, after = pair
    assert len(after) == len(before) and [r["id"] for r in after] == [f"synth-0-{i:06d}" for i in range(300)]
    kept = [r for r in after if "optional_addition" not in r["meta"]["augmentations"]]
    assert 20 <= len(after) - len(kept) <= 70  # about one record in eight at rate 1
    assert [_strip(r) for r in kept] == [_strip(r) for r in before[:len(kept)]]


def test_each_addition_states_one_more_option_than_the_record_before_it(pair):
    _, after = pair
    additions = 0
    for original, twin, required in twin_pairs(after, "optional_addition"):
        additions += 1
        assert _cut(twin["instruction"], original["instruction"]).strip()  # one contiguous clause more
        full, part = twin["target"]["arguments"], original["target"]["arguments"]
        added = set(full) - set(part)
        assert added and set(part) <= set(full) and all(full[k] == part[k] for k in part)
        assert not added & required
        tool = next(t["function"] for t in twin["tools"] if t["function"]["name"] == twin["target"]["name"])
        assert set(full) <= set(tool["parameters"]["properties"])  # renamed as the record's own call
        assert "optional_args" in twin["meta"]["augmentations"]
    assert additions >= 20


def test_additions_stay_recoverable_and_deterministic(pair):
    _, after = pair
    plain = CFG | PLAIN | dict(object_param_rate=0.0, optional_addition_rate=1.0)
    assert_recoverable(generate(SynthConfig(**plain)), "optional_addition")
    assert generate(SynthConfig(**CFG, optional_addition_rate=1.0)) == after


def test_both_directions_together_keep_each_direction_as_alone(pair):
    """With both rates each record is followed by its contrast, then its addition; the contrasts are the ones the
    contrast rate alone makes (their own RNG)."""
    both = generate(SynthConfig(**CFG, optional_contrast_rate=1.0, optional_addition_rate=1.0))
    alone = generate(SynthConfig(**CFG, optional_contrast_rate=1.0))
    assert _tagged(both, "optional_addition")
    firsts = [_strip(r) for r in both if "optional_addition" not in r["meta"]["augmentations"]]
    assert firsts == [_strip(r) for r in alone[:len(firsts)]]


def test_the_rate_is_checked():
    from calltune.errors import CalltuneError

    with pytest.raises(CalltuneError, match="--optional-addition-rate"):
        SynthConfig(optional_addition_rate=-0.1)
