"""The `calltune` command line. Every subcommand returns an exit code:

    0    success
    2    bad input or an impossible request: one `error: ...` line naming the file, line or field
         (argparse's usage errors are exit 2 as well)
    3    an internal error (a bug): one `error: internal error: ...` line; `calltune --debug COMMAND ...`
         prints the full traceback as well
    130  interrupted (Ctrl-C)

    calltune predict --data seed:dev --out pred.jsonl [--model embedded] [--adapter DIR]
    calltune predict --data seed:dev --out pred.jsonl --decoding greedy|repair|constrained
    calltune eval --data seed:dev --pred pred.jsonl --out metrics.json
    calltune repair --data seed:dev --pred pred.jsonl --out repaired.jsonl
    calltune data split --data all.jsonl --train train.jsonl --dev dev.jsonl [--by example|tool]
    calltune data import --format openai|glaive|xlam|sharegpt --in FILE --out OUT.jsonl
    calltune render --data seed:dev [--prompt-style chat|hermes] [--index 0]
    calltune bfcl --category simple_python --out DIR [--limit N] [--pred PRED]
    calltune calibrate-abstention --data dev.jsonl --adapter RUN --out DIR [--margins=-2,-1,0,1,2,4]
        [--no-call-share 0.2]
    calltune margin-sweep DIR [DIR ...] [--margins=-2,-1,0,1,2]
    calltune compare RUN_A RUN_B [--margin M] [--out compare.json]
    calltune demo --out runs/demo [--config configs/best.yaml] [--train-size 120] [--epochs 2] [--bfcl-limit N]
    calltune stress --data dev.jsonl --out stress/ [--train train.jsonl]
    calltune experiment configs/experiments/report.yaml --out runs/report [--quick]
    calltune report runs/report [--readme README.md]
    calltune train --config configs/paper.yaml --out runs/paper [section.key=value ...] [--resume [--force]]
    calltune merge --adapter runs/paper --out runs/paper-merged
    calltune interpolate --model RUN|--adapter RUN --weight 0.85 --out DIR
    calltune serve [--model M] [--adapter DIR] [--port 8000] [--decoding constrained|greedy] [--api-key KEY]
    calltune export --adapter runs/paper --format hf|gguf --out DIR|FILE.gguf [--type f32|f16|q8_0]
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from calltune.errors import CalltuneError
from calltune.jsonl import check_output_file


def _yes_no(text: str) -> bool:
    if text.lower() in ("true", "yes", "1"):
        return True
    if text.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got '{text}'")


ADAPTER_HELP = ("`builtin` (the tuned adapter shipped with calltune; a directory of that name is ./builtin), "
                "a PEFT adapter directory, or a run directory with adapter/")


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="embedded",
                   help="`embedded`, a local HF model directory, a full fine-tune's run directory, or a hub id")
    p.add_argument("--adapter", default=None, help=ADAPTER_HELP)
    p.add_argument("--prompt-style", default="auto", choices=["auto", "paper", "chat", "hermes"],
                   help="auto (default): as the adapter's run trained, else hermes; paper: the report's "
                        "template; chat: the model's chat template, one JSON call; hermes: the standard "
                        "chat format with tools (text or <tool_call> blocks)")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="default: 256 for hermes (as serve), 64 for paper and chat")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--quantization", default="auto", choices=["auto", "none", "nf4"],
                   help="base weights: auto = as the adapter's run trained them (else none)")
    p.add_argument("--decoding", default="greedy", choices=["greedy", "repair", "constrained"],
                   help="greedy; greedy + JSON repair; or constrained to the offered tools' schemas")
    p.add_argument("--no-call", default="allow", choices=["allow", "forbid"],
                   help='constrained: may the model answer {"name": null, "arguments": {}}')
    p.add_argument("--on-unsupported", default="error", choices=["error", "unconstrained"],
                   help="constrained: a schema the engine cannot express is an error, or decoded unconstrained")
    p.add_argument("--tool-choice", default=None, metavar="auto|required|none|NAME",
                   help="hermes + constrained: for every example (default: each example's own, else auto)")
    p.add_argument("--parallel-tool-calls", default=None, type=_yes_no, metavar="true|false",
                   help="hermes + constrained: allow several calls per answer (default: each example's own, else true)")
    p.add_argument("--abstain-margin", default=None, type=float, metavar="M",
                   help="hermes + constrained, tool_choice auto: answer in text when log p(text) + M >= "
                        "log p(call) (default: none, greedy chooses); calibrate M with calibrate-abstention")
    p.add_argument("--optional-margin", default=None, type=float, metavar="M",
                   help="constrained: where a call may give another argument or end its arguments, give "
                        "another when log p(more) + M > log p(close) (default: none, greedy chooses; M > 0 "
                        "states optional arguments more often); choose M on synthetic dev")
    p.add_argument("--next-call-margin", default=None, type=float, metavar="M",
                   help="hermes + constrained: after each call, open another when log p(another) + M > "
                        "log p(end) (default: none, greedy chooses; M > 0 makes more parallel calls); "
                        "choose M on synthetic dev")
    p.add_argument("--copy-margin", default=None, type=float, metavar="B",
                   help="constrained: add B to each of the best allowed tokens that keeps an argument's value a "
                        "piece of the request's text (default: none, greedy chooses); choose B on synthetic dev")
    p.add_argument("--key-order", default="schema", choices=["schema", "any"],
                   help="hermes + constrained: a call's keys in the schema's order (default), or in any order, "
                        "each once (such as the order the request mentions them in)")
    p.add_argument("--engine", action=argparse.BooleanOptionalAction, default=None,
                   help="hermes: decode through calltune serve's engine (continuous batching of --batch-size "
                        "rows, speculative steps, prefix reuse): the same greedy choices in fewer forward passes; "
                        "default: on for hermes where the model allows it; --no-engine: batches of generate")
    p.add_argument("--draft-tokens", type=int, default=8, metavar="N",
                   help="with --engine: tokens guessed ahead per row and step (default 8; 0: none)")
    p.add_argument("--num-beams", type=int, default=1, metavar="K",
                   help="hermes: beam search over K answers, returning the one the model finds most likely as a "
                        "whole (default 1: greedy); --batch-size prompts at a time, each with its own K beams, outside "
                        "the engine")
    p.add_argument("--length-penalty", type=float, default=0.0, metavar="A",
                   help="with --num-beams: rank finished answers by their summed log-probability / tokens^A "
                        "(Hugging Face's length_penalty; default 0: the sum alone, which favours shorter answers)")
    p.add_argument("--distinct-calls", action="store_true",
                   help="with --num-beams: no beam repeats a call it has already written (the same name and "
                        "arguments); the answer ends before a repeated call only when nothing else is left")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _margins(text: str) -> tuple[float, ...]:
    from calltune.calibrate import parse_margins

    try:
        return parse_margins(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _bfcl_sizes(text: str) -> dict[str, int]:
    from calltune.demo import parse_bfcl_sizes

    try:
        return parse_bfcl_sizes(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calltune", description="Teach small language models to make reliable tool calls.")
    parser.add_argument("--debug", action="store_true", help="on an internal error, print the full traceback")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="generate tool calls for a JSONL file of examples")
    p.add_argument("--data", required=True, help="examples JSONL, or seed:all|train|dev")
    p.add_argument("--out", required=True, help="predictions JSONL to write")
    _add_model_args(p)

    p = sub.add_parser("eval", help="score predictions: JSON validity, schema adherence, exact match")
    p.add_argument("--data", required=True)
    p.add_argument("--pred", required=True)
    p.add_argument("--out", default=None, help="metrics JSON to write")
    p.add_argument("--style", choices=("paper", "hermes"), default=None,
                   help="read the predictions in this style (default: hermes when its records have `calls`, "
                        "else paper); hermes scores files of `id` and `raw` alone, such as results/'s")

    p = sub.add_parser("repair", help="JSON-repair an existing predictions file (what --decoding repair does)")
    p.add_argument("--data", required=True)
    p.add_argument("--pred", required=True)
    p.add_argument("--out", required=True, help="predictions JSONL to write (raw kept, `repaired` added)")

    p = sub.add_parser("stress", help="perturbed copies of a labelled set (renaming, reordering, ...)")
    p.add_argument("--data", required=True, help="labelled examples JSONL, or seed:dev")
    p.add_argument("--out", required=True, help="directory for one JSONL per condition and manifest.json")
    p.add_argument("--train", default=None, help="training data, for the unseen-tools condition")
    p.add_argument("--seed", type=int, default=11711)
    p.add_argument("--limit", type=int, default=None, help="at most N examples per condition")

    p = sub.add_parser("experiment", help="run a matrix of methods x data scales x decodings and report it")
    p.add_argument("config", help="experiment YAML (see configs/experiments/)")
    p.add_argument("--out", required=True, help="experiment directory (finished cells are reused)")
    p.add_argument("--quick", action="store_true", help="the config's quick profile: fewer cells, smaller sets")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("report", help="rewrite an experiment's report.md/.html (and README results)")
    p.add_argument("dir", help="experiment directory")
    p.add_argument("--readme", default=None, help="also replace this README's results section")

    p = sub.add_parser("data", help="data: import, split, dedup, leak check")
    from calltune import data_cli

    data_cli.add_parsers(p.add_subparsers(dest="data_command", required=True))

    p = sub.add_parser("render", help="print the prompt calltune builds for an example")
    p.add_argument("--data", required=True)
    p.add_argument("--index", type=int, default=0)
    p.add_argument("--prompt-style", default="paper", choices=["paper", "chat", "hermes"],
                   help="hermes: the chat-template text up to the opening of the answer")
    p.add_argument("--model", default="embedded", help="tokenizer source for the chat and hermes styles")

    p = sub.add_parser("bfcl", help="run and score a BFCL category with BFCL's AST checker")
    p.add_argument("--category", required=True,
                   choices=["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"])
    p.add_argument("--out", required=True, help="directory for examples, predictions and metrics")
    p.add_argument("--limit", type=int, default=None, help="only the first N cases")
    p.add_argument("--pred", default=None, help="score this predictions file instead of generating")
    _add_model_args(p)

    p = sub.add_parser("calibrate-abstention",
                       help="choose --abstain-margin on synthetic dev data (never BFCL): one forward pass per example")
    p.add_argument("--data", required=True, help="labelled dev examples JSONL (calls and target null), or seed:dev")
    p.add_argument("--out", required=True, help="directory for calibration.json and branches.jsonl")
    p.add_argument("--margins", default=None, type=_margins, nargs="+", metavar="M",
                   help="margins to score, as --margins=-2,-1,0 or --margins -2 -1 0 (default: -2,-1,0,1,2,3,4,6,8)")
    p.add_argument("--model", default="embedded")
    p.add_argument("--adapter", default=None, help=ADAPTER_HELP)
    p.add_argument("--prompt-style", default="auto", choices=["auto", "hermes"])
    p.add_argument("--quantization", default="auto", choices=["auto", "none", "nf4"])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--no-call-share", type=float, default=None, metavar="P",
                   help="share of requests that want no call where the model will be used: pick the margin by the "
                        "accuracy expected there (default: balanced accuracy, the same as 0.5)")
    p.add_argument("--on-unsupported", default="error", choices=["error", "unconstrained"],
                   help="a schema the engine cannot express is an error, or its example is left out")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("margin-sweep",
                       help="BFCL accuracy at every abstention margin from bfcl runs made under --abstain-margin "
                            "(reporting only: choose the margin with calibrate-abstention)")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="`calltune bfcl` output directories")
    p.add_argument("--margins", default=None, type=_margins, nargs="+", metavar="M",
                   help="margins, as --margins=0,1,2 (default: -2,-1,-0.5,0,0.5,1,1.5,2,3,4 from the highest "
                        "margin a run was made at)")
    p.add_argument("--out", default=None, help="also write the sweep as JSON here")

    p = sub.add_parser("compare", help="two runs on the same cases, paired: accuracies, cases right for one only, "
                                       "McNemar p")
    p.add_argument("runs", nargs=2, metavar="RUN",
                   help="a `calltune bfcl` output directory or a `calltune eval` metrics file (both of one kind)")
    p.add_argument("--margin", default=None, type=float,
                   help="read two bfcl runs made under --abstain-margin at or below it as decoded at it")
    p.add_argument("--out", default=None, help="also write the comparison as JSON here")

    p = sub.add_parser("train", help="LoRA / QLoRA fine-tuning (see configs/*.yaml)")
    p.add_argument("--config", default=None, help="YAML config; omitted sections take their defaults")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("overrides", nargs="*", help="section.key=value (value parsed as YAML)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--force", action="store_true",
                   help="with --resume: continue even if the config differs from the checkpoint's")
    p.add_argument("--show-example", type=int, default=None, metavar="N",
                   help="print training example N with its supervised tokens marked, then exit")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("merge", help="merge an adapter into its base model and save the result")
    p.add_argument("--adapter", required=True, help=ADAPTER_HELP)
    p.add_argument("--out", required=True)
    p.add_argument("--model", default="embedded")

    p = sub.add_parser("interpolate", help="keep a share W of what fine-tuning changed: base + W * (tuned - base) "
                                           "(WiSE-FT), as a model or adapter directory")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", default=None, help="a full fine-tune: its run directory or model/")
    which.add_argument("--adapter", default=None, help="a LoRA adapter: " + ADAPTER_HELP)
    p.add_argument("--weight", required=True, type=float,
                   help="W: 1 keeps the fine-tune, 0 is the base, between them lies between")
    p.add_argument("--base", default=None, help="with --model: the base (default: the one its calltune.json names)")
    p.add_argument("--out", required=True, help="the directory to write (use it with --model or --adapter)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")

    p = sub.add_parser("export", help="write a merged model as an HF directory or a GGUF file, with the chat template")
    p.add_argument("--adapter", default=None, help=ADAPTER_HELP + " (omitted: export the base model)")
    p.add_argument("--model", default=None, help="the base (default: the adapter's recorded base, else embedded)")
    p.add_argument("--format", required=True, choices=["hf", "gguf"],
                   help="hf: safetensors directory for transformers / vLLM; gguf: one file for llama.cpp")
    p.add_argument("--type", default=None, choices=["f32", "f16", "bf16", "q8_0"],
                   help="weights: hf f32|f16|bf16 (default f32), gguf f32|f16|q8_0 (default f16)")
    p.add_argument("--out", required=True, help="directory (hf) or FILE.gguf (gguf)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")

    p = sub.add_parser("serve", help="an OpenAI-compatible tool-calling server (constrained decoding)")
    from calltune.serve.config import add_arguments

    add_arguments(p)

    p = sub.add_parser("demo", help="the main job: generate data, fine-tune with configs/best.yaml at a demo "
                                    "budget, compare prompt-only with tuned on seed dev and BFCL subsets")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--model", default="embedded", help="the base model, prompt-only and tuned")
    p.add_argument("--config", default="configs/best.yaml", help="the training recipe")
    p.add_argument("--synth-n", type=int, default=1000, help="demo budget: synthetic examples (data.synth.n)")
    p.add_argument("--train-size", type=int, default=120, help="demo budget: training examples (data.train_size)")
    p.add_argument("--dev-size", type=int, default=20, help="demo budget: dev examples for the dev loss (data.dev_size)")
    p.add_argument("--epochs", type=float, default=2, help="demo budget: passes over the training examples "
                                                            "(train.epochs; the demo's own, whatever the recipe's)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="another override of the recipe (repeatable), e.g. --set train.epochs=2")
    p.add_argument("--bfcl", type=_bfcl_sizes, default="simple_python=20,irrelevance=20,parallel=10",
                   metavar="CATEGORY=N,...", help="BFCL subsets: the first N cases of each category")
    p.add_argument("--bfcl-limit", type=int, default=None,
                   help="the first N cases of every category in --bfcl (overrides their sizes)")
    p.add_argument("--prompt-styles", default="hermes",
                   help="prompt-only rows in each of these styles (hermes, paper, chat); the tuned model is "
                        "evaluated in the style it trained with (the recipe's data.prompt_style)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="default: 256 for hermes (as serve), 64 for paper and chat")
    p.add_argument("--key-order", default="any", choices=["schema", "any"],
                   help="constrained hermes cells: a call's keys in the schema's order or in any order (default: "
                        "any, the recipe's decoding since session 48; see the README's \"Key order\")")
    p.add_argument("--num-beams", type=int, default=1, metavar="K",
                   help="constrained hermes cells: the likeliest answer of K beams (default 1: greedy, for the "
                        "demo's time budget; the recipe decodes with 4 since session 50, see the README's \"Beam "
                        "search\")")
    p.add_argument("--no-progress", action="store_true")
    return parser


def cmd_predict(args) -> int:
    from calltune.predict import PredictConfig, run_predict

    check_output_file(args.out)
    cfg = PredictConfig.from_args(args, data=args.data, out=args.out)
    stats = run_predict(cfg, progress=not args.no_progress)
    print(f"wrote {stats['n']} predictions to {args.out} ({stats['examples_per_s']} examples/s, "
          f"{stats['new_tokens_per_s']} new tokens/s)", file=sys.stderr)
    return 0


def cmd_eval(args) -> int:
    from calltune.evaluate import format_metrics, run_eval

    check_output_file(args.out)
    metrics = run_eval(args.data, args.pred, args.out, args.style)
    print(format_metrics(metrics))
    return 0


def cmd_repair(args) -> int:
    from calltune.predict import repair_predictions

    check_output_file(args.out)
    counts = repair_predictions(args.data, args.pred, args.out)
    print(f"wrote {args.out}: {counts['repaired']} of {counts['n']} predictions repaired, "
          f"{counts['hopeless']} hopeless, {counts['unchanged']} needed nothing", file=sys.stderr)
    return 0


def cmd_stress(args) -> int:
    from calltune.stress import format_manifest, run_stress

    print(format_manifest(run_stress(args.data, args.out, args.train, args.seed, args.limit)))
    return 0


def cmd_experiment(args) -> int:
    from calltune.experiment import load_experiment, run_experiment

    cfg = load_experiment(args.config, quick=args.quick)
    run_experiment(cfg, args.out, progress=not args.no_progress, config_path=args.config)
    print(f"report: {args.out}/report.md and {args.out}/report.html", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    from calltune.report import write_report

    write_report(args.dir, args.readme)
    print(f"wrote {args.dir}/report.md and {args.dir}/report.html", file=sys.stderr)
    return 0


def cmd_data(args) -> int:
    from calltune import data_cli

    return data_cli.run(args)


def cmd_render(args) -> int:
    from calltune.examples import load_examples
    from calltune.prompts import render_prompt

    examples = load_examples(args.data)
    if not 0 <= args.index < len(examples):
        raise CalltuneError(f"--index {args.index} out of range (0..{len(examples) - 1})")
    tokenizer = None
    if args.prompt_style in ("chat", "hermes"):
        from calltune.models import load_tokenizer, resolve_model_path

        tokenizer = load_tokenizer(resolve_model_path(args.model))
    print(render_prompt(examples[args.index], args.prompt_style, tokenizer), end="")
    return 0


def cmd_bfcl(args) -> int:
    from calltune.bfcl_run import run_bfcl

    result = run_bfcl(args)
    overlap = result["training_overlap"]
    print(json.dumps({k: result[k] for k in ("category", "n", "accuracy")}
                     | ({"training_tools_overlapping_bfcl": overlap["total"]} if overlap else {})))
    return 0


def cmd_calibrate(args) -> int:
    from calltune.calibrate import DEFAULT_MARGINS, CalibrateConfig, format_report, run_calibrate

    cfg = CalibrateConfig(data=args.data, out=args.out, model=args.model, adapter=args.adapter,
                          prompt_style=args.prompt_style, quantization=args.quantization,
                          batch_size=args.batch_size, on_unsupported=args.on_unsupported,
                          margins=tuple(m for ms in args.margins for m in ms) if args.margins else DEFAULT_MARGINS,
                          no_call_share=args.no_call_share)
    report = run_calibrate(cfg, progress=not args.no_progress)
    print(format_report(report))
    print(f"wrote {args.out}/calibration.json and {args.out}/branches.jsonl", file=sys.stderr)
    return 0


def cmd_margin_sweep(args) -> int:
    from calltune.jsonl import write_json
    from calltune.sweep import format_sweep, sweep

    report = sweep(args.dirs, tuple(m for ms in args.margins for m in ms) if args.margins else None)
    print(format_sweep(report))
    if args.out:
        write_json(args.out, report)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    from calltune.compare import compare, format_comparison, load_outcomes
    from calltune.jsonl import write_json

    check_output_file(args.out)
    result = compare(*(load_outcomes(path, args.margin) for path in args.runs))
    print(format_comparison(result, args.margin))
    if args.out:
        write_json(args.out, {**result, "margin": args.margin})
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    from calltune.config import load_config

    cfg = load_config(args.config, args.overrides)
    if args.show_example is not None:
        from calltune.models import load_tokenizer, resolve_model_path
        from calltune.recipe_data import prepare_data
        from calltune.render import visualize
        from calltune.train import render_dataset

        tokenizer = load_tokenizer(resolve_model_path(cfg.model.name))
        cfg, _ = prepare_data(cfg, args.out)  # data.synth: the generated train split
        items, _ = render_dataset(cfg.data.train, tokenizer, cfg)
        if not 0 <= args.show_example < len(items):
            raise CalltuneError(f"--show-example {args.show_example} out of range (0..{len(items) - 1})")
        print(visualize(items[args.show_example], tokenizer))
        return 0
    from calltune.train import train

    try:
        summary = train(cfg, args.out, resume=args.resume, progress=not args.no_progress, force=args.force)
    except KeyboardInterrupt:
        print("interrupted: checkpoint saved; continue with the same command plus --resume", file=sys.stderr)
        return 130
    if summary:
        last = summary["evals"][-1] if summary["evals"] else {}
        print(json.dumps({"out": args.out, "steps": summary["steps"], "tokens_per_s": summary["tokens_per_s"],
                          **{k: last.get(k) for k in ("dev_loss", "json_validity", "schema_adherence",
                                                       "exact_match")}}))
    return 0


def cmd_merge(args) -> int:
    from calltune.merge import merge

    print(f"merged model written to {merge(args.model, args.adapter, args.out)}")
    return 0


def cmd_interpolate(args) -> int:
    from calltune.interpolate import interpolate_adapter, interpolate_model

    if args.adapter is not None:
        if args.base is not None:
            raise CalltuneError("--base goes with --model (an adapter keeps the base it was trained on)")
        result = interpolate_adapter(args.adapter, args.weight, args.out, args.force)
    else:
        result = interpolate_model(args.model, args.weight, args.out, args.base, args.force)
    print(json.dumps(result))
    print(f"use it: --{result['kind']} {args.out}")
    return 0


def cmd_export(args) -> int:
    from calltune.export import ExportConfig, run_export

    cfg = ExportConfig(out=args.out, format=args.format, adapter=args.adapter, model=args.model, type=args.type,
                       force=args.force)
    result = run_export(cfg)
    print(json.dumps({k: result[k] for k in ("out", "format", "type", "bytes", "merge_s", "seconds")}))
    if cfg.format == "hf":
        print(f"serve it: calltune serve --model {cfg.out}\n"
              f"          vllm serve {cfg.out} --enable-auto-tool-choice --tool-call-parser hermes", file=sys.stderr)
    return 0


def cmd_serve(args) -> int:
    from calltune.serve.config import from_args
    from calltune.serve.server import run_server

    return run_server(from_args(args))


def cmd_demo(args) -> int:
    from calltune.demo import run_demo

    run_demo(args)
    return 0


COMMANDS = {"predict": cmd_predict, "eval": cmd_eval, "repair": cmd_repair, "stress": cmd_stress,
            "experiment": cmd_experiment, "report": cmd_report, "data": cmd_data, "render": cmd_render,
            "bfcl": cmd_bfcl, "calibrate-abstention": cmd_calibrate, "margin-sweep": cmd_margin_sweep,
            "compare": cmd_compare,
            "demo": cmd_demo, "train": cmd_train, "merge": cmd_merge, "interpolate": cmd_interpolate,
            "export": cmd_export, "serve": cmd_serve}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import logging

        # bitsandbytes warns on import that the optional `kernels` package (which would fetch a
        # kernel from the hub at run time) is absent; calltune deliberately runs without it.
        logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        return COMMANDS[args.command](args)
    except CalltuneError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except Exception as err:  # a bug, not bad input: short by default, the traceback on request
        return internal_error(err, args.debug)


def internal_error(err: Exception, debug: bool) -> int:
    """Report an unexpected exception as one `error: internal error:` line (after the traceback
    with `--debug`); returns exit code 3."""
    if debug:
        traceback.print_exception(err, file=sys.stderr)
    first_line = next((line for line in str(err).splitlines() if line.strip()), "")
    message = f"error: internal error: {type(err).__name__}" + (f": {first_line[:300]}" if first_line else "")
    print(message + ("" if debug else " (rerun with --debug for the traceback)"), file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
