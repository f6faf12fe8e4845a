"""The `calltune data` subcommands: import, split, dedup and leaks (synth and stats live in synth/cli.py).

    calltune data import --format openai|glaive|xlam|sharegpt --in FILE --out OUT.jsonl [--on-error stop|skip]
    calltune data split --data all.jsonl --train train.jsonl --dev dev.jsonl [--dev-fraction 0.2]
        [--seed 11711] [--by example|tool] [--dedup|--no-dedup]
    calltune data dedup --data all.jsonl --out deduped.jsonl
    calltune data leaks --train train.jsonl --dev dev.jsonl|bfcl:all|bfcl:CAT[,CAT] [--out leaks.json]

`cli.py` calls `add_parsers` on its `data` subparsers and `run` for any `data` command.
"""

from __future__ import annotations

import argparse
import dataclasses

from calltune.errors import CalltuneError
from calltune.examples import load_examples
from calltune.importers import FORMATS, ON_ERROR, import_file
from calltune.jsonl import check_output_file, write_json, write_jsonl
from calltune.overlap import check_overlap, eval_examples, eval_functions
from calltune.splits import SPLIT_BY, dedup, find_leaks, split

# The options of each command that name a file it writes; checked before any work is done.
OUTPUT_FILES = {"import": ("out",), "split": ("train", "dev"), "dedup": ("out",), "leaks": ("out",)}


def add_parsers(dsub: argparse._SubParsersAction) -> None:
    """Register `import`, `split`, `dedup` and `leaks` (and synth's `synth`, `stats`) on the `data` subparsers."""
    from calltune.synth import cli as synth_cli

    synth_cli.add_parsers(dsub)
    p = dsub.add_parser("import", help="convert OpenAI, Glaive, xLAM or ShareGPT data to calltune examples")
    p.add_argument("--format", required=True, choices=FORMATS, help="the input's format")
    p.add_argument("--in", dest="input", metavar="FILE", required=True, help="input JSON Lines or JSON array file")
    p.add_argument("--out", required=True, help="examples JSONL to write")
    p.add_argument("--on-error", default="stop", choices=ON_ERROR,
                   help="at a bad record: stop with an error (default), or skip it and report it at the end")

    p = dsub.add_parser("split", help="deterministic train/dev split of an examples file")
    p.add_argument("--data", required=True, help="examples JSONL, or seed:all|train|dev")
    p.add_argument("--train", required=True, help="train JSONL to write")
    p.add_argument("--dev", required=True, help="dev JSONL to write")
    p.add_argument("--dev-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=11711)
    p.add_argument("--by", default="example", choices=SPLIT_BY,
                   help="example: random examples; tool: held-out tools never offered in train")
    p.add_argument("--dedup", action=argparse.BooleanOptionalAction, default=True,
                   help="remove exact duplicates (instruction, tool names, target) first")

    p = dsub.add_parser("dedup", help="remove exact duplicate examples")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True, help="examples JSONL to write")

    p = dsub.add_parser("leaks", help="report dev instructions that also occur in train, and tools that "
                                      "overlap (name, normalized name, parameter-name set)")
    p.add_argument("--train", required=True)
    p.add_argument("--dev", required=True,
                   help="an eval file, seed:dev, or bfcl:all / bfcl:CATEGORY[,CATEGORY] (BFCL's questions and functions)")
    p.add_argument("--out", default=None, help="leak report JSON to write")
    p.add_argument("--ngram", type=int, default=8, help="word n-gram size for near-duplicates")
    p.add_argument("--threshold", type=float, default=0.5, help="Jaccard similarity that counts as a leak")


def cmd_import(args: argparse.Namespace) -> int:
    records, report = import_file(args.input, args.format, args.on_error)
    if not records:
        raise CalltuneError(f"no records imported\n{report.summary()}")
    write_jsonl(args.out, records)
    print(report.summary())
    print(f"wrote {len(records)} examples to {args.out}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    examples = load_examples(args.data)
    dedup_report = None
    if args.dedup:
        examples, dedup_report = dedup(examples)
    train, dev, report = split(examples, args.by, args.dev_fraction, args.seed)
    write_jsonl(args.train, [ex.record for ex in train])
    write_jsonl(args.dev, [ex.record for ex in dev])
    print(f"{len(train)} train -> {args.train}, {len(dev)} dev -> {args.dev}")
    if dedup_report is not None:
        print(dedup_report.summary())
    print(report.summary())
    print(find_leaks(train, dev).summary())
    return 0


def cmd_dedup(args: argparse.Namespace) -> int:
    kept, report = dedup(load_examples(args.data))
    write_jsonl(args.out, [ex.record for ex in kept])
    print(report.summary())
    print(f"wrote {len(kept)} examples to {args.out}")
    return 0


def cmd_leaks(args: argparse.Namespace) -> int:
    if args.ngram < 1 or not 0.0 < args.threshold <= 1.0:
        raise CalltuneError("--ngram must be at least 1 and --threshold in (0, 1]")
    train = load_examples(args.train)
    report = find_leaks(train, eval_examples(args.dev), args.ngram, args.threshold, keep=None)
    print(report.summary())
    label, functions = eval_functions(args.dev)
    tools = check_overlap(train, functions, label)
    print(tools.summary())
    if args.out:
        write_json(args.out, {**dataclasses.asdict(report), "tool_overlap": tools.to_json()})
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the `data` subcommand named by `args.data_command`; returns the exit code."""
    if args.data_command in ("synth", "stats"):
        from calltune.synth import cli as synth_cli

        return synth_cli.run(args)
    for dest in OUTPUT_FILES.get(args.data_command, ()):
        check_output_file(getattr(args, dest), f"--{dest}")
    if args.data_command == "import":
        return cmd_import(args)
    if args.data_command == "split":
        return cmd_split(args)
    if args.data_command == "dedup":
        return cmd_dedup(args)
    if args.data_command == "leaks":
        return cmd_leaks(args)
    raise CalltuneError(f"unknown data command '{args.data_command}'")
