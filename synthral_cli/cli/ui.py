"""Terminal output: the only module that imports rich (lazily).

Data goes to stdout (a Rich table on a terminal, JSON with ``--json``); progress, warnings and
errors go to stderr, redacted.

Everything written here passes ``basics.sanitize`` on the way out: human text is stripped of
escape sequences and control characters (a provider's text cannot write the clipboard, hide a
link or rewrite the screen), JSON keeps them as ``\\u`` escapes, and Rich gets ``Text`` objects,
never markup, so a ``[link=...]`` in a provider's value stays text.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager

from ..basics.redact import redact
from ..basics.sanitize import escape_json_text, strip_controls

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
    echo_json(text)


def echo_json(text: str) -> None:
    """JSON text already serialized, with the controls ``json.dumps`` leaves raw escaped."""
    if not _utf8(text):  # a lone surrogate: the same \\udxxx escape JSON would have written
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    sys.stdout.write(escape_json_text(text) + "\n")
    sys.stdout.flush()


def echo_json_parts(head: str, body: bytes | memoryview, tail: str) -> None:
    """``echo_json(head + body + tail)`` where ``body`` is UTF-8 JSON text already through
    ``escape_json_text`` (the catalogue's cached listing) and ``head``/``tail`` are ASCII: the
    body's bytes go out as they are, neither decoded nor copied, when stdout writes UTF-8."""
    out = sys.stdout
    if (getattr(out, "encoding", None) or "").lower().replace("_", "-") in ("utf-8", "utf8") and hasattr(out, "buffer"):
        out.flush()
        out.buffer.write(head.encode("ascii"))
        out.buffer.write(body)
        out.buffer.write(tail.encode("ascii") + b"\n")
        out.buffer.flush()
        return
    echo_json(head + str(body, "utf-8") + tail)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def echo(text: str = "") -> None:
    """Human text on stdout, without escape sequences or control characters."""
    if not _utf8(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    sys.stdout.write(strip_controls(text) + "\n")


def shown(text: str) -> str:
    """What ``err`` writes for ``text``: controls stripped first, so an escape sequence
    inside a secret cannot split it past redaction; then redacted."""
    return redact(strip_controls(text))


def err(text: str) -> None:
    """A line on stderr, clean and redacted."""
    sys.stderr.write(shown(text) + "\n")
    sys.stderr.flush()


def show_link(text: str) -> None:
    """A line on stderr that is meant for the person as it is (a one-time connect link), so
    not redacted; still clean."""
    sys.stderr.write(strip_controls(text) + "\n")
    sys.stderr.flush()


def prompt(label: str) -> str:
    """The clean text of a prompt label, for ``getpass`` or ``ask``."""
    return strip_controls(label, one_line=True)


def _cancelled() -> Exception:
    """End of input at a prompt (Ctrl-D): a cancellation, exit 130 like Ctrl-C. The prompt's
    line is ended first so the error starts on its own line."""
    from ..basics.errors import Cancelled

    sys.stderr.write("\n")
    return Cancelled(
        "cancelled: no answer at the prompt (end of input).",
        "Nothing was changed; run the command again to answer it.",
    )


def ask(label: str) -> str:
    """Ask on stderr, read one line from stdin; end of input cancels (exit 130)."""
    sys.stderr.write(prompt(label))
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise _cancelled()
    return line.strip()


def hidden(label: str) -> str:
    """Ask on the terminal without echo (a secret); end of input cancels (exit 130). Every
    hidden prompt of the CLI is read here."""
    import getpass

    try:
        return getpass.getpass(prompt(label), stream=sys.stderr)
    except EOFError:
        raise _cancelled() from None


def _cell(value: Any) -> str:
    return "" if value is None else strip_controls(str(value), one_line=True)


def _text(value: Any) -> Any:
    """A Rich ``Text`` (no markup, no emoji codes) of a clean cell."""
    from rich.text import Text

    return Text(_cell(value))


def warn(text: str) -> None:
    err(f"warning: {text}")


def error(message: str, hint: str | None = None) -> None:
    err(f"error: {message}")
    if hint:
        err(f"  {hint}")


def _rich_wanted() -> bool:
    return is_terminal(sys.stdout) or bool(os.environ.get("FORCE_COLOR"))


def table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    identifiers: Sequence[int] = (0,),
) -> None:
    """A table: Rich on a terminal, plain tab-separated text when piped. The ``identifiers``
    columns (slugs, action names: what people copy and paste) never wrap; the others do."""
    if not _rich_wanted():
        lines = ["\t".join(_cell(c).upper() for c in columns)]
        # a clean string is its own cell: 10,000 rows in one write, without a call per cell
        lines.extend("\t".join([v if type(v) is str and v.isprintable() else _cell(v) for v in row]) for row in rows)
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rich.table import Table

    t = Table(title=None if title is None else _text(title), show_lines=False, header_style="bold")
    for i, c in enumerate(columns):
        if i in identifiers:
            t.add_column(_text(c), no_wrap=True, min_width=_widest(c, rows, i))
        else:
            t.add_column(_text(c), overflow="fold")
    for row in rows:
        t.add_row(*(_text(v) for v in row))
    _rich_console(False).print(t)


def _widest(header: str, rows: Sequence[Sequence[Any]], i: int) -> int:
    return max([len(header), *(len(_cell(r[i])) for r in rows)])


def blocks(heading: str, items: Sequence[tuple[str, str, str, Sequence[tuple[str, str, str]]]]) -> None:
    """Help-like blocks (as ``gh help`` shows flags), one per item ``(name, rest, text, rows)``:
    the name and the rest of its line, an indented paragraph, then rows of (name, kind, text).
    Names and kinds never wrap; the text wraps to the terminal. Piped: the same, unwrapped."""
    if not _rich_wanted():
        sys.stdout.write(_cell(heading) + "\n")
        for name, rest, text, rows in items:
            sys.stdout.write(f"\n{_cell(name)}  {_cell(rest)}\n")
            if text:
                sys.stdout.write(f"  {_cell(text)}\n")
            wn = max((len(_cell(r[0])) for r in rows), default=0)
            wk = max((len(_cell(r[1])) for r in rows), default=0)
            for n, k, t in rows:
                sys.stdout.write(f"    {_cell(n).ljust(wn)}  {_cell(k).ljust(wk)}  {_cell(t)}".rstrip() + "\n")
        return
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    console = _rich_console(False)
    console.print(Text(_cell(heading), style="bold"))
    for name, rest, text, rows in items:
        line = Text()
        line.append(_cell(name), style="bold")
        line.append("  " + _cell(rest))
        console.print()
        console.print(line)
        if text:
            console.print(Padding(_text(text), (0, 0, 0, 2), expand=False))
        if rows:
            grid = Table.grid(padding=(0, 2))
            grid.add_column(no_wrap=True, style="bold")
            grid.add_column(no_wrap=True)
            grid.add_column(overflow="fold")
            for n, k, t in rows:
                grid.add_row(_text(n), _text(k), _text(t))
            console.print(Padding(grid, (0, 0, 0, 4), expand=False))


def panel(title: str, lines: Sequence[tuple[str, Any]]) -> None:
    """Key/value details of one thing."""
    if not _rich_wanted():
        for k, v in lines:
            sys.stdout.write(f"{_cell(k)}: {_cell(v)}\n")
        return
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for k, v in lines:
        grid.add_row(_text(k), _text(v))
    _rich_console(False).print(Panel(grid, title=_text(title), expand=False))


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while waiting, only on a terminal."""
    if not is_terminal(sys.stderr):
        yield
        return
    with _rich_console(True).status(_text(shown(message))):
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
            self._status.update(_text(shown(message)))

    def line(self, text: str) -> None:
        if self._console is not None:
            self._console.print(shown(text), markup=False, highlight=False, emoji=False)
        else:
            err(text)


STDOUT_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for `cat` when the reader went away


def stdout_closed() -> int:
    """The reader of stdout went away (``synthral show stripe | head -1``): point stdout at
    /dev/null so nothing more fails on the way out, and return the exit code, 141. The one
    answer to a ``BrokenPipeError`` for every command, the fast path and Typer's alike."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout has no file descriptor (an in-process runner)
        pass
    finally:
        os.close(devnull)
    return STDOUT_CLOSED


def print_traceback() -> None:
    import traceback

    sys.stderr.write(shown(traceback.format_exc()))
