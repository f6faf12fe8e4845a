"""The copy margin of constrained decoding (`copying.py`, `ToolCallConstraint`, `calltune predict
--copy-margin`, `calltune serve --copy-margin`): a bonus for the allowed tokens that keep an argument's
value a piece of the request's text."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
import torch

from calltune.cli import main
from calltune.constrain import RowConstraint, ToolCallConstraint
from calltune.copying import Source, ValueState, copy_bonus, copy_source
from calltune.errors import CalltuneError
from calltune.examples import load_predictions
from calltune.predict import PredictConfig, _fingerprint, run_predict
from calltune.serve.config import EngineConfig

REQUEST = "Please delete the leave request number LR-38443 paying 58,923 a year, at 9:30 PM."
CALL = '{"name": "f", "arguments": {'


def _at(text: str) -> ValueState:
    return ValueState().feed(text)


# ---- following a call's JSON ------------------------------------------------------------------

@pytest.mark.parametrize("prefix, kind, content", [
    (CALL, None, ""),
    (CALL + '"id', "key", "id"),
    (CALL + '"id": "LR', "string", "LR"),
    (CALL + '"id": "LR-3", "n": 58', "number", "58"),
    (CALL + '"id": "a\\"b', "string", 'a\\"b'),  # an escaped quote does not end the string
    (CALL + '"ids": ["x", "y', "string", "y"),  # a list's items are values
    (CALL + '"o": {"k', "key", "k"),  # a nested object's keys are keys
    (CALL + '"n": 5, ', None, ""),  # a number ends at the comma
    ('{"name": "f', "string", "f"),  # (the constraint only weighs values inside the arguments)
])
def test_value_state_tells_keys_values_and_numbers(prefix, kind, content):
    state = _at(prefix)
    assert (state.kind, state.content) == (kind, content)


def test_value_state_sees_where_a_value_comes_next():
    assert _at(CALL + '"id":').at_value and _at(CALL + '"ids": [').at_value and _at(CALL + '"ids": ["a",').at_value
    assert not _at(CALL).at_value and not _at(CALL + '"a": 1,').at_value and not _at(CALL + '"id"').at_value


def test_extend_reads_what_a_token_writes_of_the_value():
    state = _at(CALL + '"id": "LR')
    assert state.extend("-38443") == ("LR-38443", False, False)
    assert state.extend('-3",') == ("LR-3", True, False)
    assert _at(CALL + '"id":').extend(' "LR') == ("LR", False, False)  # a token that opens the value
    assert _at(CALL + '"n": 58').extend("9}") == ("589", True, True)
    assert _at(CALL + '"n":').extend(" true") == ("", False, False)


# ---- which tokens earn the bonus ----------------------------------------------------------------

def test_copy_bonus_keeps_values_a_piece_of_the_request():
    source = Source.of(REQUEST)
    assert copy_bonus(_at(CALL + '"id": "L'), source, ["R", "RR", "R-38443", 'R-38443"', 'R-3844"', "X"]) == \
        [True, False, True, True, False, False]  # a value may end only at a word's end
    assert copy_bonus(_at(CALL + '"n": 5892'), source, ["3", "0", "3,", "3}", "0}"]) == \
        [True, False, True, True, False]  # numbers read without thousands separators
    assert copy_bonus(_at(CALL + '"id":'), source, [' "LR', ' "R-', ' "', " 5", " ", " 1", " true"]) == \
        [True, False, True, True, True, False, False]  # a space or an opening quote keeps a copy possible
    assert copy_bonus(_at(CALL + '"t": "21'), source, [":30"]) == [False]  # not in the request: no bonus
    assert copy_bonus(_at(CALL + '"a": 1,'), source, [' "id']) == [False]  # a key is never weighed


def test_copy_source_is_the_user_messages_and_tool_results():
    messages = [{"role": "system", "content": "S1"}, {"role": "user", "content": "U1"},
                {"role": "assistant", "content": "A1"}, {"role": "tool", "content": "T1"},
                {"role": "user", "content": [{"type": "text", "text": "parts"}]}]
    assert copy_source(messages) == "U1\nT1"


def _weigh(texts: list[str], logits: list[float], prefix: str, margin: float) -> list[float]:
    processor = ToolCallConstraint.__new__(ToolCallConstraint)
    processor.policy = SimpleNamespace(texts=texts)
    row = RowConstraint(None, 0, copy_margin=margin, copy_source=Source.of(REQUEST), values=_at(prefix))
    scores = torch.tensor([logits])
    processor._weigh_copy(row, scores, 0)
    return scores[0].tolist()


def test_the_margin_is_added_to_copying_tokens_only():
    texts = ["RR", "R-", "R", "x", "Q"]
    weighed = _weigh(texts, [3.0, 1.0, 0.5, 2.0, float("-inf")], CALL + '"id": "L', 2.5)
    assert weighed[:4] == [3.0, 3.5, 3.0, 2.0] and weighed[4] == float("-inf")  # masked tokens stay masked


# ---- decoding -----------------------------------------------------------------------------------

TOOL = {"type": "function", "function": {
    "name": "find_request", "description": "Find a request.",
    "parameters": {"type": "object", "properties": {
        "reference": {"type": "string"}, "salary": {"type": "integer"}},
        "required": ["reference", "salary"], "additionalProperties": False}}}
REQUESTS = ["Find request LR-38443 paying 58,923 a year.", "Look up the QX-771 request with salary 4,250.",
            "request ZZ-1 at 12"]
HUGE = 1e6


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("copy") / "requests.jsonl"
    rows = [{"id": f"r{i}", "instruction": text, "tools": [TOOL], "tool_choice": "required",
             "parallel_tool_calls": False} for i, text in enumerate(REQUESTS)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _predict(data, out, tiny_loaded, margin, engine=None) -> list:
    cfg = PredictConfig(data=data, out=str(out), model="tiny", prompt_style="hermes", decoding="constrained",
                        max_new_tokens=160, copy_margin=margin, engine=engine)
    run_predict(cfg, loaded=tiny_loaded, progress=False)
    return load_predictions(str(out))


def test_a_huge_margin_copies_every_value_from_the_request(data, tiny_loaded, tmp_path, monkeypatch):
    monkeypatch.setattr("calltune.constrain.COPY_TOP_K", 10 ** 6)  # every allowed token is looked at
    base = _predict(data, tmp_path / "base.jsonl", tiny_loaded, None)
    copied = _predict(data, tmp_path / "copy.jsonl", tiny_loaded, HUGE)

    def is_copy(value, request):
        text = request if isinstance(value, str) else request.replace(",", "")
        return re.search(rf"(?<![0-9A-Za-z]){re.escape(str(value))}(?![0-9A-Za-z])", text) is not None

    assert all(p.calls for p in copied)
    for request, pred in zip(REQUESTS, copied):
        for call in pred.calls:
            assert all(is_copy(v, request) for v in call["arguments"].values()), (request, pred.raw)
    assert not all(is_copy(v, r) for r, p in zip(REQUESTS, base) for c in p.calls for v in c["arguments"].values())
    engine_off = _predict(data, tmp_path / "gen.jsonl", tiny_loaded, HUGE, engine=False)
    assert [p.raw for p in engine_off] == [p.raw for p in copied]  # both decoding paths weigh alike


def test_no_margin_is_greedy_and_zero_changes_nothing(data, tiny_loaded, tmp_path):
    base = _predict(data, tmp_path / "base.jsonl", tiny_loaded, None)
    zero = _predict(data, tmp_path / "zero.jsonl", tiny_loaded, 0.0)
    assert [p.raw for p in base] == [p.raw for p in zero]


def test_margin_is_part_of_the_fingerprint(data):
    cfgs = [PredictConfig(data=data, out="x", prompt_style="hermes", decoding="constrained", copy_margin=m)
            for m in (None, 1.0, 2.0)]
    assert len({_fingerprint(cfg, "m", ["p"]) for cfg in cfgs}) == 3


def test_option_errors(data, tmp_path, tiny_gpt2, capsys):
    for kwargs, message in [({"copy_margin": float("nan")}, "--copy-margin must be a finite number"),
                            ({"copy_margin": 1.0, "decoding": "greedy"}, "--decoding constrained")]:
        with pytest.raises(CalltuneError, match=message):
            PredictConfig(**{"data": data, "out": "x", "prompt_style": "hermes", "decoding": "constrained",
                             **kwargs})
    with pytest.raises(CalltuneError, match="--copy-margin"):
        EngineConfig(decoding="greedy", copy_margin=1.0)
    base = ["predict", "--data", data, "--out", str(tmp_path / "p.jsonl"), "--model", tiny_gpt2,
            "--prompt-style", "hermes", "--decoding", "constrained", "--no-progress"]
    assert main(base + ["--copy-margin", "inf"]) == 2
    assert capsys.readouterr().err.startswith("error: --copy-margin must be a finite number")
    assert not (tmp_path / "p.jsonl").exists()


def test_serve_engine_carries_the_margin_and_the_request(tiny_loaded):
    from calltune.examples import Tool
    from calltune.serve.engine import Engine

    model, tokenizer = tiny_loaded[0], tiny_loaded[1]
    engine = Engine(model, tokenizer, EngineConfig(decoding="constrained", copy_margin=2))
    assert engine.grammars.copy_margin == 2.0 and engine.stats()["copy_margin"] == 2.0
    prepared = engine.prepare([{"role": "system", "content": "Be brief."}, {"role": "user", "content": REQUEST}],
                              [Tool("find_request", "", TOOL["function"]["parameters"])], "required", True)
    assert prepared.constraint.copy_margin == 2.0 and prepared.constraint.copy_source.text == REQUEST
