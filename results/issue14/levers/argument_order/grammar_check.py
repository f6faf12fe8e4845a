"""How many of a set's target answers constrained decoding can write, as given and in schema order.
python grammar_check.py DATA"""
import sys
from calltune.chat.render import format_assistant
from calltune.constrain import GrammarCache
from calltune.examples import load_examples
from transformers import AutoTokenizer
from calltune.models import embedded_model_dir
from calltune.render import in_schema_order

tok = AutoTokenizer.from_pretrained(embedded_model_dir())
cache = GrammarCache(tok, len(tok))
counts = {"given": 0, "schema": 0, "calls": 0}
for ex in load_examples(sys.argv[1]):
    if not ex.calls:
        continue
    counts["calls"] += 1
    for kind, e in (("given", ex), ("schema", in_schema_order(ex))):
        text = format_assistant(e.calls, None)
        m = cache.chat_row(e.tools, "auto", True).matcher
        counts[kind] += bool(m.consume_tokens(tok(text, add_special_tokens=False)["input_ids"]) and m.is_accepting())
print(sys.argv[1], counts)
