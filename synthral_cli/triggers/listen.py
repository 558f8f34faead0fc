"""``synthral listen``: check where it may listen, open the spool, hand the events a previous run
left pending to the handler, then serve the receiver with uvicorn until SIGTERM or Ctrl-C (or
until stdout goes away), and say what it did.

Loopback only unless ``allow_remote``, and then only with TLS or ``insecure_http`` (a TLS proxy in
front), like ``synthral serve``: a tunnel or reverse proxy on this machine is the usual way in.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..basics.errors import UsageError
from ..basics.listening import bind, check_exposure, check_tls_files, shown_host, uvicorn_config
from . import logs
from .dispatch import Dispatcher, Handler
from .receiver import Counts, Receiver
from .spool import Spool
from .writer import SpoolWriter

DEFAULT_PORT = 8787
DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_WINDOW = 24 * 3600.0


@dataclass
class ListenOptions:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    path: str = "/"
    allow_remote: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    max_body: int = DEFAULT_MAX_BODY
    dedupe_window: float = DEFAULT_WINDOW
    public_url: str | None = None
    shutdown_timeout: float = 10.0


@dataclass
class Outcome:
    counts: Counts
    handled: int
    failed: int
    output_closed: bool


def check(options: ListenOptions) -> None:
    """Refuse a bind that would expose the receiver without the person asking for it."""
    if not options.path.startswith("/"):
        raise UsageError(f"--path {options.path!r} must start with /.", "Example: --path /hooks/stripe")
    if options.max_body < 1024:
        raise UsageError("--max-body must be at least 1024 bytes.", None)
    if options.dedupe_window < 0:
        raise UsageError("--dedupe-window cannot be negative.", "Example: --dedupe-window 24h")
    check_tls_files(options.tls_cert, options.tls_key)
    if options.public_url is not None and not options.public_url.startswith(("http://", "https://")):
        raise UsageError(
            f"--public-url {options.public_url!r} is not an http(s) URL.",
            "Give the URL the provider calls, e.g. --public-url https://hooks.example.com/stripe",
        )
    check_exposure(
        options.host,
        allow_remote=options.allow_remote,
        tls=options.tls_cert is not None,
        insecure_http=options.insecure_http,
        exposed="accept deliveries from other machines directly",
        keep="Keep the default 127.0.0.1 behind a tunnel or reverse proxy",
        cleartext="event payloads",
    )


def run(
    spool_path: Path,
    *,
    connector: str,
    connection: str,
    spec: Any,
    secret: str | bytes,
    handler: Handler,
    options: ListenOptions,
) -> Outcome:
    """Receive until stopped; events left pending by an earlier run are handled first."""
    import uvicorn

    check(options)
    sock = bind(options.host, options.port)
    try:
        writer = SpoolWriter(spool_path, window=options.dedupe_window)
    except BaseException:
        sock.close()
        raise
    server_box: list[Any] = []
    stop_event = threading.Event()

    def on_stop(exc: BaseException) -> None:  # stdout went away: stop receiving
        stop_event.set()
        if server_box:
            server_box[0].should_exit = True

    dispatcher = Dispatcher(handler, writer.settle, on_stop=on_stop)
    stream = f"{connector}:{connection}"
    _resume(spool_path, stream, options.dedupe_window, dispatcher)
    receiver = Receiver(
        connector=connector, connection=connection, spec=spec, secret=secret, path=options.path,
        max_body=options.max_body, writer=writer, submit=dispatcher.submit, public_url=options.public_url,
    )
    config = uvicorn_config(
        receiver, tls_cert=options.tls_cert, tls_key=options.tls_key, shutdown_timeout=options.shutdown_timeout,
        lifespan="off", h11_max_incomplete_event_size=64 * 1024,
    )
    server = uvicorn.Server(config)
    server_box.append(server)
    port = sock.getsockname()[1]
    shown = shown_host(options.host)
    scheme = "https" if options.tls_cert else "http"
    logs.say("listening on %s://%s:%d%s for %s deliveries", scheme, shown, port, options.path, connector)
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if not stop_event.is_set():
            server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler_ in previous.items():
            signal.signal(sig, handler_)
        dispatcher.close(timeout=options.shutdown_timeout)
        writer.close()
    left = _left(spool_path, stream)
    logs.say(
        "stopped: %s; handled %d, failed %d%s", receiver.counts.summary(), dispatcher.handled, dispatcher.failed,
        f"; {left} event(s) wait in the spool (synthral events list)" if left else "",
    )
    return Outcome(receiver.counts, dispatcher.handled, dispatcher.failed, dispatcher.stopped is not None)


def _resume(spool_path: Path, stream: str, window: float, dispatcher: Dispatcher) -> None:
    """Hand over what an earlier run accepted but did not get to handle (killed, or stdout gone)."""
    spool = Spool(spool_path)
    try:
        spool.prune(window=window)
        pending = spool.select(statuses=("pending",), stream=stream)
    finally:
        spool.close()
    if pending:
        logs.say("handling %d event(s) accepted earlier and not yet handled", len(pending))
    for event in pending:
        dispatcher.submit(event)


def _left(spool_path: Path, stream: str) -> int:
    spool = Spool(spool_path)
    try:
        return len(spool.select(statuses=("pending", "failed"), stream=stream))
    finally:
        spool.close()


def _ignore(signum: int, frame: Any) -> None:
    return None


