"""Abstention under hermes + constrained + tool_choice auto (`abstain.py`) and its calibration
(`calibrate.py`): the decision rule, the branch probabilities, predict with a margin, the report."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch
from test_predict_hermes import SCHEMAS, TIME, WEATHER

from calltune.abstain import Branches, branch_logprobs, call_prefix_ids, decide, takes_text
from calltune.calibrate import (CalibrateConfig, best_margin, decision_metrics, format_report, parse_margins,
                                run_calibrate, separation_auc)
from calltune.chat.grammar import TOOL_CALL_OPEN
from calltune.cli import main
from calltune.constrain import GrammarCache
from calltune.errors import CalltuneError
from calltune.examples import Tool, load_examples, load_predictions
from calltune.predict import PredictConfig, _fingerprint, run_predict
from calltune.prompts import render_prompt

NAMED_TIME = {"type": "function", "function": {"name": "get_time"}}
# auto rows with calls and without (different tools, different prompt lengths: left padding),
# and one row per other tool_choice, which a margin must leave alone
ROWS = [
    {"id": "call", "instruction": "Weather in Oslo?", "tools": [WEATHER],
     "target": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
    {"id": "call2", "instruction": "What time is it in Rome right now, please?", "tools": [WEATHER, TIME],
     "target": {"name": "get_time", "arguments": {"city": "Rome"}}},
    {"id": "abstain", "instruction": "Tell me a joke about the sea.", "tools": [TIME], "target": None},
    {"id": "abstain2", "instruction": "Book me a table for two.", "tools": [WEATHER, TIME], "target": None},
    {"id": "required", "instruction": "Weather in Rome?", "tools": [WEATHER], "tool_choice": "required",
     "target": {"name": "get_weather", "arguments": {"city": "Rome"}}},
    {"id": "none", "instruction": "Say hello.", "tools": [TIME], "tool_choice": "none", "target": None},
    {"id": "named", "instruction": "Time in Oslo?", "tools": [WEATHER, TIME], "tool_choice": NAMED_TIME,
     "target": {"name": "get_time", "arguments": {"city": "Oslo"}}},
]
AUTO = {"call", "call2", "abstain", "abstain2"}
HUGE = 1e6
WEATHER_TOOL = Tool("get_weather", "", WEATHER["function"]["parameters"])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("abstain") / "abstain.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return str(path)


@pytest.fixture(scope="module")
def loaded(tiny_gpt2):
    from calltune.models import load_model

    return load_model(tiny_gpt2)


def _predict(data, out, loaded, margin=None, engine=None) -> dict:
    cfg = PredictConfig(data=data, out=str(out), model="tiny", prompt_style="hermes", decoding="constrained",
                        max_new_tokens=40, abstain_margin=margin, engine=engine)
    stats = run_predict(cfg, loaded=loaded, progress=False)
    return {"stats": stats, "preds": {p.id: p for p in load_predictions(str(out))}}


@pytest.fixture(scope="module")
def runs(data, loaded, tmp_path_factory) -> dict:
    """Predictions without a margin, and with margins that force text and calls."""
    out = tmp_path_factory.mktemp("runs")
    return {name: _predict(data, out / f"{name}.jsonl", loaded, margin)
            for name, margin in (("base", None), ("text", HUGE), ("call", -HUGE))}


# ---- pure units ----------------------------------------------------------------------------------

def test_decision_rule_is_a_margin_on_the_log_odds():
    even = Branches(math.log(0.5), math.log(0.5), False)
    assert takes_text(even, 0.0) and not takes_text(even, -1e-9)  # ties go to text
    likely_call = Branches(math.log(0.1), math.log(0.9), True)
    assert likely_call.log_odds == pytest.approx(math.log(9))
    assert not takes_text(likely_call, 2.0) and takes_text(likely_call, 2.2)  # log 9 = 2.197
    assert takes_text(Branches(float("-inf"), 0.0, True), HUGE) is False  # a certain call stays a call


def test_decision_metrics_and_the_pick():
    records = [{"label": "call"}, {"label": "call"}, {"label": "no_call"}, {"label": "no_call"}]
    m = decision_metrics(records, [False, True, True, False])
    assert m == {"abstained": 2, "abstain_precision": 0.5, "abstain_recall": 0.5, "call_kept": 0.5,
                 "balanced_accuracy": 0.5, "accuracy": 0.5}
    assert decision_metrics(records, [False, False, False, False])["abstain_precision"] is None
    rows = [{"margin": -1.0, "balanced_accuracy": 0.7}, {"margin": 2.0, "balanced_accuracy": 0.9},
            {"margin": -2.0, "balanced_accuracy": 0.9}, {"margin": 3.0, "balanced_accuracy": 0.9}]
    assert best_margin(rows) == -2.0  # ties: nearest 0, then the lower
    assert best_margin([r for r in rows if r["margin"] != -2.0]) == 2.0
    # at a stated no-call share: share x abstention recall + (1 - share) x calls kept
    recall_only = [False, False, True, True]  # abstains on both no-calls and keeps both calls
    assert decision_metrics(records, recall_only, 0.2)["expected_accuracy"] == 1.0
    assert decision_metrics(records, [True] * 4, 0.2)["expected_accuracy"] == 0.2
    assert decision_metrics(records, [False] * 4, 0.2)["expected_accuracy"] == 0.8
    assert "expected_accuracy" not in m
    rows = [{"margin": 0.0, "expected_accuracy": 0.6, "balanced_accuracy": 0.9},
            {"margin": 1.0, "expected_accuracy": 0.8, "balanced_accuracy": 0.7}]
    assert best_margin(rows) == 0.0 and best_margin(rows, "expected_accuracy") == 1.0
    assert parse_margins("-2, 0,1.5") == (-2.0, 0.0, 1.5)
    for bad in ("1,x", "1,,2", "nan", "inf"):
        with pytest.raises(ValueError):
            parse_margins(bad)


def test_call_prefix_is_the_tag_in_tokens(tiny_gpt2):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    ids = call_prefix_ids(tok)
    assert tok.decode(ids) == TOOL_CALL_OPEN and len(ids) > 1  # the tiny BPE spells it in pieces
    tok.add_tokens(["<tool_call>", "</tool_call>"])  # as Qwen and Hermes tokenizers hold it
    assert call_prefix_ids(tok) == [tok.convert_tokens_to_ids("<tool_call>")]


def test_the_text_branch_cannot_open_with_a_tag(tiny_gpt2):
    """Steered off a call, a model must not write one its own way and have it count as text."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    cache = GrammarCache(tok, len(tok))

    def text_accepts(answer):
        matcher = cache.chat_row([WEATHER_TOOL], "auto", True, 0.0).abstain.text.matcher
        return matcher.consume_tokens(tok(answer, add_special_tokens=False)["input_ids"]) and matcher.is_accepting()

    assert text_accepts("No tool fits that.") and text_accepts("Use <b>bold</b> here.")
    for answer in ('<tool_call id="get_weather" />', "<tool_call call>\n{}", " <b>hi</b>", "\n<x>",
                   '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'):
        assert not text_accepts(answer), answer
    assert cache.chat_row([WEATHER_TOOL], "none").matcher.consume_tokens(tok(" <b>", add_special_tokens=False)[
        "input_ids"])  # tool_choice none itself is unchanged


# ---- the branch probabilities --------------------------------------------------------------------

def _constrained_logprob(model, tok, prompt_ids, row, path) -> float:
    """log p(path) token by token, unbatched: the reference for `branch_logprobs`."""
    import llguidance.torch as llt

    from calltune.closing import _allowed

    matcher, total, ids = row.matcher.deep_copy(), 0.0, list(prompt_ids)
    mask = llt.allocate_token_bitmask(1, model.config.vocab_size)
    for token in path:
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        llt.fill_next_token_bitmask(matcher, mask, 0)
        step = torch.log_softmax(logits, -1).masked_fill(~_allowed(mask[0], logits.shape[0]), float("-inf"))
        total += float(step[token] - torch.logsumexp(step, 0))
        matcher.consume_token(token)
        ids.append(token)
    return total


def _text_share(model, tok, prompt_ids, row) -> float:
    """log of the first token's constrained mass on tokens that open a text not starting with `<`."""
    import llguidance.torch as llt

    from calltune.closing import _allowed

    logits = model(input_ids=torch.tensor([prompt_ids])).logits[0, -1].float()
    mask = llt.allocate_token_bitmask(1, logits.shape[0])
    llt.fill_next_token_bitmask(row.matcher.deep_copy(), mask, 0)
    step = torch.log_softmax(logits, -1).masked_fill(~_allowed(mask[0], logits.shape[0]), float("-inf"))
    texts = [i for i in range(logits.shape[0]) if step[i] > float("-inf")
             and not tok.decode([i]).lstrip(" \t\r\n").startswith("<")]
    return float(torch.logsumexp(step[texts], 0) - torch.logsumexp(step, 0))


def test_branch_logprobs_match_stepwise_decoding_under_left_padding(loaded, data):
    model, tok, _ = loaded
    examples = [ex for ex in load_examples(data) if ex.id in AUTO]
    cache = GrammarCache(tok, model.get_output_embeddings().weight.shape[0])
    rows = [cache.chat_row(ex.tools, "auto", True, 0.0) for ex in examples]
    prompts = [render_prompt(ex, "hermes", tok) for ex in examples]
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    assert (enc["attention_mask"] == 0).any()  # the batch is padded
    branches = branch_logprobs(model, tok, enc, rows)
    path = call_prefix_ids(tok)
    with torch.inference_mode():
        for prompt, row, b in list(zip(prompts, rows, branches))[:2]:  # the longest and a padded one
            alone = tok(prompt, add_special_tokens=False)["input_ids"]
            assert b.log_call == pytest.approx(_constrained_logprob(model, tok, alone, row, path), abs=1e-4)
            assert b.log_text < 0 and math.exp(b.log_text) + math.exp(b.log_call) < 1  # `<...` is neither
            assert b.log_text == pytest.approx(_text_share(model, tok, alone, row), abs=1e-4)


def test_decide_leaves_rows_without_a_margin_alone(loaded):
    model, tok, _ = loaded
    cache = GrammarCache(tok, model.get_output_embeddings().weight.shape[0])
    rows = [cache.chat_row([WEATHER_TOOL]), None]
    enc = tok(["a", "b"], return_tensors="pt", padding=True)
    assert decide(model, tok, enc, rows) is rows  # today's path: nothing weighed, nothing replaced
    marked = cache.chat_row([WEATHER_TOOL], "auto", True, 0.0)
    assert marked.abstain is not None and marked.abstain.margin == 0.0
    for choice in ("none", "required", {"type": "function", "function": {"name": "get_weather"}}):
        assert cache.chat_row([WEATHER_TOOL], choice, True, 0.0).abstain is None
    assert cache.chat_row([], "auto", True, 0.0).abstain is None  # no tools: nothing to weigh


# ---- predict with a margin -----------------------------------------------------------------------

def test_margin_none_is_todays_decoding(loaded, data, runs):
    """No margin: the same answers as the grammar rows without abstention, decoded directly, and the
    same fingerprint as before the option existed (no abstention key in it)."""
    from calltune.generate import generate_batch

    model, tok, _ = loaded
    run = runs["base"]
    assert "abstain_decided" not in run["stats"] and run["stats"]["config"]["abstain_margin"] is None
    examples = load_examples(data)
    cache = GrammarCache(tok, model.get_output_embeddings().weight.shape[0])
    cfg = PredictConfig(data=data, out="x", prompt_style="hermes", decoding="constrained", max_new_tokens=40)
    rows = [cache.chat_row(ex.tools, *cfg.choice_for(ex)) for ex in examples]
    gens = generate_batch(model, tok, [render_prompt(ex, "hermes", tok) for ex in examples], 40, (rows, cache),
                          stop="turn")
    assert [run["preds"][ex.id].raw for ex in examples] == [g.text for g in gens]


def test_huge_margins_force_the_branch_and_leave_other_choices_alone(runs):
    base, text, call = runs["base"]["preds"], runs["text"], runs["call"]
    assert (text["stats"]["abstain_decided"], text["stats"]["abstained"]) == (4, 4)
    assert (call["stats"]["abstain_decided"], call["stats"]["abstained"]) == (4, 0)
    for pid in AUTO:
        t, c = text["preds"][pid], call["preds"][pid]
        assert t.calls == [] and t.raw and t.error is None and not t.raw.lstrip().startswith("<"), t.raw
        assert c.calls and c.error is None, c.raw
        for tool_call in c.calls:
            import jsonschema

            jsonschema.validate(tool_call["arguments"], SCHEMAS[tool_call["name"]])
    for pid in ("required", "none", "named"):  # no choice to make: byte-identical answers
        assert text["preds"][pid].raw == call["preds"][pid].raw == base[pid].raw
    assert [c["name"] for c in base["named"].calls] == ["get_time"] and base["none"].calls == []


def test_a_middle_margin_splits_rows_by_their_log_odds(loaded, data, runs, tmp_path):
    """Each auto row answers in text exactly when its call log-odds are at most the margin, and then
    as its branch decodes alone (the forced runs: text-only or calls-only grammar)."""
    model, tok, _ = loaded
    examples = [ex for ex in load_examples(data) if ex.id in AUTO]
    cache = GrammarCache(tok, model.get_output_embeddings().weight.shape[0])
    odds = {}
    for ex in examples:  # one at a time: no padding
        enc = tok([render_prompt(ex, "hermes", tok)], return_tensors="pt", add_special_tokens=False)
        odds[ex.id] = branch_logprobs(model, tok, enc, [cache.chat_row(ex.tools, "auto", True, 0.0)])[0].log_odds
    ranked = sorted(odds.values())
    margin = (ranked[1] + ranked[2]) / 2
    assert ranked[2] - ranked[1] > 1e-3  # far from both: float noise cannot flip a decision
    run = _predict(data, tmp_path / "mid.jsonl", loaded, margin)
    batched = _predict(data, tmp_path / "mid-batched.jsonl", loaded, margin, engine=False)  # generate's path
    for pid, value in odds.items():
        pred = run["preds"][pid]
        branch = "text" if value <= margin else "call"
        assert (pred.calls == []) == (branch == "text"), (pid, value, margin, pred.raw)
        assert pred.raw == runs[branch]["preds"][pid].raw == batched["preds"][pid].raw
        # each answer records the log-odds it was decided by (`calltune margin-sweep` reads them)
        assert pred.log_odds == pytest.approx(value, abs=1e-4)
        assert batched["preds"][pid].log_odds == pytest.approx(value, abs=1e-4)
    for pid in ("required", "none", "named"):  # not weighed
        assert run["preds"][pid].log_odds is None and batched["preds"][pid].log_odds is None
    assert run["stats"]["abstained"] == batched["stats"]["abstained"] == 2


def test_a_resumed_run_keeps_the_log_odds_written_before_it_stopped(loaded, data, runs, tmp_path, monkeypatch):
    """predict stopped after its first answer (batches of one; the auto rows) and run again: the answer
    read back from OUT.partial keeps its log-odds, and every record is the uninterrupted run's."""
    from test_resume import _interrupted_predict

    auto = tmp_path / "auto.jsonl"
    auto.write_text("".join(json.dumps(r) + "\n" for r in ROWS if r["id"] in AUTO))
    cfg = PredictConfig(data=str(auto), out=str(tmp_path / "p.jsonl"), model="tiny", prompt_style="hermes",
                        decoding="constrained", max_new_tokens=40, abstain_margin=-HUGE, engine=False, batch_size=1)
    _interrupted_predict(cfg, monkeypatch, loaded)
    first = json.loads((tmp_path / "p.jsonl.partial").read_text().splitlines()[1])
    assert isinstance(first["log_odds"], float)
    assert run_predict(cfg, loaded=loaded, progress=False)["resumed"] == 1
    preds = {p.id: p for p in load_predictions(cfg.out)}
    assert preds[first["id"]].log_odds == first["log_odds"]
    assert set(preds) == AUTO
    for pid, pred in preds.items():
        assert pred.raw == runs["call"]["preds"][pid].raw
        assert pred.log_odds == pytest.approx(runs["call"]["preds"][pid].log_odds, abs=1e-4)


def test_margin_is_part_of_the_fingerprint(data):
    cfgs = [PredictConfig(data=data, out="x", prompt_style="hermes", decoding="constrained", abstain_margin=m)
            for m in (None, 1.0, 2.0)]
    prints = {_fingerprint(cfg, "m", ["p"]) for cfg in cfgs}
    assert len(prints) == 3  # a resumed run never mixes margins
    assert cfgs[1].abstain_margin == 1.0 and PredictConfig(
        data=data, out="x", prompt_style="hermes", decoding="constrained", abstain_margin=1).abstain_margin == 1.0


def test_margin_option_errors(data, tmp_path, tiny_gpt2, capsys):
    for kwargs, message in [({"abstain_margin": float("nan")}, "--abstain-margin must be a finite number"),
                            ({"abstain_margin": "1"}, "--abstain-margin must be a finite number"),
                            ({"abstain_margin": 1.0, "decoding": "greedy"}, "--decoding constrained"),
                            ({"abstain_margin": 1.0, "tool_choice": "required"}, "tool_choice auto")]:
        with pytest.raises(CalltuneError, match=message):
            PredictConfig(**{"data": data, "out": "x", "prompt_style": "hermes", "decoding": "constrained",
                             **kwargs})
    with pytest.raises(CalltuneError, match="--prompt-style hermes"):
        PredictConfig(data=data, out="x", prompt_style="paper", decoding="constrained", abstain_margin=1.0)
    base = ["predict", "--data", data, "--out", str(tmp_path / "p.jsonl"), "--model", tiny_gpt2,
            "--prompt-style", "hermes", "--decoding", "constrained", "--no-progress"]
    with pytest.raises(SystemExit) as exit_:
        main(base + ["--abstain-margin", "lots"])
    assert exit_.value.code == 2 and "--abstain-margin" in capsys.readouterr().err
    assert main(base + ["--abstain-margin", "nan"]) == 2
    assert capsys.readouterr().err.startswith("error: --abstain-margin must be a finite number")
    assert main(base[:-2] + ["greedy", "--no-progress", "--abstain-margin", "1"]) == 2
    assert "--abstain-margin" in capsys.readouterr().err
    assert not (tmp_path / "p.jsonl").exists() and not (tmp_path / "p.jsonl.partial").exists()


# ---- calibration ---------------------------------------------------------------------------------

def test_calibration_report(data, tmp_path, loaded, write_jsonl_lines):
    unlabeled = write_jsonl_lines("more.jsonl", ROWS + [{"id": "open", "instruction": "Hi", "tools": [TIME]}])
    out = tmp_path / "cal"
    cfg = CalibrateConfig(data=unlabeled, out=str(out), prompt_style="hermes", margins=(4.0, -HUGE, 0.0, HUGE),
                          batch_size=3)
    report = run_calibrate(cfg, loaded=loaded, progress=False)
    assert (report["n"], report["n_call"], report["n_no_call"]) == (4, 2, 2)
    assert report["skipped"] == {"unlabeled": 1, "not_auto": 3, "no_tools": 0, "unsupported_schema": 0}
    assert [r["margin"] for r in report["margins"]] == [-HUGE, 0.0, 4.0, HUGE]
    lowest, highest = report["margins"][0], report["margins"][-1]
    assert (lowest["abstain_recall"], lowest["call_kept"], lowest["abstained"]) == (0.0, 1.0, 0)
    assert (highest["abstain_recall"], highest["call_kept"], highest["abstain_precision"]) == (1.0, 0.0, 0.5)
    top = max(r["balanced_accuracy"] for r in report["margins"])
    assert report["best"]["balanced_accuracy"] == top and report["best_margin"] in cfg.margins
    assert report["call_prefix"]["ids"] == call_prefix_ids(loaded[1])
    records = [json.loads(line) for line in (out / "branches.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["call", "call2", "abstain", "abstain2"]  # input order
    for r in records:
        total = math.exp(r["log_p_text"]) + math.exp(r["log_p_call"]) + r["p_other"]
        assert total == pytest.approx(1.0, abs=1e-5)
        assert r["log_odds"] == pytest.approx(r["log_p_call"] - r["log_p_text"], abs=1e-5)
    assert json.loads((out / "calibration.json").read_text())["best_margin"] == report["best_margin"]
    assert report["criterion"] == "balanced_accuracy" and report["no_call_share"] is None
    calls = [r["log_odds"] for r in records if r["label"] == "call"]
    no_calls = [r["log_odds"] for r in records if r["label"] == "no_call"]
    pairs = [(c > n) + 0.5 * (c == n) for c in calls for n in no_calls]
    assert report["auc"] == pytest.approx(sum(pairs) / len(pairs), abs=1e-4)
    assert f"(AUC): {report['auc']:.3f}" in format_report(report)


def test_separation_auc():
    assert separation_auc([3.0, 2.0], [1.0, -1.0]) == 1.0  # some margin (1 to 2) separates them
    assert separation_auc([-1.0], [1.0, 2.0]) == 0.0
    assert separation_auc([1.0, 1.0], [1.0]) == 0.5  # ties count half
    assert separation_auc([2.0, 0.0], [1.0, 1.0, 0.0]) == pytest.approx((3 + 0.5) / 6)  # 2 beats all; 0 ties one
    assert separation_auc([], [1.0]) is None and separation_auc([1.0], []) is None
    rng = random.Random(3)
    calls = [round(rng.gauss(1, 2), 1) for _ in range(60)]  # rounded: ties happen
    no_calls = [round(rng.gauss(0, 2), 1) for _ in range(40)]
    brute = sum((c > n) + 0.5 * (c == n) for c in calls for n in no_calls) / (60 * 40)
    assert separation_auc(calls, no_calls) == pytest.approx(brute, abs=1e-12)


def test_calibration_at_a_stated_no_call_share(data, tmp_path, loaded, write_jsonl_lines):
    """--no-call-share P picks by P x abstention recall + (1 - P) x calls kept; P = 0.5 picks as balanced accuracy."""
    margins = (-HUGE, -1.0, 0.0, 1.0, 4.0, HUGE)
    picks = {}
    for share in (None, 0.5, 0.05, 0.95):
        cfg = CalibrateConfig(data=data, out=str(tmp_path / f"cal{share}"), prompt_style="hermes", margins=margins,
                              no_call_share=share)
        report = run_calibrate(cfg, loaded=loaded, progress=False)
        picks[share] = report["best_margin"]
        if share is None:
            continue
        assert report["criterion"] == "expected_accuracy" and report["no_call_share"] == share
        for r in report["margins"]:
            assert r["expected_accuracy"] == pytest.approx(share * r["abstain_recall"] + (1 - share) * r["call_kept"],
                                                           abs=1e-4)
        top = max(r["expected_accuracy"] for r in report["margins"])
        assert report["best"]["expected_accuracy"] == top
        assert "expected accuracy at a no-call share" in format_report(report)
    assert picks[0.5] == picks[None]
    assert picks[0.05] <= picks[0.5] <= picks[0.95]  # rarer no-calls: abstain less
    assert picks[0.05] != picks[0.95]
    for bad in (0.0, 1.0, -0.2, float("nan")):
        with pytest.raises(CalltuneError, match="--no-call-share"):
            CalibrateConfig(data=data, out=str(tmp_path / "x"), prompt_style="hermes", no_call_share=bad)


def test_calibrate_cli_and_its_errors(data, tmp_path, tiny_gpt2, capsys, write_jsonl_lines):
    out = str(tmp_path / "cal")
    base = ["calibrate-abstention", "--data", data, "--out", out, "--model", tiny_gpt2, "--prompt-style", "hermes",
            "--no-progress"]
    assert main(base + ["--margins=-1,0,1"]) == 0
    shown = capsys.readouterr().out
    assert "greedy" in shown and "best margin by balanced_accuracy" in shown
    assert [r["margin"] for r in json.loads(open(f"{out}/calibration.json").read())["margins"]] == [-1, 0, 1]
    assert main(base + ["--margins", "2", "-3", "0.5,1"]) == 0  # space-separated too (negatives included)
    capsys.readouterr()
    assert main(base + ["--no-call-share", "0.2"]) == 0
    assert "best margin by expected_accuracy" in capsys.readouterr().out
    assert json.loads(open(f"{out}/calibration.json").read())["no_call_share"] == 0.2
    assert main(base + ["--no-call-share", "1.5"]) == 2
    assert "--no-call-share must be between 0 and 1" in capsys.readouterr().err
    assert main(base + ["--margins", "2", "-3", "0.5,1"]) == 0
    assert [r["margin"] for r in json.loads(open(f"{out}/calibration.json").read())["margins"]] == [-3, 0.5, 1, 2]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(base + ["--margins", "1,x"])
    assert exit_.value.code == 2 and "--margins" in capsys.readouterr().err
    assert main(base[:2] + ["bfcl:irrelevance"] + base[3:]) == 2
    assert "BFCL is evaluation only" in capsys.readouterr().err
    bfcl_case = {**ROWS[0], "id": "irrelevance_0", "meta": {"bfcl_category": "irrelevance", "bfcl_id": "x"}}
    exported = write_jsonl_lines("bfcl.jsonl", [bfcl_case])
    assert main(base[:2] + [exported] + base[3:]) == 2
    assert "BFCL is evaluation only" in capsys.readouterr().err
    calls_only = write_jsonl_lines("calls.jsonl", ROWS[:2])
    assert main(base[:2] + [calls_only] + base[3:]) == 2
    assert "both kinds" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # calibration weighs hermes answers only
        main(base[:-2] + ["paper", "--no-progress"])
    assert exit_.value.code == 2 and "--prompt-style" in capsys.readouterr().err
