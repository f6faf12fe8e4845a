"""Interpolation toward the base (WiSE-FT): the tensor arithmetic, `train.interpolate`, and
`calltune interpolate` for full fine-tunes and LoRA adapters, on tiny models."""

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from calltune.cli import main
from calltune.config import load_config
from calltune.errors import CalltuneError
from calltune.interpolate import interpolated, scaled_lora

TINY_RUN = ["data.max_length=1024", "train.batch_size=2", "train.lr=1e-2", "train.seed=3", "eval.generate=false",
            "train.max_steps=3"]


def cfg_for(model_dir, *overrides):
    return load_config(None, [f"model.name={model_dir}", *TINY_RUN, *overrides])


# --- the arithmetic ------------------------------------------------------------------------------

def test_interpolated_is_base_plus_weight_times_the_change():
    g = torch.Generator().manual_seed(0)
    base = {"a": torch.randn(3, 4, generator=g), "b": torch.randn(5, generator=g), "n": torch.arange(4)}
    tuned = {"a": base["a"] + torch.randn(3, 4, generator=g), "b": base["b"].clone(), "n": torch.arange(4) + 1}
    assert all(torch.equal(interpolated(tuned, base, 1.0)[k], tuned[k]) for k in tuned)
    assert torch.equal(interpolated(tuned, base, 0.0)["a"], base["a"])
    half = interpolated(tuned, base, 0.5)
    assert torch.allclose(half["a"], (base["a"] + tuned["a"]) / 2, atol=1e-6)
    assert not torch.equal(half["a"], tuned["a"]) and not torch.equal(half["a"], base["a"])
    assert torch.equal(half["b"], base["b"])  # unchanged by training: unchanged
    assert torch.equal(half["n"], tuned["n"])  # integer buffers are not weights
    assert torch.allclose(interpolated(tuned, base, 2.0)["a"], 2 * tuned["a"] - base["a"], atol=1e-5)
    low = interpolated({"a": tuned["a"].bfloat16()}, {"a": base["a"].bfloat16()}, 0.5)["a"]
    assert low.dtype == torch.bfloat16  # stored as the fine-tune stores it


def test_interpolated_refuses_other_architectures():
    with pytest.raises(CalltuneError, match="missing \\['b'\\]"):
        interpolated({"a": torch.zeros(2)}, {"a": torch.zeros(2), "b": torch.zeros(2)}, 0.5)
    with pytest.raises(CalltuneError, match="a: shape \\(2,\\) in the fine-tune, \\(3,\\) in the base"):
        interpolated({"a": torch.zeros(2)}, {"a": torch.zeros(3)}, 0.5)


def test_scaled_lora_scales_only_b():
    adapter = {"x.lora_A.weight": torch.ones(2, 4), "x.lora_B.weight": torch.full((4, 2), 2.0)}
    scaled = scaled_lora(adapter, 0.25)
    assert torch.equal(scaled["x.lora_A.weight"], adapter["x.lora_A.weight"])
    assert torch.equal(scaled["x.lora_B.weight"], torch.full((4, 2), 0.5))
    with pytest.raises(CalltuneError, match="no LoRA B weights"):
        scaled_lora({"w": torch.ones(2)}, 0.5)


def test_config_field_checked_and_serialized_only_when_used(tiny_llama):
    assert "interpolate" not in cfg_for(tiny_llama).to_dict()["train"]  # old configs keep their bytes
    assert cfg_for(tiny_llama, "train.interpolate=0.8").to_dict()["train"]["interpolate"] == 0.8
    with pytest.raises(CalltuneError, match="train.interpolate must be >= 0"):
        cfg_for(tiny_llama, "train.interpolate=-0.5")


# --- full fine-tuning ------------------------------------------------------------------------------

def test_full_finetune_interpolated_by_train_and_by_the_command_alike(tiny_llama, tmp_path, capsys):
    from calltune.models import load_model
    from calltune.train import train

    full = ["train.method=full", "lora.top_layers=1"]
    trained, halfway = str(tmp_path / "trained"), str(tmp_path / "halfway")
    train(cfg_for(tiny_llama, *full), trained, progress=False)
    summary = train(cfg_for(tiny_llama, *full, "train.interpolate=0.5"), halfway, progress=False)
    base = load_file(os.path.join(tiny_llama, "model.safetensors"))
    tuned = load_file(os.path.join(trained, "model", "model.safetensors"))
    mixed = load_file(os.path.join(halfway, "model", "model.safetensors"))
    changed = [n for n in base if not torch.equal(base[n], tuned[n])]
    assert changed  # training moved the top block
    for name in base:  # the same training, half of its change kept
        assert torch.allclose(mixed[name], base[name] + 0.5 * (tuned[name] - base[name]), atol=1e-6), name
    assert summary["config"]["train"]["interpolate"] == 0.5

    # the command on the finished run writes the same weights, and records the combined weight
    out = str(tmp_path / "cmd")
    assert main(["interpolate", "--model", trained, "--weight", "0.5", "--out", out]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["kind"] == "model"
    written = load_file(os.path.join(out, "model.safetensors"))
    assert all(torch.allclose(written[n], mixed[n], atol=1e-6) for n in mixed)
    with open(os.path.join(out, "calltune.json")) as handle:
        record = json.load(handle)
    assert record["config"]["train"]["interpolate"] == 0.5
    assert record["interpolated"] == {"from": os.path.join(trained, "model"), "weight": 0.5, "before": 1.0}
    again = str(tmp_path / "again")  # of an interpolated model: the weights multiply
    assert main(["interpolate", "--model", out, "--weight", "0.5", "--out", again]) == 0
    with open(os.path.join(again, "calltune.json")) as handle:
        assert json.load(handle)["config"]["train"]["interpolate"] == 0.25
    quarter = load_file(os.path.join(again, "model.safetensors"))
    assert all(torch.allclose(quarter[n], base[n] + 0.25 * (tuned[n] - base[n]), atol=1e-6) for n in base)

    # toward another fine-tune of the same base (a soup): the midpoint, and no train.interpolate claimed for it
    soup = str(tmp_path / "soup")
    assert main(["interpolate", "--model", trained, "--base", halfway, "--weight", "0.5", "--out", soup]) == 0
    mid = load_file(os.path.join(soup, "model.safetensors"))
    assert all(torch.allclose(mid[n], (tuned[n] + mixed[n]) / 2, atol=1e-6) for n in base)
    with open(os.path.join(soup, "calltune.json")) as handle:
        record = json.load(handle)
    assert "interpolate" not in record["config"]["train"]
    assert record["interpolated"]["base"] == os.path.join(halfway, "model")

    # it is a model like any other: it loads with its chat template and predicts
    model, tokenizer, path = load_model(out)
    assert path == out and tokenizer.chat_template
    pred = str(tmp_path / "pred.jsonl")
    assert main(["predict", "--model", out, "--data", "seed:dev", "--out", pred, "--max-new-tokens", "4"]) == 0
    from calltune.interpolate import interpolate_model

    with pytest.raises(CalltuneError, match="exists \\(add --force to replace it\\)"):
        interpolate_model(trained, 0.25, out)
    with pytest.raises(CalltuneError, match="would replace the weights it reads"):
        interpolate_model(trained, 0.25, trained, force=True)
    interpolate_model(trained, 0.25, out, force=True)
    assert all(torch.allclose(load_file(os.path.join(out, "model.safetensors"))[n], quarter[n], atol=1e-6)
               for n in quarter)


def test_interpolate_command_errors(tiny_llama, tmp_path, capsys):
    assert main(["interpolate", "--model", tiny_llama, "--weight", "0.5", "--out", str(tmp_path / "x")]) != 0
    assert "no calltune.json naming its base model; give --base" in capsys.readouterr().err
    assert main(["interpolate", "--model", tiny_llama, "--weight", "-1", "--out", str(tmp_path / "y")]) != 0
    assert "--weight: -1.0 must be >= 0" in capsys.readouterr().err
    assert main(["interpolate", "--adapter", str(tmp_path), "--weight", "0.5", "--out", str(tmp_path / "z")]) != 0
    assert "no adapter_config.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one of --model and --adapter
        main(["interpolate", "--weight", "0.5", "--out", str(tmp_path / "w")])
    # --base: any model directory of the same architecture (here the base itself: every weight stays)
    out = str(tmp_path / "self")
    assert main(["interpolate", "--model", tiny_llama, "--base", tiny_llama, "--weight", "0.3", "--out", out]) == 0
    base = load_file(os.path.join(tiny_llama, "model.safetensors"))
    assert all(torch.equal(load_file(os.path.join(out, "model.safetensors"))[n], t) for n, t in base.items())


# --- LoRA --------------------------------------------------------------------------------------------

def test_lora_interpolated_by_train_and_by_the_command_alike(tiny_llama, tmp_path):
    from calltune.merge import merged_model
    from calltune.train import train

    trained, halfway = str(tmp_path / "trained"), str(tmp_path / "halfway")
    train(cfg_for(tiny_llama), trained, progress=False)
    train(cfg_for(tiny_llama, "train.interpolate=0.5"), halfway, progress=False)
    full = load_file(os.path.join(trained, "adapter", "adapter_model.safetensors"))
    half = load_file(os.path.join(halfway, "adapter", "adapter_model.safetensors"))
    assert any("lora_B" in n for n in full)
    for name, t in full.items():
        assert torch.allclose(half[name], t * 0.5 if "lora_B" in name else t, atol=1e-7), name

    out = str(tmp_path / "cmd")
    assert main(["interpolate", "--adapter", trained, "--weight", "0.5", "--out", out]) == 0
    written = load_file(os.path.join(out, "adapter_model.safetensors"))
    assert all(torch.allclose(written[n], half[n], atol=1e-7) for n in half)
    with open(os.path.join(out, "calltune.json")) as handle:
        assert json.load(handle)["config"]["train"]["interpolate"] == 0.5

    # weight 0: the merged model is the base, weight for weight
    zero = str(tmp_path / "zero")
    assert main(["interpolate", "--adapter", trained, "--weight", "0", "--out", zero]) == 0
    merged, _, _ = merged_model(tiny_llama, zero)
    base = load_file(os.path.join(tiny_llama, "model.safetensors"))
    state = merged.state_dict()
    assert all(torch.allclose(state[n], t) for n, t in base.items() if n in state)


def test_an_interrupted_run_interpolates_from_the_base_not_from_its_checkpoint(tiny_llama, tmp_path, monkeypatch):
    from calltune import train as train_module

    overrides = ("train.method=full", "lora.top_layers=1", "train.max_steps=4", "train.save_every=2",
                 "train.interpolate=0.5")
    whole = str(tmp_path / "whole")
    train_module.train(cfg_for(tiny_llama, *overrides), whole, progress=False)
    out = str(tmp_path / "interrupted")
    real_step, calls = torch.optim.AdamW.step, []

    def step_then_stop(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C during step 2: the checkpoint holds trained weights
            os.kill(os.getpid(), __import__("signal").SIGINT)
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_module.train(cfg_for(tiny_llama, *overrides), out, progress=False)
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    train_module.train(cfg_for(tiny_llama, *overrides), out, resume=True, progress=False)
    a = load_file(os.path.join(whole, "model", "model.safetensors"))
    b = load_file(os.path.join(out, "model", "model.safetensors"))
    assert all(torch.allclose(a[n], b[n], atol=1e-6) for n in a)


def test_an_adapter_saved_without_its_vocabulary_gets_it(tiny_llama, tmp_path):
    """The builtin adapter ships without tokenizer.json (its run's provenance.json vouches for the base's); the
    interpolated copy must stand on its own, with that very file."""
    from calltune.jsonl import file_sha256, write_json
    from calltune.models import load_model
    from calltune.train import train

    run = tmp_path / "run"
    train(cfg_for(tiny_llama), str(run), progress=False)
    (run / "adapter" / "tokenizer.json").unlink()
    vocabulary = Path(tiny_llama) / "tokenizer.json"
    write_json(str(run / "provenance.json"), {"tokenizer_json_sha256": file_sha256(vocabulary)})
    out = tmp_path / "half"
    assert main(["interpolate", "--adapter", str(run), "--weight", "0.5", "--out", str(out)]) == 0
    assert file_sha256(out / "tokenizer.json") == file_sha256(vocabulary)
    model, tokenizer, _ = load_model(tiny_llama, str(out))
    assert tokenizer.chat_template
