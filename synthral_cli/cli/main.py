"""The console-script entry point, kept free of heavy imports.

Scripts call ``synthral connectors list --json``, ``synthral connections list`` and
``synthral --version`` hundreds of times a day, and importing Typer alone costs ~60 ms. These
read-only hot commands are therefore parsed
here with a tiny exact parser and run without Typer; anything this parser does not fully
understand (``--help``, an unknown or malformed option, any other command) goes to the Typer app,
which owns the documented behaviour and messages. Both paths call the same core and ``ui``
functions, and a test runs every fast-path command both ways and compares the results.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

_LIST_OPTIONS = {"--category": "category", "--status": "status", "--search": "search"}


def _parse_list(args: list[str]) -> dict[str, object] | None:
    """``[--json] [--category C] [--status S] [--search T]`` (also ``--opt=value``), else None."""
    opts: dict[str, object] = {"as_json": False}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--json":
            opts["as_json"] = True
        elif arg.split("=", 1)[0] in _LIST_OPTIONS:
            name, eq, value = arg.partition("=")
            if not eq:
                if i + 1 >= len(args) or args[i + 1].startswith("-"):
                    return None
                i += 1
                value = args[i]
            key = _LIST_OPTIONS[name]
            if key in opts:
                return None
            opts[key] = value
        else:
            return None
        i += 1
    return opts


def fast_path(argv: list[str]) -> int | None:
    """Run a hot read-only command without Typer; ``None`` means "not handled here"."""
    if os.environ.get("_SYNTHRAL_COMPLETE") or os.environ.get("SYNTHRAL_DEBUG"):
        return None
    if argv == ["--version"]:
        from ..basics.version import __version__

        sys.stdout.write(f"synthral {__version__}\n")
        return 0
    view: Callable[..., None]
    if argv[:2] == ["connections", "list"] and argv[2:] in ([], ["--json"]):
        from .views import list_connections as view

        opts: dict[str, object] = {"as_json": argv[2:] == ["--json"]}
    else:
        if argv[:2] == ["connectors", "list"]:
            rest = argv[2:]
        elif argv[:1] == ["list"]:
            rest = argv[1:]
        else:
            return None
        parsed = _parse_list(rest)
        if parsed is None:
            return None
        opts = parsed
        from .views import list_connectors as view
    from ..basics.errors import SynthralError

    try:
        from .runtime import Runtime

        view(Runtime(), **opts)
    except SynthralError as exc:
        from . import ui

        ui.error(exc.message, exc.hint)
        return exc.exit_code
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # like app.SynthralGroup: one line and exit 70, never a raw traceback
        from . import ui

        ui.error(
            f"unexpected error: {type(exc).__name__}: {exc}",
            "This is a bug in synthral; rerun with --debug for the traceback and report it.",
        )
        return 70
    return 0


def _fd_identity(fd: int) -> tuple[int, int] | None:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _fd_identity_of_devnull() -> tuple[int, int]:
    st = os.stat(os.devnull)
    return st.st_dev, st.st_ino


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    stdout_was = _fd_identity(1)
    code: int | str | None
    try:
        try:
            code = fast_path(args)
            if code is None:
                from .app import main as typer_main

                typer_main(args)  # always ends in SystemExit
                code = 0
        except SystemExit as exc:
            code = exc.code
            if code == 1 and stdout_was != _fd_identity(1) == _fd_identity_of_devnull():
                code = 141  # Rich (Typer's help) met the closed pipe: it points stdout at /dev/null, exits 1
        sys.stdout.flush()  # what is still buffered: a closed pipe shows here, not at exit
    except BrokenPipeError:
        # The reader went away (`synthral list --json | head -1`): stop quietly, like cat does.
        from .ui import stdout_closed

        raise SystemExit(stdout_closed()) from None
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        raise SystemExit(130) from None
    raise SystemExit(code)
