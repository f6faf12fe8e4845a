"""Options of `calltune data synth` that make a kind of request or value (`--parallel-list-rate`,
`--parallel-mixed-rate`, `--parallel-repeat-rate`, `--parallel-group-rate`, `--parallel-cross-rate`,
`--irrelevant-task-rate`, `--value-format-rate`, `--task-call-rate`, `--task-near-miss-rate`, `--novel-value-rate`, `--context-value-rate`):
the command line gives the same bytes as the config, bad rates are refused, a recipe config reaches them."""

import hashlib

import pytest

from calltune.cli import main
from calltune.config import config_from_dict
from calltune.errors import CalltuneError
from calltune.jsonl import write_jsonl
from calltune.synth.generator import SynthConfig, generate

PARALLEL = {"parallel_rate": 1.0, "parallel_max_calls": 3, "irrelevant_rate": 0.0}
# (option, the tag of what it makes, a bad value, the other options it needs to make anything)
OPTIONS = [("parallel_list_rate", "parallel_list", -0.1, PARALLEL),
           ("parallel_mixed_rate", "parallel_mixed", 1.5, PARALLEL),
           ("parallel_repeat_rate", "parallel_repeat", 1.5, PARALLEL),
           ("parallel_group_rate", "parallel_group", -0.5, PARALLEL | {"parallel_max_calls": 4}),
           ("parallel_cross_rate", "parallel_cross", 1.1, PARALLEL | {"parallel_max_calls": 4}),
           ("irrelevant_task_rate", "irrelevant_task", 2.0, {"irrelevant_rate": 0.5}),
           ("value_format_rate", "format_date", -1.0, {}),
           ("task_call_rate", "task_call", 1.5, {}),
           ("task_near_miss_rate", "task_near_miss", 1.2, {"irrelevant_rate": 0.5, "irrelevant_task_rate": 1.0}),
           ("novel_value_rate", "novel_values", 1.3, {}),
           ("context_value_rate", "context_values", 1.4, {})]


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


@pytest.mark.parametrize("field,tag,bad,needs", OPTIONS)
def test_the_command_line_reaches_the_option(tmp_path, field, tag, bad, needs):
    out = tmp_path / "p.jsonl"
    given = [arg for name, value in needs.items() for arg in (_flag(name), str(value))]
    assert main(["data", "synth", "--n", "40", "--seed", "2", *given, _flag(field), "0.5", "--out", str(out)]) == 0
    records = generate(SynthConfig(n=40, seed=2, **needs, **{field: 0.5}))
    write_jsonl(str(tmp_path / "same.jsonl"), records)
    same = (tmp_path / "same.jsonl").read_bytes()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(same).hexdigest()
    tags = [r["meta"]["augmentations"] for r in records]
    assert any(tag in t for t in tags) and any(tag not in t for t in tags)


@pytest.mark.parametrize("field,tag,bad,needs", OPTIONS)
def test_the_option_is_checked_and_reaches_a_recipe_config(field, tag, bad, needs):
    with pytest.raises(CalltuneError, match=_flag(field)):
        SynthConfig(**{field: bad})
    cfg = config_from_dict({"data": {"synth": {"n": 10, field: 0.6}}})
    assert getattr(cfg.data.synth, field) == 0.6
