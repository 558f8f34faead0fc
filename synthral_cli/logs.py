"""``--debug`` logging: HTTP and library logs on stderr, every line redacted."""

from __future__ import annotations

import logging

from .redact import redact


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def enable_debug_logging() -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, RedactingFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("debug: %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for noisy in ("hpack", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
