"""The experiment report: OUT/report.md, OUT/report.html and PNG charts, from OUT/results.json.

    calltune report runs/report [--readme README.md]

The report is built as a list of blocks (headings, paragraphs, tables, images,
code) and rendered twice, as Markdown and as HTML, so the two never disagree.
`--readme` also replaces the README's results section (between
`<!-- results:start -->` and `<!-- results:end -->`) with the main table.
"""

from __future__ import annotations

import html
import json
import os

import yaml

from calltune.errors import CalltuneError
from calltune.jsonl import atomic_write_text, read_text
from calltune.predict import DECODINGS
from calltune.score import discordant, mcnemar_exact, wilson_interval

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"
METRICS = ("json_validity", "schema_adherence", "exact_match")
SHORT = {"json_validity": "JSON valid", "schema_adherence": "schema", "exact_match": "exact"}


def _pct(value, interval=None) -> str:
    if value is None:
        return "-"
    text = f"{100 * value:.1f}"
    if interval is not None:
        text += f" [{100 * interval[0]:.0f}-{100 * interval[1]:.0f}]"
    return text


def _metric(result: dict | None, key: str, ci: bool = True) -> str:
    if result is None:
        return "-"
    metrics = result["calltune"]
    return _pct(metrics[key], metrics["intervals"][key] if ci else None)


def _bfcl(result: dict | None, ci: bool = True) -> str:
    if result is None or not result.get("bfcl"):
        return "-"
    b = result["bfcl"]
    return _pct(b["accuracy"], wilson_interval(_correct(b), b["n"]) if ci else None)


def _correct(bfcl: dict) -> int:
    return bfcl["correct"] if "correct" in bfcl else round(bfcl["accuracy"] * bfcl["n"])


def _index(results: list[dict]) -> tuple[list[tuple[str, str]], dict]:
    """Rows in the order models were run, decodings in a fixed order (greedy, repair,
    constrained) whatever order they were evaluated in."""
    models, by = [], {}
    for r in results:
        if r["model"] not in models:
            models.append(r["model"])
        by[(r["model"], r["decoding"], r["set"])] = r
    order = {d: i for i, d in enumerate(DECODINGS)}
    decodings = sorted({d for (_, d, _) in by}, key=lambda d: (order.get(d, len(order)), d))
    rows = [(m, d) for m in models for d in decodings if any(k[:2] == (m, d) for k in by)]
    return rows, by


def _n(by: dict, set_name: str) -> str:
    for (_, _, s), r in by.items():
        if s == set_name:
            return str(r["calltune"]["n"])
    return "?"


def main_table(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Rows: model x decoding; columns: the three metrics on the synthetic dev set (tools unseen
    in training), exact match on the seed dev set, BFCL AST accuracy per category (95% intervals)."""
    rows, by = _index(results)
    sets = {s for (_, _, s) in by}
    main = "synth_dev" if "synth_dev" in sets else "seed_dev"
    header = ["model", "decoding"] + [f"{SHORT[m]} ({main}, n={_n(by, main)})" for m in METRICS]
    if main != "seed_dev" and "seed_dev" in sets:
        header.append(f"exact (seed dev, n={_n(by, 'seed_dev')})")
    bfcl_sets = [s for s in ("bfcl_simple_python", "bfcl_multiple", "bfcl_irrelevance") if s in sets]
    header += [f"BFCL {s.removeprefix('bfcl_')} (n={_n(by, s)})" for s in bfcl_sets]
    body = []
    for model, decoding in rows:
        line = [model, decoding] + [_metric(by.get((model, decoding, main)), m) for m in METRICS]
        if main != "seed_dev" and "seed_dev" in sets:
            line.append(_metric(by.get((model, decoding, "seed_dev")), "exact_match"))
        line += [_bfcl(by.get((model, decoding, s))) for s in bfcl_sets]
        body.append(line)
    return header, body


def stress_tables(results: list[dict]) -> list[tuple[str, list[str], list[list[str]]]]:
    rows, by = _index(results)
    conditions = []
    for r in results:
        if r["set"].startswith("stress_") and r["set"] not in conditions:
            conditions.append(r["set"])
    tables = []
    for condition in conditions:
        header = ["model", "decoding"] + [SHORT[m] for m in METRICS]
        body = [[m, d] + [_metric(by.get((m, d, condition)), k) for k in METRICS] for m, d in rows]
        tables.append((f"{condition.removeprefix('stress_')} (n={_n(by, condition)})", header, body))
    return tables


def stress_summary(results: list[dict]) -> tuple[list[str], list[list[str]]]:
    rows, by = _index(results)
    conditions = []
    for r in results:
        if r["set"].startswith("stress_") and r["set"] not in conditions:
            conditions.append(r["set"])
    header = ["model", "decoding"] + [c.removeprefix("stress_") for c in conditions]
    body = [[m, d] + [_metric(by.get((m, d, c)), "exact_match", ci=False) for c in conditions] for m, d in rows]
    return header, body


def error_table(results: list[dict], set_name: str) -> tuple[list[str], list[list[str]]]:
    rows, by = _index(results)
    kinds: list[str] = []
    for r in results:
        if r["set"] == set_name:
            kinds += [k for k in r["calltune"]["errors"] if k not in kinds]
    header = ["model", "decoding"] + kinds
    body = []
    for m, d in rows:
        r = by.get((m, d, set_name))
        errors = r["calltune"]["errors"] if r else {}
        body.append([m, d] + [str(errors.get(k, 0)) for k in kinds])
    return header, body


def _read_jsonl(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def failures(results: list[dict], set_name: str, per_model: int = 3) -> list[str]:
    """A few real failures per model and decoding: instruction, expected call, output, error."""
    lines = []
    for r in results:
        if r["set"] != set_name or r["decoding"] == "repair":
            continue
        directory = os.path.dirname(r["predictions"])
        checks = [c for c in _read_jsonl(os.path.join(directory, "checks.jsonl")) if c.get("exact") is False]
        if not checks:
            continue
        examples = {e["id"]: e for e in _read_jsonl(r["examples"])}
        preds = {p["id"]: p for p in _read_jsonl(r["predictions"])}
        lines.append(f"{r['model']} / {r['decoding']}: {len(checks)} of {r['calltune']['n']} wrong")
        for check in checks[:per_model]:
            ex, pred = examples.get(check["id"], {}), preds.get(check["id"], {})
            lines.append(f"  [{check['error_type']}] {ex.get('instruction', '')[:160]}")
            lines.append(f"    expected: {json.dumps(ex.get('target'))[:200]}")
            lines.append(f"    got:      {pred.get('repaired') or pred.get('raw', '')[:200]!r}")
    return lines


COMPARE_SETS = ("synth_dev", "bfcl_simple_python", "bfcl_multiple")
BASELINE_VALUE = {"data.loss": "full", "model.quantization": "nf4"}  # the "A" side of a one-setting pair


def _outcomes(r: dict) -> dict[str, bool]:
    """Per-example right/wrong of one evaluated cell: BFCL's checker on BFCL sets, exact match elsewhere."""
    directory = os.path.dirname(r["predictions"])
    if r["set"].startswith("bfcl_"):
        return {e["id"]: bool(e["correct"]) for e in _read_jsonl(os.path.join(directory, "bfcl_per_example.jsonl"))}
    checks = _read_jsonl(os.path.join(directory, "checks.jsonl"))
    return {c["id"]: bool(c["exact"]) for c in checks if c.get("exact") is not None}


def _flat(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def comparison_pairs(results: list[dict], trained: dict, scales: list[str]) -> list[tuple[str, tuple, tuple]]:
    """(what changes, cell A, cell B) with cells as (model, decoding): greedy against repair and
    constrained for every model; trained models at one scale whose resolved training configs differ
    in exactly one setting; one method at consecutive data scales."""
    rows, _ = _index(results)
    decodings = [d for d in DECODINGS if any(d == row[1] for row in rows)]
    models = list(dict.fromkeys(m for m, _ in rows))
    meta = {r["model"]: (r.get("method"), r.get("scale")) for r in results}
    pairs = []
    if "greedy" in decodings:
        for decoding in decodings[1:]:
            pairs += [(f"decoding: greedy -> {decoding}", (m, "greedy"), (m, decoding)) for m in models]
    configs = {}
    for name, run_dir in trained.items():
        path = os.path.join(run_dir, "config.yaml")
        if name in meta and os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                configs[name] = _flat(yaml.safe_load(handle) or {})
    model_decodings = [d for d in decodings if d != "repair"]  # repair follows greedy
    names = [m for m in models if m in configs]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if meta[a][1] != meta[b][1]:
                continue
            diff = sorted(k for k in set(configs[a]) | set(configs[b]) if configs[a].get(k) != configs[b].get(k))
            if len(diff) != 1:
                continue
            key = diff[0]
            sides = sorted([(configs[a].get(key), a), (configs[b].get(key), b)],
                           key=lambda side: (side[0] != BASELINE_VALUE.get(key), str(side[0])))
            (va, x), (vb, y) = sides
            pairs += [(f"{key}: {va} -> {vb}", (x, d), (y, d)) for d in model_decodings]
    order = {s: i for i, s in enumerate(scales)}
    by_method: dict[str, list[str]] = {}
    for m in names:
        by_method.setdefault(meta[m][0], []).append(m)
    for method, members in by_method.items():
        members = sorted(members, key=lambda m: order.get(meta[m][1], len(order)))
        for a, b in zip(members, members[1:]):
            pairs += [(f"data: {meta[a][1]} -> {meta[b][1]}", (a, d), (b, d)) for d in model_decodings]
    return [(label, a, b) for label, a, b in pairs if a in rows and b in rows]


def paired_comparisons(results: list[dict], trained: dict, scales: list[str]) -> tuple[list[str], list[list[str]]]:
    """One row per pair of cells that differ in one thing, with the score of each on the same examples
    and the exact McNemar p-value of the difference (per set in COMPARE_SETS)."""
    _, by = _index(results)
    sets = [s for s in COMPARE_SETS if any(r["set"] == s for r in results)]
    header = ["what changes", "A", "B"] + [f"{s} (A -> B, p)" for s in sets]
    body, cache = [], {}

    def outcomes(key: tuple) -> dict[str, bool]:
        if key not in cache:
            cache[key] = _outcomes(by[key]) if key in by else {}
        return cache[key]

    for label, cell_a, cell_b in comparison_pairs(results, trained, scales):
        line = [label, f"{cell_a[0]} / {cell_a[1]}", f"{cell_b[0]} / {cell_b[1]}"]
        for s in sets:
            oa, ob = outcomes((*cell_a, s)), outcomes((*cell_b, s))
            ids = [i for i in oa if i in ob]
            if not ids:
                line.append("-")
                continue
            only_a, only_b = discordant(oa, ob, ids)
            pa, pb = 100 * sum(oa[i] for i in ids) / len(ids), 100 * sum(ob[i] for i in ids) / len(ids)
            line.append(f"{pa:.1f} -> {pb:.1f}, p={mcnemar_exact(only_a, only_b):.2g}")
        body.append(line)
    return header, body


def summary_comparisons(summary: dict) -> tuple[list[str], list[list[str]]]:
    """`paired_comparisons` for an experiment summary (results.json)."""
    scales = list((summary.get("config") or {}).get("scales") or [])
    return paired_comparisons(summary["results"], summary.get("trained") or {}, scales)


def training_rows(out: str, trained: dict) -> tuple[list[str], list[list[str]]]:
    header = ["model", "steps", "train s", "tokens/s", "peak RSS MB", "final loss",
              "BFCL overlap: tools / examples calling one"]
    body = []
    for name, run_dir in trained.items():
        path = os.path.join(run_dir, "run.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as handle:
            run = json.load(handle)
        log = _read_jsonl(os.path.join(run_dir, "train_log.jsonl"))
        body.append([name, str(run["steps"]), f"{run['train_seconds']:.0f}", f"{run['tokens_per_s']:.0f}",
                     f"{run.get('peak_rss_mb') or 0:.0f}", f"{log[-1]['loss']:.3f}" if log else "-",
                     _overlap_cell(run.get("data", {}).get("benchmark_overlap"))])
    return header, body


def _overlap_cell(overlap: dict | None) -> str:
    if not overlap:
        return "not checked"
    return f"{overlap['total']} / {overlap['examples_targeting']}"


def overlap_note(out: str) -> str | None:
    """One sentence on the synthetic training split's overlap with BFCL, when it was checked."""
    path = os.path.join(out, "data", "benchmark_overlap.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        overlap = json.load(handle)
    tools = overlap["tools"]
    return (f"Benchmark overlap of the synthetic training split with {overlap['against']} "
            f"({overlap['n_functions']} functions; `calltune data leaks --dev bfcl:all`): {tools['name']} tools share "
            f"a name, {tools['normalized_name']} a normalized name, {tools['params']} a parameter-name set; "
            f"{overlap['examples_targeting']} of {overlap['n_train']} training examples call one.")


def charts(out: str, results: list[dict], trained: dict) -> list[tuple[str, str]]:
    """Write PNG charts into OUT/charts; return (caption, relative path) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.join(out, "charts"), exist_ok=True)
    made = []
    curves = [(name, _read_jsonl(os.path.join(d, "train_log.jsonl"))) for name, d in trained.items()]
    curves = [(n, log) for n, log in curves if log]
    if curves:
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, log in curves:
            ax.plot([e["step"] for e in log], [e["loss"] for e in log], label=name, linewidth=1)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("training loss (supervised tokens)")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
        ax.set_title("Training curves")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "charts", "training_curves.png"), dpi=110)
        plt.close(fig)
        made.append(("Training curves", "charts/training_curves.png"))
    rows, by = _index(results)
    for set_name, key, caption in (("synth_dev", "exact_match", "Exact match on the synthetic dev set"),
                                   ("seed_dev", "exact_match", "Exact match on the seed dev set"),
                                   ("bfcl_simple_python", "bfcl", "BFCL simple_python AST accuracy"),
                                   ("bfcl_irrelevance", "bfcl", "BFCL irrelevance accuracy")):
        points = [(f"{m} / {d}", by[(m, d, set_name)]) for m, d in rows if (m, d, set_name) in by]
        if not points:
            continue
        values, errs = [], [[], []]
        for _, r in points:
            if key == "bfcl":
                value, (lo, hi) = r["bfcl"]["accuracy"], wilson_interval(_correct(r["bfcl"]), r["bfcl"]["n"])
            else:
                value, (lo, hi) = r["calltune"][key] or 0.0, r["calltune"]["intervals"][key]
            values.append(100 * value)
            errs[0].append(100 * max(value - lo, 0))
            errs[1].append(100 * max(hi - value, 0))
        fig, ax = plt.subplots(figsize=(7, 0.9 + 0.28 * len(points)))
        ax.barh(range(len(points)), values, xerr=errs, capsize=2, color="#4a7ab5")
        ax.set_yticks(range(len(points)), [label for label, _ in points], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% (bars: 95% interval)")
        ax.set_title(caption)
        fig.tight_layout()
        name = f"charts/{set_name}.png"
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)
        made.append((caption, name))
    return made


# ---- rendering -----------------------------------------------------------------------------------

def _md_table(header, body) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _html_table(header, body) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render(blocks: list[tuple], fmt: str) -> str:
    parts = []
    for kind, *args in blocks:
        if fmt == "md":
            parts.append({"h1": lambda t: f"# {t}", "h2": lambda t: f"## {t}", "h3": lambda t: f"### {t}",
                          "p": lambda t: t, "table": _md_table, "img": lambda c, p: f"![{c}]({p})",
                          "code": lambda t: f"```\n{t}\n```"}[kind](*args))
        else:
            parts.append({"h1": lambda t: f"<h1>{html.escape(t)}</h1>", "h2": lambda t: f"<h2>{html.escape(t)}</h2>",
                          "h3": lambda t: f"<h3>{html.escape(t)}</h3>", "p": lambda t: f"<p>{html.escape(t)}</p>",
                          "table": _html_table, "img": lambda c, p: f'<p><img src="{p}" alt="{html.escape(c)}"></p>',
                          "code": lambda t: f"<pre>{html.escape(t)}</pre>"}[kind](*args))
    if fmt == "md":
        return "\n\n".join(parts) + "\n"
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto}table{border-collapse:collapse;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child,td:nth-child(2){text-align:left}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>calltune report</title><style>{style}</style>" \
           f"</head><body>{''.join(parts)}</body></html>\n"


def build_blocks(out: str, summary: dict) -> list[tuple]:
    results, trained, cfg = summary["results"], summary.get("trained", {}), summary["config"]
    blocks: list[tuple] = [("h1", "calltune experiment report")]
    blocks.append(("p", f"Model: {cfg['model']}; prompt style: {cfg['prompt_style']}; max new tokens: "
                        f"{cfg['max_new_tokens']}. Cells: {len({r['model'] for r in results})} models x "
                        f"{len(cfg['decodings'])} decodings. Brackets are 95% Wilson intervals. The synthetic dev "
                        f"set holds tools that never occur in training; BFCL is evaluation data only."))
    if summary.get("pending"):
        blocks.append(("p", f"Still running or not yet run (a rerun of the same command resumes): "
                            f"{', '.join(summary['pending'])}."))
    header, body = main_table(results)
    blocks += [("h2", "Main table"), ("table", header, body)]
    note = overlap_note(out)
    if note:
        blocks.append(("p", note))
    header, body = summary_comparisons(summary)
    if body:
        blocks += [("h2", "Paired comparisons"),
                   ("p", f"Each row compares two cells on the same examples (exact match; BFCL: its AST checker) "
                         f"that differ in one thing: the decoding, one training setting at the same data scale, or "
                         f"the data scale of one method. p is the two-sided exact McNemar test on the examples only "
                         f"one of the two got right. With {len(body)} rows and up to {len(body) * (len(header) - 3)} "
                         f"tests, a few p < 0.05 are expected by chance alone."),
                   ("table", header, body)]
    if any(r["set"].startswith("stress_") for r in results):
        header, body = stress_summary(results)
        blocks += [("h2", "Stress suite: exact match per condition"), ("table", header, body)]
        for title, header, body in stress_tables(results):
            blocks += [("h3", f"Stress: {title}"), ("table", header, body)]
    for set_name in ("synth_dev", "seed_dev", "bfcl_simple_python", "bfcl_irrelevance"):
        if any(r["set"] == set_name for r in results):
            header, body = error_table(results, set_name)
            if len(header) > 2:
                blocks += [("h2", f"Error types: {set_name}"), ("table", header, body)]
    for set_name in ("synth_dev", "seed_dev"):
        lines = failures(results, set_name)
        if lines:
            blocks += [("h2", f"Failure examples: {set_name}"), ("code", "\n".join(lines))]
            break
    header, body = training_rows(out, trained)
    if body:
        blocks += [("h2", "Training runs"), ("table", header, body)]
    made = charts(out, results, trained)
    if made:
        blocks.append(("h2", "Charts"))
        blocks += [("img", caption, path) for caption, path in made]
    blocks += [("h2", "Configuration"), ("code", yaml.safe_dump(cfg, sort_keys=False).strip())]
    for name, run_dir in trained.items():  # the resolved training config of every trained cell
        path = os.path.join(run_dir, "config.yaml")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                blocks += [("h3", f"Training config: {name}"), ("code", handle.read().strip())]
    versions_path = os.path.join(out, "versions.json")
    if os.path.exists(versions_path):
        with open(versions_path, encoding="utf-8") as handle:
            blocks += [("h2", "Versions"), ("code", json.dumps(json.load(handle), indent=1))]
    return blocks


def write_report(out: str, readme: str | None = None) -> str:
    """(Re)write OUT/report.md and OUT/report.html from OUT/results.json; returns the Markdown.
    A `readme` that cannot be updated is an error before anything is written."""
    path = os.path.join(out, "results.json")
    if not os.path.exists(path):
        raise CalltuneError(f"{path}: not found (run `calltune experiment` first)")
    if readme:
        read_readme(readme)
    with open(path, encoding="utf-8") as handle:
        summary = json.load(handle)
    blocks = build_blocks(out, summary)
    text = render(blocks, "md")
    atomic_write_text(os.path.join(out, "report.md"), text)
    atomic_write_text(os.path.join(out, "report.html"), render(blocks, "html"))
    if readme:
        update_readme(readme, summary, out)
    return text


def read_readme(readme: str) -> str:
    """The README's text, checked to hold a results section; errors name the file."""
    text = read_text(readme)
    if README_START not in text or README_END not in text:
        raise CalltuneError(f"{readme}: no '{README_START}' ... '{README_END}' section to replace")
    return text


def update_readme(readme: str, summary: dict, out: str) -> None:
    """Replace the README's results section with the main table."""
    text = read_readme(readme)
    header, body = main_table(summary["results"])
    pending = ""
    if summary.get("pending"):
        pending = (f"\n\nNot run yet (the same `calltune experiment` command resumes the matrix): "
                   f"{', '.join(summary['pending'])}.")
    pair_header, pair_body = summary_comparisons(summary)
    pairs = ""
    if pair_body:
        pairs = (f"\n\nPaired comparisons (same examples; p: exact McNemar test on the examples only one side "
                 f"got right):\n\n{_md_table(pair_header, pair_body)}")
    section = (f"{README_START}\n<!-- generated by `calltune report {out} --readme {readme}`; do not edit -->\n\n"
               f"{_md_table(header, body)}{pending}{pairs}\n\nFull report: `{out}/report.md`.\n{README_END}")
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    atomic_write_text(readme, text[:start] + section + text[end:])
