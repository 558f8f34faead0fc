"""The log of ``listen`` and ``watch`` on stderr: one line per event (``synthral listen: ...``),
every line through ``redact`` first; stdout carries only the NDJSON events."""

from __future__ import annotations

import logging
import sys
from typing import Any

from ..basics import redact

LOGGER = "synthral.triggers"


class _Formatter(logging.Formatter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = f"{text} ({type(exc).__name__}: {exc})"
        return redact.redact(f"{self.prefix}: {text}")


def setup(command: str) -> logging.Logger:
    """Send the triggers' log (and uvicorn's) to stderr, prefixed with ``synthral COMMAND``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(f"synthral {command}"))
    for name in (LOGGER, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.INFO if name == LOGGER else logging.WARNING)  # not uvicorn's start/stop chatter
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
    return logging.getLogger(LOGGER)


def log() -> logging.Logger:
    return logging.getLogger(LOGGER)


def say(message: str, *args: Any) -> None:
    logging.getLogger(LOGGER).info(message, *args)


def warn(message: str, *args: Any) -> None:
    logging.getLogger(LOGGER).warning(message, *args)
