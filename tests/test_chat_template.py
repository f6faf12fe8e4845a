"""The `hermes` chat format: template text, assistant masks, prompt prefixes, training on
multi-turn conversations with tool results, and the template saved with adapters and merged models."""

import json
import os
from types import SimpleNamespace

import pytest

from calltune.chat.render import format_assistant, openai_tools, render_conversation, render_text
from calltune.chat.template import CHAT_TEMPLATE, can_render_tools, ensure_chat_template
from calltune.errors import CalltuneError
from calltune.examples import load_examples, parse_example
from calltune.render import labels_from, render_example, visualize

WEATHER = {"name": "get_weather", "description": "Weather.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TIME = {"name": "get_time", "description": "Time.", "parameters": {"type": "object", "properties": {}}}


def call(call_id, name, arguments):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


# A whole conversation: system, parallel calls (arguments as dict and as JSON string), two tool
# results, a text answer, then a text-plus-call turn.
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Oslo and Bergen?"},
    {"role": "assistant", "content": None, "tool_calls": [call("a", "get_weather", {"city": "Oslo"}),
                                                          call("b", "get_weather", '{"city": "Bergen"}')]},
    {"role": "tool", "tool_call_id": "a", "content": '{"temp": 3}'},
    {"role": "tool", "tool_call_id": "b", "content": '{"temp": 5}'},
    {"role": "assistant", "content": "3 and 5 degrees."},
    {"role": "user", "content": "And the time?"},
    {"role": "assistant", "content": "Checking.", "tool_calls": [call("c", "get_time", {})]},
]

EXPECTED_TEXT = (
    "<|im_start|>system\nBe brief.\n\nYou can call these tools:\n<tools>\n"
    '{"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": '
    '{"city": {"type": "string"}}, "required": ["city"]}}\n'
    '{"name": "get_time", "description": "Time.", "parameters": {"type": "object", "properties": {}}}\n'
    "</tools>\nTo call tools, answer with one <tool_call></tool_call> block per call:\n"
    '<tool_call>\n{"name": <tool-name>, "arguments": <arguments-object>}\n</tool_call>\n'
    "If no tool fits the request, answer in plain text.<|im_end|>\n"
    "<|im_start|>user\nWeather in Oslo and Bergen?<|im_end|>\n"
    '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Bergen"}}\n</tool_call><|im_end|>\n'
    '<|im_start|>user\n<tool_response>\n{"temp": 3}\n</tool_response>\n'
    '<tool_response>\n{"temp": 5}\n</tool_response><|im_end|>\n'
    "<|im_start|>assistant\n3 and 5 degrees.<|im_end|>\n"
    "<|im_start|>user\nAnd the time?<|im_end|>\n"
    '<|im_start|>assistant\nChecking.\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call><|im_end|>\n')

# What the assistant mask must cover, turn by turn (text, calls and the closing <|im_end|>).
EXPECTED_ASSISTANT = [
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Bergen"}}\n</tool_call><|im_end|>',
    "3 and 5 degrees.<|im_end|>",
    'Checking.\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call><|im_end|>',
]

# A multi-turn example in the file format: the history has a call and its result; the target is
# the next call, with a text answer alongside.
MULTI_TURN = {
    "id": "mt", "tools": [{"type": "function", "function": WEATHER}, TIME],
    "messages": [
        {"role": "user", "content": "Weather in Oslo, then the time?"},
        {"role": "assistant", "content": None, "tool_calls": [call("a", "get_weather", '{"city": "Oslo"}')]},
        {"role": "tool", "tool_call_id": "a", "content": '{"temp": 3}'},
    ],
    "target": {"name": "get_time", "arguments": {}}, "target_content": "It is 3 degrees.",
}
NO_CALL = {"id": "nc", "tools": [WEATHER], "messages": [
    {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}],
    "target": None, "target_content": "Hello! How can I help?"}
INSTRUCTION = {"id": "in", "instruction": "Weather in Oslo?", "tools": [WEATHER],
               "target": {"name": "get_weather", "arguments": {"city": "Oslo"}}}


@pytest.fixture(scope="module")
def gpt2_tok(tiny_gpt2):
    """The tiny GPT-2 tokenizer: no chat template, `<|im_start|>` and `<|im_end|>` are plain text."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_gpt2)


@pytest.fixture(scope="module")
def chatml_tok(tiny_gpt2):
    """The tiny tokenizer with `<|im_start|>` and `<|im_end|>` as special tokens (as in SmolLM2, Qwen)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    return tok


def supervised_spans(tokenizer, ids, mask) -> list[str]:
    spans, run = [], []
    for tok, m in zip(ids + [None], mask + [0]):
        if m:
            run.append(tok)
        elif run:
            spans.append(tokenizer.decode(run))
            run = []
    return spans


# --- the template --------------------------------------------------------------------------------

def test_template_renders_the_documented_text(gpt2_tok):
    assert render_text(CONVERSATION, [WEATHER, TIME], gpt2_tok) == EXPECTED_TEXT
    prompt = render_text(CONVERSATION[:2], [WEATHER, TIME], gpt2_tok, add_generation_prompt=True)
    assert prompt == EXPECTED_TEXT[: EXPECTED_TEXT.index("<|im_start|>assistant\n") + len("<|im_start|>assistant\n")]


def test_without_tools_there_is_no_tools_block(gpt2_tok):
    out = render_text([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], [], gpt2_tok, True)
    assert out == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"


def test_openai_tools_accepts_each_tool_form():
    ex = parse_example(INSTRUCTION)
    wrapped = {"type": "function", "function": WEATHER}
    assert openai_tools(ex.tools) == openai_tools([WEATHER]) == openai_tools([wrapped]) == [wrapped]


@pytest.mark.parametrize("calls, content", [
    ([], "Just text, ünïcode."),
    ([{"name": "get_weather", "arguments": {"city": "Zürich"}}], None),
    ([{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "get_time", "arguments": {}}], None),
    ([{"name": "get_time", "arguments": '{"tz":  "UTC"}'}], "Let me check."),
    ([call("x", "get_weather", {"city": "a\"b"})], None),
])
def test_format_assistant_is_what_the_template_writes(gpt2_tok, calls, content):
    message = {"role": "assistant", "content": content,
               "tool_calls": [c if "function" in c else {"type": "function", "function": c} for c in calls]}
    text = render_text([{"role": "user", "content": "Q"}, message], [WEATHER, TIME], gpt2_tok)
    answer = text[text.rindex("<|im_start|>assistant\n") + len("<|im_start|>assistant\n"):]
    assert answer == format_assistant(calls, content) + "<|im_end|>\n"
    from calltune.chat.parse import parse_answer

    parsed = parse_answer(format_assistant(calls, content))  # what predict reads back
    expected = []
    for c in calls:
        fn = c.get("function", c)
        args = json.loads(fn["arguments"]) if isinstance(fn["arguments"], str) else fn["arguments"]
        expected.append({"name": fn["name"], "arguments": args})
    assert parsed.error is None and parsed.content == (content or "") and parsed.calls == expected


def test_ensure_chat_template_installs_only_where_needed():
    smollm2 = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
               "'<|im_end|>' + '\n'}}{% endfor %}")
    qwen_like = "{%- if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>\n<tool_call>{% endif %}"
    compatible = "{% for m in messages %}{% generation %}<tool_call>{{ m.content }}{% endgeneration %}{% endfor %}"
    for own, kept in [(None, False), (smollm2, False), (qwen_like, False), ({"default": smollm2}, False),
                      (CHAT_TEMPLATE, True), (compatible, True)]:
        tok = ensure_chat_template(SimpleNamespace(chat_template=own))
        assert tok.chat_template == (own if kept else CHAT_TEMPLATE), own
        assert can_render_tools(tok.chat_template)


# --- masks and prompts ---------------------------------------------------------------------------

@pytest.mark.parametrize("fixture", ["gpt2_tok", "chatml_tok"])
def test_assistant_mask_covers_exactly_the_assistant_turns(fixture, request):
    tok = request.getfixturevalue(fixture)
    ids, mask = render_conversation(CONVERSATION, [WEATHER, TIME], tok)
    assert len(ids) == len(mask) and tok.decode(ids) == EXPECTED_TEXT
    assert supervised_spans(tok, ids, mask) == EXPECTED_ASSISTANT
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    special = fixture == "chatml_tok"
    assert (im_end in ids) == special  # a single token only where it is a special token
    if special:  # every <|im_end|> closing an assistant turn is supervised, the others are not
        ends = [m for t, m in zip(ids, mask) if t == im_end]
        assert ends == [1 if turn else 0 for turn in (0, 0, 1, 0, 1, 0, 1)]


def test_a_generation_prompt_is_not_supervised(gpt2_tok):
    ids, mask = render_conversation(CONVERSATION[:5], [WEATHER], gpt2_tok, add_generation_prompt=True)
    assert gpt2_tok.decode(ids).endswith("</tool_response><|im_end|>\n<|im_start|>assistant\n")
    assert supervised_spans(gpt2_tok, ids, mask) == EXPECTED_ASSISTANT[:1]


def test_offsets_that_lose_a_turn_are_an_error_not_a_silent_mask(tiny_gpt2):
    from tokenizers import processors
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    # trimmed offsets leave a reply's leading space uncovered: transformers then drops the turn
    tok.backend_tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": " Hello"}]
    with pytest.raises(CalltuneError, match="1 assistant turn"):
        render_conversation(messages, [], tok)


def test_hermes_example_masks_every_assistant_turn_and_its_prompt_is_a_prefix(gpt2_tok):
    ex = parse_example(MULTI_TURN)
    item = render_example(ex, gpt2_tok, "hermes", "completion")
    assert supervised_spans(gpt2_tok, item.input_ids, item.loss_mask) == [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>',
        'It is 3 degrees.\n<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call><|im_end|>']
    labels = labels_from(item)
    assert all((label == -100) != bool(m) for label, m in zip(labels, item.loss_mask))
    prompt = gpt2_tok.decode(item.input_ids[: item.prompt_tokens])
    assert not item.boundary_merges
    assert prompt.endswith('<tool_response>\n{"temp": 3}\n</tool_response><|im_end|>\n<|im_start|>assistant\n')
    from calltune.prompts import render_prompt

    assert prompt == render_prompt(ex, "hermes", gpt2_tok)  # what predict feeds the model
    full = render_example(ex, gpt2_tok, "hermes", "full")
    assert full.input_ids == item.input_ids and all(full.loss_mask) and not all(item.loss_mask)
    shown = visualize(item, gpt2_tok)
    assert '[[<tool_call>\n{"name": "get_weather"' in shown and "[[It is 3 degrees." in shown


def test_instruction_and_no_call_examples_render_in_hermes(chatml_tok):
    item = render_example(parse_example(INSTRUCTION), chatml_tok, "hermes", "completion")
    assert chatml_tok.decode(item.input_ids[: item.prompt_tokens]).endswith(
        "<|im_start|>user\nWeather in Oslo?<|im_end|>\n<|im_start|>assistant\n")
    assert supervised_spans(chatml_tok, item.input_ids, item.loss_mask) == [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>']
    item = render_example(parse_example(NO_CALL), chatml_tok, "hermes", "completion")
    assert supervised_spans(chatml_tok, item.input_ids, item.loss_mask) == ["Hello! How can I help?<|im_end|>"]
    assert "Be brief.\n\nYou can call these tools:" in chatml_tok.decode(item.input_ids)


def test_a_merge_across_the_prompt_boundary_is_reported(gpt2_tok):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # no pre-tokenizer split: BPE merges freely across "assistant\n" | "<tool_call>"
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator([EXPECTED_TEXT] * 10, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|endoftext|>")
    ex = parse_example(INSTRUCTION)
    assert render_example(ex, tok, "hermes", "completion").boundary_merges
    assert not render_example(ex, gpt2_tok, "hermes", "completion").boundary_merges


def test_paper_style_ids_do_not_depend_on_hermes(gpt2_tok):
    ex = parse_example(INSTRUCTION)
    item = render_example(ex, gpt2_tok, "paper", "completion")
    from calltune.prompts import format_call, render_prompt

    prompt = gpt2_tok(render_prompt(ex, "paper"), add_special_tokens=False)["input_ids"]
    answer = gpt2_tok(format_call(ex.target), add_special_tokens=False)["input_ids"] + [gpt2_tok.eos_token_id]
    assert item.input_ids == prompt + answer and gpt2_tok.chat_template is None


def test_paper_and_chat_refuse_what_they_cannot_show(gpt2_tok):
    with pytest.raises(CalltuneError, match="cannot show a conversation with earlier turns"):
        render_example(parse_example(MULTI_TURN), gpt2_tok, "paper", "completion")
    parallel = {**INSTRUCTION, "target": [INSTRUCTION["target"], INSTRUCTION["target"]]}
    with pytest.raises(CalltuneError, match="cannot show parallel calls"):
        render_example(parse_example(parallel), gpt2_tok, "paper", "completion")
    single_turn = {**NO_CALL, "target": None}  # messages with only system + user: as an instruction
    assert render_example(parse_example(single_turn), gpt2_tok, "paper", "completion").input_ids


def test_render_command_prints_the_hermes_prompt(tiny_gpt2, write_jsonl_lines, capsys):
    from calltune.cli import main

    path = write_jsonl_lines("d.jsonl", [INSTRUCTION, MULTI_TURN])
    assert main(["render", "--data", path, "--index", "1", "--prompt-style", "hermes", "--model", tiny_gpt2]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<|im_start|>system\nYou can call these tools:\n<tools>\n")
    assert out.endswith("<tool_response>\n{\"temp\": 3}\n</tool_response><|im_end|>\n<|im_start|>assistant\n")
    assert "It is 3 degrees" not in out  # the answer is not part of the prompt


# --- training, and the template travelling with the weights ----------------------------------------

def test_multi_turn_trains_and_the_saved_tokenizer_reproduces_the_trained_ids(tiny_gpt2, tmp_path,
                                                                              write_jsonl_lines, monkeypatch):
    from transformers import AutoTokenizer

    import calltune.train as train_module
    from calltune.config import load_config
    from calltune.merge import merge

    data = write_jsonl_lines("train.jsonl", [MULTI_TURN, NO_CALL, INSTRUCTION])
    cfg = load_config(None, [f"model.name={tiny_gpt2}", f"data.train={data}", "data.dev=null",
                             "data.max_length=1024", "train.batch_size=2", "train.max_steps=2", "train.lr=1e-2",
                             "eval.generate=false"])
    cfg.data.prompt_style = "hermes"  # set after loading: config.py's check does not list hermes yet
    trained = {}

    def recording(example, tokenizer, style, loss):
        item = render_example(example, tokenizer, style, loss)
        trained[example.id] = item
        return item

    monkeypatch.setattr(train_module, "render_example", recording)
    out = str(tmp_path / "run")
    summary = train_module.train(cfg, out, progress=False)
    assert summary["steps"] == 2 and summary["data"]["boundary_merges"] == 0
    log = [json.loads(line) for line in open(os.path.join(out, "train_log.jsonl"))]
    assert len(log) == 2 and all(r["loss"] > 0 for r in log)
    assert sorted(trained) == ["in", "mt", "nc"]

    merged = merge(tiny_gpt2, out, str(tmp_path / "merged"))
    for directory in (os.path.join(out, "adapter"), merged):
        tok = AutoTokenizer.from_pretrained(directory)  # plain transformers, no calltune
        assert tok.chat_template == CHAT_TEMPLATE
        for ex in load_examples(data):
            answer = {"role": "assistant", "content": ex.target_content}
            if ex.calls:
                answer["tool_calls"] = [{"type": "function", "function": c} for c in ex.calls]
            tools = [{"type": "function", "function": t.spec()} for t in ex.tools]
            got = tok.apply_chat_template(ex.conversation() + [answer], tools=tools, tokenize=True,
                                          return_assistant_tokens_mask=True)
            assert got["input_ids"] == trained[ex.id].input_ids, (directory, ex.id)
            assert got["assistant_masks"] == trained[ex.id].loss_mask, (directory, ex.id)
