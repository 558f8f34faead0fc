"""``--debug`` logging: HTTP and library logs on stderr, every line clean and redacted.

HTTP is logged as a person reads it (like ``curl -v``): ``> POST https://...``, the request
headers with credential headers masked by name, then ``< 200 OK`` and the response headers.
httpcore's connection events (``connect_tcp.started`` ...) and httpx's own one-line summary
are left out."""

from __future__ import annotations

import logging
import sys

from .redact import redact
from .sanitize import strip_controls


class RedactingStderrHandler(logging.Handler):
    """Writes each record, without control characters and redacted, to whatever ``sys.stderr``
    is *now* (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(redact(strip_controls(self.format(record))) + "\n")
        except Exception:  # a log line must never break a command
            self.handleError(record)


def enable_debug_logging() -> None:
    root = logging.getLogger()
    if any(isinstance(h, RedactingStderrHandler) for h in root.handlers):
        return
    handler = RedactingStderrHandler()
    handler.setFormatter(logging.Formatter("debug: %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for noisy in ("hpack", "asyncio", "httpcore", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def disable_debug_logging() -> None:
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, RedactingStderrHandler)]:
        root.removeHandler(h)
    root.setLevel(logging.WARNING)


HTTP_LOG = logging.getLogger("synthral.http")
_SECRET_HEADER_WORDS = ("auth", "token", "key", "secret", "cookie", "session", "signature", "password")


def _header_value(name: str, value: str) -> str:
    """A header as the log shows it: credential-looking headers masked whole, by their name."""
    low = name.lower()
    if any(word in low for word in _SECRET_HEADER_WORDS):
        scheme = value.split(" ", 1)[0] if " " in value and low in ("authorization", "proxy-authorization") else ""
        return f"{scheme} ***".strip()
    return value


def log_request(request: object) -> None:
    """An httpx request hook: the request line and its headers (``--debug`` only)."""
    if not HTTP_LOG.isEnabledFor(logging.DEBUG):
        return
    method, url = getattr(request, "method", "?"), getattr(request, "url", "?")
    lines = [f"> {method} {url}"]
    lines += [f"> {k}: {_header_value(k, v)}" for k, v in getattr(request, "headers", {}).items()]
    for line in lines:
        HTTP_LOG.debug("%s", line)


def log_response(response: object) -> None:
    """An httpx response hook: the status line and the response headers (``--debug`` only)."""
    if not HTTP_LOG.isEnabledFor(logging.DEBUG):
        return
    version = getattr(response, "http_version", "HTTP/1.1")
    lines = [f"< {version} {getattr(response, 'status_code', '?')} {getattr(response, 'reason_phrase', '')}".rstrip()]
    lines += [f"< {k}: {_header_value(k, v)}" for k, v in getattr(response, "headers", {}).items()]
    for line in lines:
        HTTP_LOG.debug("%s", line)
