"""Terminal output: the only module that imports rich (lazily).

Data goes to stdout (a Rich table on a terminal, JSON with ``--json``); progress, warnings and
errors go to stderr, redacted.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager

from ..basics.redact import redact

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Iterator, Sequence
    from typing import Any


def _rich_console(stderr: bool) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def is_terminal(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def print_json(data: Any) -> None:
    """JSON for scripts: stable key order as built, UTF-8, one document. Indented on a terminal;
    piped, it is one compact line (json's C encoder is only used without indentation, and
    ``jq`` does not care)."""
    indent = 2 if is_terminal(sys.stdout) else None
    text = json.dumps(data, indent=indent, ensure_ascii=False, default=str)
    if not _utf8(text):  # a lone surrogate from a provider's "\\ud800" escape: keep it escaped
        text = json.dumps(data, indent=indent, ensure_ascii=True, default=str)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def echo(text: str = "") -> None:
    if not _utf8(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    """A line on stderr, redacted."""
    sys.stderr.write(redact(text) + "\n")
    sys.stderr.flush()


def warn(text: str) -> None:
    err(f"warning: {text}")


def error(message: str, hint: str | None = None) -> None:
    err(f"error: {message}")
    if hint:
        err(f"  {hint}")


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
    """A table: Rich on a terminal, plain tab-separated text when piped."""
    if not is_terminal(sys.stdout) and not os.environ.get("FORCE_COLOR"):
        sys.stdout.write("\t".join(c.upper() for c in columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join("" if v is None else str(v) for v in row) + "\n")
        return
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    _rich_console(False).print(t)


def panel(title: str, lines: Sequence[tuple[str, Any]]) -> None:
    """Key/value details of one thing."""
    if not is_terminal(sys.stdout):
        for k, v in lines:
            sys.stdout.write(f"{k}: {v}\n")
        return
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for k, v in lines:
        grid.add_row(k, "" if v is None else str(v))
    _rich_console(False).print(Panel(grid, title=title, expand=False))


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while waiting, only on a terminal."""
    if not is_terminal(sys.stderr):
        yield
        return
    with _rich_console(True).status(message):
        yield


class Live:
    """Per-step progress on stderr: a spinner with finished lines above it on a terminal,
    plain lines otherwise."""

    def __init__(self) -> None:
        self._status: Any = None
        self._console: Any = None

    def __enter__(self) -> Live:
        if is_terminal(sys.stderr):
            self._console = _rich_console(True)
            self._status = self._console.status("")
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)
            self._status = None

    def update(self, message: str) -> None:
        if self._status is not None:
            self._status.update(redact(message))

    def line(self, text: str) -> None:
        if self._console is not None:
            self._console.print(redact(text), markup=False, highlight=False)
        else:
            err(text)


def print_traceback() -> None:
    import traceback

    sys.stderr.write(redact(traceback.format_exc()))
