"""Constrained decoding in the hermes format: accept/reject tables for `chat_grammar` (tiny
tokenizer), its end tokens and special tags, the cache, and random models whose every answer
must parse as hermes with schema-valid calls."""

from __future__ import annotations

import json
import re

import pytest
import torch
from test_constrain import SCHEMAS, TOOLS

from calltune.chat.grammar import callable_tools, chat_grammar, schema_ordered, schema_ordered_call
from calltune.constrain import GrammarCache, ToolCallConstraint, UnsupportedSchema
from calltune.errors import CalltuneError
from calltune.examples import Tool
from calltune.score import schema_errors

NAMED_DATES = {"type": "function", "function": {"name": "dates"}}


def block(name, arguments) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments})}\n</tool_call>"


OSLO = block("weather", {"location": "Oslo"})
DATES = block("dates", {"date": "2025-01-01", "time": "09:30"})


def _matcher(cache, tools, tool_choice="auto", parallel=True):
    return cache.chat_row([TOOLS[n] for n in tools], tool_choice, parallel).matcher


def _accepts(cache, tok, tools, text, tool_choice="auto", parallel=True) -> bool:
    matcher = _matcher(cache, tools, tool_choice, parallel)
    return matcher.consume_tokens(tok(text, add_special_tokens=False)["input_ids"]) and matcher.is_accepting()


ACCEPT = [  # (offered tools, tool_choice, parallel, answer)
    (["weather"], "auto", True, "It is sunny in Oslo today."),
    (["weather"], "auto", True, 'No tool fits; here is JSON: {"name": "weather"} and a "quote".'),
    (["weather"], "auto", True, "<tool_cal is not a tag, so this is text"),
    (["weather"], "auto", True, '{"name": "weather", "arguments": {"location": "Oslo"}}'),  # bare JSON is text
    (["weather"], "auto", True, OSLO),
    (["weather", "dates"], "auto", True, DATES),
    (["weather", "dates"], "auto", True, OSLO + "\n" + DATES),
    (["weather", "dates"], "auto", True, OSLO + "\n" + OSLO + "\n" + DATES),
    (["weather"], "auto", True, block("weather", {"location": "Oslo", "unit": "celsius", "days": 3})),
    (["lists"], "auto", True, block("lists", {"tags": ["a"], "filters": {"kind": "b", "strict": True}})),
    (["empty"], "auto", True, block("empty", {})),
    (["weather"], "none", True, "I would rather not call anything."),
    (["weather"], "required", True, OSLO),
    (["weather", "dates"], "required", True, DATES + "\n" + OSLO),
    (["weather", "dates"], NAMED_DATES, True, DATES),
    (["weather", "dates"], NAMED_DATES, True, DATES + "\n" + DATES),
    (["weather", "dates"], "auto", False, DATES),
    (["weather", "dates"], "auto", False, "Just text."),
    (["weather", "dates"], "required", False, OSLO),
    ([], "auto", True, "No tools offered, so text."),
]
REJECT = [
    (["weather"], "auto", True, ""),  # an empty answer
    (["weather"], "auto", True, block("forecast", {"location": "Oslo"})),  # not an offered tool
    (["weather"], "auto", True, block("weather", {})),  # missing required argument
    (["weather"], "auto", True, block("weather", {"location": "Oslo", "unit": "kelvin"})),  # enum
    (["weather"], "auto", True, block("weather", {"location": "Oslo", "hours": 2})),  # extra argument
    (["weather"], "auto", True, block("weather", {"location": 5})),  # type
    (["lists"], "auto", True, block("lists", {"tags": [], "filters": {"kind": "a"}})),  # minItems
    (["dates"], "auto", True, block("dates", {"date": "8 August", "time": "09:30"})),  # pattern
    (["weather"], "auto", True, '<tool_call>\n{"name":"weather","arguments":{"location":"Oslo"}}\n</tool_call>'),
    (["weather"], "auto", True, OSLO.replace("<tool_call>\n", "<tool_call>")),  # no newline after the tag
    (["weather"], "auto", True, OSLO[: -len("</tool_call>")]),  # unclosed block
    (["weather"], "auto", True, "Sure.\n" + OSLO),  # text, then a call
    (["weather"], "auto", True, "Let me see <tool_call> here"),  # a tag inside text
    (["weather"], "auto", True, OSLO + "\nDone."),  # a call, then text
    (["weather"], "auto", True, OSLO + "\n"),  # trailing newline
    (["weather"], "auto", True, OSLO + OSLO),  # blocks not separated
    (["weather"], "auto", True, OSLO + "\n\n" + OSLO),  # separated by a blank line
    (["weather"], "none", True, OSLO),  # `none` forbids calls
    (["weather"], "required", True, "Just text."),  # `required` forbids text
    (["weather"], "required", True, '{"name": "weather", "arguments": {"location": "Oslo"}}'),  # untagged
    (["weather", "dates"], NAMED_DATES, True, OSLO),  # offered but not the named tool
    (["weather", "dates"], NAMED_DATES, True, "Just text."),
    (["weather", "dates"], "auto", False, OSLO + "\n" + DATES),  # parallel=False: one block at most
    (["weather", "dates"], "required", False, OSLO + "\n" + OSLO),
    ([], "auto", True, block("weather", {"location": "Oslo"})),  # no tools: no calls
]


@pytest.mark.parametrize("tools,choice,parallel,text", ACCEPT)
def test_chat_grammar_accepts(cache, tok, tools, choice, parallel, text):
    assert _accepts(cache, tok, tools, text, choice, parallel)


@pytest.mark.parametrize("tools,choice,parallel,text", REJECT)
def test_chat_grammar_rejects(cache, tok, tools, choice, parallel, text):
    assert not _accepts(cache, tok, tools, text, choice, parallel)


def _allowed(cache, matcher) -> set[int]:
    import llguidance.torch as llt

    mask = llt.allocate_token_bitmask(1, cache.n_vocab)
    llt.fill_next_token_bitmask(matcher, mask, 0)
    return {i for i in range(cache.n_vocab) if (int(mask[0, i // 32]) >> (i % 32)) & 1}


def test_answers_end_with_eos_or_im_end(tiny_gpt2):
    """A ChatML tokenizer whose EOS is `<|endoftext|>`: `<|im_end|>` ends an answer too, allowed
    where the grammar may end and the only choice where it must."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    cache = GrammarCache(tok, len(tok))
    stops = {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")}
    assert set(cache.stop_ids) == stops and len(stops) == 2

    def after(text, choice="auto", parallel=True):
        matcher = _matcher(cache, ["weather"], choice, parallel)
        assert matcher.consume_tokens(tok(text, add_special_tokens=False)["input_ids"])
        return matcher, _allowed(cache, matcher)

    assert not stops & after("", "none")[1]  # no empty answer
    assert stops < after("Hello")[1]  # text may end here or go on
    _, allowed = after(OSLO)  # parallel: end, or a newline before the next block
    assert stops < allowed and tok.convert_tokens_to_ids("Ċ") in allowed
    matcher, allowed = after(OSLO, parallel=False)
    assert allowed == stops  # one block and nothing more: the end is forced
    assert matcher.consume_token(tok.convert_tokens_to_ids("<|im_end|>")) and matcher.is_stopped()
    assert not after(OSLO[:-1])[1] & stops  # an unfinished block cannot end
    matcher = _matcher(cache, ["weather"])  # `<|im_start|>` is no text
    assert not matcher.consume_token(tok.convert_tokens_to_ids("<|im_start|>"))


def test_tags_held_as_added_tokens_are_matched_as_those_tokens(tiny_gpt2):
    """Qwen and Hermes tokenizers hold `<tool_call>` and `</tool_call>` as single added tokens;
    llguidance treats those as special, so the grammar must name them as tokens."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    tok.add_tokens(["<tool_call>", "</tool_call>"])
    cache = GrammarCache(tok, len(tok))
    assert cache.special_tags == {"<tool_call>", "</tool_call>"}
    ids = tok(OSLO + "\n" + DATES, add_special_tokens=False)["input_ids"]
    assert tok.convert_tokens_to_ids("<tool_call>") in ids  # the tokenizer uses the added token
    matcher = _matcher(cache, ["weather", "dates"])
    assert matcher.consume_tokens(ids) and matcher.is_accepting()
    spelled = [tok.convert_tokens_to_ids(ch) for ch in "<tool_call>"]  # the tag in single bytes
    assert not _matcher(cache, ["weather"]).consume_tokens(spelled)  # neither a call nor text
    assert _accepts(cache, tok, ["weather"], "Plain text.")


def test_chat_rows_are_compiled_once_per_tool_set_and_choice(tiny_gpt2):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_gpt2)
    cache = GrammarCache(tok, len(tok))
    tools = [TOOLS["weather"], TOOLS["dates"]]
    first, again = cache.chat_row(tools), cache.chat_row(tools)
    assert len(cache.compiled) == 1 and first.matcher is not again.matcher and first.chat
    cache.chat_row(tools, "required")
    cache.chat_row(tools, parallel=False)
    cache.chat_row(tools, NAMED_DATES)
    cache.chat_row([TOOLS["dates"], TOOLS["weather"]], NAMED_DATES)  # same callable tool: same grammar
    assert len(cache.compiled) == 4
    paper = cache.row(tools)
    assert len(cache.compiled) == 5 and not paper.chat
    # chat margins cover the tags as well as the call
    assert cache.chat_row(tools).close_margin > paper.close_margin
    assert cache.chat_row(tools, "none").close_margin == 0


def test_tool_choice_is_checked():
    tools = [TOOLS["weather"], TOOLS["dates"]]
    assert [t.name for t in callable_tools(tools, NAMED_DATES)] == ["dates"]
    assert callable_tools(tools, "none") == []
    with pytest.raises(CalltuneError, match="forecast"):
        callable_tools(tools, {"type": "function", "function": {"name": "forecast"}})
    with pytest.raises(CalltuneError, match="tool_choice"):
        callable_tools(tools, "any")
    with pytest.raises(CalltuneError, match="required"):
        callable_tools([], "required")
    assert "%json" not in chat_grammar(tools, "none")
    assert '"weather"' not in chat_grammar(tools, NAMED_DATES)


def test_chat_grammar_embeds_closed_schemas_without_touching_the_tool():
    grammar = chat_grammar([TOOLS["dates"], TOOLS["numbers"]])
    schema = json.loads(grammar.split("%json", 1)[1])
    numbers = schema["anyOf"][1]["properties"]["arguments"]
    assert numbers["additionalProperties"] is False and "additionalProperties" not in SCHEMAS["numbers"]
    assert "format" not in json.dumps(schema) and "format" in json.dumps(SCHEMAS["dates"])
    assert schema["x-guidance"]["whitespace_flexible"] is False


def test_required_names_that_properties_omit_stay_possible(cache, tok):
    """An object that requires keys it never lists (BFCL writes such schemas) is closed around
    them, not made unsatisfiable: the keys are allowed with any value, others still are not."""
    household = {"type": "object", "properties": {
        "population": {"type": "object", "required": ["adults", "children"]},
        "city": {"type": "string"}}, "required": ["population", "city"]}
    tool = Tool("waste", "", household)
    row = cache.chat_row([tool], "required")

    def accepts(arguments):
        matcher = row.matcher.deep_copy()
        ids = tok(block("waste", arguments), add_special_tokens=False)["input_ids"]
        return matcher.consume_tokens(ids) and matcher.is_accepting()

    assert accepts({"population": {"adults": 2, "children": [1]}, "city": "Oslo"})
    assert not accepts({"population": {"adults": 2}, "city": "Oslo"})  # still required
    assert not accepts({"population": {"adults": 2, "children": 1, "pets": 3}, "city": "Oslo"})  # still closed
    assert "properties" not in household["properties"]["population"]  # the tool is not touched


def test_unsupported_keyword_in_a_callable_tool(cache):
    odd = Tool("odd_tool", "", {"type": "object", "properties": {"x": {"not": {"type": "string"}}}})
    with pytest.raises(UnsupportedSchema, match=r"odd_tool.*not"):
        cache.chat_row([TOOLS["weather"], odd])
    assert cache.chat_row([TOOLS["weather"], odd], "none") is not None  # no call, no schema
    assert cache.chat_row([TOOLS["weather"], odd], {"type": "function", "function": {"name": "weather"}})


# --- random models ---------------------------------------------------------------------------

BLOCK = re.compile(r"<tool_call>\n(.*?)\n</tool_call>", re.S)

RANDOM_CASES = [  # (offered tools, tool_choice, parallel, forced start of the answer)
    (["weather"], "auto", True, ""),
    (list(SCHEMAS), "auto", True, ""),
    (list(SCHEMAS), "auto", True, "<tool_call>\n"),  # auto's call path
    (list(SCHEMAS), "auto", False, "<tool_call>\n"),
    (list(SCHEMAS), "none", True, ""),
    (list(SCHEMAS), "required", True, ""),
    (list(SCHEMAS), "required", False, ""),
    (["weather", "dates"], NAMED_DATES, True, ""),
    (["lists"], "required", True, ""),
    (["numbers", "empty"], "required", True, ""),
]


def hermes_calls(answer: str) -> list[dict] | None:
    """The calls of an answer that is exactly newline-joined blocks; None for a text answer."""
    if "<tool_call>" not in answer:
        return None
    bodies = BLOCK.findall(answer)
    assert "\n".join(f"<tool_call>\n{b}\n</tool_call>" for b in bodies) == answer, answer
    return [json.loads(b) for b in bodies]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_models_always_give_hermes_answers_with_schema_valid_calls(tmp_path, seed):
    """A random tiny GPT-2 (garbage logits), batched, under the chat grammar: every answer is a
    non-empty text without tags or newline-joined blocks of schema-valid calls to callable
    tools, as tool_choice and parallel allow; call answers end with a stop token in budget."""
    from conftest import build_tiny_gpt2
    from transformers import LogitsProcessorList

    from calltune.models import load_model

    model, tok, _ = load_model(build_tiny_gpt2(str(tmp_path / "m"), seed=seed))
    cache = GrammarCache(tok, model.get_output_embeddings().weight.shape[0])
    rows, inputs = [], []
    for i, (names, choice, parallel, start) in enumerate(RANDOM_CASES):
        row = cache.chat_row([TOOLS[n] for n in names], choice, parallel)
        forced = tok(start, add_special_tokens=False)["input_ids"]
        assert row.matcher.consume_tokens(forced)  # the answer so far, as if generated
        rows.append(row)
        inputs.append(tok(f"Request {i}: use a tool if one fits.\n", add_special_tokens=False)["input_ids"] + forced)
    width = max(map(len, inputs))  # left padding, as generate.py does
    ids = torch.tensor([[tok.pad_token_id] * (width - len(x)) + x for x in inputs])
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in inputs])
    budget = 80
    processor = ToolCallConstraint(rows, width, budget, cache.policy, tok)
    out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=budget,
                         logits_processor=LogitsProcessorList([processor]), eos_token_id=cache.stop_ids,
                         pad_token_id=tok.pad_token_id)
    try:
        from calltune.chat.parse import parse_answer
    except ImportError:  # the format's own parser, once it has landed
        parse_answer = None
    kinds = set()
    for (names, choice, parallel, start), generated in zip(RANDOM_CASES, out[:, width:].tolist()):
        stopped = any(t in cache.stop_ids for t in generated)
        if stopped:
            generated = generated[: min(generated.index(t) for t in cache.stop_ids if t in generated)]
        answer = start + tok.decode(generated)
        calls = hermes_calls(answer)
        kinds.add(calls is None)
        callable_ = {t.name: t for t in callable_tools([TOOLS[n] for n in names], choice)}
        if calls is None:
            assert answer and choice in ("auto", "none"), answer
            continue
        assert calls and callable_ and stopped, answer  # closed within the budget, then ended
        assert parallel or len(calls) == 1, answer
        for call in calls:
            assert set(call) == {"name", "arguments"} and call["name"] in callable_, answer
            assert schema_errors(call["arguments"], callable_[call["name"]].parameters) == [], answer
        if parse_answer is not None:
            parsed = parse_answer(answer)
            assert parsed.error is None and parsed.calls == calls and parsed.content == "", answer
    assert kinds == {True, False}  # both text answers and call answers were produced


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_logits_that_never_choose_to_stop_still_end_cleanly(cache, tok, seed):
    """`randn` logits (as outlines' processor tests use) with the stop tokens always least likely:
    a parallel answer keeps opening blocks, yet near the end of the budget the open block closes
    and the answer ends with a stop token instead of opening one it could not close."""
    generator = torch.Generator().manual_seed(seed)
    cases = [(list(SCHEMAS), "required"), (["weather", "dates"], "required"), (["lists", "numbers"], "required"),
             (["weather"], {"type": "function", "function": {"name": "weather"}})]
    rows = [cache.chat_row([TOOLS[n] for n in names], choice) for names, choice in cases]
    budget = 72
    ids = torch.full((len(rows), 1), tok.eos_token_id)  # (B, 1): a one-token prompt
    processor = ToolCallConstraint(rows, 1, budget, cache.policy, tok)
    for _ in range(budget):
        scores = torch.randn((len(rows), cache.n_vocab), generator=generator)  # (B, vocab)
        scores[:, cache.stop_ids] = -1e4
        ids = torch.cat([ids, processor(ids, scores).argmax(-1, keepdim=True)], dim=1)
    for (names, _), generated in zip(cases, ids[:, 1:].tolist()):
        assert tok.eos_token_id in generated, tok.decode(generated)  # ended in budget
        answer = tok.decode(generated[: generated.index(tok.eos_token_id)])
        calls = hermes_calls(answer)
        assert calls, answer
        for call in calls:
            assert schema_errors(call["arguments"], TOOLS[call["name"]].parameters) == [], answer


@pytest.mark.slow
def test_embedded_tokenizer_chat_tables():
    """The same accept/reject tables with the embedded model's tokenizer (SmolLM2: EOS is `<|im_end|>`)."""
    from calltune.models import load_tokenizer, resolve_model_path

    tok = load_tokenizer(resolve_model_path("embedded"))
    cache = GrammarCache(tok, len(tok))
    for tools, choice, parallel, text in ACCEPT:
        assert _accepts(cache, tok, tools, text, choice, parallel), text
    for tools, choice, parallel, text in REJECT:
        assert not _accepts(cache, tok, tools, text, choice, parallel), text


# --- the order the grammar writes ------------------------------------------------------------

def test_the_grammar_writes_keys_only_in_schema_order_and_schema_ordered_gives_that_order(cache, tok):
    # the lists tool: properties tags, scores, filters; filters' own properties kind, strict
    mention_order = {"filters": {"strict": True, "kind": "b"}, "tags": ["x"]}
    ordered = schema_ordered(mention_order, SCHEMAS["lists"])
    assert list(ordered) == ["tags", "filters"] and list(ordered["filters"]) == ["kind", "strict"]
    assert ordered == mention_order  # the same values: only keys move
    assert _accepts(cache, tok, ["lists"], block("lists", ordered))
    assert not _accepts(cache, tok, ["lists"], block("lists", mention_order))
    assert not _accepts(cache, tok, ["weather"], block("weather", {"days": 3, "location": "Oslo"}))
    assert schema_ordered_call({"name": "weather", "arguments": {"days": 3, "location": "Oslo"}},
                               [TOOLS["weather"]]) == {"name": "weather", "arguments": {"location": "Oslo", "days": 3}}


def test_schema_ordered_follows_items_refs_and_the_branch_that_lists_the_keys():
    schema = {"type": "object", "$defs": {"who": {"type": "object", "properties": {
        "name": {"type": "string"}, "phone": {"type": "string"}}}},
        "properties": {"people": {"type": "array", "items": {"$ref": "#/$defs/who"}},
                       "where": {"anyOf": [{"type": "object", "properties": {"city": {}}},
                                           {"type": "object", "properties": {"lat": {}, "lon": {}}}]}},
        "additionalProperties": {"type": "object", "properties": {"a": {}, "b": {}}}}
    value = {"extra": {"b": 2, "a": 1}, "where": {"lon": 5, "lat": 6},
             "people": [{"phone": "1", "name": "Ann"}, "not an object"]}
    out = schema_ordered(value, schema)
    assert list(out) == ["people", "where", "extra"]  # listed properties first, then the rest as given
    assert list(out["people"][0]) == ["name", "phone"] and out["people"][1] == "not an object"
    assert list(out["where"]) == ["lat", "lon"] and list(out["extra"]) == ["a", "b"]
    assert schema_ordered({"z": 1, "y": 2}, {"type": "object"}) == {"z": 1, "y": 2}
    assert list(schema_ordered({"z": 1, "y": 2}, {"properties": {"y": {}}, "$ref": "#/nowhere"})) == ["z", "y"]
    # a call to a tool that is not offered comes back as it is
    call = {"name": "gone", "arguments": {"b": 1, "a": 2}}
    assert schema_ordered_call(call, [TOOLS["weather"]]) is call


# tools whose parameters refer to their own `$defs`; both call one definition `n`, meaning different things
REFERRING = [Tool("people", "", {"type": "object", "$defs": {"n": {"type": "object", "properties": {
    "name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}, "required": ["name"]}},
    "properties": {"who": {"type": "array", "items": {"$ref": "#/$defs/n"}}, "lead": {"$ref": "#/$defs/n"}},
    "required": ["who"]}),
    Tool("pick", "", {"type": "object", "definitions": {"n": {"enum": ["a", "b"]}},
                      "properties": {"choice": {"$ref": "#/definitions/n"},
                                     "same": {"$ref": "#/properties/choice"}}, "required": ["choice"]})]
REF_ACCEPTS = [("people", {"who": [{"name": "Ann", "age": 3}, {"name": "Bo"}]}),
               ("people", {"who": [], "lead": {"name": "Cy"}}),
               ("pick", {"choice": "a", "same": "b"})]
REF_REJECTS = [("people", {"who": [{"age": 3}]}),  # the definition's required name
               ("people", {"who": [{"name": "Ann", "age": -1}]}),  # its minimum
               ("people", {"who": [{"name": "Ann", "pets": 1}]}),  # closed, as every object
               ("people", {"who": "Ann"}),
               ("pick", {"choice": "c"}),  # the other tool's `n`, not this one's
               ("pick", {"choice": "a", "same": "z"}),
               ("pick", {"choice": {"name": "Ann"}})]


@pytest.mark.parametrize("key_order", ["schema", "any"])
def test_tools_that_refer_to_their_own_definitions_are_enforced(tok, key_order):
    """A `$ref` in a tool's parameters resolves against the parameters, though the call schema nests them
    (once "Pointer '/$defs/n' does not exist"): each tool's definitions have a place of their own, and two
    tools may name theirs alike. Hermes rows in either key order, and paper rows (`call_schema`)."""
    parameters = {t.name: t.parameters for t in REFERRING}
    assert not any(schema_errors(a, parameters[n]) for n, a in REF_ACCEPTS)  # the tables agree with the scorer
    assert all(schema_errors(a, {**parameters[n], "additionalProperties": False,
                                 "$defs": {"n": {**parameters["people"]["$defs"]["n"], "additionalProperties": False}}}
                             if n == "people" else parameters[n]) for n, a in REF_REJECTS)
    cache = GrammarCache(tok, len(tok), key_order=key_order)
    for tools in (REFERRING, REFERRING[::-1], REFERRING[:1], REFERRING[1:]):
        names = {t.name for t in tools}

        def verdicts(table):
            out = []
            for name, arguments in table:
                if name not in names:
                    continue
                for row, text in ((cache.chat_row(tools), block(name, arguments)),
                                  (cache.row(tools), json.dumps({"name": name, "arguments": arguments}))):
                    ids = tok(text, add_special_tokens=False)["input_ids"]
                    out.append(row.matcher.consume_tokens(ids) and row.matcher.is_accepting())
            return out

        assert all(verdicts(REF_ACCEPTS)) and verdicts(REF_ACCEPTS)
        assert not any(verdicts(REF_REJECTS)) and verdicts(REF_REJECTS)
    # the tool is not touched, and a tool without references embeds its parameters as before
    assert REFERRING[0].parameters["properties"]["lead"] == {"$ref": "#/$defs/n"}
    plain = json.loads(chat_grammar([TOOLS["weather"]]).split("%json", 1)[1])
    assert "$defs" not in plain and plain["properties"]["arguments"]["properties"]["location"]
