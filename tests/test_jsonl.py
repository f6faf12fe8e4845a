"""Atomic writes leave either the old file or the new one, with ordinary permissions."""

import os

import pytest

from calltune.jsonl import atomic_write_text, write_jsonl, read_jsonl


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "out.jsonl"
    write_jsonl(path, [{"a": 1}, {"b": "é"}])
    assert [obj for _, obj in read_jsonl(path)] == [{"a": 1}, {"b": "é"}]
    assert os.listdir(path.parent) == ["out.jsonl"]
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_failed_write_keeps_old_content(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old")

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        atomic_write_text(path, Boom())  # not a str: fails mid-write
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
