"""calltune's chat template for the `hermes` prompt style, and when to install it.

The text it renders (ChatML; Hermes / Qwen2.5 tool-call conventions):

    <|im_start|>system
    {system text, if any, then a blank line}You can call these tools:
    <tools>
    {"name": "get_weather", "description": "...", "parameters": {...}}      one tool per line
    </tools>
    To call tools, answer with one <tool_call></tool_call> block per call:
    ...
    If no tool fits the request, answer in plain text.<|im_end|>
    <|im_start|>user
    Weather in Oslo?<|im_end|>
    <|im_start|>assistant
    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Oslo"}}
    </tool_call><|im_end|>
    <|im_start|>user
    <tool_response>
    {"temp": 3}
    </tool_response><|im_end|>
    <|im_start|>assistant
    It is 3 degrees in Oslo.<|im_end|>

An assistant turn is its text (if any), then its calls, one `<tool_call>` block each, joined
by newlines; arguments are JSON (`tojson` of a dict; a string is taken to be JSON already and
written as it is). Consecutive tool results share one user turn. `{% generation %}` marks each
assistant turn's output with its `<|im_end|>`, so `apply_chat_template(...,
return_assistant_tokens_mask=True)` yields the training mask from the template itself. Where a
tokenizer lacks `<|im_start|>`/`<|im_end|>` tokens (GPT-2) they are plain text, which still works.
"""

from __future__ import annotations

import re

CHAT_TEMPLATE = r"""{#- calltune hermes chat template (calltune/chat/template.py) -#}
{%- if messages and messages[0].role == 'system' %}
    {%- set system = messages[0].content %}
    {%- set turns = messages[1:] %}
{%- else %}
    {%- set system = '' %}
    {%- set turns = messages %}
{%- endif %}
{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if system %}
        {{- system + '\n\n' }}
    {%- endif %}
    {{- 'You can call these tools:\n<tools>' }}
    {%- for tool in tools %}
        {{- '\n' + ((tool.function if tool.function is defined else tool) | tojson) }}
    {%- endfor %}
    {{- '\n</tools>\nTo call tools, answer with one <tool_call></tool_call> block per call:\n' }}
    {{- '<tool_call>\n{"name": <tool-name>, "arguments": <arguments-object>}\n</tool_call>\n' }}
    {{- 'If no tool fits the request, answer in plain text.<|im_end|>\n' }}
{%- elif system %}
    {{- '<|im_start|>system\n' + system + '<|im_end|>\n' }}
{%- endif %}
{%- for message in turns %}
    {%- if message.role == 'assistant' %}
        {{- '<|im_start|>assistant\n' }}
        {%- generation %}
            {%- if message.content %}
                {{- message.content }}
            {%- endif %}
            {%- for tool_call in message.tool_calls or [] %}
                {%- set call = tool_call.function if tool_call.function is defined else tool_call %}
                {%- if message.content or not loop.first %}
                    {{- '\n' }}
                {%- endif %}
                {{- '<tool_call>\n{"name": ' + (call.name | tojson) + ', "arguments": ' }}
                {%- if call.arguments is string %}
                    {{- call.arguments }}
                {%- else %}
                    {{- call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
            {{- '<|im_end|>' }}
        {%- endgeneration %}
        {{- '\n' }}
    {%- elif message.role == 'tool' %}
        {%- if loop.first or loop.previtem.role != 'tool' %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {%- if message.content is string %}
            {{- message.content }}
        {%- else %}
            {{- message.content | tojson }}
        {%- endif %}
        {{- '\n</tool_response>' }}
        {%- if loop.last or loop.nextitem.role != 'tool' %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- else %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

_GENERATION = re.compile(r"\{%-?\s*generation\s*-?%\}")


def can_render_tools(template) -> bool:
    """Whether a chat template can serve the `hermes` style as it is: it writes `<tool_call>`
    blocks (the format calltune parses) and marks assistant output with `{% generation %}`
    (training takes its loss mask from there). True for CHAT_TEMPLATE itself."""
    return isinstance(template, str) and "<tool_call>" in template and bool(_GENERATION.search(template))


def chat_template_for(tokenizer) -> str:
    """The template the `hermes` style renders with: the tokenizer's own if `can_render_tools`,
    else CHAT_TEMPLATE."""
    own = getattr(tokenizer, "chat_template", None)
    return own if can_render_tools(own) else CHAT_TEMPLATE


def ensure_chat_template(tokenizer):
    """Install CHAT_TEMPLATE on `tokenizer` unless its own template `can_render_tools`; returns it.

    The rule is one test so that train, predict, serve and export agree: a template is kept only
    if it already writes `<tool_call>` blocks with `{% generation %}` markers (calltune's own, as
    saved with an adapter or merged model, or a compatible Hermes template with markers). Anything
    else is replaced: no template (GPT-2), one that ignores `tools=` (SmolLM2's ChatML), or one
    without markers (Qwen2.5's, whose format matches but whose mask cannot be read off). Call it
    before saving a tokenizer, so the template travels with the weights.
    """
    tokenizer.chat_template = chat_template_for(tokenizer)
    return tokenizer
