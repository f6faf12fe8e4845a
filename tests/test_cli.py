"""predict + eval end to end on the tiny GPT-2, resume, adapters, and bad input (exit 2, no output)."""

import json
import os

import pytest

from calltune import generate
from calltune.cli import main
from calltune.predict import PredictConfig, run_predict


def read(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def test_predict_then_eval_end_to_end(tiny_gpt2, tmp_path, capsys):
    pred, metrics = tmp_path / "pred.jsonl", tmp_path / "metrics.json"
    assert main(["predict", "--model", tiny_gpt2, "--data", "seed:dev", "--out", str(pred), "--prompt-style",
                 "paper", "--batch-size", "3", "--max-new-tokens", "12", "--no-progress"]) == 0
    rows = read(pred)
    assert [r["id"] for r in rows] == ["seed-001", "seed-012", "seed-016", "seed-017"]  # input order
    assert all(set(r) == {"id", "raw", "call", "error"} for r in rows)
    assert not os.path.exists(str(pred) + ".partial")
    assert main(["eval", "--data", "seed:dev", "--pred", str(pred), "--out", str(metrics)]) == 0
    m = json.loads(metrics.read_text())
    assert m["n"] == 4 and {"json_validity", "schema_adherence", "exact_match", "errors", "intervals"} <= set(m)
    # a random model writes no JSON: every error is counted
    assert m["json_validity"] == 0.0 and sum(m["errors"].values()) == 4
    assert "exact_match" in capsys.readouterr().out


def test_batching_with_left_padding_does_not_change_outputs(tiny_gpt2, tmp_path):
    outs = []
    for batch in (1, 4):
        path = str(tmp_path / f"b{batch}.jsonl")
        run_predict(PredictConfig(data="seed:dev", out=path, model=tiny_gpt2, batch_size=batch,
                                  max_new_tokens=10), progress=False)
        outs.append([r["raw"] for r in read(path)])
    assert outs[0] == outs[1]


def test_interrupted_predict_resumes(tiny_gpt2, tmp_path, monkeypatch):
    full = str(tmp_path / "full.jsonl")
    # batches of generate; the engine's resume is tested in test_predict_hermes
    cfg = dict(data="seed:dev", model=tiny_gpt2, batch_size=1, max_new_tokens=8, engine=False)
    run_predict(PredictConfig(out=full, **cfg), progress=False)

    out = str(tmp_path / "pred.jsonl")
    real, calls = generate.generate_batch, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(generate, "generate_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_predict(PredictConfig(out=out, **cfg), progress=False)
    assert not os.path.exists(out) and os.path.exists(out + ".partial")
    monkeypatch.setattr(generate, "generate_batch", real)
    stats = run_predict(PredictConfig(out=out, **cfg), progress=False)
    assert stats["resumed"] == 2 and stats["n_generated"] == 2
    assert read(out) == read(full)


def _save_adapter(base_dir, out_dir, seed=0):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"],
                                                  fan_in_fan_out=True))
    gen = torch.Generator().manual_seed(seed)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:  # B starts at zero; make the adapter do something
            param.data = torch.randn(param.shape, generator=gen)
    peft_model.save_pretrained(out_dir)
    return out_dir


def test_predict_with_adapter_changes_outputs(tiny_gpt2, tmp_path):
    adapter = _save_adapter(tiny_gpt2, str(tmp_path / "adapter"))
    base, tuned = str(tmp_path / "base.jsonl"), str(tmp_path / "tuned.jsonl")
    common = ["--model", tiny_gpt2, "--data", "seed:dev", "--max-new-tokens", "8", "--no-progress"]
    assert main(["predict", *common, "--out", base]) == 0
    assert main(["predict", *common, "--out", tuned, "--adapter", adapter]) == 0
    assert [r["raw"] for r in read(base)] != [r["raw"] for r in read(tuned)]


def test_mismatched_adapter_is_exit_2(tiny_gpt2, tmp_path, capsys):
    from conftest import build_tiny_gpt2

    other = build_tiny_gpt2(str(tmp_path / "wider"), n_embd=48)
    adapter = _save_adapter(other, str(tmp_path / "adapter"))
    out = tmp_path / "pred.jsonl"
    assert main(["predict", "--model", tiny_gpt2, "--adapter", adapter, "--data", "seed:dev",
                 "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "adapter does not match model" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("rows, message", [
    (['{"id": "a", "instruction": "x", "tools": [{"name": "f"}]}', "{oops"], "in.jsonl:2: malformed JSON"),
    (['{"id": "a", "instruction": "x"}'], "in.jsonl:1: field 'tools'"),
    (['{"id": "a", "instruction": "x", "tools": [{"name": "f", "parameters": {"type": 7}}]}'],
     "in.jsonl:1: field 'tools[0].parameters': tool 'f': not a valid JSON Schema"),
])
def test_bad_data_is_exit_2_without_output(tiny_gpt2, tmp_path, capsys, write_jsonl_lines, rows, message):
    data = write_jsonl_lines("in.jsonl", rows)
    out = tmp_path / "pred.jsonl"
    assert main(["predict", "--model", tiny_gpt2, "--data", data, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: ") and "Traceback" not in err
    assert not out.exists()


def test_unknown_model_is_exit_2(tmp_path, capsys):
    out = tmp_path / "pred.jsonl"
    assert main(["predict", "--model", "./no/such/model", "--data", "seed:dev", "--out", str(out)]) == 2
    assert "unknown model './no/such/model'" in capsys.readouterr().err
    assert not out.exists()


def test_eval_rejects_predictions_that_do_not_cover_the_data(tmp_path, capsys, write_jsonl_lines):
    pred = write_jsonl_lines("pred.jsonl", [{"id": "seed-001", "raw": "x", "call": None, "error": None}])
    out = tmp_path / "m.json"
    assert main(["eval", "--data", "seed:dev", "--pred", pred, "--out", str(out)]) == 2
    assert "no prediction for 3 example(s)" in capsys.readouterr().err
    assert not out.exists()


def test_eval_style_reads_id_and_raw_files_as_hermes(tmp_path, capsys, write_jsonl_lines):
    # results/ keeps predictions as `id` and `raw` only: without --style they read as paper answers
    tool = {"name": "get_time", "description": "Time in a city.", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "utc": {"type": "boolean"}},
        "required": ["city"]}}
    data = write_jsonl_lines("d.jsonl", [
        {"id": "a", "instruction": "Time in Oslo, in UTC?", "tools": [tool],
         "target": {"name": "get_time", "arguments": {"city": "Oslo", "utc": True}}},
        {"id": "b", "instruction": "Hi!", "tools": [tool], "target": None}])
    pred = write_jsonl_lines("p.jsonl", [
        {"id": "a", "raw": '<tool_call>\n{"name": "get_time", "arguments": {"city": "Oslo"}}\n</tool_call>'},
        {"id": "b", "raw": "Hello! No tool is needed."}])
    paper, hermes = tmp_path / "paper.json", tmp_path / "hermes.json"
    assert main(["eval", "--data", data, "--pred", pred, "--out", str(paper)]) == 0
    assert main(["eval", "--data", data, "--pred", pred, "--out", str(hermes), "--style", "hermes"]) == 0
    assert "optional in the target 0 given, 0 right of 1" in capsys.readouterr().out
    paper, hermes = json.loads(paper.read_text()), json.loads(hermes.read_text())
    assert (paper["style"], paper["json_validity"]) == ("paper", 0.5)  # the text answer is not JSON
    assert (hermes["style"], hermes["json_validity"], hermes["exact_match"]) == ("hermes", 1.0, 0.5)
    assert hermes["arguments"]["optional_in_target"] == 1 and hermes["arguments"]["optional_given"] == 0


def test_data_split_command(tmp_path):
    train, dev = tmp_path / "train.jsonl", tmp_path / "dev.jsonl"
    assert main(["data", "split", "--data", "seed:all", "--train", str(train), "--dev", str(dev)]) == 0
    assert len(read(train)) == 14 and len(read(dev)) == 4


def test_render_command(capsys):
    assert main(["render", "--data", "seed:dev", "--index", "1"]) == 0
    assert capsys.readouterr().out.startswith("You are given a tool specification")
