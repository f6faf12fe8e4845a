"""`--key-order any`: constrained hermes calls whose keys may come in any order (`chat.grammar.AnyOrder`)."""

from __future__ import annotations

import json

import pytest
from test_chat_grammar import block
from test_constrain import SCHEMAS, TOOLS

from calltune.chat.grammar import ANY_ORDER_MAX, chat_grammar
from calltune.cli import main
from calltune.constrain import GrammarCache
from calltune.errors import CalltuneError
from calltune.examples import Tool, load_predictions
from calltune.predict import PredictConfig, _fingerprint, run_predict
from calltune.score import schema_errors
from calltune.serve.config import EngineConfig


@pytest.fixture(scope="module")
def any_cache(tok):
    return GrammarCache(tok, len(tok), key_order="any")


def _accepts(cache, tok, tools, text, tool_choice="auto") -> bool:
    matcher = cache.chat_row(tools, tool_choice).matcher
    return matcher.consume_tokens(tok(text, add_special_tokens=False)["input_ids"]) and matcher.is_accepting()


ANY_ACCEPTS = [  # (tool, arguments): keys in another order than the schema's, nested objects too
    ("weather", {"days": 3, "location": "Oslo"}),
    ("weather", {"unit": "celsius", "days": 7, "location": "Oslo"}),
    ("weather", {"location": "Oslo", "days": 2, "unit": "fahrenheit"}),
    ("numbers", {"count": -3, "amount": 1.5, "ratio": 0.5}),
    ("lists", {"filters": {"strict": True, "kind": "b"}, "tags": ["x"]}),
    ("lists", {"scores": [1], "filters": {"kind": "a"}, "tags": ["x", "y"]}),
    ("dates", {"time": "09:30", "date": "2025-01-01"}),
]
ANY_REJECTS = [  # what the schema forbids stays forbidden in any order
    ('{"days": 3}', "weather"),  # a required key missing
    ('{"days": 3, "location": "Oslo", "days": 4}', "weather"),  # a key twice
    ('{"location": "Oslo", "location": "Bergen"}', "weather"),
    ('{"days": 3, "location": "Oslo", "hours": 2}', "weather"),  # a key the schema does not have
    ('{"unit": "kelvin", "location": "Oslo"}', "weather"),  # enum
    ('{"days": 8, "location": "Oslo"}', "weather"),  # maximum
    ('{"filters": {"strict": true}, "tags": ["x"]}', "lists"),  # a nested object's required key
    ('{"filters": {"kind": "a", "kind": "b"}, "tags": ["x"]}', "lists"),
    ('{"count": 0, "ratio": 0.5}', "numbers"),
    ('{"time": "9:30", "date": "2025-01-01"}', "dates"),  # pattern
    ('{"days":3, "location": "Oslo"}', "weather"),  # not the trained spacing
]


@pytest.mark.parametrize("name,arguments", ANY_ACCEPTS)
def test_any_key_order_accepts_keys_in_another_order(any_cache, cache, tok, name, arguments):
    assert schema_errors(arguments, SCHEMAS[name]) == []
    assert _accepts(any_cache, tok, [TOOLS[name]], block(name, arguments))
    assert not _accepts(cache, tok, [TOOLS[name]], block(name, arguments))  # the schema's order only


@pytest.mark.parametrize("arguments,name", ANY_REJECTS)
def test_any_key_order_still_enforces_the_schema(any_cache, tok, arguments, name):
    text = f'<tool_call>\n{{"name": "{name}", "arguments": {arguments}}}\n</tool_call>'
    assert not _accepts(any_cache, tok, [TOOLS[name]], text)


def test_any_key_order_keeps_every_answer_the_schema_order_allowed(any_cache, tok):
    from test_chat_grammar import ACCEPT, REJECT

    for tools, choice, parallel, text in ACCEPT:
        matcher = any_cache.chat_row([TOOLS[n] for n in tools], choice, parallel).matcher
        assert matcher.consume_tokens(tok(text, add_special_tokens=False)["input_ids"]) and matcher.is_accepting()
    for tools, choice, parallel, text in REJECT:
        if "days" in text and "location" in text and text.index("days") < text.index("location"):
            continue  # the schema order's known limit, which any order lifts
        matcher = any_cache.chat_row([TOOLS[n] for n in tools], choice, parallel).matcher
        assert not (matcher.consume_tokens(tok(text, add_special_tokens=False)["input_ids"])
                    and matcher.is_accepting()), text


def test_refs_and_large_objects_keep_the_schema_order(any_cache, tok):
    # a reference that cannot be written out in place (a cycle, or a keyword beside the `$ref`): the whole call as
    # one schema, as under the schema's order (a property's schema alone would lose what its $ref points at)
    cyclic = Tool("tree", "", {"type": "object", "$defs": {"t": {"type": "object", "properties": {
        "label": {"type": "string"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/t"}}}}},
        "properties": {"root": {"$ref": "#/$defs/t"}, "depth": {"type": "integer"}}, "required": ["root"]})
    beside = Tool("ref", "", {"type": "object", "$defs": {"n": {"type": "integer"}},
                              "properties": {"a": {"$ref": "#/$defs/n", "minimum": 2}, "b": {"type": "string"}},
                              "required": ["a"]})
    for tool, keep, other in ((cyclic, {"root": {"label": "x", "kids": []}, "depth": 1},
                               {"depth": 1, "root": {"kids": [], "label": "x"}}),
                              (beside, {"a": 3, "b": "x"}, {"b": "x", "a": 3})):
        rules = chat_grammar([tool], key_order="any").splitlines()
        assert [r.split(": %json ")[0] for r in rules if "%json" in r] == ["call1"]
        assert not any(r.startswith("object") for r in rules)
        assert _accepts(any_cache, tok, [tool], block(tool.name, keep))
        assert not _accepts(any_cache, tok, [tool], block(tool.name, other))
    assert not _accepts(any_cache, tok, [beside], block("ref", {"a": 1, "b": "x"}))  # the keyword beside it holds
    keys = [f"k{i}" for i in range(ANY_ORDER_MAX + 1)]
    large = Tool("large", "", {"type": "object", "properties": {k: {"type": "integer"} for k in keys}})
    small = Tool("small", "", {"type": "object", "properties": {k: {"type": "integer"} for k in keys[:-1]}})
    assert _accepts(any_cache, tok, [large], block("large", {"k1": 1, "k0": 0})) is False
    assert _accepts(any_cache, tok, [small], block("small", {f"k{i}": i for i in reversed(range(ANY_ORDER_MAX))}))
    # one state per set of written keys: 2^n of them for n properties
    grammar = chat_grammar([small], key_order="any")
    assert sum(line.startswith("object") and "_key" not in line.split(":")[0] for line in grammar.splitlines()) \
        == 2 ** ANY_ORDER_MAX + 1


def test_option_errors_and_the_fingerprint(tmp_path, tiny_gpt2, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "a", "instruction": "Weather in Oslo for 3 days",
                                "tools": [{"type": "function", "function": {
                                    "name": "weather", "parameters": SCHEMAS["weather"]}}]}) + "\n")
    common = {"data": str(data), "out": "x", "prompt_style": "hermes"}
    with pytest.raises(CalltuneError, match="--key-order applies to --prompt-style hermes with --decoding constrained"):
        PredictConfig(**common, key_order="any")
    with pytest.raises(CalltuneError, match="--key-order must be one of schema, any"):
        PredictConfig(**common, decoding="constrained", key_order="random")
    with pytest.raises(CalltuneError, match="--key-order"):
        EngineConfig(decoding="greedy", key_order="any")
    assert EngineConfig(decoding="constrained", key_order="any").key_order == "any"
    with pytest.raises(CalltuneError, match="key_order must be one of"):
        GrammarCache(None, 0, key_order="random")
    cfgs = [PredictConfig(**common, decoding="constrained", key_order=k) for k in ("schema", "any")]
    schema_fp, any_fp = (_fingerprint(cfg, "m", ["p"]) for cfg in cfgs)
    assert schema_fp != any_fp
    # runs without the option keep the fingerprint they had before it existed
    cfg = PredictConfig(**common, decoding="constrained")
    assert _fingerprint(cfg, "m", ["p"]) == schema_fp
    out = tmp_path / "p.jsonl"
    base = ["predict", "--data", str(data), "--out", str(out), "--model", tiny_gpt2, "--prompt-style", "hermes",
            "--no-progress", "--key-order", "any"]
    assert main(base) == 2
    assert "--key-order applies to --prompt-style hermes with --decoding constrained" in capsys.readouterr().err
    assert not out.exists()


def test_predict_with_any_key_order_gives_valid_calls_in_orders_the_schema_would_not(tmp_path, tiny_loaded):
    """A random tiny model decodes under both grammars: every call is valid for its schema, and under
    `any` some come in an order the schema's grammar could not write (the same greedy model)."""
    data = tmp_path / "d.jsonl"
    tools = [{"type": "function", "function": {"name": n, "parameters": SCHEMAS[n]}}
             for n in ("weather", "numbers", "lists")]
    data.write_text("".join(json.dumps({"id": f"r{i}", "instruction": f"Request {i}: do it.", "tools": tools,
                                        "tool_choice": "required"}) + "\n" for i in range(4)))
    orders = {}
    for key_order in ("schema", "any"):
        out = tmp_path / f"{key_order}.jsonl"
        cfg = PredictConfig(data=str(data), out=str(out), model="tiny", prompt_style="hermes",
                            decoding="constrained", max_new_tokens=64, key_order=key_order)
        run_predict(cfg, loaded=tiny_loaded, progress=False)
        calls = [c for p in load_predictions(str(out)) for c in p.calls]
        assert calls and all(schema_errors(c["arguments"], SCHEMAS[c["name"]]) == [] for c in calls)
        orders[key_order] = [list(c["arguments"]) == [k for k in SCHEMAS[c["name"]]["properties"]
                                                      if k in c["arguments"]] for c in calls]
    assert all(orders["schema"])
    assert not all(orders["any"])


def test_serve_engine_carries_the_key_order(tiny_loaded):
    from calltune.serve.engine import Engine

    model, tokenizer = tiny_loaded[0], tiny_loaded[1]
    engine = Engine(model, tokenizer, EngineConfig(decoding="constrained", key_order="any"))
    assert engine.grammars.key_order == "any" and engine.stats()["key_order"] == "any"
    prepared = engine.prepare([{"role": "user", "content": "Weather in Oslo for 3 days?"}], [TOOLS["weather"]],
                              "required", True)
    answer = block("weather", {"days": 3, "location": "Oslo"})
    matcher = prepared.constraint.matcher
    assert matcher.consume_tokens(tokenizer(answer, add_special_tokens=False)["input_ids"]) and matcher.is_accepting()


def test_refs_written_out_in_place_free_the_order(any_cache, tok):
    """References to a tool's own definitions (pydantic writes nested models so) are written out in place, so their
    objects take their keys in any order too, with every constraint of what they point at."""
    from test_chat_grammar import REF_ACCEPTS, REF_REJECTS, REFERRING

    people, pick = REFERRING
    assert _accepts(any_cache, tok, REFERRING, block("people", {"lead": {"age": 4, "name": "Cy"}, "who": [
        {"age": 3, "name": "Ann"}]}))
    assert _accepts(any_cache, tok, REFERRING, block("pick", {"same": "b", "choice": "a"}))
    assert not _accepts(any_cache, tok, REFERRING, block("people", {"lead": {"age": 4}, "who": []}))
    assert all(_accepts(any_cache, tok, REFERRING, block(n, a)) for n, a in REF_ACCEPTS)
    assert not any(_accepts(any_cache, tok, REFERRING, block(n, a)) for n, a in REF_REJECTS)
    rules = chat_grammar(REFERRING, key_order="any")
    assert "$ref" not in rules and "object" in rules
    assert people.parameters["properties"]["lead"] == {"$ref": "#/$defs/n"}  # the tool is not touched


def test_lists_of_objects_take_their_keys_in_any_order(any_cache, tok):
    """An array of flat objects with no bound on its length gets rules of its own (each item in any order, every
    item's constraints kept); with a bound it stays llguidance's own schema, keys in the schema's order."""
    item = {"type": "object", "properties": {"name": {"type": "string"}, "nights": {"type": "integer", "minimum": 1}},
            "required": ["name"]}
    free = Tool("book", "", {"type": "object", "properties": {"stays": {"type": "array", "items": item}},
                             "required": ["stays"]})
    bounded = Tool("book", "", {"type": "object", "properties": {
        "stays": {"type": "array", "items": item, "minItems": 1}}, "required": ["stays"]})
    reversed_items = {"stays": [{"nights": 2, "name": "Oslo"}, {"name": "Bergen", "nights": 1}]}
    assert _accepts(any_cache, tok, [free], block("book", reversed_items))
    assert _accepts(any_cache, tok, [free], block("book", {"stays": []}))
    for wrong in ({"stays": [{"nights": 2}]}, {"stays": [{"name": "Oslo", "nights": 0}]},
                  {"stays": [{"name": "Oslo", "pets": 1}]}):
        assert not _accepts(any_cache, tok, [free], block("book", wrong))
    twice = block("book", {"stays": [{"name": "A", "nights": 1}]}).replace('"nights": 1', '"name": "B"')
    assert not _accepts(any_cache, tok, [free], twice)  # a key twice
    assert not _accepts(any_cache, tok, [bounded], block("book", reversed_items))
    assert _accepts(any_cache, tok, [bounded], block("book", {"stays": [{"name": "Oslo", "nights": 2}]}))
    assert not _accepts(any_cache, tok, [bounded], block("book", {"stays": []}))  # minItems holds
