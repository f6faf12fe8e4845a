"""Reading and atomically writing JSON Lines and JSON files."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from calltune.errors import CalltuneError, located


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield `(line_number, object)` for each non-blank line; bad JSON is a located error."""
    path = str(path)
    try:
        handle = open(path, encoding="utf-8")
    except OSError as err:
        raise CalltuneError(f"{path}: cannot read: {err.strerror}") from None
    with handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise located(path, number, None, f"malformed JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(obj, dict):
                raise located(path, number, None, f"expected a JSON object, got {type(obj).__name__}")
            yield number, obj


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
