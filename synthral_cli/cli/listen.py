"""``synthral listen``: receive verified webhook deliveries (``triggers/``); NDJSON events on
stdout, or a workflow per event with ``--run``."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ._common import CONNECTION_OPTION, complete_slug, runtime

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``24h``, ``7d`` -> seconds."""
    from ..basics.errors import UsageError

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not m:
        raise UsageError(f"{text!r} is not a duration.", "Write seconds or a number with s, m, h or d, e.g. 24h.")
    return float(m.group(1)) * _UNITS[m.group(2)]


def write_line(text: str) -> None:
    """One NDJSON line on stdout, flushed at once (a pipe's reader sees each event as it comes)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def make_handler(
    rt: Any, flow: Path | None, inputs: list[str], *, retries: int = 3, timeout: float = 30.0
) -> tuple[Any, Callable[[], None]]:
    """The NDJSON emitter, or a workflow per event (read and checked now); and how to close it."""
    from ..triggers.dispatch import Emit, RunFlow

    if flow is None:
        return Emit(write_line), lambda: None
    from ..workflows.run import parse_inputs

    handler = RunFlow(rt.sy, flow, parse_inputs(inputs), retries=retries, timeout=timeout)
    return handler, handler.close


def _read_secret() -> str:
    from ..basics.errors import UsageError
    from ..basics.redact import register

    if sys.stdin.isatty():
        from . import ui

        value = ui.hidden("webhook signing secret: ")  # Ctrl-D: a cancellation, exit 130
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise UsageError(
            "--secret-stdin read nothing.",
            "Pipe the signing secret in: synthral listen SLUG --secret-stdin < secret.txt",
        )
    register(value)
    return value


def listen(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="Connector slug, e.g. stripe.", autocompletion=complete_slug),
    connection: str = CONNECTION_OPTION,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless --allow-remote)."),
    port: int = typer.Option(8787, "--port", min=0, max=65535, help="Port (0 picks a free one)."),
    path: str = typer.Option("/", "--path", help="The URL path deliveries come to; 404 elsewhere."),
    secret_stdin: bool = typer.Option(False, "--secret-stdin", help="Read the signing secret from stdin (never argv)."),
    run_flow: Path = typer.Option(None, "--run", help="Run this workflow per event ({{trigger.payload...}})."),
    inputs: list[str] = typer.Option([], "--input", "-i", help="--run: KEY=VALUE inputs of the workflow. Repeatable."),
    dedupe_window: str = typer.Option(
        "24h", "--dedupe-window", help="How long an event id is remembered (s, m, h, d)."
    ),
    max_body: int = typer.Option(1024 * 1024, "--max-body", help="Largest delivery body in bytes (413 above)."),
    public_url: str = typer.Option(
        None, "--public-url", help="The URL the provider calls, when behind a tunnel or proxy (Twilio signs it)."
    ),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a non-loopback --host (needs TLS)."),
    tls_cert: Path = typer.Option(None, "--tls-cert", help="PEM certificate for HTTPS."),
    tls_key: Path = typer.Option(None, "--tls-key", help="PEM private key for HTTPS."),
    insecure_http: bool = typer.Option(
        False, "--insecure-http", help="With --allow-remote: plain HTTP (only behind a TLS proxy)."
    ),
) -> None:
    """Receive webhook deliveries, verify each signature, and emit every accepted event as one
    NDJSON line {"connector", "event_type", "id", "received_at", "payload"} on stdout.

    Every event is written to the spool under the config directory before the 2xx; bad or stale
    signatures and replayed ids get 401 and are never emitted. See `synthral events`.

    Example: synthral listen stripe --port 8787 --secret-stdin < whsec.txt
    """
    from ..triggers import logs
    from ..triggers.listen import ListenOptions, run
    from ..triggers.secret import listener_secret

    rt = runtime(ctx)
    manifest = rt.catalogue.get(slug)
    given = _read_secret() if secret_stdin else None
    spec, secret = listener_secret(rt.sy, manifest, connection, given)
    options = ListenOptions(
        host=host, port=port, path=path, allow_remote=allow_remote, tls_cert=tls_cert, tls_key=tls_key,
        insecure_http=insecure_http, max_body=max_body, dedupe_window=parse_duration(dedupe_window),
        public_url=public_url,
    )
    logs.setup("listen")
    handler, close = make_handler(rt, run_flow, inputs)
    try:
        outcome = run(rt.sy.paths.spool, connector=slug, connection=connection, spec=spec, secret=secret,
                      handler=handler, options=options)
    finally:
        close()
    if outcome.output_closed:
        raise typer.Exit(141)


def register(root: typer.Typer) -> None:
    root.command("listen")(listen)
