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
    from typing import Any

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


_INVOKE_VALUES = {
    "-p": "params", "--param": "params", "-d": "data", "--data": "data", "-c": "connection",
    "--connection": "connection", "--retries": "retries", "--timeout": "timeout", "--ca-bundle": "ca_bundle",
}
_INVOKE_FLAGS = {"--json": "as_json", "--dry-run": "dry_run", "--paginate": "paginate"}


def _number(value: str, low: float, high: float, kind: type) -> float | None:
    """``value`` as Typer's range check would take it, or None for anything it might word differently."""
    digits = value.replace(".", "", 1) if kind is float else value
    if not digits.isascii() or not digits.isdigit():
        return None
    number = kind(value)
    return number if low <= number <= high else None


def _parse_invoke(args: list[str]) -> dict[str, Any] | None:
    """``SLUG ACTION`` with ``-p/--param`` (repeatable), ``-d/--data``, ``-c/--connection``,
    ``--retries``, ``--timeout``, ``--ca-bundle``, ``--json``, ``--dry-run``, ``--paginate``
    (``--opt=value`` too), in any order; None for anything else (Typer then parses and words it)."""
    opts: dict[str, Any] = {"params": [], "data": None, "connection": "default", "retries": 3, "timeout": 30.0,
                            "ca_bundle": None, "as_json": False, "dry_run": False, "paginate": False}
    positional: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if arg in _INVOKE_FLAGS:
            opts[_INVOKE_FLAGS[arg]] = True
        elif name in _INVOKE_VALUES:
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            key = _INVOKE_VALUES[name]
            if value.startswith("-") or (key != "params" and key in seen):
                return None
            seen.add(key)
            if key == "params":
                opts["params"].append(value)
            elif key in ("retries", "timeout"):
                number = _number(value, *((0, 10, int) if key == "retries" else (0.1, float("inf"), float)))
                if number is None:
                    return None
                opts[key] = number
            else:
                opts[key] = value
        elif arg.startswith("-") or not arg:
            return None
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 2:
        return None
    if opts["ca_bundle"] is None:  # the option's envvar, as Typer reads it
        opts["ca_bundle"] = os.environ.get("SYNTHRAL_CA_BUNDLE") or None
    opts["slug"], opts["action"] = positional
    return opts


def _parse_token(args: list[str]) -> dict[str, Any] | None:
    """``SLUG [-c/--connection NAME]`` (``--connection=NAME`` too), else None."""
    opts: dict[str, Any] = {"connection": "default"}
    positional = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in ("-c", "--connection") and "set" not in opts:
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            if value.startswith("-"):
                return None
            opts["connection"], opts["set"] = value, True
        elif arg.startswith("-") or not arg:
            return None
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 1:
        return None
    opts.pop("set", None)
    opts["slug"] = positional[0]
    return opts


def _invoke(rt: Any, opts: dict[str, Any]) -> None:
    from .invoking import invoke_action

    invoke_action(
        rt, opts["slug"], opts["action"], opts["params"], opts["data"], None, opts["connection"],
        opts["dry_run"], opts["paginate"], opts["retries"], opts["timeout"], None, opts["ca_bundle"],
        False, opts["as_json"],
    )


def fast_path(argv: list[str]) -> int | None:
    """Run a hot read-only command without Typer; ``None`` means "not handled here"."""
    if os.environ.get("_SYNTHRAL_COMPLETE") or os.environ.get("SYNTHRAL_DEBUG"):
        return None
    if argv == ["--version"]:
        from ..basics.version import __version__

        sys.stdout.write(f"synthral {__version__}\n")
        return 0
    view: Callable[..., None]
    opts: dict[str, Any]
    if argv[:1] == ["token"]:
        parsed_token = _parse_token(argv[1:])
        if parsed_token is None:
            return None
        from .tokens import print_token as view

        opts = parsed_token
    elif argv[:1] == ["invoke"]:
        parsed_invoke = _parse_invoke(argv[1:])
        if parsed_invoke is None:
            return None
        view, opts = _invoke, {"opts": parsed_invoke}
    elif argv[:2] == ["connections", "list"] and argv[2:] in ([], ["--json"]):
        from .views import list_connections as view

        opts = {"as_json": argv[2:] == ["--json"]}
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
    return _run(view, opts)


def _run(view: Callable[..., None], opts: dict[str, Any]) -> int:
    """Run a command's Typer-free body and render its errors as ``app.SynthralGroup`` does."""
    from ..basics.errors import SynthralError
    from .runtime import Runtime

    rt = Runtime()
    try:
        view(rt, **opts)
    except SynthralError as exc:
        from . import ui

        rt.flush_notices()
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
    finally:
        rt.flush_notices()
        rt.close()
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


def _plain_help(args: list[str]) -> bool:
    """``[GROUP] [COMMAND] --help`` with no debugging or completion asked for (``helpcache.py``)."""
    if os.environ.get("_SYNTHRAL_COMPLETE") or os.environ.get("SYNTHRAL_DEBUG"):
        return False
    from .helpcache import is_help

    return is_help(args)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    stdout_was = _fd_identity(1)
    code: int | str | None
    try:
        try:
            code = fast_path(args)
            if code is None:
                if _plain_help(args):
                    from . import helpcache

                    if not helpcache.replay(args):  # a recorded page: no Typer import at all
                        from .app import main as typer_main

                        helpcache.record(args, lambda: typer_main(args))  # ends in SystemExit
                    code = 0
                else:
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
