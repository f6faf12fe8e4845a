"""The standard chat format with tools (the `hermes` prompt style): the one place that knows what a
tool call looks like. Train, predict, evaluate (and later serve and export) all go through it, so
what calltune trains is what a server parses.

- `template`: calltune's ChatML template with tools (`<tools>` in the system turn, each call a
  `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>` block, tool results as
  `<tool_response>` blocks, `{% generation %}` markers around assistant output) and
  `ensure_chat_template`, which installs it when a model's own template cannot render tools.
  The template is saved with every adapter and merged model.
- `render`: `render_conversation(messages, tools, tokenizer, add_generation_prompt)` ->
  `(input_ids, assistant_mask)` through `tokenizer.apply_chat_template`; `format_assistant`.
- `parse`: `parse_answer(text)` -> content and calls from `<tool_call>` blocks (an unclosed final
  block is tolerated, as vLLM's hermes parser does); `call_state(prefix)` for streaming.
- `grammar`: `chat_grammar(tools, tool_choice, parallel)`, the llguidance grammar that allows a
  text answer or schema-valid calls to the offered tools (`constrain.GrammarCache.chat_row`).

Examples (`calltune.examples`) carry conversations as `messages`, targets as one call, a list of
calls (parallel) or null with an optional `target_content`, and `tool_choice` /
`parallel_tool_calls`; `Example.conversation()` and `Example.calls` give them to this package.
"""

from calltune.chat.grammar import chat_grammar
from calltune.chat.parse import ParsedAnswer, call_state, parse_answer
from calltune.chat.render import format_assistant, render_conversation
from calltune.chat.template import CHAT_TEMPLATE, ensure_chat_template

__all__ = ["CHAT_TEMPLATE", "ParsedAnswer", "call_state", "chat_grammar", "ensure_chat_template",
           "format_assistant", "parse_answer", "render_conversation"]
