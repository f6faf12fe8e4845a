"""hermes is the default prompt style (issue 11's comparison): `auto` resolves to the style an
adapter's run trained with, else hermes; budgets and lengths follow the style."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from calltune.config import DataConfig
from calltune.errors import CalltuneError
from calltune.models import resolve_prompt_style
from calltune.predict import PredictConfig


def _run(tmp_path, style: str | None):
    """A run directory as `train` leaves it: adapter/adapter_config.json and config.yaml."""
    run = tmp_path / f"run-{style}"
    (run / "adapter").mkdir(parents=True)
    (run / "adapter" / "adapter_config.json").write_text("{}")
    data = {"train": "seed:train"} if style is None else {"train": "seed:train", "prompt_style": style}
    (run / "config.yaml").write_text(yaml.safe_dump({"data": data}))
    return str(run)


def test_auto_is_the_adapters_style_else_hermes(tmp_path):
    assert resolve_prompt_style("auto", None) == "hermes"
    assert resolve_prompt_style("auto", _run(tmp_path, "paper")) == "paper"
    assert resolve_prompt_style("auto", _run(tmp_path, "chat") + "/adapter") == "chat"
    assert resolve_prompt_style("auto", _run(tmp_path, None)) == "hermes"  # a run config naming no style
    assert resolve_prompt_style("paper", _run(tmp_path, "hermes")) == "paper"  # an explicit style wins


def test_predict_defaults_follow_the_style(tmp_path):
    from calltune.serve.config import EngineConfig

    # hermes: room for four parallel calls (a 128 budget cut them), and the same budget as `calltune serve`
    assert (PredictConfig(data="d", out="o").prompt_style, PredictConfig(data="d", out="o").max_new_tokens) == (
        "hermes", 256) == ("hermes", EngineConfig().default_max_tokens)
    paper = PredictConfig(data="d", out="o", adapter=_run(tmp_path, "paper"))
    assert (paper.prompt_style, paper.max_new_tokens) == ("paper", 64)
    assert PredictConfig(data="d", out="o", prompt_style="paper", max_new_tokens=20).max_new_tokens == 20
    with pytest.raises(CalltuneError, match="--prompt-style paper"):
        PredictConfig(data="d", out="o", decoding="repair")  # repair is paper's: the error says how


def test_train_defaults_to_hermes_with_room_for_conversations():
    assert (DataConfig().prompt_style, DataConfig().max_length) == ("hermes", 1536)
    assert DataConfig(prompt_style="paper").max_length == 384
    assert DataConfig(prompt_style="paper", max_length=100).max_length == 100


CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def test_the_report_configs_keep_paper():
    for name in ("paper.yaml", "improved.yaml"):
        with open(CONFIGS / name, encoding="utf-8") as handle:
            assert yaml.safe_load(handle)["data"]["prompt_style"] == "paper", name
    with open(CONFIGS / "experiments" / "report.yaml", encoding="utf-8") as handle:
        assert yaml.safe_load(handle)["prompt_style"] == "paper"
