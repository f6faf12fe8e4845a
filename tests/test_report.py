"""Paired comparisons in the experiment report: which cells are paired, which side is the baseline,
and the scores and McNemar p-values computed from the per-example outcome files."""

from __future__ import annotations

import json
import os

import yaml

from calltune.report import comparison_pairs, paired_comparisons, update_readme

BASE = {"model": {"quantization": "none"}, "data": {"loss": "completion", "train": "x"}, "train": {"lr": 1e-3}}


def _cell(root, model, method, scale, decoding, synth_right, bfcl_right, n=10) -> list[dict]:
    """Results for one (model, decoding): synth_dev (checks.jsonl) and BFCL (bfcl_per_example.jsonl)."""
    out = []
    for set_name, right in (("synth_dev", synth_right), ("bfcl_simple_python", bfcl_right)):
        directory = os.path.join(root, model, set_name, decoding)
        os.makedirs(directory)
        with open(os.path.join(directory, "checks.jsonl"), "w") as handle:
            for i in range(n):
                handle.write(json.dumps({"id": f"e{i}", "exact": i in right}) + "\n")
        if set_name.startswith("bfcl_"):
            with open(os.path.join(directory, "bfcl_per_example.jsonl"), "w") as handle:
                for i in range(n):
                    handle.write(json.dumps({"id": f"e{i}", "correct": i in right}) + "\n")
        out.append({"model": model, "method": method, "scale": scale, "decoding": decoding, "set": set_name,
                    "predictions": os.path.join(directory, "predictions.jsonl"),
                    "calltune": {"n": n, "json_validity": 1.0, "schema_adherence": 1.0,
                                 "exact_match": len(right) / n,
                                 "intervals": {k: [0, 1] for k in ("json_validity", "schema_adherence",
                                                                   "exact_match")}},
                    "bfcl": {"n": n, "accuracy": len(right) / n, "correct": len(right)}
                    if set_name.startswith("bfcl_") else None})
    return out


def _trained(root, name, changes) -> str:
    config = json.loads(json.dumps(BASE))
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        config[section][key] = value
    run_dir = os.path.join(root, "train", name)
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "config.yaml"), "w") as handle:
        yaml.safe_dump(config, handle)
    return run_dir


def _matrix(tmp_path):
    root = str(tmp_path)
    results = []
    # the completion-loss model is listed first: the pair must still read full -> completion
    results += _cell(root, "comp@s1", "comp", "s1", "greedy", {0, 1, 2, 3, 4, 5, 6, 7}, {0})
    results += _cell(root, "comp@s1", "comp", "s1", "constrained", {0, 1, 2, 3, 4, 5, 6, 7, 8}, {0, 1})
    results += _cell(root, "full@s1", "full", "s1", "greedy", {0, 1}, {0})
    results += _cell(root, "full@s1", "full", "s1", "constrained", {0, 1, 2}, {0, 1})
    results += _cell(root, "comp@s2", "comp", "s2", "greedy", set(range(10)), {0, 1, 2})
    results += _cell(root, "comp@s2", "comp", "s2", "constrained", set(range(10)), {0, 1, 2})
    results += _cell(root, "other@s1", "other", "s1", "greedy", set(), set())
    trained = {"comp@s1": _trained(root, "comp@s1", {}),
               "full@s1": _trained(root, "full@s1", {"data.loss": "full"}),
               "comp@s2": _trained(root, "comp@s2", {"data.train": "y"}),
               "other@s1": _trained(root, "other@s1", {"data.loss": "full", "train.lr": 5e-5})}
    return results, trained


def test_pairs_differ_in_one_thing(tmp_path):
    results, trained = _matrix(tmp_path)
    pairs = comparison_pairs(results, trained, ["s1", "s2"])
    labels = [(label, a, b) for label, a, b in pairs]
    assert ("decoding: greedy -> constrained", ("comp@s1", "greedy"), ("comp@s1", "constrained")) in labels
    assert ("data.loss: full -> completion", ("full@s1", "greedy"), ("comp@s1", "greedy")) in labels
    assert ("data.loss: full -> completion", ("full@s1", "constrained"), ("comp@s1", "constrained")) in labels
    assert ("data: s1 -> s2", ("comp@s1", "greedy"), ("comp@s2", "greedy")) in labels
    # other@s1 differs from full@s1 in lr only, and from comp@s1 in two settings: one pair, not two
    assert [p for p in labels if "other@s1" in (p[1][0], p[2][0]) and not p[0].startswith("decoding")] == [
        ("train.lr: 0.001 -> 5e-05", ("full@s1", "greedy"), ("other@s1", "greedy"))]
    # repair never forms a training pair, and there is no repair cell here at all
    assert not any("repair" in label for label, _, _ in labels)


def test_paired_scores_and_mcnemar(tmp_path):
    results, trained = _matrix(tmp_path)
    header, body = paired_comparisons(results, trained, ["s1", "s2"])
    assert header == ["what changes", "A", "B", "synth_dev (A -> B, p)", "bfcl_simple_python (A -> B, p)"]
    rows = {(r[0], r[1], r[2]): r[3:] for r in body}
    # 2/10 -> 8/10 right, the six discordant examples all one way: p = 2 / 2**6
    assert rows[("data.loss: full -> completion", "full@s1 / greedy", "comp@s1 / greedy")] == [
        "20.0 -> 80.0, p=0.031", "10.0 -> 10.0, p=1"]
    assert rows[("data: s1 -> s2", "comp@s1 / constrained", "comp@s2 / constrained")] == [
        "90.0 -> 100.0, p=1", "20.0 -> 30.0, p=1"]
    assert rows[("decoding: greedy -> constrained", "full@s1 / greedy", "full@s1 / constrained")][0] == \
        "20.0 -> 30.0, p=1"


def test_readme_section_carries_the_comparisons(tmp_path):
    results, trained = _matrix(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:start -->\n<!-- results:end -->\n")
    update_readme(str(readme), {"results": results, "trained": trained, "config": {"scales": {"s1": 1, "s2": 2}}},
                  "runs/x")
    text = readme.read_text()
    assert "| data.loss: full -> completion | full@s1 / greedy | comp@s1 / greedy | 20.0 -> 80.0, p=0.031 |" in text
