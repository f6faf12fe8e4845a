"""Reading and atomically writing JSON Lines and JSON files.

Input files must be UTF-8; any other bytes are a located `CalltuneError`, as is an output
path that names a directory (checked by `check_output_file` before any work is done).
"""

from __future__ import annotations

import json
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from calltune.errors import CalltuneError, located


def _decode(path: str, data: bytes, first_line: int = 1) -> str:
    """`data` as UTF-8; bytes that are not are a located error (line and column within `data`)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = first_line + data.count(b"\n", 0, err.start)
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise located(path, line, None, f"not valid UTF-8 (byte 0x{data[err.start]:02x} at column {column}); "
                      "re-encode the file as UTF-8") from None


def _open_binary(path: str):
    try:
        return open(path, "rb")
    except OSError as err:
        raise CalltuneError(f"{path}: cannot read: {err.strerror}") from None


def read_text(path: str | os.PathLike) -> str:
    """The whole file as text; unreadable files and bytes that are not UTF-8 are located errors."""
    path = str(path)
    with _open_binary(path) as handle:
        return _decode(path, handle.read())


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield `(line_number, object)` for each non-blank line; bad JSON or bad UTF-8 is a located error."""
    path = str(path)
    with _open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            text = _decode(path, raw, number)
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise located(path, number, None, f"malformed JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(obj, dict):
                raise located(path, number, None, f"expected a JSON object, got {type(obj).__name__}")
            yield number, obj


def check_output_file(path: str | os.PathLike | None, flag: str = "--out") -> None:
    """Fail early, naming `flag` and `path`, where no file can be written at `path`: it is an
    existing directory, or the nearest existing folder on the way to it is a file. None passes."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise CalltuneError(f"{flag} {path}: is a directory; expected a file name")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CalltuneError(f"{flag} {path}: {parent} is not a directory")
            return


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` via a temporary file and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def dumps_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> None:
    """Atomically write one JSON object per line."""
    atomic_write_text(path, "".join(dumps_line(row) + "\n" for row in rows))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write pretty-printed JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes: the data fingerprint run directories record."""
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()
