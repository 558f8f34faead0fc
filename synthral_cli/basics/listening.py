"""Where a server of ours may listen, and binding its socket: the one rule for ``synthral serve``
and ``synthral listen``. Loopback (``insecure.is_loopback``, the name as written) is always
fine; any other host needs ``--allow-remote``, and then TLS (``--tls-cert/--tls-key``) or an
explicit ``--insecure-http`` (a TLS proxy in front). Port 0 picks a free port."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Literal

from .errors import UsageError
from .insecure import is_loopback

REMOTE_FIX = "add --allow-remote (with --tls-cert/--tls-key, or --insecure-http behind a TLS proxy)"


def check_tls_files(cert: Path | None, key: Path | None) -> None:
    if (cert is None) != (key is None):
        raise UsageError("--tls-cert and --tls-key go together.", "Pass both: --tls-cert cert.pem --tls-key key.pem")
    for what, path in (("--tls-cert", cert), ("--tls-key", key)):
        if path is not None and not path.is_file():
            raise UsageError(f"{what} {path} is not a readable file.", "Check the path.")


def check_exposure(
    host: str, *, allow_remote: bool, tls: bool, insecure_http: bool, exposed: str, keep: str, cleartext: str
) -> None:
    """Refuse a bind that would expose the server without the person asking for it.
    ``exposed`` finishes the first refusal, ``keep`` starts its hint, ``cleartext`` names what
    would travel unencrypted."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise UsageError(f"--host {host} would {exposed}.", f"{keep}, or {REMOTE_FIX}.")
    if not tls and not insecure_http:
        raise UsageError(
            f"Listening on {host} without TLS would carry {cleartext} in clear text.",
            "Pass --tls-cert and --tls-key, or --insecure-http when a TLS proxy sits in front.",
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (IPv6 with or without brackets), inheritable so a
    server can take it over."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a response's head and body go out without waiting for the
    # client's delayed ACK (otherwise ~40 ms per request on Linux).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
            "Pick another --port (0 picks a free one), or stop what uses it.",
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def shown_host(host: str) -> str:
    """``host`` as it stands in a URL (an IPv6 address in brackets)."""
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else host


def uvicorn_config(
    app: Any, *, tls_cert: Path | None, tls_key: Path | None, shutdown_timeout: float,
    lifespan: Literal["on", "off"], **extra: Any
) -> Any:
    """uvicorn's config for our servers: no access log or logging setup of its own (ours redact),
    no ``Server`` header, proxy headers ignored, in-flight requests get ``shutdown_timeout``."""
    import uvicorn

    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan=lifespan,
        timeout_graceful_shutdown=int(max(1, shutdown_timeout)),
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        server_header=False,
        proxy_headers=False,
        **extra,
    )
