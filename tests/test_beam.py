"""Beam search (`calltune.beam`, `calltune predict --num-beams`): the answer the model finds most likely as a
whole, each beam under its own copy of the grammar."""

from __future__ import annotations

import copy
import json
import math
from types import SimpleNamespace

import pytest
import torch

from calltune.beam import beam_generate, beam_generate_batch
from calltune.cli import main
from calltune.errors import CalltuneError
from calltune.evaluate import evaluate
from calltune.examples import load_examples, load_predictions
from calltune.generate import generate_batch
from calltune.predict import PredictConfig, _fingerprint, row_for, run_predict

FORECAST = {"type": "function", "function": {
    "name": "get_forecast", "description": "Forecast for a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "enum": ["Oslo", "Rome"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 9},
        "date": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"}},
        "required": ["city"], "additionalProperties": False}}}
ROWS = [{"id": f"r{i}", "instruction": text, "tools": [FORECAST], "tool_choice": choice,
         "target": {"name": "get_forecast", "arguments": {"city": "Oslo"}}}
        for i, (text, choice) in enumerate([("Forecast for Oslo?", "required"), ("Rome, three days.", "auto"),
                                            ("Weather on 2026-05-03 in Oslo", "required"), ("Hi there", "auto")])]
BUDGET = 96


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("beam") / "forecast.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return str(path)


def _config(data, out="", **kw) -> PredictConfig:
    return PredictConfig(data=data, out=str(out), model="tiny", prompt_style="hermes", decoding="constrained",
                         max_new_tokens=BUDGET, **kw)


def _rows(data, tiny_loaded, **kw):
    """Each example's prompt and a fresh constraint row, with the grammar cache."""
    from calltune.predict import compile_grammars
    from calltune.prompts import render_prompt

    model, tokenizer, _ = tiny_loaded
    cfg = _config(data, **kw)
    examples = load_examples(data)
    grammars, _ = compile_grammars(examples, tokenizer, model, cfg)
    return [(render_prompt(ex, "hermes", tokenizer), row_for(grammars, ex, cfg)) for ex in examples], grammars


def test_a_beam_of_one_is_greedy(data, tiny_loaded):
    model, tokenizer, _ = tiny_loaded
    rows, grammars = _rows(data, tiny_loaded, key_order="any")
    fresh, _ = _rows(data, tiny_loaded, key_order="any")  # generate_batch moves its rows' matchers on
    for (prompt, row), (_, twin) in zip(rows, fresh):
        greedy = generate_batch(model, tokenizer, [prompt], BUDGET, ([row], grammars), stop="turn")[0]
        beam = beam_generate(model, tokenizer, prompt, BUDGET, 1, twin, grammars)
        assert (beam.text, beam.ids, beam.at_budget) == (greedy.text, greedy.ids, greedy.at_budget)


@pytest.mark.parametrize("key_order", ["schema", "any"])
def test_every_beam_keeps_its_own_grammar(data, tiny_loaded, key_order, tmp_path):
    """A random model under the grammar: every answer of a beam of 4 parses and adheres (beams that shared
    one matcher would write calls no grammar allows)."""
    out = tmp_path / "beam.jsonl"
    stats = run_predict(_config(data, out, key_order=key_order, num_beams=4), loaded=tiny_loaded, progress=False)
    assert stats["constraint_s"] > 0  # the time spent masking is counted
    metrics = evaluate(load_examples(data), str(out))
    assert metrics["json_validity"] == 1.0 and metrics["schema_adherence"] == 1.0
    assert all(p.calls for p in load_predictions(str(out)) if p.id in ("r0", "r2"))  # tool_choice required


class _TableModel(torch.nn.Module):
    """A stand-in model whose next-token distribution depends only on the last token: `table[last]` maps
    tokens to probabilities (every other token gets almost none)."""

    def __init__(self, vocab: int, table: dict[int, dict[int, float]], default: dict[int, float]):
        super().__init__()
        self.vocab, self.table, self.default = vocab, table, default
        self.device = torch.device("cpu")

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=True,
                logits_to_keep=0):
        logits = torch.full((input_ids.shape[0], 1, self.vocab), float("-inf"))
        for r, last in enumerate(input_ids[:, -1].tolist()):
            for token, p in self.table.get(last, self.default).items():
                logits[r, 0, token] = math.log(p)

        return SimpleNamespace(logits=logits, past_key_values=past_key_values or SimpleNamespace(
            reorder_cache=lambda index: None))


def test_the_beam_finds_the_likelier_answer_greedy_walks_past(tok):
    """Greedy takes `a` (0.6) and then can only end after one more token of 0.36 at best (0.216 in all); a beam
    of 2 also holds `b` (0.4), which ends at once with 0.95 (0.38): it returns `b`."""
    a, b, c, d = (tok.convert_tokens_to_ids(t) for t in "abcd")
    stop = tok.eos_token_id
    table = {a: {stop: 0.3, c: 0.36, d: 0.34}, b: {stop: 0.95}, c: {stop: 1.0}, d: {stop: 1.0}}
    model = _TableModel(len(tok), table, default={a: 0.6, b: 0.4})
    assert beam_generate(model, tok, "x", 8, 1).text == "ac"  # greedy
    found = beam_generate(model, tok, "x", 8, 2)
    assert (found.text, found.at_budget) == ("b", False)


def test_a_length_penalty_lets_the_longer_answer_win(tok):
    """`b` (0.45, 2 tokens with its stop) against `acd` (0.55 * 0.8 * 0.8 = 0.352, 4 tokens): by the sum the beam
    returns `b`; by sum / n (A = 1: -0.399 against -0.261) `acd`, though by then `b` and two cut answers had
    finished (the search waits until K finished ones outscore the live beam's sum / n)."""
    a, b, c, d = (tok.convert_tokens_to_ids(t) for t in "abcd")
    stop = tok.eos_token_id
    table = {a: {c: 0.8, stop: 0.2}, b: {stop: 1.0}, c: {d: 0.8, stop: 0.2}, d: {stop: 1.0}}
    model = _TableModel(len(tok), table, default={a: 0.55, b: 0.45})
    assert beam_generate(model, tok, "x", 8, 2).text == "b"
    assert beam_generate(model, tok, "x", 8, 2, length_penalty=0.0).text == "b"  # 0: the sum alone
    found = beam_generate(model, tok, "x", 8, 2, length_penalty=1.0)
    assert (found.text, found.at_budget) == ("acd", False)
    assert beam_generate(model, tok, "x", 8, 2, length_penalty=-1.0).text == "b"  # shorter favoured still


def test_a_beam_cut_by_the_budget_says_so(tok):
    a = tok.convert_tokens_to_ids("a")
    model = _TableModel(len(tok), {}, default={a: 1.0})  # never ends
    cut = beam_generate(model, tok, "x", 5, 3)
    assert (cut.text, cut.at_budget) == ("aaaaa", True)


def test_prompts_batched_keep_their_own_searches(tok):
    """Two prompts in one batch: the first ends at its second step (the beam's `b`), the second runs to the
    budget; each gets the answer it gets alone (the batch sheds the first prompt's rows and goes on)."""
    a, b, c, d, e, x, y = (tok.convert_tokens_to_ids(t) for t in "abcdexy")
    stop = tok.eos_token_id
    table = {x: {a: 0.6, b: 0.4}, a: {stop: 0.3, c: 0.36, d: 0.34}, b: {stop: 0.95}, c: {stop: 1.0},
             d: {stop: 1.0}, y: {e: 1.0}, e: {e: 0.7, a: 0.3}}
    model = _TableModel(len(tok), table, default={stop: 1.0})
    padded = copy.deepcopy(tok)
    padded.pad_token = padded.eos_token
    alone = [beam_generate(model, tok, prompt, 5, 2) for prompt in ("x", "y")]
    together = beam_generate_batch(model, padded, ["x", "y"], 5, 2)
    assert [(g.text, g.at_budget) for g in alone] == [("b", False), ("eeeee", True)]
    assert together == alone


def test_a_batch_of_beams_answers_as_one_prompt_at_a_time(data, tiny_loaded):
    """Prompts of different lengths, left padded in one batch under the grammar: the same answers as each
    decoded alone (positions count from each prompt's own first token)."""
    model, tokenizer, _ = tiny_loaded
    rows, grammars = _rows(data, tiny_loaded, key_order="any")
    fresh, _ = _rows(data, tiny_loaded, key_order="any")
    assert len({len(tokenizer(p)["input_ids"]) for p, _ in rows}) > 1  # padding is exercised
    alone = [beam_generate(model, tokenizer, prompt, BUDGET, 3, row, grammars) for prompt, row in rows]
    together = beam_generate_batch(model, tokenizer, [p for p, _ in fresh], BUDGET, 3, [r for _, r in fresh],
                                   grammars)
    assert [(g.text, g.ids, g.at_budget) for g in together] == [(g.text, g.ids, g.at_budget) for g in alone]


def test_num_beams_is_checked_and_keys_the_run(data, tiny_loaded, tmp_path):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(CalltuneError, match="--num-beams"):
            _config(data, num_beams=bad)
    with pytest.raises(CalltuneError, match="hermes"):
        PredictConfig(data=data, out="", model="tiny", prompt_style="paper", num_beams=2)
    with pytest.raises(CalltuneError, match="engine"):
        _config(data, num_beams=2, engine=True)
    assert _config(data, num_beams=2).engine is False
    model, tokenizer, path = tiny_loaded
    prompts = ["p"]
    keys = {_fingerprint(_config(data, num_beams=k), path, prompts) for k in (1, 2, 4)}
    assert len(keys) == 3
    # a run without beams keeps the fingerprint it had before the option existed (no "num_beams" in it)
    assert _fingerprint(_config(data), path, prompts) == _fingerprint(_config(data, num_beams=1), path, prompts)
    # likewise a beam without a length penalty; a penalty keys its own run
    beams = _fingerprint(_config(data, num_beams=2), path, prompts)
    assert beams == _fingerprint(_config(data, num_beams=2, length_penalty=0), path, prompts)
    assert beams != _fingerprint(_config(data, num_beams=2, length_penalty=1.0), path, prompts)
    for bad in (float("nan"), float("-inf"), "1", True):
        with pytest.raises(CalltuneError, match="--length-penalty"):
            _config(data, num_beams=2, length_penalty=bad)
    with pytest.raises(CalltuneError, match="--num-beams"):
        _config(data, length_penalty=1.0)  # nothing to rank without beams


def test_beams_held_by_a_next_call_margin_key_their_runs(data, tiny_loaded, monkeypatch):
    """A next-call margin holds beams to its choice since session 51: such runs do not resume partial files of
    the same options from before (read off the fingerprint's text); greedy runs with a margin and beams
    without one keep theirs."""
    import types

    import calltune.predict

    # predict's own hashlib only: its fingerprint returns the text it would hash
    monkeypatch.setattr(calltune.predict, "hashlib",
                        types.SimpleNamespace(sha256=lambda blob: types.SimpleNamespace(hexdigest=blob.decode)))
    path = tiny_loaded[2]
    text = lambda **kw: _fingerprint(_config(data, **kw), path, ["p"])  # noqa: E731
    assert '"next_call_held": true' in text(num_beams=2, next_call_margin=0.0)
    assert '"next_call_held"' not in text(num_beams=2) + text(next_call_margin=0.0)


def test_cli_num_beams(data, tiny_gpt2, tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    code = main(["predict", "--data", data, "--model", tiny_gpt2, "--prompt-style", "hermes", "--decoding",
                 "constrained", "--max-new-tokens", str(BUDGET), "--num-beams", "3", "--out", str(out),
                 "--no-progress"])
    assert code == 0 and len(load_predictions(str(out))) == len(ROWS)
    ranked = tmp_path / "a1.jsonl"
    assert main(["predict", "--data", data, "--model", tiny_gpt2, "--prompt-style", "hermes", "--decoding",
                 "constrained", "--max-new-tokens", str(BUDGET), "--num-beams", "3", "--length-penalty", "1",
                 "--out", str(ranked), "--no-progress"]) == 0
    metrics = evaluate(load_examples(data), str(ranked))
    assert metrics["json_validity"] == 1.0 and metrics["schema_adherence"] == 1.0
    assert main(["predict", "--data", data, "--model", tiny_gpt2, "--prompt-style", "paper", "--num-beams", "2",
                 "--out", str(tmp_path / "q.jsonl"), "--no-progress"]) == 2
    assert "--num-beams" in capsys.readouterr().err


class _ScriptModel(torch.nn.Module):
    """A stand-in model that writes one of a few scripted answers: after a beam's tokens so far, each next token
    weighs as much as the scripts that go on with it (a script ends with the stop token); a beam off every
    script can only stop. Its cache holds each row's tokens and follows the beam's reordering."""

    def __init__(self, tok, scripts: dict[str, float]):
        super().__init__()
        self.vocab, self.stop = len(tok), tok.eos_token_id
        self.scripts = [(tok(text, add_special_tokens=False)["input_ids"] + [self.stop], p)
                        for text, p in scripts.items()]
        self.device = torch.device("cpu")

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=True,
                logits_to_keep=0):
        if past_key_values is None:  # the prompt: nothing written yet
            cache = SimpleNamespace(rows=[[] for _ in range(input_ids.shape[0])])
            cache.reorder_cache = lambda index: setattr(cache, "rows", [list(cache.rows[i]) for i in index.tolist()])
            past_key_values = cache
        else:
            for row, token in zip(past_key_values.rows, input_ids[:, -1].tolist()):
                row.append(token)
        logits = torch.full((input_ids.shape[0], 1, self.vocab), float("-inf"))
        for r, written in enumerate(past_key_values.rows):
            weights: dict[int, float] = {}
            for ids, p in self.scripts:
                if ids[:len(written)] == written and len(ids) > len(written):
                    weights[ids[len(written)]] = weights.get(ids[len(written)], 0.0) + p
            weights = weights or {self.stop: 1.0}
            for token, p in weights.items():
                logits[r, 0, token] = math.log(p / sum(weights.values()))
        return SimpleNamespace(logits=logits, past_key_values=past_key_values)


def _block(x: int) -> str:
    return '<tool_call>\n{"name": "f", "arguments": {"x": %d, "unit": "m"}}\n</tool_call>' % x


def _calls(text: str) -> list[int]:
    from calltune.chat.parse import parse_answer

    return [call["arguments"]["x"] for call in parse_answer(text).calls]


def test_distinct_calls_keep_the_beam_that_asks_something_else(tok):
    """The model likes the first call written again (0.6) better than a second call with another value (0.4): a
    beam of 2 returns the repeat, and with `distinct_calls` the other call, which it had kept all along."""
    first = _block(1)
    model = _ScriptModel(tok, {first + "\n" + _block(1): 0.6, first + "\n" + _block(2): 0.4})
    assert _calls(beam_generate(model, tok, "x", 96, 2).text) == [1, 1]
    found = beam_generate(model, tok, "x", 96, 2, distinct_calls=True)
    assert (_calls(found.text), found.at_budget) == ([1, 2], False)
    # a call that differs only in its key order is the same call
    swapped = _block(1).replace('"x": 1, "unit": "m"', '"unit": "m", "x": 1')
    model = _ScriptModel(tok, {first + "\n" + swapped: 0.6, first + "\n" + _block(2): 0.4})
    assert _calls(beam_generate(model, tok, "x", 96, 2, distinct_calls=True).text) == [1, 2]


def test_distinct_calls_end_the_answer_before_a_repeat_when_nothing_else_is_left(tok):
    """An answer that ended after its first call (0.3) wins once the repeat (0.7) is refused; where the model
    writes nothing but the repeat, the answer ends before it (the cut), not empty and not cut by the budget."""
    first = _block(1)
    model = _ScriptModel(tok, {first + "\n" + _block(1): 0.7, first: 0.3})
    assert _calls(beam_generate(model, tok, "x", 96, 2).text) == [1, 1]
    assert _calls(beam_generate(model, tok, "x", 96, 2, distinct_calls=True).text) == [1]
    model = _ScriptModel(tok, {first + "\n" + _block(1) + "\n" + _block(3): 1.0})
    assert _calls(beam_generate(model, tok, "x", 160, 2).text) == [1, 1, 3]
    cut = beam_generate(model, tok, "x", 160, 2, distinct_calls=True)
    assert (_calls(cut.text), cut.text.strip(), cut.at_budget) == ([1], first, False)


def test_distinct_calls_leave_answers_without_a_repeat_alone(data, tiny_loaded, tmp_path):
    """On answers that never repeat a call (the tiny model's, under the grammar) the option changes nothing."""
    runs = {}
    for flag in (False, True):
        out = tmp_path / f"d{flag}.jsonl"
        run_predict(_config(data, out, key_order="any", num_beams=3, distinct_calls=flag), loaded=tiny_loaded,
                    progress=False)
        runs[flag] = [p.raw for p in load_predictions(str(out))]
    assert runs[False] == runs[True]


def test_distinct_calls_are_checked_and_key_the_run(data, tiny_loaded, tiny_gpt2, tmp_path, capsys):
    with pytest.raises(CalltuneError, match="--num-beams"):
        _config(data, distinct_calls=True)  # greedy has no other beam to keep
    with pytest.raises(CalltuneError, match="--distinct-calls"):
        _config(data, num_beams=2, distinct_calls="yes")
    path = tiny_loaded[2]
    beams = _fingerprint(_config(data, num_beams=2), path, ["p"])
    assert beams == _fingerprint(_config(data, num_beams=2, distinct_calls=False), path, ["p"])
    assert beams != _fingerprint(_config(data, num_beams=2, distinct_calls=True), path, ["p"])
    out = tmp_path / "p.jsonl"
    args = ["predict", "--data", data, "--model", tiny_gpt2, "--prompt-style", "hermes", "--decoding", "constrained",
            "--max-new-tokens", "32", "--out", str(out), "--no-progress", "--distinct-calls"]
    assert main(args) == 2 and "--num-beams" in capsys.readouterr().err
    assert main(args + ["--num-beams", "2"]) == 0 and len(load_predictions(str(out))) == len(ROWS)


def test_a_repeat_is_cut_only_at_a_token_boundary():
    """`_RepeatCheck` on a tokenizer whose pieces are strings: a repeated call is found at the piece that completes
    it, and the answer can end after the piece that closes the call before it; where one piece spans the two
    blocks (`>\\n<`) no such end exists and the repeat is let be."""
    from calltune.beam import _RepeatCheck

    class Pieces:
        def __init__(self, pieces):
            self.pieces = pieces

        def __len__(self):
            return len(self.pieces)

        def convert_ids_to_tokens(self, ids):
            return [self.pieces[i] for i in ids]

        def decode(self, ids, skip_special_tokens=False):
            return "".join(self.pieces[i] for i in ids)

    call = '<tool_call>\n{"name": "f", "arguments": {}}'
    clean = Pieces([call, "\n</tool_call>", "\n", "\n</tool_call"])
    check = _RepeatCheck(clean)
    assert check([0, 1, 2]) is None and check([0, 1, 2, 0]) == 3  # ends after "\n</tool_call>" and its "\n"
    assert check([0, 1, 2, 0, 1]) == 3  # found at the `</tool_call>` too
    spanning = Pieces([call, "\n</tool_call", ">\n<", 'tool_call>\n{"name": "f", "arguments": {}}'])
    assert _RepeatCheck(spanning)([0, 1, 2, 3]) is None
