"""Prompt rendering: the report's template exactly, and the chat style."""

import pytest

from calltune.errors import CalltuneError
from calltune.examples import parse_example
from calltune.prompts import format_call, render_prompt

TOOL = {"name": "get_weather", "description": "Weather.", "parameters": {
    "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}
OTHER = {"name": "get_time", "description": "Time.", "parameters": {"type": "object", "properties": {}}}
EX = parse_example({"id": "x", "instruction": "Weather in Oslo?", "tools": [{"type": "function", "function": TOOL}]})

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_paper_template_exact_string():
    expected = (
        'You are given a tool specification and a user instruction. Return a single JSON object with exactly '
        'these keys: "name", "arguments". Do not output any other text.\n'
        "\n"
        'TOOL_SPEC: {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", '
        '"properties": {"location": {"type": "string"}}, "required": ["location"]}}\n'
        "INSTRUCTION: Weather in Oslo?\n")
    assert render_prompt(EX, "paper") == expected


def test_paper_template_lists_several_tools_and_puts_system_first():
    ex = parse_example({"id": "x", "instruction": "Hi", "system": "Be brief.", "tools": [TOOL, OTHER]})
    text = render_prompt(ex, "paper")
    assert text.startswith("Be brief.\n\nYou are given")
    assert 'TOOL_SPEC: [{"name": "get_weather"' in text and '{"name": "get_time"' in text


def test_chat_style_places_tools_in_system_message(tiny_gpt2):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    tok.chat_template = CHATML
    text = render_prompt(EX, "chat", tok)
    assert text.startswith("<|im_start|>system\nYou can call these tools:\n<tools>\n{\"name\": \"get_weather\"")
    assert text.endswith("<|im_start|>user\nWeather in Oslo?<|im_end|>\n<|im_start|>assistant\n")
    assert '{"name": null, "arguments": {}}' in text


def test_chat_style_without_template_is_a_clear_error(tiny_gpt2):
    from transformers import AutoTokenizer

    with pytest.raises(CalltuneError, match="needs a model with a chat template"):
        render_prompt(EX, "chat", AutoTokenizer.from_pretrained(tiny_gpt2))


def test_unknown_style():
    with pytest.raises(CalltuneError, match="unknown prompt style"):
        render_prompt(EX, "fancy")


def test_format_call():
    assert format_call({"name": "f", "arguments": {"a": 1}}) == '{"name": "f", "arguments": {"a": 1}}'
    assert format_call(None) == '{"name": null, "arguments": {}}'
