"""The one user-facing error type: bad input, reported without a traceback.

The CLI turns a `CalltuneError` into a single `error: ...` line on stderr and
exit code 2. Messages name the file, line and field where one applies.
"""

from __future__ import annotations


class CalltuneError(Exception):
    """Bad input or an impossible request; `str(err)` is the full message."""


def located(path: str | None, line: int | None, field: str | None, message: str) -> CalltuneError:
    """Build an error whose message reads `path:line: field: message`."""
    where = ""
    if path is not None:
        where = f"{path}:{line}: " if line is not None else f"{path}: "
    if field:
        where += f"field '{field}': "
    return CalltuneError(where + message)
