"""Conversations with tools -> token ids and the assistant mask, through the chat template.

    ids, mask = render_conversation(messages, tools, tokenizer)                  # training
    ids, _ = render_conversation(messages, tools, tokenizer, add_generation_prompt=True)  # a prompt

Everything goes through `tokenizer.apply_chat_template(..., tools=...)` with the template that
`template.chat_template_for(tokenizer)` picks (calltune's unless the tokenizer's own can serve),
and the mask is the template's `{% generation %}` spans: 1 on every assistant turn's output
and its `<|im_end|>`, 0 elsewhere. The tokenizer is not changed; `ensure_chat_template` installs
the template where it has to be saved.
"""

from __future__ import annotations

import json

from calltune.chat.template import chat_template_for
from calltune.errors import CalltuneError


def openai_tools(tools) -> list[dict]:
    """Tools as OpenAI function-tool dicts; accepts `examples.Tool` objects, bare
    `{"name", "description", "parameters"}` dicts, or OpenAI dicts (kept as they are)."""
    out = []
    for tool in tools or []:
        if hasattr(tool, "spec"):
            tool = tool.spec()
        if not (tool.get("type") == "function" and isinstance(tool.get("function"), dict)):
            tool = {"type": "function", "function": tool}
        out.append(tool)
    return out


def assistant_message(calls: list[dict], content: str | None = None) -> dict:
    """An OpenAI assistant message holding `content` and `calls` (each `{"name", "arguments"}`)."""
    message = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [{"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                                 for c in calls]
    return message


def format_assistant(calls: list[dict], content: str | None = None) -> str:
    """The text of one assistant answer as CHAT_TEMPLATE writes it, without the closing `<|im_end|>`:
    `content`, then one `<tool_call>` block per call, joined by newlines. `calls` are
    `{"name", "arguments"}` dicts or OpenAI tool calls; string arguments are written as they are."""
    parts = [content] if content else []
    for call in calls:
        call = call.get("function", call)
        args = call["arguments"]
        args = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        parts.append(f'<tool_call>\n{{"name": {json.dumps(call["name"], ensure_ascii=False)}, '
                     f'"arguments": {args}}}\n</tool_call>')
    return "\n".join(parts)


def render_text(messages: list[dict], tools, tokenizer, add_generation_prompt: bool = False) -> str:
    """The template's text for `messages` and `tools` (what `render_conversation` tokenizes)."""
    return tokenizer.apply_chat_template(messages, tools=openai_tools(tools) or None, tokenize=False,
                                         chat_template=chat_template_for(tokenizer),
                                         add_generation_prompt=add_generation_prompt)


def render_conversation(messages: list[dict], tools, tokenizer,
                        add_generation_prompt: bool = False) -> tuple[list[int], list[int]]:
    """Tokenize a conversation with its tools: `(input_ids, assistant_mask)`, two equal-length lists.

    The mask is 1 on the tokens of every assistant turn (text, `<tool_call>` blocks and the closing
    `<|im_end|>`; history included), 0 elsewhere. A token straddling a turn's edge counts as
    assistant (transformers maps character spans to tokens). With `add_generation_prompt` the ids
    end with the opening of an assistant turn, ready to generate.
    """
    out = tokenizer.apply_chat_template(messages, tools=openai_tools(tools) or None, tokenize=True,
                                        return_dict=True, return_assistant_tokens_mask=True,
                                        chat_template=chat_template_for(tokenizer),
                                        add_generation_prompt=add_generation_prompt)
    ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
    # transformers silently drops a turn (and every later one) whose first character no token's
    # offsets cover (tokenizers that trim offsets, with a reply starting with a space)
    runs = sum(1 for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1]))
    turns = sum(1 for m in messages if m.get("role") == "assistant")
    if runs != turns:
        raise CalltuneError(f"{type(tokenizer).__name__}: the chat template's {turns} assistant turn(s) map to "
                            f"{runs} supervised span(s) of tokens; the loss mask would be wrong")
    return ids, mask
