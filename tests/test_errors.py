"""Errors users hit (issue #15): each is one `error:` line naming the file or field, exit code 2, and
no output written; anything unexpected is exit 3 with a short line (`--debug` shows the traceback).

No test here loads a real model: commands that would are stopped by the error before they get there,
or have their heavy step replaced.
"""

import json
from pathlib import Path

import pytest

from calltune.cli import main

SEED_DEV_IDS = ["seed-001", "seed-012", "seed-016", "seed-017"]
TOOL = {"name": "f", "parameters": {"type": "object", "properties": {"unit": {"type": "string"}}}}


def run_cli(argv, capsys) -> tuple[int, str, str]:
    """Exit code, the one `error:` line (asserted to be exactly one), and all of stderr."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return code, lines[0], err


def example(ex_id="a", tool=TOOL, **extra) -> str:
    return json.dumps({"id": ex_id, "instruction": "do it", "tools": [tool], **extra})


def predictions(tmp_path) -> Path:
    path = tmp_path / "pred.jsonl"
    path.write_text("".join(json.dumps({"id": i, "raw": "x", "call": None, "error": None}) + "\n"
                            for i in SEED_DEV_IDS))
    return path


# ---- 1. data files that are not UTF-8 ----------------------------------------------------------

LATIN1_LINE = '{"id": "b", "instruction": "caf\xe9", "tools": [{"name": "f"}]}\n'.encode("latin-1")


@pytest.mark.parametrize("command", ["dedup", "eval-data", "eval-pred", "repair-pred", "train-config", "import"])
def test_file_that_is_not_utf8_is_one_located_error(tmp_path, capsys, command):
    bad = tmp_path / "bad.jsonl"
    out = tmp_path / "out.jsonl"
    first = (example() if command != "eval-pred" and command != "repair-pred"
             else json.dumps({"id": "seed-001", "raw": "x", "call": None, "error": None}))
    bad.write_bytes(first.encode() + b"\n" + LATIN1_LINE)
    argv = {"dedup": ["data", "dedup", "--data", bad, "--out", out],
            "eval-data": ["eval", "--data", bad, "--pred", predictions(tmp_path), "--out", out],
            "eval-pred": ["eval", "--data", "seed:dev", "--pred", bad, "--out", out],
            "repair-pred": ["repair", "--data", "seed:dev", "--pred", bad, "--out", out],
            "train-config": ["train", "--config", bad, "--out", out],
            "import": ["data", "import", "--format", "openai", "--in", bad, "--out", out]}[command]
    code, line, err = run_cli(argv, capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{bad}:2: not valid UTF-8" in line
    assert not out.exists()


# ---- 2. tool schemas whose $ref does not resolve -------------------------------------------------

MISSING_REF = {"name": "convert", "parameters": {"type": "object", "properties": {
    "unit": {"$ref": "#/$defs/missing"}}, "$defs": {"other": {"type": "string"}}}}


@pytest.mark.parametrize("target", [None, {"name": "convert", "arguments": {"unit": "c"}}])
def test_unresolvable_ref_in_a_tool_schema_is_an_error_at_load_time(tmp_path, capsys, write_jsonl_lines,
                                                                     target):
    extra = {} if target is None else {"target": target}
    data = write_jsonl_lines("in.jsonl", [example("a", TOOL), example("b", MISSING_REF, **extra)])
    out = tmp_path / "out.jsonl"
    code, line, err = run_cli(["data", "dedup", "--data", data, "--out", out], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{data}:2: field 'tools[0].parameters'" in line
    assert "tool 'convert'" in line and "'#/$defs/missing'" in line and "properties/unit" in line
    assert not out.exists()


def test_refs_that_resolve_still_load(tmp_path, write_jsonl_lines):
    tool = {"name": "convert", "parameters": {"type": "object", "$defs": {"unit": {"enum": ["c", "f"]}},
                                              "properties": {"unit": {"$ref": "#/$defs/unit"}}}}
    data = write_jsonl_lines("in.jsonl", [example("a", tool, target={"name": "convert",
                                                                         "arguments": {"unit": "c"}})])
    out = tmp_path / "out.jsonl"
    assert main(["data", "dedup", "--data", data, "--out", str(out)]) == 0
    assert out.exists()


# ---- 3 and 5. bad training overrides and configs -------------------------------------------------

@pytest.fixture
def no_training(monkeypatch):
    """Replace `train.train` so a config that wrongly passes the checks costs nothing; records calls."""
    from calltune import train

    calls = []
    monkeypatch.setattr(train, "train", lambda *args, **kwargs: calls.append(args) or {})
    return calls


@pytest.mark.parametrize("override, field", [("train.lr=[", "train.lr=["), ("train.lr=[1, 2", "train.lr=[1, 2"),
                                             ("train.threads=0", "train.threads"),
                                             ("train.threads=-1", "train.threads")])
def test_bad_override_is_one_error_naming_it(tmp_path, capsys, no_training, override, field):
    out = tmp_path / "run"
    code, line, err = run_cli(["train", "--out", out, override], capsys)
    assert code == 2 and "Traceback" not in err
    assert field in line
    assert not no_training and not out.exists()


def test_non_positive_threads_in_a_config_file_is_an_error(tmp_path, capsys, no_training):
    config, out = tmp_path / "c.yaml", tmp_path / "run"
    config.write_text("train:\n  threads: 0\n")
    code, line, err = run_cli(["train", "--config", config, "--out", out], capsys)
    assert code == 2 and str(config) in line and "train.threads" in line
    assert not no_training and not out.exists()


# ---- 4. --out naming a directory (or under a file) -----------------------------------------------

@pytest.mark.parametrize("command", ["predict", "eval", "repair", "import", "split", "dedup", "synth", "stats",
                                     "leaks"])
def test_output_that_is_a_directory_fails_before_any_work(tmp_path, capsys, command):
    target = tmp_path / "existing"
    target.mkdir()
    pred, train = predictions(tmp_path), tmp_path / "train.jsonl"
    openai = Path(__file__).parent / "fixtures" / "import" / "openai.jsonl"
    argv = {"predict": ["predict", "--model", "./no/such/model", "--data", "seed:dev", "--out", target],
            "eval": ["eval", "--data", "seed:dev", "--pred", pred, "--out", target],
            "repair": ["repair", "--data", "seed:dev", "--pred", pred, "--out", target],
            "import": ["data", "import", "--format", "openai", "--in", openai, "--on-error", "skip",
                       "--out", target],
            "split": ["data", "split", "--data", "seed:all", "--train", train, "--dev", target],
            "dedup": ["data", "dedup", "--data", "seed:all", "--out", target],
            "synth": ["data", "synth", "--n", "3", "--out", target],
            "stats": ["data", "stats", "seed:dev", "--model", "./no/such/model", "--out", target],
            "leaks": ["data", "leaks", "--train", "seed:train", "--dev", "seed:dev", "--out", target]}[command]
    code, line, err = run_cli(argv, capsys)
    assert code == 2 and "Traceback" not in err
    flag = "--dev" if command == "split" else "--out"
    assert f"{flag} {target}: is a directory" in line
    assert list(target.iterdir()) == [] and not train.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "pred.jsonl"]  # no .partial, no temp files


def test_output_under_a_file_fails_naming_the_file(tmp_path, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    code, line, err = run_cli(["eval", "--data", "seed:dev", "--pred", predictions(tmp_path),
                               "--out", blocker / "metrics.json"], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"--out {blocker / 'metrics.json'}: {blocker} is not a directory" in line


# ---- 6. report --readme naming a file that is not there ------------------------------------------

def experiment_dir(tmp_path) -> Path:
    run = tmp_path / "exp"
    run.mkdir()
    config = {"model": "embedded", "prompt_style": "paper", "max_new_tokens": 8, "decodings": ["greedy"]}
    (run / "results.json").write_text(json.dumps({"results": [], "config": config}))
    return run


@pytest.mark.parametrize("readme_text, message", [(None, "cannot read"), ("# no markers\n", "no '<!-- results")])
def test_report_readme_problem_is_found_before_writing(tmp_path, capsys, readme_text, message):
    run, readme = experiment_dir(tmp_path), tmp_path / "MISSING.md"
    if readme_text is not None:
        readme.write_text(readme_text)
    code, line, err = run_cli(["report", run, "--readme", readme], capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{readme}: {message}" in line
    assert sorted(p.name for p in run.iterdir()) == ["results.json"]


# ---- 7. the guard: unexpected exceptions, --debug, Ctrl-C ----------------------------------------

@pytest.fixture
def broken_eval(monkeypatch):
    from calltune import evaluate

    def boom(*args, **kwargs):
        raise ValueError("boom\nsecond line of a long message")

    monkeypatch.setattr(evaluate, "run_eval", boom)


def test_unexpected_exception_is_exit_3_with_a_short_line(capsys, broken_eval):
    code, line, err = run_cli(["eval", "--data", "seed:dev", "--pred", "p.jsonl"], capsys)
    assert code == 3
    assert line == "error: internal error: ValueError: boom (rerun with --debug for the traceback)"
    assert err.strip() == line  # no traceback, nothing else


def test_debug_flag_prints_the_traceback(capsys, broken_eval):
    code, line, err = run_cli(["--debug", "eval", "--data", "seed:dev", "--pred", "p.jsonl"], capsys)
    assert code == 3 and line.startswith("error: internal error: ValueError: boom")
    assert "Traceback (most recent call last)" in err and "in boom" in err and "--debug" not in line


def test_keyboard_interrupt_is_exit_130(capsys, monkeypatch):
    from calltune import evaluate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluate, "run_eval", interrupted)
    assert main(["eval", "--data", "seed:dev", "--pred", "p.jsonl"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "interrupted" and "Traceback" not in err
