"""train.decision_weight: which answer tokens carry a decision, and how their weight reaches the loss."""

import json
from dataclasses import replace

import pytest
import torch

from calltune.batching import collate
from calltune.config import load_config
from calltune.decisions import KINDS, decision_positions, decision_weights, json_decisions, text_decisions
from calltune.errors import CalltuneError
from calltune.examples import parse_example
from calltune.render import render_example, visualize


def marked(text, marks):
    return "".join(text[i] for i in sorted(marks))


def test_json_decisions_mark_the_function_the_keys_and_where_each_argument_ends():
    call = ('{"name": "find", "arguments": {"city": "Paris, FR", "n": 12, "tags": ["a", "b"], "opt": {"x": 1}, '
            '"ok": true}}')
    marks = json_decisions(call)
    # the name's first letter; each key's first letter; each value's last character and the , or } after it
    assert marked(call, marks) == 'f' + 'c",' + 'n2,' + 't],' + 'o},' + 'oe}'
    assert call.index('"Paris, FR"') + len('"Paris,') not in marks  # a comma inside a string is not a decision
    assert call.index('"a"') + 3 not in marks  # nor is one between list items (depth 3)


def test_json_decisions_read_escaped_quotes_and_empty_arguments():
    call = '{"name": "say", "arguments": {"text": "a \\"quoted\\" word"}}'
    assert marked(call, json_decisions(call)) == 's' + 't"}'
    empty = '{"name": "now", "arguments": {}}'
    assert marked(empty, json_decisions(empty)) == 'n}'


def test_text_decisions_mark_the_first_character_and_what_follows_each_call():
    calls = ('<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>\n<tool_call>\n'
             '{"name": "b", "arguments": {}}\n</tool_call><|im_end|>')
    marks = text_decisions(calls)
    assert 0 in marks
    first_end = calls.index("</tool_call>") + len("</tool_call>")
    assert {first_end, first_end + 1} <= marks  # "\n", then "<" of the next block
    assert first_end + 2 not in marks
    assert calls.index("<|im_end|>") in marks  # no further call
    assert text_decisions("Sure, no tool can do that.") == {0}
    assert text_decisions("") == set()


def test_each_kind_marks_its_own_decisions_and_together_they_mark_all():
    calls = ('<tool_call>\n{"name": "alpha", "arguments": {"city": "Oslo", "n": 2}}\n</tool_call>\n<tool_call>\n'
             '{"name": "beta", "arguments": {}}\n</tool_call><|im_end|>')
    by_kind = {kind: text_decisions(calls, (kind,)) for kind in KINDS}
    assert by_kind["call"] == {0}
    assert marked(calls, by_kind["function"]) == "ab"
    assert marked(calls, by_kind["argument"]) == "cn"
    assert marked(calls, by_kind["value_end"]) == '",2}}'  # Oslo ends, another argument, 2 ends, both close
    assert marked(calls, by_kind["next_call"]) == "\n<<"  # after the first call: "\n" then "<"; after the last: "<"
    assert set().union(*by_kind.values()) == text_decisions(calls)
    assert sum(map(len, by_kind.values())) == len(text_decisions(calls))  # no character has two kinds here
    assert text_decisions("No tool does that.", ("function", "argument")) == set()


def test_decision_positions_are_supervised_tokens_of_the_hermes_answer(tok):
    record = {"id": "d1", "instruction": "Weather in Oslo in celsius?",
              "tools": [{"name": "get_weather", "description": "Weather.",
                         "parameters": {"type": "object", "properties": {
                             "city": {"type": "string"}, "unit": {"type": "string"}}, "required": ["city"]}}],
              "target": [{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}]}
    rendered = render_example(parse_example(record, "t.jsonl", 1), tok, "hermes", "completion")
    positions = decision_positions(rendered.input_ids, rendered.loss_mask, tok)
    assert positions and all(rendered.loss_mask[p] for p in positions)
    text = "".join(tok.decode([rendered.input_ids[p]]) for p in sorted(positions))
    for piece in ("<", "g", "c", "u", "}"):  # call at all, function, both keys, the arguments close
        assert piece in text
    supervised = sum(rendered.loss_mask)
    assert len(positions) < supervised / 2  # the copies and the syntax are not decisions
    weights = decision_weights(rendered.input_ids, rendered.loss_mask, tok, 3.0)
    assert [w for w, m in zip(weights, rendered.loss_mask) if not m] == [0.0] * (len(weights) - supervised)
    assert sorted(p for p, w in enumerate(weights) if w == 3.0) == sorted(positions)
    assert sum(1 for w in weights if w == 1.0) == supervised - len(positions)
    shown = visualize(replace(rendered, weights=weights), tok)
    assert f"{len(positions)} of them weighted" in shown and "{{" in shown
    assert "{{" not in visualize(rendered, tok)
    inner = ("function", "argument", "value_end")  # neither whether to call nor what follows the call
    some = decision_weights(rendered.input_ids, rendered.loss_mask, tok, 3.0, inner)
    chosen = decision_positions(rendered.input_ids, rendered.loss_mask, tok, inner)
    assert sorted(p for p, w in enumerate(some) if w == 3.0) == sorted(chosen) and chosen < positions
    first = rendered.loss_mask.index(1)
    assert first in positions and first not in chosen  # the answer's first token ("<" of <tool_call>)
    assert all(tok.decode([rendered.input_ids[p]]).strip() != "<|im_end|>" for p in chosen)


def test_weighted_loss_is_the_weighted_mean_and_weight_one_is_the_unweighted_loss(tiny_llama):
    from transformers import AutoModelForCausalLM

    from calltune.train import CausalLMLoss, normalizer

    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randint(3, 40, (n,), generator=g).tolist() for n in (6, 9)]
    masks = [[0, 0, 0, 1, 1, 1], [0] * 4 + [1] * 5]
    loss = CausalLMLoss(model, False)
    plain = collate(seqs, masks, pad_id=0)
    ones = collate(seqs, masks, pad_id=0, weights=[None, [float(m) for m in masks[1]]])
    assert torch.equal(ones["weights"], plain["labels"].ne(-100).float())
    (a, n_a), (b, n_b) = loss(**plain), loss(**ones)
    assert a.item() == pytest.approx(b.item(), rel=1e-6) and float(n_a) == float(n_b) == normalizer(plain) == 8
    weights = [[0, 0, 0, 1, 3, 1], [0] * 4 + [1, 1, 3, 3, 1]]
    heavy = collate(seqs, masks, pad_id=0, weights=weights)
    total, norm = loss(**heavy)
    assert float(norm) == normalizer(heavy) == 14
    with torch.no_grad():  # by hand: each supervised token's cross-entropy times its weight
        logits = model(input_ids=heavy["input_ids"]).logits
        logp = torch.log_softmax(logits[:, :-1].float(), -1)
        expected = sum(-logp[r, t - 1, seqs[r][t]].item() * weights[r][t]
                       for r in range(2) for t in range(len(seqs[r])) if masks[r][t])
    assert total.item() == pytest.approx(expected, rel=1e-5)


def test_training_with_decision_weights_changes_the_loss_and_weight_one_changes_nothing(tiny_gpt2, tmp_path):
    from calltune.train import train

    common = [f"model.name={tiny_gpt2}", "data.max_length=1024", "train.batch_size=2", "train.lr=1e-2",
              "train.seed=3", "eval.generate=false", "train.max_steps=2"]
    logs = {}
    for name, extra in (("plain", []), ("one", ["train.decision_weight=1"]), ("three", ["train.decision_weight=3"]),
                        ("inner", ["train.decision_weight=3", "train.decision_kinds=[function, argument, value_end]"])):
        train(load_config(None, common + extra), str(tmp_path / name), progress=False)
        with open(tmp_path / name / "train_log.jsonl") as handle:
            logs[name] = [json.loads(line)["loss"] for line in handle]
    assert logs["one"] == logs["plain"]
    assert logs["three"][0] != pytest.approx(logs["plain"][0], rel=1e-4)  # the same weights, another loss
    assert logs["inner"][0] != pytest.approx(logs["three"][0], rel=1e-4)  # fewer tokens weighted
    saved = json.loads((tmp_path / "three" / "run.json").read_text())["config"]["train"]
    assert saved["decision_weight"] == 3 and "decision_kinds" not in saved  # all kinds: the default, not written
    assert "decision_weight" not in json.loads((tmp_path / "plain" / "run.json").read_text())["config"]["train"]
    inner = json.loads((tmp_path / "inner" / "run.json").read_text())["config"]["train"]
    assert inner["decision_kinds"] == ["function", "argument", "value_end"]
    assert load_config(None, ["train.decision_weight=3", "train.decision_kinds=[value_end, function]"]) \
        .train.decision_kinds == ("function", "value_end")  # KINDS' order


@pytest.mark.parametrize("overrides, message", [
    (["train.decision_weight=0"], "train.decision_weight must be > 0"),
    (["train.decision_weight=2", "data.prompt_style=paper"], "needs data.prompt_style hermes"),
    (["train.decision_weight=2", "train.decision_kinds=[function, args]"], "unknown kind 'args'"),
    (["train.decision_weight=2", "train.decision_kinds=[]"], "decision_kinds: empty"),
    (["train.decision_kinds=[function]"], "set train.decision_weight"),
    (["train.decision_weight=2", "train.decision_kinds=function"], "expected tuple"),
])
def test_decision_weight_config_errors(overrides, message):
    with pytest.raises(CalltuneError, match=message):
        load_config(None, overrides)
