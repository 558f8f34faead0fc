"""The ASGI layer around every request: the access log line (method, path without its query,
status, time, key id; never a secret), security headers, and, on a loopback bind, refusing a Host
header that names another machine (a DNS-rebinding page cannot talk to the local API)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..basics.insecure import is_loopback
from .logs import event
from .replies import dumps, error_body

if TYPE_CHECKING:
    from .hub import Hub

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # not no-referrer: it makes form posts Origin: null
    (b"x-frame-options", b"DENY"),
]


def _host_of(value: str) -> str:
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Frame:
    def __init__(self, app: Any, hub: Hub) -> None:
        self.app = app
        self.hub = hub
        self.check_host = is_loopback(hub.options.host) and not hub.options.public_url

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [0]
        if self.check_host:
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            if host and not is_loopback(_host_of(host)):
                body = dumps(
                    error_body(
                        "bad_host",
                        f"This server answers to its loopback address, not {host!r}.",
                        "Use http://127.0.0.1:PORT (or serve with --public-url).",
                    )
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 421,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                self._log(scope, 421, started)
                return

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._log(scope, status[0] or 500, started)

    def _log(self, scope: dict[str, Any], status: int, started: float) -> None:
        state = scope.get("state") or {}
        key = state.get("key_id") if isinstance(state, dict) else None
        event(
            "request",
            method=scope.get("method"),
            path=scope.get("path"),
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            key=key,
        )
