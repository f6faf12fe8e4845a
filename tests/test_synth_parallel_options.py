"""The parallel-request options of `calltune data synth` (`--parallel-list-rate`, `--parallel-mixed-rate`): the
command line gives the same bytes as the config, bad rates are refused, a recipe config reaches them."""

import hashlib

import pytest

from calltune.cli import main
from calltune.config import config_from_dict
from calltune.errors import CalltuneError
from calltune.jsonl import write_jsonl
from calltune.synth.generator import SynthConfig, generate

OPTIONS = [("parallel_list_rate", "parallel_list", -0.1), ("parallel_mixed_rate", "parallel_mixed", 1.5)]


@pytest.mark.parametrize("field,tag,bad", OPTIONS)
def test_the_command_line_reaches_the_option(tmp_path, field, tag, bad):
    out = tmp_path / "p.jsonl"
    flag = "--" + field.replace("_", "-")
    assert main(["data", "synth", "--n", "40", "--seed", "2", "--parallel-rate", "1", flag, "0.5",
                 "--parallel-max-calls", "3", "--irrelevant-rate", "0", "--out", str(out)]) == 0
    records = generate(SynthConfig(n=40, seed=2, parallel_rate=1.0, parallel_max_calls=3, irrelevant_rate=0.0,
                                   **{field: 0.5}))
    write_jsonl(str(tmp_path / "same.jsonl"), records)
    same = (tmp_path / "same.jsonl").read_bytes()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(same).hexdigest()
    tags = [r["meta"]["augmentations"] for r in records]
    assert any(tag in t for t in tags) and any(tag not in t for t in tags)


@pytest.mark.parametrize("field,tag,bad", OPTIONS)
def test_the_option_is_checked_and_reaches_a_recipe_config(field, tag, bad):
    with pytest.raises(CalltuneError, match="--" + field.replace("_", "-")):
        SynthConfig(**{field: bad})
    cfg = config_from_dict({"data": {"synth": {"n": 10, field: 0.6}}})
    assert getattr(cfg.data.synth, field) == 0.6
