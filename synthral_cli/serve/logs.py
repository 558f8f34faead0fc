"""The server's log on stderr: one line per event, JSON with ``--json`` (``{"ts", "level",
"event", ...}``) or text otherwise; every line passes through ``redact`` first. uvicorn's own
messages go through the same handler."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from ..basics import redact

LOGGER = "synthral.serve"


class LineFormatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self.as_json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(getattr(record, "fields", {}) or {})
        event = fields.pop("event", None) or ("log" if record.name != LOGGER else "message")
        # ``raw``: a line meant for the person who started the server (the one-time login link)
        clean = (lambda text: text) if fields.pop("raw", False) else redact.redact
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            fields["error"] = f"{type(exc).__name__}: {exc}"
        if self.as_json:
            line: dict[str, Any] = {
                "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(),
                "event": event,
            }
            if message:
                line["message"] = message
            line.update(fields)
            return clean(json.dumps(line, ensure_ascii=False, default=str))
        text = message or " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        if record.exc_info and record.exc_info[1] is not None:
            text = f"{text} {fields['error']}".strip()
        return clean(f"synthral serve: {text}")


def setup(as_json: bool) -> logging.Logger:
    """Send ``synthral.serve`` and uvicorn's loggers to stderr through the redacting formatter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LineFormatter(as_json))
    for name in (LOGGER, "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # the access log is ours (middleware.py)
    return logging.getLogger(LOGGER)


def event(name: str, message: str = "", level: int = logging.INFO, **fields: Any) -> None:
    logging.getLogger(LOGGER).log(level, message, extra={"fields": {"event": name, **fields}})
