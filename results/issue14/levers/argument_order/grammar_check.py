"""How many of a set's target answers constrained decoding can write, as the file gives them and in the offered
schemas' order (`render.in_schema_order`), with the embedded model's tokenizer and calltune's chat grammar:
`python grammar_check.py DATA` (dev_proc150: 102 and 130 of 130 call answers)."""
import sys


def main(argv=None) -> int:
    from transformers import AutoTokenizer

    from calltune.chat.render import format_assistant
    from calltune.constrain import GrammarCache
    from calltune.examples import load_examples
    from calltune.models import embedded_model_dir
    from calltune.render import in_schema_order

    data = (sys.argv[1:] if argv is None else argv)[0]
    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    cache = GrammarCache(tok, len(tok))
    counts = {"calls": 0, "given": 0, "schema": 0}
    for example in load_examples(data):
        if not example.calls:
            continue
        counts["calls"] += 1
        for kind, shown in (("given", example), ("schema", in_schema_order(example))):
            matcher = cache.chat_row(shown.tools, "auto", True).matcher
            ids = tok(format_assistant(shown.calls, None), add_special_tokens=False)["input_ids"]
            counts[kind] += bool(matcher.consume_tokens(ids) and matcher.is_accepting())
    print(data, counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
