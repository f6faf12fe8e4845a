"""The data card of an examples file: what it contains and how long its examples are in tokens.

`calltune data stats FILE [--model embedded] [--out card.json]` prints counts per kind of example
(one call, parallel calls, text answer, no call; plain or after a conversation), tool, domain, parameter
type, tools per prompt, augmentations and templates, and the token-length distribution of prompt plus
answer. Lengths are measured in the `paper` prompt style (prompt + `format_call(target)`) when every
example fits it, else in `hermes` (the conversation through the chat template + `format_assistant`):
paper has no history, no parallel calls and no text answers. Works on any calltune examples file;
synthetic records add `meta` (catalogue tool names, domains, augmentations).
"""

from __future__ import annotations

import math
from collections import Counter

from calltune.chat.render import format_assistant
from calltune.examples import Example, load_examples
from calltune.prompts import format_call, render_prompt

PERCENTILES = (50, 90, 99)
HISTOGRAM_BIN = 64  # tokens per histogram bucket


def param_type(schema: dict) -> str:
    """One label per parameter: enum, date, time, or the JSON type (string, integer, number, boolean, array, object)."""
    if "enum" in schema:
        return "enum"
    if schema.get("format") in ("date", "time"):
        return schema["format"]
    kind = schema.get("type", "any")
    return kind if isinstance(kind, str) else "|".join(kind)


def percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(q / 100 * len(sorted_values)) - 1)]


def length_summary(lengths: list[int]) -> dict:
    values = sorted(lengths)
    out = {"min": values[0], "mean": round(sum(values) / len(values), 1), "max": values[-1]}
    out.update({f"p{q}": percentile(values, q) for q in PERCENTILES})
    buckets = Counter(v // HISTOGRAM_BIN * HISTOGRAM_BIN for v in values)
    out["histogram"] = {f"{lo}-{lo + HISTOGRAM_BIN - 1}": buckets[lo] for lo in sorted(buckets)}
    return out


def kind(ex: Example) -> str:
    """What an example asks for: "one call", "parallel calls", "text answer" or "no call" (a synthetic near
    miss adds its form: "text answer (near miss missing)"), prefixed with "conversation: " when it continues
    a conversation with tool results."""
    n = len(ex.calls)
    what = "parallel calls" if n > 1 else "one call" if n else "text answer" if ex.target_content else "no call"
    near = [a for a in (ex.meta or {}).get("augmentations", ()) if a.startswith("near_miss_")]
    what += f" ({near[0].replace('_', ' ')})" if near else ""  # synthetic near misses: "text answer (near miss missing)"
    return f"conversation: {what}" if ex.messages is not None and len(ex.messages) > 1 else what


def fits_paper(ex: Example) -> bool:
    """The `paper` style shows one request and answers one call or the no-call object."""
    return ex.messages is None and len(ex.calls) <= 1 and ex.target_content is None


def token_texts(examples: list[Example], tokenizer) -> tuple[str, list[str], list[str]]:
    """`(style, prompt + answer texts, answer texts)` for the card's token lengths."""
    if all(fits_paper(ex) for ex in examples):
        answers = [format_call(ex.target) for ex in examples]
        return "paper", [render_prompt(ex, "paper") + a for ex, a in zip(examples, answers)], answers
    answers = [format_assistant(ex.calls, ex.target_content) for ex in examples]
    return "hermes", [render_prompt(ex, "hermes", tokenizer) + a for ex, a in zip(examples, answers)], answers


def compute_card(examples: list[Example], tokenizer=None) -> dict:
    """Counts over `examples`, plus token lengths when a tokenizer is given. Tool and argument counts
    are per target call (a parallel example counts each of its calls)."""
    tools, domains, arg_types, schema_types = Counter(), Counter(), Counter(), Counter()
    per_prompt, augmentations, templates, kinds = Counter(), Counter(), set(), Counter()
    n_null = n_optional = n_calls = 0
    for ex in examples:
        meta = ex.meta
        per_prompt[len(ex.tools)] += 1
        kinds[kind(ex)] += 1
        augmentations.update(meta.get("augmentations", []))
        if "domain" in meta:
            domains[meta["domain"]] += 1
        if not ex.calls:
            n_null += 1
            continue
        origin = meta.get("tool")
        origins = origin if isinstance(origin, list) else [origin] * len(ex.calls)
        templates.add((str(origin), meta.get("template")))
        optional = False
        for call, name in zip(ex.calls, origins):
            n_calls += 1
            tools[name or call["name"]] += 1
            schema = ex.tool(call["name"]).parameters
            props, required = schema.get("properties", {}), set(schema.get("required", []))
            schema_types.update(param_type(p) for p in props.values())
            arg_types.update(param_type(props.get(k, {})) for k in call["arguments"])
            optional = optional or any(k not in required for k in call["arguments"])
        n_optional += optional
    card = {"n": len(examples), "null_targets": n_null, "tool_calls": len(examples) - n_null, "calls": n_calls,
            "kinds": dict(kinds.most_common()),
            "text_answers": sum(ex.target_content is not None for ex in examples),
            "examples_with_optional_args": n_optional, "distinct_tools": len(tools),
            "distinct_domains": len(domains), "distinct_templates": len(templates),
            "unique_instructions": len({ex.instruction for ex in examples}),
            "tools_per_prompt": dict(sorted(per_prompt.items())),
            "per_domain": dict(domains.most_common()), "per_tool": dict(tools.most_common()),
            "argument_types": dict(arg_types.most_common()), "schema_parameter_types": dict(schema_types.most_common()),
            "augmentations": dict(augmentations.most_common())}
    if tokenizer is not None:
        style, texts, answers = token_texts(examples, tokenizer)
        total = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
        answer = [len(ids) for ids in tokenizer(answers, add_special_tokens=False)["input_ids"]]
        card["tokens"] = {"prompt_style": style, "prompt_plus_answer": length_summary(total),
                          "answer": length_summary(answer)}
    return card


def _table(title: str, counts: dict, total: int, limit: int | None = None) -> list[str]:
    lines = [f"{title}:"]
    items = list(counts.items())
    width = max((len(str(k)) for k, _ in items), default=0)
    for key, count in items[:limit]:
        lines.append(f"  {str(key):<{width}}  {count:>6}  {100 * count / max(total, 1):5.1f}%")
    if limit is not None and len(items) > limit:
        lines.append(f"  ... {len(items) - limit} more")
    return lines


def format_card(card: dict, source: str = "", model: str = "") -> str:
    """The card as readable text."""
    n = card["n"]
    lines = [f"data card{' for ' + source if source else ''}",
             f"examples: {n}   with tool calls: {card['tool_calls']} ({card['calls']} calls)   null targets: "
             f"{card['null_targets']} ({100 * card['null_targets'] / n:.1f}%)   text answers: {card['text_answers']}   "
             f"with optional args: {card['examples_with_optional_args']}",
             f"distinct tools: {card['distinct_tools']}   domains: {card['distinct_domains']}   "
             f"templates: {card['distinct_templates']}   unique instructions: {card['unique_instructions']}", ""]
    lines += _table("kinds", card["kinds"], n) + [""]
    lines += _table("tools per prompt", card["tools_per_prompt"], n) + [""]
    lines += _table("domains", card["per_domain"], n) + [""]
    lines += _table("argument types (target arguments)", card["argument_types"],
                    sum(card["argument_types"].values())) + [""]
    lines += _table("parameter types (target tool schemas)", card["schema_parameter_types"],
                    sum(card["schema_parameter_types"].values())) + [""]
    lines += _table("augmentations", card["augmentations"], n) + [""]
    lines += _table("tools (target calls)", card["per_tool"], card["calls"]) + [""]
    tokens = dict(card.get("tokens", {}))
    style = tokens.pop("prompt_style", "paper")
    for name, summary in tokens.items():
        stats = "  ".join(f"{k} {summary[k]}" for k in ("min", "mean", "p50", "p90", "p99", "max"))
        lines.append(f"tokens, {name.replace('_', ' ')} ({style}{', ' + model if model else ''}): {stats}")
        if name == "prompt_plus_answer":
            lines += _table("  histogram", summary["histogram"], n)
    return "\n".join(lines).rstrip() + "\n"


def run_stats(path: str, model: str | None = "embedded", out: str | None = None) -> tuple[dict, str]:
    """Load `path`, build the card (token lengths with `model`'s tokenizer unless `model` is None),
    write it as JSON to `out` if given, and return `(card, text)`."""
    examples = load_examples(path)
    tokenizer = None
    if model is not None:
        from calltune.models import load_tokenizer, resolve_model_path

        tokenizer = load_tokenizer(resolve_model_path(model))
    card = compute_card(examples, tokenizer)
    card["source"], card["model"] = path, model
    if out is not None:
        from calltune.jsonl import write_json

        write_json(out, card)
    return card, format_card(card, path, model or "")
