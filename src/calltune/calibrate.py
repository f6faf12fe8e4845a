"""`calltune calibrate-abstention`: choose the abstention margin (`abstain.py`) on synthetic dev data.

    calltune calibrate-abstention --data dev.jsonl --adapter RUN --out DIR [--margins=-2,-1,0,1,2,4]
        [--no-call-share 0.2]

One forward pass per example (batched) gives the log-probabilities of its text and call branches
(`abstain.branch_logprobs`); a margin M then decides "text" iff log p(call) - log p(text) <= M, so
every margin is scored from the same pass, without decoding. The examples weighed are the labelled
ones answered under tool_choice auto with at least one tool: a target of calls wants the call
branch, `target: null` the text branch. For each margin the report gives abstention precision and
recall (the text branch as the positive class), the share of call examples that still call, and
balanced accuracy, the mean of abstention recall and calls kept: the criterion the margin is
picked by (ties: the margin nearest 0), so the dev set's share of no-call examples does not set
it. With `--no-call-share P`, the share of requests that want no call where the model will be used
(a statement about the use, not read off the dev set), the margin is picked by the accuracy expected
there instead: P × abstention recall + (1 − P) × calls kept (P = 0.5 is balanced accuracy). "greedy"
is what decoding without a margin does (it follows the tag's tokens or not). "auc" says how well the
log-odds separate the two kinds whatever the margin (`separation_auc`), so that two models can be
compared before either margin is chosen.

Writes DIR/calibration.json (the report) and DIR/branches.jsonl (per example). BFCL is evaluation
only: `bfcl:` specs and files of exported BFCL cases (`meta.bfcl_id`) are refused.
"""

from __future__ import annotations

import bisect
import math
import os
from dataclasses import asdict, dataclass

from calltune.errors import CalltuneError

DEFAULT_MARGINS = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
CRITERION = "balanced_accuracy"
WEIGHTED = "expected_accuracy"  # the criterion under --no-call-share


@dataclass
class CalibrateConfig:
    """What `calltune calibrate-abstention` runs."""

    data: str
    """Labelled synthetic dev examples (JSONL or `seed:dev`); never BFCL."""
    out: str
    """Directory for calibration.json and branches.jsonl."""
    model: str = "embedded"
    """`embedded`, a local HF model directory, or a hub id."""
    adapter: str | None = None
    """A PEFT adapter directory (or a run directory with `adapter/`)."""
    prompt_style: str = "auto"
    """`hermes`, or `auto` (the adapter run's style, which must be hermes)."""
    quantization: str = "auto"
    """Base weights: `none`, `nf4`, or `auto` (as the adapter's run trained them)."""
    batch_size: int = 8
    """Prompts weighed together (left padded)."""
    on_unsupported: str = "error"
    """A schema the engine cannot express: `error`, or leave that example out (`unconstrained`)."""
    margins: tuple[float, ...] = DEFAULT_MARGINS
    """The margins scored; the report picks one of them."""
    no_call_share: float | None = None
    """Share of requests that want no call where the model will be used: the margin is picked by the accuracy
    expected at that share (share × abstention recall + (1 − share) × calls kept). None: balanced accuracy,
    which is the same as 0.5."""

    def __post_init__(self):
        from calltune.models import resolve_prompt_style
        from calltune.predict import check_margin

        if self.data.startswith("bfcl:"):
            raise CalltuneError("--data: BFCL is evaluation only; calibrate on synthetic dev data")
        self.prompt_style = resolve_prompt_style(self.prompt_style, self.adapter, self.model)
        if self.prompt_style != "hermes":
            raise CalltuneError(f"calibrate-abstention weighs hermes answers; the prompt style is "
                                f"'{self.prompt_style}' (pass --prompt-style hermes)")
        if not self.margins:
            raise CalltuneError("--margins: give at least one margin")
        for margin in self.margins:
            check_margin(margin, "--margins")
        self.margins = tuple(sorted({float(m) for m in self.margins}))
        if self.batch_size < 1:
            raise CalltuneError("--batch-size must be at least 1")
        if self.no_call_share is not None and not 0.0 < self.no_call_share < 1.0:
            raise CalltuneError(f"--no-call-share must be between 0 and 1 (exclusive), got {self.no_call_share}")


def parse_margins(text: str) -> tuple[float, ...]:
    """`-2,-1,0,1` -> (-2.0, -1.0, 0.0, 1.0); raises ValueError naming the bad item."""
    out = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"expected comma-separated numbers, got '{item.strip()}'") from None
        if not math.isfinite(value):
            raise ValueError(f"margins must be finite numbers, got '{item.strip()}'")
        out.append(value)
    return tuple(out)


def decision_metrics(records: list[dict], text: list[bool], share: float | None = None) -> dict:
    """Branch decisions (`text[i]`: record i answers in text) against each record's `label`; with `share`
    (the no-call share of the use), also the accuracy expected at it."""
    n_no_call = sum(r["label"] == "no_call" for r in records)
    n_call = len(records) - n_no_call
    abstained = sum(text)
    right_text = sum(t and r["label"] == "no_call" for r, t in zip(records, text))
    kept = sum(not t and r["label"] == "call" for r, t in zip(records, text))
    recall, call_kept = right_text / n_no_call, kept / n_call
    out = {"abstained": abstained, "abstain_precision": round(right_text / abstained, 4) if abstained else None,
           "abstain_recall": round(recall, 4), "call_kept": round(call_kept, 4),
           "balanced_accuracy": round((recall + call_kept) / 2, 4),
           "accuracy": round((right_text + kept) / len(records), 4)}
    if share is not None:
        out[WEIGHTED] = round(share * recall + (1 - share) * call_kept, 4)
    return out


def separation_auc(call: list[float], no_call: list[float]) -> float | None:
    """The chance that an example wanting a call has higher call log-odds than one wanting none (ties
    count half): the area under the ROC curve of the margin rule, 1.0 when some margin separates the
    two kinds perfectly, 0.5 for log-odds that know nothing. None when either list is empty."""
    if not call or not no_call:
        return None
    ranked = sorted(no_call)
    wins = 0.0
    for x in call:
        below = bisect.bisect_left(ranked, x)
        wins += below + 0.5 * (bisect.bisect_right(ranked, x) - below)  # ties count half
    return wins / (len(call) * len(no_call))


def best_margin(rows: list[dict], criterion: str = CRITERION) -> float:
    """The margin with the highest `criterion`; ties go to the margin nearest 0, then the lower."""
    return max(rows, key=lambda r: (r[criterion], -abs(r["margin"]), -r["margin"]))["margin"]


def _refuse_bfcl(examples) -> None:
    for ex in examples:
        if "bfcl_id" in ex.meta or "bfcl_category" in ex.meta:
            raise CalltuneError(f"example '{ex.id}' is a BFCL case: BFCL is evaluation only; "
                                f"calibrate on synthetic dev data")


def weigh(cfg: CalibrateConfig, examples, prompts: list[str], model, tokenizer,
          progress: bool = True) -> tuple[list[dict], dict]:
    """Branch log-probabilities of every example that has a decision to make (`prompts`: their
    hermes prompts): `(records, skipped)`."""
    from tqdm import tqdm

    from calltune.abstain import branch_logprobs
    from calltune.constrain import GrammarCache

    cache = GrammarCache(tokenizer, model.get_output_embeddings().weight.shape[0], cfg.on_unsupported)
    todo, skipped = [], {"unlabeled": 0, "not_auto": 0, "no_tools": 0, "unsupported_schema": 0}
    for ex, prompt in zip(examples, prompts):
        if not ex.labeled:
            skipped["unlabeled"] += 1
        elif ex.tool_choice != "auto":
            skipped["not_auto"] += 1
        elif not ex.tools:
            skipped["no_tools"] += 1
        else:
            try:
                row = cache.chat_row(ex.tools, "auto", ex.parallel_tool_calls, abstain_margin=0.0)  # its branches
            except CalltuneError as err:
                raise CalltuneError(f"example '{ex.id}': {err}") from None
            if row is None:
                skipped["unsupported_schema"] += 1
            else:
                todo.append((ex, row, prompt))
    todo.sort(key=lambda item: -len(item[2]))  # similar lengths together: less padding
    records = []
    bar = tqdm(total=len(todo), desc="calibrate", unit="ex", disable=not progress, dynamic_ncols=True)
    for lo in range(0, len(todo), cfg.batch_size):
        batch = todo[lo: lo + cfg.batch_size]
        enc = tokenizer([p for _, _, p in batch], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = {k: v.to(model.device) for k, v in enc.items()}
        for (ex, _, _), b in zip(batch, branch_logprobs(model, tokenizer, enc, [row for _, row, _ in batch])):
            records.append({"id": ex.id, "label": "call" if ex.calls else "no_call",
                            "log_p_text": round(b.log_text, 6), "log_p_call": round(b.log_call, 6),
                            "log_odds": round(b.log_odds, 6), "greedy_calls": b.greedy_calls,
                            # answers opening with `<` that do not spell the tag: neither branch
                            "p_other": round(max(0.0, 1 - math.exp(b.log_text) - math.exp(b.log_call)), 6)})
        bar.update(len(batch))
    bar.close()
    order = {ex.id: i for i, ex in enumerate(examples)}
    return sorted(records, key=lambda r: order[r["id"]]), skipped


def run_calibrate(cfg: CalibrateConfig, loaded=None, progress: bool = True) -> dict:
    """Weigh every example once, score each margin, pick the best; write and return the report."""
    from calltune.abstain import call_prefix_ids
    from calltune.examples import data_sha256, load_examples
    from calltune.jsonl import write_json, write_jsonl
    from calltune.models import adapter_digest, load_model
    from calltune.predict import check_lengths
    from calltune.prompts import render_prompt
    from calltune.runinfo import versions

    examples = load_examples(cfg.data)
    _refuse_bfcl(examples)
    model, tokenizer, model_path = loaded or load_model(cfg.model, cfg.adapter, quantization=cfg.quantization)
    path = call_prefix_ids(tokenizer)
    prompts = [render_prompt(ex, "hermes", tokenizer) for ex in examples]
    check_lengths(examples, prompts, tokenizer, model, len(path))
    records, skipped = weigh(cfg, examples, prompts, model, tokenizer, progress)
    labels = {r["label"] for r in records}
    if labels != {"call", "no_call"}:
        raise CalltuneError(f"{cfg.data}: calibration needs labelled examples of both kinds under tool_choice "
                            f"auto (calls and target null); found {len(records)} weighed, kinds: "
                            f"{', '.join(sorted(labels)) or 'none'}")
    share = cfg.no_call_share
    rows = [{"margin": m, **decision_metrics(records, [r["log_odds"] <= m for r in records], share)}
            for m in cfg.margins]
    criterion = CRITERION if share is None else WEIGHTED
    best = best_margin(rows, criterion)
    report = {
        "data": cfg.data, "data_sha256": data_sha256(cfg.data), "model_path": model_path,
        "adapter_sha256": adapter_digest(cfg.adapter) if cfg.adapter else None, "config": asdict(cfg),
        "call_prefix": {"ids": path, "tokens": [tokenizer.decode([t]) for t in path]},
        "rule": "text iff log p(text) + margin >= log p(call)", "criterion": criterion, "no_call_share": share,
        "n": len(records), "n_call": sum(r["label"] == "call" for r in records),
        "n_no_call": sum(r["label"] == "no_call" for r in records), "skipped": skipped,
        "auc": round(separation_auc([r["log_odds"] for r in records if r["label"] == "call"],
                                    [r["log_odds"] for r in records if r["label"] == "no_call"]), 4),
        "greedy": decision_metrics(records, [not r["greedy_calls"] for r in records], share),
        "margins": rows, "best_margin": best, "best": next(r for r in rows if r["margin"] == best),
        "versions": versions()}
    os.makedirs(cfg.out, exist_ok=True)
    write_jsonl(os.path.join(cfg.out, "branches.jsonl"), records)
    write_json(os.path.join(cfg.out, "calibration.json"), report)
    return report


def format_report(report: dict) -> str:
    """A table of the margins, the greedy baseline and the pick."""
    weighted = report.get("no_call_share") is not None
    head = (f"{'margin':>8} {'abstained':>9} {'precision':>9} {'recall':>7} {'calls kept':>10} {'bal. acc':>8}"
            + (f" {'expected':>8}" if weighted else ""))
    lines = [f"{report['n']} examples weighed ({report['n_call']} call, {report['n_no_call']} no-call)"
             + (f"; expected accuracy at a no-call share of {report['no_call_share']:g}" if weighted else ""), head]

    def line(name, r):
        precision = "-" if r["abstain_precision"] is None else f"{r['abstain_precision']:.3f}"
        return (f"{name:>8} {r['abstained']:>9} {precision:>9} {r['abstain_recall']:>7.3f} "
                f"{r['call_kept']:>10.3f} {r['balanced_accuracy']:>8.3f}"
                + (f" {r[WEIGHTED]:>8.3f}" if weighted else ""))

    lines.append(line("greedy", report["greedy"]))
    lines += [line(f"{r['margin']:g}", r) for r in report["margins"]]
    if report.get("auc") is not None:  # reports written before calltune gave it have none
        lines.append(f"separation of call and no-call examples by their log-odds (AUC): {report['auc']:.3f}")
    lines.append(f"best margin by {report['criterion']}: {report['best_margin']:g} "
                 f"(--abstain-margin {report['best_margin']:g})")
    return "\n".join(lines)
