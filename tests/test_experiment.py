"""The experiment runner end to end on the tiny GPT-2: a 2 x 2 matrix (prompt-only and LoRA x greedy
and constrained, plus repair), every cell in the report, cached cells reused."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from calltune.errors import CalltuneError
from calltune.experiment import load_experiment, run_experiment


def _write_config(tmp_path, model: str) -> str:
    train_cfg = tmp_path / "tiny_train.yaml"
    train_cfg.write_text(yaml.safe_dump({
        "model": {"quantization": "none"},
        "data": {"loss": "completion", "max_length": 1024},
        "lora": {"r": 4, "alpha": 8, "targets": "attention"},
        "train": {"epochs": 1, "max_steps": 2, "batch_size": 2, "lr": 1e-3, "threads": 1}}))
    exp = {
        "model": model, "max_new_tokens": 64, "batch_size": 4, "synth_n": 60, "dev_fraction": 0.3,
        "scales": {"seed14": "seed:train"},
        "methods": {"prompt-only": None, "lora": {"config": str(train_cfg)}},
        "decodings": ["greedy", "repair", "constrained"],
        "evals": {"seed_dev": None, "synth_dev": 3, "stress": 2, "bfcl_simple_python": 2, "bfcl_irrelevance": 2},
        "quick": {"evals": {"seed_dev": None}},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(exp))
    return str(path)


@pytest.fixture(scope="module")
def long_gpt2(tmp_path_factory) -> str:
    """The tiny GPT-2 with 4,096 positions: its 500-token vocabulary makes synthetic prompts long."""
    from conftest import build_tiny_gpt2

    return build_tiny_gpt2(str(tmp_path_factory.mktemp("long_gpt2")), n_positions=4096)


def test_experiment_end_to_end_and_cache(long_gpt2, tmp_path, monkeypatch):
    from calltune import predict, train
    from calltune.stress import CONDITIONS

    config = _write_config(tmp_path, long_gpt2)
    out = str(tmp_path / "exp")
    summary = run_experiment(load_experiment(config), out, progress=False)

    models = {"prompt-only", "lora@seed14"}
    decodings = {"greedy", "repair", "constrained"}
    sets = {"seed_dev", "synth_dev", "bfcl_simple_python", "bfcl_irrelevance"} | {f"stress_{c}" for c in CONDITIONS}
    cells = {(r["model"], r["decoding"], r["set"]) for r in summary["results"]}
    assert cells == {(m, d, s) for m in models for d in decodings for s in sets}
    for r in summary["results"]:
        if r["decoding"] == "constrained" and r["calltune"]["n"]:
            assert r["calltune"]["schema_adherence"] == 1.0  # constrained output always fits
    report = open(os.path.join(out, "report.md"), encoding="utf-8").read()
    for model in models:
        for decoding in decodings:
            assert f"| {model} | {decoding} |" in report
        # rows follow the fixed decoding order, not the order cells were evaluated in
        main = report.split("## Main table")[1].split("##")[0]
        spots = [main.index(f"| {model} | {d} |") for d in ("greedy", "repair", "constrained")]
        assert spots == sorted(spots)
    for condition in CONDITIONS:
        assert f"### Stress: {condition} (n=" in report
    assert "BFCL simple_python (n=2)" in report and "BFCL irrelevance (n=2)" in report
    assert "charts/training_curves.png" in report and os.path.exists(os.path.join(out, "charts", "training_curves.png"))
    assert os.path.exists(os.path.join(out, "report.html"))
    assert "lr: 0.001" in report  # the exact config is in the report
    # the decontaminated catalogue: the synthetic split and the trained cell overlap BFCL nowhere
    assert "Benchmark overlap of the synthetic training split with BFCL" in report
    assert "0 tools share a name, 0 a normalized name, 0 a parameter-name set" in report
    training = report.split("## Training runs")[1].split("##")[0]
    # the seed data is the report's own: its book_flight shares a name with BFCL parallel's
    assert "BFCL overlap" in training and "| 1 / 8 |" in training

    # a second run reuses every cell: nothing may train or generate
    def refuse(*args, **kwargs):
        raise AssertionError("a cached cell was recomputed")

    monkeypatch.setattr(predict, "run_predict", refuse)
    monkeypatch.setattr(train, "train", refuse)
    again = run_experiment(load_experiment(config), out, progress=False)
    assert again["results"] == summary["results"]


def test_changed_setting_redoes_only_affected_cells(tiny_gpt2, tmp_path, monkeypatch):
    from calltune import predict

    config = _write_config(tmp_path, tiny_gpt2)
    values = yaml.safe_load(open(config))
    values.update(methods={"prompt-only": None}, evals={"seed_dev": None}, decodings=["greedy"])
    open(config, "w").write(yaml.safe_dump(values))
    out = str(tmp_path / "exp")
    run_experiment(load_experiment(config), out, progress=False)
    calls = []
    real = predict.run_predict
    monkeypatch.setattr(predict, "run_predict", lambda *a, **k: calls.append(1) or real(*a, **k))
    values["max_new_tokens"] = 6
    open(config, "w").write(yaml.safe_dump(values))
    run_experiment(load_experiment(config), out, progress=False)
    assert calls == [1]  # the one cell whose key changed


def test_quick_profile_and_config_errors(tiny_gpt2, tmp_path):
    config = _write_config(tmp_path, tiny_gpt2)
    assert load_experiment(config, quick=True).evals == {"seed_dev": None}
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: embedded\nmethdos: {}\n")
    with pytest.raises(CalltuneError, match="bad.yaml: unknown key 'methdos'"):
        load_experiment(str(bad))
    bad.write_text("evals: {bfcl_everything: 3}\n")
    with pytest.raises(CalltuneError, match="unknown evaluation set 'bfcl_everything'"):
        load_experiment(str(bad))
    bad.write_text("decodings: [repair]\n")
    with pytest.raises(CalltuneError, match="list 'greedy' too"):
        load_experiment(str(bad))


def test_shipped_experiment_config_loads():
    cfg = load_experiment("configs/experiments/report.yaml")
    assert "lora-completion@synth2000" in cfg.cells and cfg.scales["synth2000"] == 2000
    quick = load_experiment("configs/experiments/report.yaml", quick=True)
    assert set(quick.methods) == {"prompt-only", "lora-completion"}


def test_report_readme_section(tmp_path):
    from calltune.report import update_readme

    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\nrest\n")
    result = {"model": "m", "decoding": "greedy", "set": "seed_dev", "calltune": {
        "n": 4, "json_validity": 1.0, "schema_adherence": 0.5, "exact_match": 0.25,
        "intervals": {"json_validity": [0.5, 1.0], "schema_adherence": [0.1, 0.9], "exact_match": [0.05, 0.7]}}}
    update_readme(str(readme), {"results": [result]}, "runs/x")
    text = readme.read_text()
    assert "old" not in text and "| m | greedy | 100.0 [50-100] | 50.0 [10-90] | 25.0 [5-70] |" in text
    assert text.startswith("intro\n") and text.endswith("rest\n")
    readme.write_text("no markers")
    with pytest.raises(CalltuneError, match="results:start"):
        update_readme(str(readme), {"results": [result]}, "runs/x")


def test_synth_rates_reach_the_generator_and_bad_keys_are_errors(tmp_path, monkeypatch):
    from calltune.experiment import ExperimentConfig, prepare_data
    from calltune.synth import generator

    with pytest.raises(CalltuneError, match="synth_rates: unknown or reserved key 'n'"):
        ExperimentConfig(synth_rates={"n": 3})
    real, seen = generator.generate, []
    monkeypatch.setattr(generator, "generate", lambda c: seen.append(c) or real(c))
    cfg = ExperimentConfig(synth_n=60, dev_fraction=0.3, scales={"seed14": "seed:train"},
                           synth_rates={"parallel_rate": 0.2, "dialogue_rate": 0.1}, evals={"seed_dev": None})
    paths = prepare_data(cfg, str(tmp_path / "exp"))
    assert (seen[0].n, seen[0].parallel_rate, seen[0].dialogue_rate) == (60, 0.2, 0.1)
    records = [json.loads(line) for line in open(paths["synth"], encoding="utf-8")]
    assert any(isinstance(r["target"], list) for r in records) and any("messages" in r for r in records)


def test_a_full_fine_tuning_method_is_refused_before_training(tmp_path, monkeypatch):
    from calltune import train as train_module
    from calltune.experiment import ExperimentConfig, train_cell

    monkeypatch.setattr(train_module, "train", lambda *a, **k: pytest.fail("must not train"))
    configs = os.path.join(os.path.dirname(__file__), "..", "configs")
    cfg = ExperimentConfig(scales={"seed14": "seed:train"},
                           methods={"ft": {"config": os.path.join(configs, "improved.yaml"),
                                           "overrides": {"train.method": "full"}}})
    with pytest.raises(CalltuneError, match="method 'ft': train.method full is not supported"):
        train_cell(cfg, str(tmp_path), "ft", "seed14", {"scales": {"seed14": "seed:train"}}, progress=False)
