"""The main job end to end on the tiny GPT-2: run directory, table, and reuse of finished cells."""

import json
import os

from calltune.cli import main


def test_demo_writes_a_self_describing_run_and_reuses_cells(tiny_gpt2, tmp_path, capsys):
    out = str(tmp_path / "demo")
    args = ["demo", "--model", tiny_gpt2, "--out", out, "--prompt-styles", "paper", "--bfcl-limit", "3",
            "--no-progress"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "| paper | seed dev | 4 |" in table and "| paper | BFCL simple_python | 3 |" in table
    for name in ("config.json", "versions.json", "results.json", "results.md",
                 "paper/seed_dev/predictions.jsonl", "paper/seed_dev/metrics.json",
                 "paper/bfcl_simple_python/predictions.jsonl", "paper/bfcl_simple_python/bfcl_per_example.jsonl"):
        assert os.path.exists(os.path.join(out, name)), name
    with open(os.path.join(out, "versions.json")) as handle:
        assert json.load(handle)["transformers"]
    results = json.load(open(os.path.join(out, "results.json")))
    assert [r["data"] for r in results] == ["seed dev", "BFCL simple_python"]
    assert results[1]["bfcl_accuracy"] == 0.0  # a random model makes no valid call

    pred = os.path.join(out, "paper", "bfcl_simple_python", "predictions.jsonl")
    before = os.stat(pred).st_mtime_ns
    assert main(args) == 0  # same settings: finished cells are reused, not recomputed
    assert os.stat(pred).st_mtime_ns == before
    assert main([*args[:-2], "5", "--no-progress"]) == 0  # another limit: the BFCL cell reruns
    assert os.stat(pred).st_mtime_ns != before
