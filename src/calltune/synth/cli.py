"""`calltune data synth` and `calltune data stats`: registered on the `calltune data` subparsers.

    calltune data synth --n 5000 --seed 0 --out synth.jsonl [--rename-rate 0.3 --shuffle-rate 0.5
        --distractor-rate 0.5 --irrelevant-rate 0.1 --optional-rate 0.4 --max-tools 5 --domains a,b --tools x,y]
    calltune data stats synth.jsonl [--model embedded] [--out card.json]
"""

from __future__ import annotations

import sys
import time

from calltune.errors import CalltuneError

COMMANDS = ("synth", "stats")


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_parsers(data_subparsers) -> None:
    """Register `synth` and `stats` on the `calltune data` subparser object."""
    from calltune.synth.generator import SynthConfig

    d = SynthConfig()
    s = data_subparsers.add_parser("synth", help="generate procedural synthetic tool-call examples")
    s.add_argument("--n", type=int, required=True, help="number of examples")
    s.add_argument("--seed", type=int, default=d.seed)
    s.add_argument("--out", required=True, help="examples JSONL to write")
    s.add_argument("--rename-rate", type=float, default=d.rename_rate, help="per tool: rename function/parameters")
    s.add_argument("--shuffle-rate", type=float, default=d.shuffle_rate, help="per tool: shuffle property order")
    s.add_argument("--distractor-rate", type=float, default=d.distractor_rate, help="offer 2..max-tools tools")
    s.add_argument("--irrelevant-rate", type=float, default=d.irrelevant_rate, help="null-target examples")
    s.add_argument("--optional-rate", type=float, default=d.optional_rate, help="per optional parameter: stated")
    s.add_argument("--max-tools", type=int, default=d.max_tools)
    s.add_argument("--domains", type=_names, default=(), help="comma list of domains (default: all)")
    s.add_argument("--tools", type=_names, default=(), help="comma list of tools (default: all)")

    s = data_subparsers.add_parser("stats", help="data card of an examples file")
    s.add_argument("file", help="examples JSONL, or seed:all|train|dev")
    s.add_argument("--model", default="embedded", help="tokenizer for the token lengths")
    s.add_argument("--out", default=None, help="card JSON to write")


def run(args) -> int:
    """Run `synth` or `stats` (dispatch on `args.data_command`)."""
    from calltune.jsonl import check_output_file

    check_output_file(args.out)
    if args.data_command == "synth":
        from calltune.jsonl import write_jsonl
        from calltune.synth.generator import SynthConfig, generate

        cfg = SynthConfig(n=args.n, seed=args.seed, rename_rate=args.rename_rate, shuffle_rate=args.shuffle_rate,
                          distractor_rate=args.distractor_rate, irrelevant_rate=args.irrelevant_rate,
                          optional_rate=args.optional_rate, max_tools=args.max_tools, domains=args.domains,
                          tools=args.tools)
        start = time.perf_counter()
        records = generate(cfg)
        write_jsonl(args.out, records)
        n_null = sum(r["target"] is None for r in records)
        print(f"wrote {len(records)} examples ({n_null} null targets, "
              f"{len({r['meta']['tool'] for r in records} - {None})} tools) to {args.out} "
              f"in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        return 0
    if args.data_command == "stats":
        from calltune.synth.stats import run_stats

        _, text = run_stats(args.file, args.model, args.out)
        print(text, end="")
        return 0
    raise CalltuneError(f"unknown data command '{args.data_command}' (this module handles {', '.join(COMMANDS)})")
