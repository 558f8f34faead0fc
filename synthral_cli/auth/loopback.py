"""The loopback redirect server of the authorization-code flow (RFC 8252 section 7.3).

It listens on 127.0.0.1 only, on a free port unless one is given, and accepts exactly one
callback whose ``state`` matches (compared in constant time). A callback with a wrong or missing
state gets an error page and the server keeps waiting. Every connection is served on its own
thread with a short socket timeout, so a client that connects and never speaks blocks nothing.
Only ``GET`` on the redirect path with a ``Host`` naming the loopback address is answered.

With ``await_outcome`` (the code flow), the browser's request for the accepted code is answered
only once the flow reports what became of the token exchange (``settle``): "Connected", or the
error in one sentence. A flow that ends otherwise (an exception, Ctrl-C) settles as it closes, so
the browser always hears how the sign-in ended.
"""

from __future__ import annotations

import errno
import hmac
import html
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..basics.errors import SynthralError, UsageError
from ..basics.redact import redact

BIND_ADDRESS = "127.0.0.1"
CONNECTION_TIMEOUT = 5.0  # seconds a connection may stay silent before it is dropped
OUTCOME_TIMEOUT = 120.0  # seconds the browser's request waits for the token exchange at most
ANSWER_GRACE = 3.0  # seconds closing waits for the browser's page to be written


@dataclass
class CallbackResult:
    """What the provider sent back: a code, or an error with its description."""

    code: str | None = None
    error: str | None = None
    error_description: str | None = None
    state: str | None = None


def state_matches(expected: str, got: str | None) -> bool:
    return got is not None and hmac.compare_digest(expected.encode(), got.encode())


def parse_callback(query: str) -> CallbackResult:
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items() if v}
    return CallbackResult(
        code=params.get("code") or None,
        error=params.get("error") or None,
        error_description=params.get("error_description") or None,
        state=params.get("state"),
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}</style>
</head><body><h1>{title}</h1><p>{body}</p></body></html>
"""


def _page(title: str, body: str) -> bytes:
    return _PAGE.format(title=html.escape(title), body=html.escape(body)).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # rebinding a fixed --port right after a run (TIME_WAIT)
    # A backlog of 5 (the default) lets a handful of idle connections push the browser's one
    # into SYN retries (1 s, 3 s, ...); each accepted connection gets its own thread anyway.
    request_queue_size = 128
    owner: CallbackServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = CONNECTION_TIMEOUT  # applied to the socket by StreamRequestHandler.setup()
    server_version = "synthral"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silent: the query string holds the authorization code."""

    def _send(self, status: int, title: str, body: str, extra: dict[str, str] | None = None) -> None:
        payload = _page(title, body)
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Connection", "close")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        owner = self.server.owner
        if not owner.host_allowed(self.headers.get("Host")):
            self._send(400, "Bad request", "This address only answers the synthral sign-in redirect.")
            return
        url = urlsplit(self.path)
        if url.path != owner.path:
            self._send(404, "Not found", "This address only answers the synthral sign-in redirect.")
            return
        result = parse_callback(url.query)
        if not state_matches(owner.state, result.state):
            owner.rejected += 1
            self._send(
                400,
                "Sign-in not accepted",
                "The state of this redirect does not match the sign-in that synthral started. "
                "Start again from the link synthral printed.",
            )
            return
        if result.error:
            message = result.error_description or result.error
            if owner.offer(result):
                self._send(
                    200, "Authorization refused", f"The provider said: {message}. Back to the terminal."
                )
            else:
                self._send(409, "Already done", "This sign-in has already finished.")
            return
        if not result.code:
            self._send(400, "Sign-in not accepted", "The redirect carries neither a code nor an error.")
            return
        if not owner.offer(result, from_browser=True):
            self._send(409, "Already done", "This sign-in has already finished.")
        elif not owner.await_outcome:
            self._send(200, "Connected", "Connected — you can close this tab and go back to the terminal.")
        else:
            try:
                outcome = owner.outcome(OUTCOME_TIMEOUT)
                if outcome is None:
                    self._send(504, "Still waiting", "synthral has not finished the sign-in; see the terminal.")
                elif outcome.ok:
                    done = "You can close this tab and go back to the terminal."
                    self._send(200, "Connected", f"{outcome.message} {done}")
                else:
                    self._send(502, "Not connected", f"{outcome.message} See the terminal for what to do next.")
            finally:
                owner.answered.set()

    def _not_allowed(self) -> None:
        self._send(405, "Method not allowed", "Only GET is answered here.", {"Allow": "GET"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed  # noqa: N815


@dataclass
class Outcome:
    """How the sign-in ended after the code came back: what the browser's page says."""

    ok: bool
    message: str  # one sentence, redacted


def failure_sentence(exc: BaseException | None) -> str:
    """The error of a failed sign-in in one sentence for the browser (redacted, like stderr)."""
    if isinstance(exc, SynthralError):
        text = " ".join(redact(exc.message).split())
        return text if text.endswith((".", "!", "?")) else text + "."
    if isinstance(exc, KeyboardInterrupt):
        return "The sign-in was interrupted in the terminal."
    return "synthral stopped before the sign-in finished."


class CallbackServer:
    """Listen for one redirect. Use as a context manager; ``wait()`` returns the result.

    ``host`` is the name in the redirect URI (``127.0.0.1`` or ``localhost``); the socket is
    always bound to 127.0.0.1. ``port=0`` picks a free port. With ``await_outcome`` the browser
    is answered after ``settle()`` (see the module docstring).
    """

    def __init__(
        self,
        state: str,
        *,
        host: str = BIND_ADDRESS,
        port: int = 0,
        path: str = "/callback",
        await_outcome: bool = False,
    ):
        self.state = state
        self.host = host
        self.path = path
        self.rejected = 0
        self.await_outcome = await_outcome
        self.answered = threading.Event()  # the page for the accepted code has been written
        self._result: CallbackResult | None = None
        self._browser_waits = False  # the accepted code came from the browser, which awaits the outcome
        self._outcome: Outcome | None = None
        self._done = threading.Event()
        self._settled = threading.Event()
        self._lock = threading.Lock()
        try:
            self._httpd = _Server((BIND_ADDRESS, port), _Handler)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise UsageError(
                    f"Port {port} on {BIND_ADDRESS} is not available for the sign-in redirect "
                    f"({exc.strerror or exc}).",
                    "Pass another one with --port N (the OAuth app must allow that redirect URI), "
                    "or stop the program using it.",
                ) from None
            raise
        self._httpd.owner = self
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    @property
    def redirect_uri(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def host_allowed(self, header: str | None) -> bool:
        if not header:
            return False
        allowed = {f"{self.host}:{self.port}", f"{BIND_ADDRESS}:{self.port}"}
        return header.strip().lower() in allowed

    def offer(self, result: CallbackResult, *, from_browser: bool = False) -> bool:
        """Deliver a result (from the browser or a pasted URL); only the first one counts."""
        with self._lock:
            if self._done.is_set():
                return False
            self._result = result
            self._browser_waits = from_browser and bool(result.code)
            self._done.set()
            return True

    def wait(self, timeout: float | None) -> CallbackResult | None:
        """The first valid result, or ``None`` when ``timeout`` seconds pass without one."""
        self._done.wait(timeout)
        return self._result

    def settle(self, ok: bool, message: str) -> None:
        """What became of the exchange; the first call counts."""
        with self._lock:
            if not self._settled.is_set():
                self._outcome = Outcome(ok, message)
                self._settled.set()

    def outcome(self, timeout: float | None) -> Outcome | None:
        self._settled.wait(timeout)
        return self._outcome

    def close(self, error: BaseException | None = None) -> None:
        """Stop serving and close the listening socket: nothing listens afterwards. A browser
        still waiting for the outcome hears it first (``error``, or that synthral stopped)."""
        self.settle(False, failure_sentence(error))
        if self.await_outcome and self._browser_waits:
            self.answered.wait(ANSWER_GRACE)
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> CallbackServer:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close(exc)
