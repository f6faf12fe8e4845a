"""`--distractor-same-domain-rate` (`data.synth.distractor_same_domain_rate`): how many of an example's
distractors come from the called tool's own domain, so the model has to tell close tools apart."""

import hashlib

import pytest

from calltune.cli import main
from calltune.config import config_from_dict
from calltune.errors import CalltuneError
from calltune.jsonl import write_jsonl
from calltune.synth.catalogue import all_tools
from calltune.synth.generator import SynthConfig, generate

DOMAIN = {t.name: t.domain for t in all_tools()}


def _share_same_domain(records) -> float:
    """Of the distractors of single-call examples with a hand-written tool: the share of the called tool's domain."""
    same = total = 0
    for r in records:
        tool = r["meta"]["tool"]
        if not isinstance(tool, str) or tool not in DOMAIN or "distractors" not in r["meta"]["augmentations"]:
            continue
        others = [n for n in r["meta"]["tools"] if n != tool]
        same += sum(DOMAIN.get(n) == DOMAIN[tool] for n in others)
        total += len(others)
    assert total > 100
    return same / total


def test_the_rate_sets_how_many_distractors_share_the_called_tools_domain():
    base = dict(n=400, seed=3, distractor_rate=1.0, irrelevant_rate=0.0, max_tools=4, parallel_rate=0.2,
                parallel_max_calls=3)
    low = _share_same_domain(generate(SynthConfig(**base, distractor_same_domain_rate=0.0)))
    default = _share_same_domain(generate(SynthConfig(**base)))
    high = _share_same_domain(generate(SynthConfig(**base, distractor_same_domain_rate=1.0)))
    assert low == 0.0 and 0.3 < default < 0.45 and high > 0.95  # measured: 0, 0.369, 1.0


# Computed with main at a07f968, before the option existed: the default (0.35) leaves every byte as it was.
def test_the_default_leaves_the_output_unchanged(tmp_path):
    cfg = SynthConfig(n=200, seed=5, procedural_rate=0.6, procedural_split="train", dialogue_rate=0.15,
                      parallel_rate=0.2, parallel_max_calls=4, irrelevant_rate=0.1, near_miss_rate=0.1,
                      mask_rate=0.1, description_style_rate=0.3, session_rate=0.2)
    write_jsonl(str(tmp_path / "out.jsonl"), generate(cfg))
    assert hashlib.sha256((tmp_path / "out.jsonl").read_bytes()).hexdigest() == (
        "f8a42f4465c513b300f555434e033aa5cbad54384ffbec10415334b332861f8a")


def test_the_option_is_checked_and_reaches_the_cli_and_a_recipe(tmp_path):
    with pytest.raises(CalltuneError, match="--distractor-same-domain-rate"):
        SynthConfig(distractor_same_domain_rate=1.5)
    out = tmp_path / "out.jsonl"
    assert main(["data", "synth", "--n", "60", "--seed", "4", "--distractor-rate", "1",
                 "--distractor-same-domain-rate", "0.9", "--out", str(out)]) == 0
    write_jsonl(str(tmp_path / "same.jsonl"),
                generate(SynthConfig(n=60, seed=4, distractor_rate=1.0, distractor_same_domain_rate=0.9)))
    assert out.read_bytes() == (tmp_path / "same.jsonl").read_bytes()
    cfg = config_from_dict({"data": {"synth": {"n": 10, "distractor_same_domain_rate": 0.8}}})
    assert cfg.data.synth.distractor_same_domain_rate == 0.8
