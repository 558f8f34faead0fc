"""Serving the app with uvicorn: check where it may listen, bind the socket (port 0 picks a free
one), say where it listens and print the one-time login link of the catalogue page, then serve
until SIGTERM or Ctrl-C, when in-flight requests get ``shutdown_timeout`` seconds to finish."""

from __future__ import annotations

import secrets
import signal
from typing import TYPE_CHECKING, Any

from ..basics.listening import bind, shown_host, uvicorn_config
from . import logs
from .options import ServeOptions, check

if TYPE_CHECKING:
    from ..api import Synthral


def run(sy: Synthral, options: ServeOptions) -> None:
    """Serve until stopped; returns after a graceful shutdown."""
    import uvicorn

    from .app import create_app

    check(options)
    sy.catalogue.slugs()  # load the catalogue before the first request
    logs.setup(options.json_logs)
    sock = bind(options.host, options.port)
    port = sock.getsockname()[1]
    scheme = "https" if options.tls else "http"
    shown = shown_host(options.host)
    base = (options.public_url or f"{scheme}://{shown}:{port}").rstrip("/")
    token = secrets.token_urlsafe(32)
    app = create_app(sy, options, login_token=token)
    config = uvicorn_config(
        app, tls_cert=options.tls_cert, tls_key=options.tls_key, shutdown_timeout=options.shutdown_timeout,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the signal that stopped it once it is done; after a graceful stop that
    # should not kill the process, so the handlers it restores then ignore it.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    # The login link is for the person who started the server: printed as it is (not redacted).
    logs.event(
        "listening", f"listening on {base}  (API: {base}/api/v1, OpenAPI: {base}/openapi.json)", url=base, port=port
    )
    logs.event(
        "login",
        f"open the catalogue page: {base}/login?token={token}",
        login_url=f"{base}/login?token={token}",
        raw=True,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logs.event("stopped", "stopped")


def _ignore(signum: int, frame: Any) -> None:
    return None
