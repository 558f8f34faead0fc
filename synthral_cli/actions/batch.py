"""``synthral batch``: many invocations in one process, one NDJSON line in and one out per call.

    run_batch(lines, contexts, options, parallel=8, ordered=True, emit=print)  -> worst exit code

Each input line is ``{"connector", "action", "params"?, "connection"?, "id"?}``; each output line
is ``{"id", "success": true, "status", "result"}`` or ``{"id", "success": false, "status",
"error": {"code", "message", "hint", "exit_code"}}``. ``id`` is the line's own, else its line
number (1-based), so that ``--unordered`` output can be matched to its input. A malformed line
gets an error line of its own (``bad_request``, exit code 2); no line stops the batch.

Up to ``parallel`` calls run at once in threads. A ``Store`` is used by one thread, so each
worker thread has its own context (``contexts()``, e.g. ``Synthral.sibling``: the same settings
and catalogue, its own store connection); every call shares one HTTP client (``options.client``)
and the store's lock, so N lines meeting one expired token make one refresh. At most
``4 × parallel`` lines are read ahead of the output, so a long stdin is not held in memory.

The batch's exit code is the largest of its lines' exit codes (0 success, 1 provider error,
2 bad input, 3 not authorized, 4 network, 5 store, 70 a bug).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from ..basics.errors import AuthError, NetworkError, ProviderError, StoreError, SynthralError

if TYPE_CHECKING:
    from ..wire.request import Options
    from .context import Context

FIELDS = {"connector", "action", "params", "connection", "id"}
INTERNAL = 70


def error_code(exc: SynthralError) -> str:
    """The error ``code`` of a line, the vocabulary of ``synthral serve``'s error bodies."""
    if isinstance(exc, ProviderError):
        return "provider_error"
    if isinstance(exc, AuthError):
        return "not_authorized"
    if isinstance(exc, NetworkError):
        return "network_error"
    if isinstance(exc, StoreError):
        return "store_error"
    return "bad_request"


def _failure(ident: Any, code: str, message: str, hint: str | None, exit_code: int,
             status: int | None = None) -> tuple[dict[str, Any], int]:
    error = {"code": code, "message": message, "hint": hint, "exit_code": exit_code}
    return {"id": ident, "success": False, "status": status, "error": error}, exit_code


def parse_line(
    text: str | bytes, number: int
) -> tuple[dict[str, Any] | None, tuple[dict[str, Any], int] | None]:
    """``(request, None)`` for a well-formed line, else ``(None, error line)``."""
    try:
        req = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except UnicodeDecodeError:
        return None, _failure(number, "bad_request", f"Line {number} is not UTF-8 text.",
                              "Encode the requests as UTF-8 JSON, one object per line.", 2)
    except ValueError as exc:
        return None, _failure(number, "bad_request", f"Line {number} is not JSON: {exc}.",
                              'Write one object per line: {"connector": "slack", "action": "...", "params": {}}', 2)
    if not isinstance(req, dict):
        return None, _failure(number, "bad_request", f"Line {number} is not a JSON object.",
                              'Write one object per line: {"connector": "slack", "action": "...", "params": {}}', 2)
    ident = req.get("id", number)
    unknown = sorted(set(req) - FIELDS)
    problems = [f"unknown field(s) {', '.join(map(repr, unknown))}"] if unknown else []
    for name in ("connector", "action"):
        if not isinstance(req.get(name), str) or not req[name]:
            problems.append(f'"{name}" must be a non-empty string')
    if not isinstance(req.get("params", {}), dict):
        problems.append('"params" must be an object')
    if not isinstance(req.get("connection", "default"), str) or not req.get("connection", "default"):
        problems.append('"connection" must be a non-empty string')
    if problems:
        return None, _failure(ident, "bad_request", f"Line {number}: {'; '.join(problems)}.",
                              'Fields: "connector", "action", "params" (object), "connection", "id".', 2)
    return req, None


def call_line(ctx: Context, req: dict[str, Any], number: int, base: Options) -> tuple[dict[str, Any], int]:
    """Run one request; a result line and its exit code (never raises for a user's input)."""
    import dataclasses

    from .invoke import invoke

    ident = req.get("id", number)
    opts = dataclasses.replace(base, connection=req.get("connection", "default"))
    try:
        out = invoke(ctx, req["connector"], req["action"], dict(req.get("params") or {}), opts)
    except SynthralError as exc:
        return _failure(ident, error_code(exc), exc.message, exc.hint, exc.exit_code, getattr(exc, "status", None))
    except Exception as exc:  # a bug must not stop the other lines
        return _failure(ident, "internal_error", f"unexpected error: {type(exc).__name__}: {exc}",
                        "This is a bug in synthral; rerun the line with synthral invoke --debug and report it.",
                        INTERNAL)
    line = out.to_dict()
    return {"id": ident, **line}, 0


def run_batch(
    lines: Iterable[str | bytes],
    contexts: Callable[[], Context],
    options: Options,
    emit: Callable[[dict[str, Any]], None],
    *,
    parallel: int = 1,
    ordered: bool = True,
) -> int:
    """Run every line; ``emit`` each result (in input order unless ``ordered`` is False) from
    the calling thread; return the largest exit code of the lines."""
    local = threading.local()

    def work(text: str | bytes, number: int) -> tuple[dict[str, Any], int]:
        req, bad = parse_line(text, number)
        if bad is not None:
            return bad
        assert req is not None  # noqa: S101 - parse_line gives one or the other
        ctx = getattr(local, "ctx", None)
        if ctx is None:
            ctx = local.ctx = contexts()
        return call_line(ctx, req, number, options)

    worst = 0
    window = max(1, parallel) * 4
    pending: deque[Future[tuple[dict[str, Any], int]]] = deque()

    def settle(done: Iterable[Future[tuple[dict[str, Any], int]]]) -> None:
        nonlocal worst
        for future in done:
            line, code = future.result()
            worst = max(worst, code)
            emit(line)

    with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="batch") as pool:
        for number, text in enumerate(lines, 1):
            if not text.strip():
                continue
            pending.append(pool.submit(work, text, number))
            if ordered:
                while pending and (len(pending) >= window or pending[0].done()):
                    settle([pending.popleft()])
            else:
                if len(pending) >= window:
                    wait(pending, return_when=FIRST_COMPLETED)
                ready = [f for f in pending if f.done()]
                settle(ready)
                pending = deque(f for f in pending if f not in ready)
        if ordered:
            settle(pending)
        else:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                settle([f for f in pending if f in done])
                pending = deque(f for f in pending if f not in done)
    return worst
