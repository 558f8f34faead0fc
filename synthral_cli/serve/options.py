"""How ``synthral serve`` runs: the options of the command line, and the checks on where it may
listen (loopback unless ``--allow-remote``, and then only with TLS or ``--insecure-http``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..basics.errors import UsageError
from ..basics.insecure import is_loopback  # noqa: F401 - re-read by middleware.py
from ..basics.listening import check_exposure, check_tls_files

DEFAULT_MAX_BODY = 1024 * 1024  # bytes


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


def check(options: ServeOptions) -> None:
    """Refuse a bind that would expose the API without the person asking for it."""
    check_tls_files(options.tls_cert, options.tls_key)
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
    check_exposure(
        options.host,
        allow_remote=options.allow_remote,
        tls=options.tls,
        insecure_http=options.insecure_http,
        exposed="accept connections from other machines",
        keep="Keep the default 127.0.0.1",
        cleartext="API keys and tokens",
    )
