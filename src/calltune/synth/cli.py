"""`calltune data synth` and `calltune data stats`: registered on the `calltune data` subparsers.

    calltune data synth --n 5000 --seed 0 --out synth.jsonl [--rename-rate 0.3 --shuffle-rate 0.5
        --distractor-rate 0.5 --irrelevant-rate 0.1 --text-answer-rate 1 --irrelevant-task-rate 0 --task-call-rate 0
        --task-near-miss-rate 0 --optional-rate 0.4
        --parallel-rate 0 --parallel-same-tool-rate 0.5 --parallel-list-rate 0 --parallel-mixed-rate 0
        --parallel-repeat-rate 0 --parallel-group-rate 0 --parallel-max-calls 2 --dialogue-rate 0 --followup-rate 0.4
        --max-tools 5 --domains a,b --tools x,y
        --procedural-rate 0 --procedural-seed SEED --procedural-split all --catalogue-split all --mask-rate 0
        --description-style-rate 0 --description-styles terse,verbose,docstring,openapi
        --near-miss-rate 0 --near-miss-missing-rate 0.5 --word-value-rate 0 --composed-dialogue-rate 0
        --session-rate 0 --session-max-rounds 3 --value-format-rate 0 --distractor-same-domain-rate 0.35
        --object-param-rate 0 --parallel-cross-rate 0 --novel-value-rate 0 --context-value-rate 0
        --optional-contrast-rate 0 --optional-addition-rate 0 --round-value-rate 0]

Each rate is documented once, on its `SynthConfig` field; `--help` shows those docstrings.
    calltune data stats synth.jsonl [--model embedded] [--out card.json]
"""

from __future__ import annotations

import sys
import time

from calltune.errors import CalltuneError

COMMANDS = ("synth", "stats")


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _field_docs() -> dict[str, str]:
    """SynthConfig field -> its docstring (the one place each option is described)."""
    import ast
    import inspect

    from calltune.synth import generator

    body = ast.parse(inspect.getsource(generator.SynthConfig)).body[0].body
    return {a.target.id: " ".join(d.value.value.split()).replace("%", "%%") for a, d in zip(body, body[1:])
            if isinstance(a, ast.AnnAssign) and isinstance(d, ast.Expr) and isinstance(d.value, ast.Constant)}


def add_parsers(data_subparsers) -> None:
    """Register `synth` and `stats` on the `calltune data` subparser object."""
    from calltune.synth.generator import RATES, SynthConfig

    d, docs = SynthConfig(), _field_docs()
    s = data_subparsers.add_parser("synth", help="generate procedural synthetic tool-call examples")
    s.add_argument("--n", type=int, required=True, help="number of examples")
    s.add_argument("--seed", type=int, default=d.seed)
    s.add_argument("--out", required=True, help="examples JSONL to write")
    for name in RATES:
        s.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name), help=docs.get(name))
    s.add_argument("--max-tools", type=int, default=d.max_tools, help=docs.get("max_tools"))
    s.add_argument("--parallel-max-calls", type=int, default=d.parallel_max_calls, help=docs.get("parallel_max_calls"))
    s.add_argument("--session-max-rounds", type=int, default=d.session_max_rounds, help=docs.get("session_max_rounds"))
    s.add_argument("--domains", type=_names, default=(), help="comma list of domains (default: all)")
    s.add_argument("--tools", type=_names, default=(), help="comma list of tools (default: all)")
    s.add_argument("--procedural-seed", type=int, default=d.procedural_seed, help=docs.get("procedural_seed"))
    s.add_argument("--procedural-split", default=d.procedural_split, help=docs.get("procedural_split"))
    s.add_argument("--catalogue-split", default=d.catalogue_split, help=docs.get("catalogue_split"))
    s.add_argument("--description-styles", type=_names, default=d.description_styles,
                   help=docs.get("description_styles"))

    s = data_subparsers.add_parser("stats", help="data card of an examples file")
    s.add_argument("file", help="examples JSONL, or seed:all|train|dev")
    s.add_argument("--model", default="embedded", help="tokenizer for the token lengths")
    s.add_argument("--out", default=None, help="card JSON to write")


def _called_tools(records: list[dict]) -> set[str]:
    tools = set()
    for r in records:
        tool = r["meta"]["tool"]
        tools.update(tool if isinstance(tool, list) else [tool] if tool else [])
    return tools


def run(args) -> int:
    """Run `synth` or `stats` (dispatch on `args.data_command`)."""
    from calltune.jsonl import check_output_file

    check_output_file(args.out)
    if args.data_command == "synth":
        from calltune.jsonl import write_jsonl
        from calltune.synth.generator import SynthConfig, generate

        from calltune.synth.generator import RATES

        cfg = SynthConfig(n=args.n, seed=args.seed, max_tools=args.max_tools, domains=args.domains, tools=args.tools,
                          procedural_seed=args.procedural_seed, procedural_split=args.procedural_split,
                          catalogue_split=args.catalogue_split,
                          description_styles=args.description_styles, parallel_max_calls=args.parallel_max_calls,
                          session_max_rounds=args.session_max_rounds,
                          **{name: getattr(args, name) for name in RATES})
        start = time.perf_counter()
        records = generate(cfg)
        write_jsonl(args.out, records)
        n_null = sum(r["target"] is None for r in records)
        n_list = sum(isinstance(r["target"], list) for r in records)
        tags = [set(r["meta"]["augmentations"]) for r in records]
        n_session = sum("session" in t for t in tags)
        n_dialogue = sum("messages" in r for r in records) - n_session
        n_near = sum(bool(t & {"near_miss_missing", "near_miss_operation"}) for t in tags)
        n_composed = sum("procedural" in t for t in tags)
        print(f"wrote {len(records)} examples ({n_null} null targets of which {n_near} near misses, {n_list} parallel, "
              f"{n_dialogue} dialogues, {n_session} sessions, {n_composed} with composed tools, "
              f"{len(_called_tools(records))} tools) to {args.out} "
              f"in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        return 0
    if args.data_command == "stats":
        from calltune.synth.stats import run_stats

        _, text = run_stats(args.file, args.model, args.out)
        print(text, end="")
        return 0
    raise CalltuneError(f"unknown data command '{args.data_command}' (this module handles {', '.join(COMMANDS)})")
