"""``--help`` without Typer: the help Typer printed, replayed byte for byte.

Rendering a help page costs Typer and Rich (~150 ms of CPU); its text depends only on this
install's code and on how the output is shown. So the first ``synthral [GROUP] [COMMAND] --help``
runs Typer as usual while recording what it writes to stdout, and keeps it (exit 0 only) in an
authenticated cache file (``catalogue/cache.py``: only this install can have written it). The
next identical call prints that file. The cache key covers everything the page can depend on:
the command line, the installed code (synthral's version, the ``sys.path`` folders and the CLI's
own source files, with modification times), whether stdout is a terminal and its size and
encoding, and the environment (every variable, so COLUMNS, NO_COLOR, FORCE_COLOR, TERM ... too),
leaving out only variables that a shell changes from one command to the next (PWD, OLDPWD,
SHLVL, ``_``). A test compares the replay with Typer's own output.
"""

from __future__ import annotations

import os
import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..catalogue.cache import CacheFiles

HELP_FLAGS = ("--help", "-h")
VOLATILE = {"PWD", "OLDPWD", "SHLVL", "_"}
_WORD = re.compile(r"[a-z][a-z-]{0,30}")


def is_help(argv: list[str]) -> bool:
    """``[GROUP] [COMMAND] --help``: at most two command words, then the help flag."""
    return 1 <= len(argv) <= 3 and argv[-1] in HELP_FLAGS and all(_WORD.fullmatch(a) for a in argv[:-1])


def _name(argv: list[str], files: CacheFiles) -> str | None:
    """The cache file of this page in these conditions: a keyed hash (the cache's own key), so
    the name says nothing about the environment it was made from; None without a key."""
    import json

    from ..basics.version import __version__
    from ..catalogue.cache import _mac, stamp

    secret = files.key() or files._new_key()
    if secret is None:
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    code = sorted((f, stamp(os.path.join(here, f))) for f in os.listdir(here) if f.endswith(".py"))
    out = sys.stdout
    try:
        tty = out.isatty()
        size = list(os.get_terminal_size(out.fileno())) if tty else None
    except (AttributeError, ValueError, OSError):
        tty, size = False, None
    env = sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE)
    key = [__version__, argv, sys.executable, [[p, stamp(p)] for p in sys.path], code, tty, size,
           getattr(out, "encoding", None), env]
    return f"help-{_mac(secret, json.dumps(key).encode('utf-8', 'surrogateescape'))[:32].decode()}.txt"


def _files() -> CacheFiles | None:
    from ..basics.settings import Settings
    from ..catalogue.cache import CacheFiles

    try:
        paths = Settings(dict(os.environ)).paths
        return CacheFiles(paths.cache_dir, paths.cache_key)
    except Exception:  # noqa: BLE001 - no cache then: Typer answers
        return None


def replay(argv: list[str]) -> bool:
    """Print the recorded help for ``argv``, if there is one for these exact conditions."""
    files = _files()
    name = _name(argv, files) if files is not None else None
    text = files.read(name) if files is not None and name is not None else None
    if text is None:
        return False
    sys.stdout.write(text)
    return True


class _Tee:
    """``sys.stdout`` as it is (terminal checks, size, encoding), also keeping what is written,
    through it or through its binary ``buffer``."""

    def __init__(self, real: Any, parts: list[str] | None = None, encoding: str | None = None) -> None:
        self._real = real
        self.parts: list[str] = [] if parts is None else parts
        self._encoding = encoding

    def write(self, data: Any) -> int:
        n = int(self._real.write(data))  # a probe such as write(b"") fails here, as it would
        if isinstance(data, str):
            self.parts.append(data)
        elif isinstance(data, (bytes, bytearray)):
            self.parts.append(bytes(data).decode(self._encoding or "utf-8", "surrogateescape"))
        return n

    @property
    def buffer(self) -> Any:
        encoding = getattr(self._real, "encoding", None) or "utf-8"
        return _Tee(self._real.buffer, self.parts, encoding)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def record(argv: list[str], run: Callable[[], None]) -> None:
    """Run Typer's help (``run``) with stdout recorded; keep the page when it exits 0."""
    real = sys.stdout
    tee = _Tee(real)
    sys.stdout = tee  # a file-like object in all that matters
    ok = False
    try:
        run()
        ok = True
    except SystemExit as exc:
        ok = exc.code in (0, None)
        raise
    finally:
        sys.stdout = real
        files = _files() if ok else None
        name = _name(argv, files) if files is not None else None
        if files is not None and name is not None:
            files.write(name, "".join(tee.parts))
