"""The tokens of a hermes answer where the model decides, for `train.decision_weight`.

Most of an answer's tokens are copies from the request or syntax the grammar forces; what makes a call right or
wrong is decided at a few of them: whether to call at all (the answer's first token), which function (the first
token of the name), which arguments and in what order (the first token of each key), where a value ends and
whether another argument follows or the arguments close (from the token holding a value's last character through
the one holding the `,` or `}` after it: the optional-argument decision), and whether another call follows
(from the token after each `</tool_call>` through its first non-space character). `decision_positions` finds
them in a rendered example, so that training can weight their loss above the rest (`decision_weights`). Each
decision has a kind (`KINDS`, in that order): `call`, `function`, `argument`, `value_end` and `next_call`;
`train.decision_kinds` weighs only some of them.

The answer text is read token by token (each token decoded alone, so a character split across byte-level
tokens reads as a replacement character; JSON's quotes, brackets, commas and colons are never split), and each
`<tool_call>` block's JSON is scanned by position: the arguments object is the one at depth 2.
"""

from __future__ import annotations

import re

BLOCK = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)

KINDS = ("call", "function", "argument", "value_end", "next_call")
"""The kinds of decision: whether to call at all (the answer's first token), which function, which argument,
where a value ends (another argument or the arguments close), and whether another call follows."""


def _string_end(text: str, start: int) -> int:
    """Index of the quote that closes the string opening at `start` (len(text) if it never closes)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    return len(text)


def _json_marks(text: str) -> list[tuple[int, str]]:
    """(character index, kind) of each decision in `text`, one call's JSON object."""
    marks: list[tuple[int, str]] = []
    stack: list[str] = []
    last_key = None
    i = 0
    while i < len(text):
        c = text[i]
        depth = len(stack)
        if c in "{[":
            stack.append(c)
        elif c in "}]":
            if depth == 2 and c == "}":
                marks.append((i, "value_end"))  # the arguments close
            elif depth == 3:
                marks.append((i, "value_end"))  # an object or list value of an argument ends
            if stack:
                stack.pop()
        elif c == "," and depth == 2 and stack[-1] == "{":
            marks.append((i, "value_end"))  # another argument follows
        elif c == '"':
            end = _string_end(text, i)
            after = text[end + 1:].lstrip()
            is_key = bool(stack) and stack[-1] == "{" and after.startswith(":")
            if is_key:
                last_key = text[i + 1:end]
                if depth == 2:
                    marks.append((min(i + 1, end), "argument"))  # which argument
            elif depth == 1 and last_key == "name":
                marks.append((min(i + 1, end), "function"))  # which function
            elif depth == 2:
                marks.append((min(end, len(text) - 1), "value_end"))  # a string value ends
            i = end + 1
            continue
        elif not c.isspace() and c != ":" and depth == 2:
            end = i
            while end + 1 < len(text) and text[end + 1] not in ",}] \n\t":
                end += 1
            marks.append((end, "value_end"))  # a number or literal ends
            i = end + 1
            continue
        i += 1
    return marks


def json_decisions(text: str, kinds=KINDS) -> set[int]:
    """Character indices of `text` (one call's JSON object) where a decision of `kinds` is made (see the module
    docstring)."""
    return {i for i, kind in _json_marks(text) if kind in kinds}


def text_decisions(text: str, kinds=KINDS) -> set[int]:
    """Character indices of an assistant turn's text where a decision of `kinds` is made."""
    marks = {0} if text and "call" in kinds else set()
    for block in BLOCK.finditer(text):
        marks |= {block.start(1) + k for k in json_decisions(block.group(1), kinds)}
        k = block.end()
        while k < len(text) and "next_call" in kinds:
            marks.add(k)  # another call, or the end
            if not text[k].isspace():
                break
            k += 1
    return marks


def decision_positions(input_ids: list[int], loss_mask: list[int], tokenizer, kinds=KINDS) -> set[int]:
    """Positions of supervised tokens that carry a decision of `kinds`; each run of supervised tokens is one
    assistant turn."""
    positions: set[int] = set()
    run: list[int] = []
    for pos in range(len(input_ids) + 1):
        if pos < len(input_ids) and loss_mask[pos]:
            run.append(pos)
            continue
        if run:
            pieces = [tokenizer.decode([input_ids[p]]) for p in run]
            owner = [p for p, piece in zip(run, pieces) for _ in piece]
            positions |= {owner[k] for k in text_decisions("".join(pieces), kinds)}
            run = []
    return positions


def decision_weights(input_ids: list[int], loss_mask: list[int], tokenizer, weight: float,
                     kinds=KINDS) -> list[float]:
    """Each position's loss weight: 0 where unsupervised, `weight` at a decision of `kinds`, 1 elsewhere."""
    marked = decision_positions(input_ids, loss_mask, tokenizer, kinds)
    return [0.0 if not m else (weight if pos in marked else 1.0) for pos, m in enumerate(loss_mask)]
