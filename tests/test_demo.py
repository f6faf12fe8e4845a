"""The main job end to end on a tiny GPT-2: data, training, prompt-only vs tuned cells, table, plot,
and reuse of finished cells (training included)."""

import json
import os

import pytest

from calltune.cli import main

BEST = os.path.join(os.path.dirname(__file__), "..", "configs", "best.yaml")


@pytest.fixture(scope="module")
def long_gpt2(tmp_path_factory) -> str:
    """The tiny GPT-2 with 4,096 positions: its 500-token vocabulary makes hermes prompts long."""
    from conftest import build_tiny_gpt2

    return build_tiny_gpt2(str(tmp_path_factory.mktemp("long_gpt2")), n_positions=4096)


def demo_args(model: str, out: str, *extra: str) -> list[str]:
    return ["demo", "--model", model, "--out", out, "--config", BEST, "--synth-n", "60", "--train-size", "4",
            "--dev-size", "2", "--set", "train.max_steps=1", "--set", "lora.top_layers=null",
            "--bfcl", "simple_python=2,irrelevance=2,parallel=1", "--batch-size", "4", "--max-new-tokens", "24",
            "--no-progress", *extra]


def test_the_demo_budget_sets_its_own_epochs(tmp_path):
    """The demo's budget owns its epochs (2 by default, as measured in session 35), whatever the recipe's; --set
    still overrides it."""
    from calltune.cli import build_parser
    from calltune.demo import recipe

    def epochs(*extra):
        args = build_parser().parse_args(["demo", "--config", BEST, "--out", str(tmp_path), *extra])
        return recipe(args).train.epochs

    assert epochs() == 2 and epochs("--epochs", "1") == 1 and epochs("--epochs", "1", "--set", "train.epochs=3") == 3
    assert epochs("--config", str(one_epoch_recipe(tmp_path))) == 2


def one_epoch_recipe(tmp_path) -> str:
    path = tmp_path / "one_epoch.yaml"
    text = open(BEST, encoding="utf-8").read().replace("epochs: 2", "epochs: 1")
    assert "epochs: 1" in text
    path.write_text(text)
    return str(path)


def test_demo_trains_compares_prompt_only_with_tuned_and_reuses_cells(long_gpt2, tmp_path, capsys):
    out = str(tmp_path / "demo")
    args = demo_args(long_gpt2, out, "--set", "train.method=lora")  # an adapter (best.yaml fine-tunes every weight)
    assert main(args) == 0
    captured = capsys.readouterr()
    table = captured.out
    for model in ("prompt-only", "tuned"):
        for data in ("seed dev | greedy | 4", "seed dev | constrained | 4", "BFCL simple_python (first 2) | constrained | 2",
                     "BFCL irrelevance (first 2) | constrained | 2", "BFCL parallel (first 1) | constrained | 1"):
            assert f"| {model} | hermes | {data} |" in table, (model, data)
    assert "a preview, not whole categories" in captured.err

    for name in ("config.json", "versions.json", "results.json", "results.md", "results.png",
                 "train/run.json", "train/adapter/adapter_config.json", "train/data/train.jsonl",
                 "prompt-only/hermes/seed_dev-greedy/predictions.jsonl", "tuned/hermes/seed_dev-constrained/metrics.json",
                 "tuned/hermes/bfcl_parallel-constrained/bfcl_per_example.jsonl"):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "results.png"), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    md = open(os.path.join(out, "results.md")).read()
    assert "| prompt-only | hermes |" in md and "| tuned | hermes |" in md and "subsets" in md
    results = json.load(open(os.path.join(out, "results.json")))
    assert len(results["rows"]) == 10 and results["train"]["steps"] == 1
    irrelevance = [r for r in results["rows"] if r["set"] == "bfcl_irrelevance"]
    assert all(len(r["bfcl"]["interval"]) == 2 for r in irrelevance)
    with open(os.path.join(out, "train", "run.json")) as handle:
        assert json.load(handle)["data"]["generated"]["counts"]["train"] == 4

    def stamps():
        return [os.stat(os.path.join(out, path)).st_mtime_ns for path in
                ("train/adapter/adapter_model.safetensors", "tuned/hermes/bfcl_simple_python-constrained/predictions.jsonl",
                 "tuned/hermes/bfcl_parallel-constrained/predictions.jsonl")]

    before = stamps()
    assert main(args) == 0  # same settings: training and every cell reused
    assert stamps() == before and "reused" in capsys.readouterr().err

    more = [a if a != "simple_python=2,irrelevance=2,parallel=1" else "simple_python=2,irrelevance=2,parallel=2"
            for a in args]
    assert main(more) == 0  # a bigger parallel subset: its cells rerun, the rest and training are reused
    after = stamps()
    assert after[:2] == before[:2] and after[2] != before[2]
    assert "| tuned | hermes | BFCL parallel (first 2) | constrained | 2 |" in capsys.readouterr().out

    # constrained hermes cells decode in the recipe's key order (any) by default; greedy ones have none to choose
    def cell_order(path):
        with open(os.path.join(out, path, "metrics.json"), encoding="utf-8") as handle:
            return json.load(handle)["cell"]["predict"]["key_order"]

    assert [cell_order(p) for p in ("tuned/hermes/seed_dev-constrained", "prompt-only/hermes/bfcl_simple_python-constrained",
                                    "tuned/hermes/seed_dev-greedy")] == ["any", "any", "schema"]
    assert json.load(open(os.path.join(out, "config.json")))["key_order"] == "any"
    assert "any order (the recipe's decoding)" in open(os.path.join(out, "results.md")).read()
    greedy = os.path.join(out, "tuned/hermes/seed_dev-greedy/predictions.jsonl")
    greedy_stamp = os.stat(greedy).st_mtime_ns
    assert main(more + ["--key-order", "schema"]) == 0  # the constrained cells rerun in the schema's order
    assert cell_order("tuned/hermes/seed_dev-constrained") == "schema" and os.stat(greedy).st_mtime_ns == greedy_stamp
    assert stamps()[0] == after[0] and stamps()[1] != after[1]  # training reused, constrained cells not

    # greedy by default (the demo's budget), beams on request: the constrained hermes cells rerun with them
    def cell_beams(path):
        with open(os.path.join(out, path, "metrics.json"), encoding="utf-8") as handle:
            return json.load(handle)["cell"]["predict"]["num_beams"]

    assert cell_beams("tuned/hermes/seed_dev-constrained") == 1 and "likeliest of 4 beams, left out" in \
        open(os.path.join(out, "results.md")).read()
    constrained = stamps()[1]
    assert main(more + ["--key-order", "schema", "--num-beams", "2"]) == 0
    assert [cell_beams(p) for p in ("tuned/hermes/seed_dev-constrained", "prompt-only/hermes/bfcl_simple_python-constrained",
                                    "tuned/hermes/seed_dev-greedy")] == [2, 2, 1]
    assert os.stat(greedy).st_mtime_ns == greedy_stamp and stamps()[1] != constrained
    assert json.load(open(os.path.join(out, "config.json")))["num_beams"] == 2
    assert "each the likeliest of 2 beams (`--num-beams 2`)" in open(os.path.join(out, "results.md")).read()


def test_demo_with_a_full_fine_tune_evaluates_the_tuned_weights_themselves(long_gpt2, tmp_path, capsys, monkeypatch):
    """`--set train.method=full` saves model/, not an adapter: the tuned cells load it (not the base
    model under an adapter), and a model retrained in place is not taken for the cached one."""
    out = str(tmp_path / "demo")
    args = [a if a != "simple_python=2,irrelevance=2,parallel=1" else "simple_python=1"
            for a in demo_args(long_gpt2, out, "--set", "train.method=full")]
    assert main(args) == 0
    assert "| tuned | hermes | BFCL simple_python (first 1) | constrained | 1 |" in capsys.readouterr().out
    assert os.path.exists(os.path.join(out, "train", "model", "config.json"))
    assert not os.path.exists(os.path.join(out, "train", "adapter"))
    assert "full fine-tuning" in open(os.path.join(out, "results.md")).read()
    cell = json.load(open(os.path.join(out, "tuned", "hermes", "seed_dev-constrained", "metrics.json")))["cell"]
    assert cell["predict"]["model"] == os.path.join(out, "train") and cell["predict"]["adapter"] is None
    assert len(cell["model_sha256"]) == 64
    base = json.load(open(os.path.join(out, "prompt-only", "hermes", "seed_dev-constrained", "metrics.json")))["cell"]
    assert base["predict"]["model"] == long_gpt2 and "model_sha256" not in base

    from calltune import demo as demo_module
    from calltune.models import tuned_model_digest
    from calltune.predict import PredictConfig

    calls = []
    monkeypatch.setattr(demo_module, "run_predict", lambda *a, **k: calls.append(1) or {})
    monkeypatch.setattr(demo_module, "evaluate", lambda *a, **k: {})
    predict = PredictConfig(data="", out="", model=os.path.join(out, "train"), prompt_style="hermes",
                            decoding="constrained", batch_size=4, max_new_tokens=24, key_order="any")
    cell = demo_module.Cell("tuned", "hermes", "seed_dev", "constrained")
    demo_module.run_cell(cell, out, predict, lambda: None, False)
    assert calls == []  # the demo's own settings: reused
    weights = os.path.join(out, "train", "model")
    before = tuned_model_digest(weights)
    with open(os.path.join(weights, "model.safetensors"), "ab") as handle:
        handle.write(b"\0")  # as if retrained in place: the digest, and so the cell's key, changes
    assert tuned_model_digest(weights) != before
    demo_module.run_cell(cell, out, predict, lambda: None, False)
    assert calls == [1]  # predicted again, not reused


def test_plan_and_bfcl_subsets():
    from calltune.demo import bfcl_subsets, parse_bfcl_sizes, plan

    sizes = parse_bfcl_sizes("simple_python=20,irrelevance=20,parallel=10")
    assert bfcl_subsets(sizes, None) == sizes and bfcl_subsets(sizes, 3) == dict.fromkeys(sizes, 3)
    cells = plan(["hermes", "paper"], "hermes", {"parallel": 5})
    assert [(c.model, c.style, c.set, c.decoding) for c in cells] == [
        (m, s, data, d) for m, s in (("prompt-only", "hermes"), ("prompt-only", "paper"), ("tuned", "hermes"))
        for data, d in (("seed_dev", "greedy"), ("seed_dev", "constrained"), ("bfcl_parallel", "constrained"))]
    assert cells[-1].label == "BFCL parallel (first 5)"


def test_demo_option_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--out", str(tmp_path / "d"), "--bfcl", "simple=3"])
    assert "expected CATEGORY=N" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path / "d"), "--config", str(tmp_path / "missing.yaml")]) == 2
    assert main(["demo", "--out", str(tmp_path / "d"), "--config", BEST, "--prompt-styles", "fancy"]) == 2
    assert main(["demo", "--out", str(tmp_path / "d"), "--config", BEST, "--num-beams", "0"]) == 2
    assert "--num-beams" in capsys.readouterr().err


def test_training_stage_resumes_an_interrupted_run_and_replaces_one_of_other_settings(tmp_path, monkeypatch):
    from calltune import train as train_module
    from calltune.config import load_config
    from calltune.demo import train_stage

    calls = []
    monkeypatch.setattr(train_module, "train", lambda cfg, out, resume, progress: calls.append(resume) or {})
    run_dir = str(tmp_path / "train")
    cfg = load_config(BEST, ["data.synth.n=60"])
    train_stage(cfg, run_dir, progress=False)
    checkpoint = os.path.join(run_dir, "checkpoints", "step-3")
    os.makedirs(checkpoint)
    open(os.path.join(checkpoint, "state.json"), "w").write("{}")  # as an interrupted run leaves it
    train_stage(cfg, run_dir, progress=False)
    assert calls == [False, True]
    train_stage(load_config(BEST, ["data.synth.n=70"]), run_dir, progress=False)  # other settings: start over
    assert calls == [False, True, False] and not os.path.exists(checkpoint)
