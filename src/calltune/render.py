"""The one function that turns a labeled example into training tokens and a loss mask.

Styles `paper` and `chat`:

    ids  = tokens(prompt) + tokens(answer) + [eos]
    mask = 1 where the token is supervised: every position for loss `full`
           (the report's), only the answer and its EOS for loss `completion`.

Prompt and answer are tokenized separately and concatenated, which is exactly what
the model sees at inference (the prompt, then its own tokens).

Style `hermes`: the example's conversation plus one final assistant message (its target
calls and text) go through the chat template in one piece (`chat.render`); loss `completion`
supervises every assistant turn, history included, as the template's `{% generation %}`
markers say, and `full` every token. The prompt (conversation + generation prompt) is
tokenized on its own as well, to check that it is a prefix of the whole.

Labels are -100 where the mask is 0. The pad token of the embedded tokenizer is its EOS
token, so masks are built by position here and the collator only pads; it never masks by id.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from calltune.chat.grammar import schema_ordered_call
from calltune.chat.render import render_conversation
from calltune.errors import CalltuneError
from calltune.examples import Example
from calltune.prompts import answer_message, format_call, render_prompt


@dataclass(frozen=True)
class Rendered:
    id: str
    input_ids: list[int]
    loss_mask: list[int]
    prompt_tokens: int
    boundary_merges: bool
    """True when tokenizing prompt+answer jointly would not keep the prompt's tokens as a prefix."""
    weights: list[float] | None = None
    """Per-position loss weights (`train.decision_weight`: `calltune.decisions`); None: every supervised token 1."""


def in_schema_order(example: Example) -> Example:
    """`example` with the arguments of its target calls and of its conversation's assistant calls in
    the offered tools' schema order (`chat.grammar.schema_ordered`): the only order constrained
    decoding can write (`data.argument_order: schema`)."""
    def message(m: dict) -> dict:
        if not m.get("tool_calls"):
            return m
        calls = [{**c, "function": schema_ordered_call(c["function"], example.tools)} for c in m["tool_calls"]]
        return {**m, "tool_calls": calls}

    target = example.target
    if isinstance(target, list):
        target = [schema_ordered_call(c, example.tools) for c in target]
    elif isinstance(target, dict):
        target = schema_ordered_call(target, example.tools)
    messages = None if example.messages is None else [message(m) for m in example.messages]
    return replace(example, target=target, messages=messages)


def render_hermes(example: Example, tokenizer, loss: str) -> Rendered:
    """`render_example` for the `hermes` style (see the module docstring)."""
    if loss not in ("full", "completion"):
        raise ValueError(f"unknown loss '{loss}'")
    messages = example.conversation()
    ids, assistant = render_conversation(messages + [answer_message(example)], example.tools, tokenizer)
    prompt_ids, _ = render_conversation(messages, example.tools, tokenizer, add_generation_prompt=True)
    mask = assistant if loss == "completion" else [1] * len(ids)
    return Rendered(example.id, ids, mask, len(prompt_ids), ids[: len(prompt_ids)] != prompt_ids)


def render_example(example: Example, tokenizer, prompt_style: str, loss: str) -> Rendered:
    """Tokenize `example` (which must be labeled) into ids and a 0/1 loss mask."""
    if not example.labeled:
        raise ValueError(f"example '{example.id}' has no target to train on")
    if prompt_style == "hermes":
        return render_hermes(example, tokenizer, loss)
    history = any(m["role"] in ("assistant", "tool") for m in example.conversation())
    if history or isinstance(example.target, list):
        raise CalltuneError(f"example '{example.id}': prompt style '{prompt_style}' cannot show "
                            f"{'a conversation with earlier turns' if history else 'parallel calls'}; "
                            "use prompt style hermes")
    prompt = render_prompt(example, prompt_style, tokenizer)
    answer = format_call(example.target)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    joint = tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]
    ids = prompt_ids + answer_ids
    if loss == "full":
        mask = [1] * len(ids)
    elif loss == "completion":
        mask = [0] * len(prompt_ids) + [1] * len(answer_ids)
    else:
        raise ValueError(f"unknown loss '{loss}'")
    return Rendered(example.id, ids, mask, len(prompt_ids), joint[: len(prompt_ids)] != prompt_ids)


def labels_from(rendered: Rendered) -> list[int]:
    return [tok if m else -100 for tok, m in zip(rendered.input_ids, rendered.loss_mask)]


def visualize(rendered: Rendered, tokenizer) -> str:
    """The example's text with supervised tokens wrapped in [[...]] (for `calltune train --show-example`), and
    within them, where weights differ from 1, each weighted token in {{...}}."""
    pieces, run, current = [], [], None
    weights = rendered.weights or [float(m) for m in rendered.loss_mask]
    for pos, (tok, m) in enumerate(zip(rendered.input_ids, rendered.loss_mask)):
        if m and weights[pos] != 1.0:
            if run:
                text = tokenizer.decode(run)
                pieces.append(f"[[{text}]]" if current else text)
            pieces.append(f"[[{{{{{tokenizer.decode([tok])}}}}}]]")
            run, current = [], None
            continue
        if m != current and run:
            text = tokenizer.decode(run)
            pieces.append(f"[[{text}]]" if current else text)
            run = []
        run.append(tok)
        current = m
    if run:
        text = tokenizer.decode(run)
        pieces.append(f"[[{text}]]" if current else text)
    supervised = sum(rendered.loss_mask)
    weighted = sum(1 for pos, m in enumerate(rendered.loss_mask) if m and weights[pos] != 1.0)
    shown = f", {weighted} of them weighted (in {{{{ }}}})" if weighted else ""
    text = "".join(pieces).replace("]][[", "") if weighted else "".join(pieces)  # one [[ ]] per supervised run
    return (f"--- {rendered.id}: {len(rendered.input_ids)} tokens, {supervised} supervised (in [[ ]]){shown} ---\n"
            + text)
