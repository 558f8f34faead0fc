"""``--debug`` logging: HTTP and library logs on stderr, every line clean and redacted."""

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
    for noisy in ("hpack", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def disable_debug_logging() -> None:
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, RedactingStderrHandler)]:
        root.removeHandler(h)
    root.setLevel(logging.WARNING)
