"""Prompt rendering: the one place where an example becomes model input text.

Styles:
- `paper`: the seed report's template, verbatim. TOOL_SPEC holds the tool's
  bare `{"name", "description", "parameters"}` JSON, or the JSON list of them
  when several tools are offered. An example's `system` text, if any, comes first.
- `chat`: the model's own chat template with a system message that lists the
  tools and states the answer format. calltune writes the tools into the system
  message itself: the embedded model's template (ChatML) ignores `tools=` and
  would otherwise insert its default system prompt.
- `hermes`: the standard chat format with tools (`calltune.chat`): the example's
  conversation and its tools through the chat template (calltune's unless the model's
  own writes `<tool_call>` blocks, see `chat.template`), answers as `<tool_call>` blocks
  or text. A tokenizer is needed; its own template is not (GPT-2 renders too).

In the `paper` and `chat` styles the answer a model should give is `format_call(target)`:
compact JSON, and the explicit no-call object `{"name": null, "arguments": {}}` for
`target: null`. In `hermes` it is `answer_message(example)` (see `chat.render.format_assistant`).
"""

from __future__ import annotations

import json

from calltune.chat.render import assistant_message, render_text
from calltune.errors import CalltuneError
from calltune.examples import Example
from calltune.extract import NO_CALL

PROMPT_STYLES = ("paper", "chat", "hermes")

PAPER_HEADER = ('You are given a tool specification and a user instruction. Return a single JSON object '
                'with exactly these keys: "name", "arguments". Do not output any other text.')

CHAT_FORMAT_RULES = ('Answer with a single JSON object with exactly these keys: "name", "arguments". '
                     'Do not output any other text. If none of the tools fits the request, answer '
                     '{"name": null, "arguments": {}}.')


def tool_spec_json(example: Example) -> str:
    specs = [tool.spec() for tool in example.tools]
    return json.dumps(specs[0] if len(specs) == 1 else specs, ensure_ascii=False)


def chat_system_message(example: Example) -> str:
    tools = "\n".join(json.dumps(t.spec(), ensure_ascii=False) for t in example.tools)
    intro = f"{example.system}\n\n" if example.system else ""
    return f"{intro}You can call these tools:\n<tools>\n{tools}\n</tools>\n{CHAT_FORMAT_RULES}"


def answer_message(example: Example) -> dict:
    """The final assistant message the `hermes` style trains on: the target calls (none for
    `target: null`) and the expected text, if any. An example with neither trains an empty answer."""
    return assistant_message(example.calls, example.target_content)


def render_prompt(example: Example, style: str, tokenizer=None) -> str:
    """Return the prompt text for `example` in `style`; `chat` and `hermes` need the model's tokenizer."""
    if style == "paper":
        intro = f"{example.system}\n\n" if example.system else ""
        return (f"{intro}{PAPER_HEADER}\n\nTOOL_SPEC: {tool_spec_json(example)}\n"
                f"INSTRUCTION: {example.instruction}\n")
    if style == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise CalltuneError("prompt style 'chat' needs a model with a chat template; "
                                "this model has none (use --prompt-style paper)")
        messages = [{"role": "system", "content": chat_system_message(example)},
                    {"role": "user", "content": example.instruction}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if style == "hermes":
        if tokenizer is None:
            raise CalltuneError("prompt style 'hermes' needs the model's tokenizer")
        return render_text(example.conversation(), example.tools, tokenizer, add_generation_prompt=True)
    raise CalltuneError(f"unknown prompt style '{style}' (choose from {', '.join(PROMPT_STYLES)})")


def format_call(call: dict | None) -> str:
    """The answer text for a call (or for "no call" when `call` is None)."""
    return json.dumps(NO_CALL if call is None else call, ensure_ascii=False)
