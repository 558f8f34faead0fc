"""How ``synthral serve`` runs: the options of the command line, and the checks on where it may
listen (loopback unless ``--allow-remote``, and then only with TLS or ``--insecure-http``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from ..basics.errors import UsageError

DEFAULT_MAX_BODY = 1024 * 1024  # bytes
LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


@dataclass
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    allow_remote: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_http: bool = False
    cors_origins: list[str] = field(default_factory=list)
    max_body: int = DEFAULT_MAX_BODY
    json_logs: bool = False
    shutdown_timeout: float = 10.0  # in-flight requests get this long after SIGTERM / Ctrl-C
    timeout: float = 30.0  # per provider request
    public_url: str | None = None  # how browsers reach the server, when not http(s)://host:port

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def is_loopback(host: str) -> bool:
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check(options: ServeOptions) -> None:
    """Refuse a bind that would expose the API without the person asking for it."""
    if (options.tls_cert is None) != (options.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together.", "Pass both: --tls-cert cert.pem --tls-key key.pem")
    for what, path in (("--tls-cert", options.tls_cert), ("--tls-key", options.tls_key)):
        if path is not None and not path.is_file():
            raise UsageError(f"{what} {path} is not a readable file.", "Check the path.")
    if options.max_body < 1024:
        raise UsageError("--max-body must be at least 1024 bytes.", None)
    for origin in options.cors_origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise UsageError(
                f"--cors-origin {origin!r} is not an origin.", "Example: --cors-origin https://app.example.com"
            )
    if "*" in options.cors_origins:
        raise UsageError(
            "--cors-origin '*' would let every web page call this API with a key it holds.",
            "Name the origins that may call it, e.g. --cors-origin https://app.example.com",
        )
    if is_loopback(options.host):
        return
    if not options.allow_remote:
        raise UsageError(
            f"--host {options.host} would accept connections from other machines.",
            "Add --allow-remote (with --tls-cert/--tls-key, or --insecure-http behind a TLS proxy), "
            "or keep the default 127.0.0.1.",
        )
    if not options.tls and not options.insecure_http:
        raise UsageError(
            f"Serving on {options.host} without TLS would send API keys and tokens in clear text.",
            "Pass --tls-cert and --tls-key, or --insecure-http when a TLS proxy sits in front.",
        )
