"""Where the PostgreSQL store is: its URL (``SYNTHRAL_STORE_URL``), how it is shown without its
password, and the connection settings synthral adds (TLS, application name, timeouts).

TLS: to a host that is not loopback, a URL without ``sslmode`` gets ``sslmode=require``
(``verify-full`` with ``SYNTHRAL_CA_BUNDLE``); ``sslmode`` disable/allow/prefer is refused
(exit 2) unless ``--allow-insecure``. psycopg is imported here, lazily; without it a configured
URL is exit 2 with the pip command.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..basics.errors import UsageError

if TYPE_CHECKING:
    from ..basics.settings import Settings

CONNECT_TIMEOUT = 10  # seconds
CLEARTEXT_SSLMODES = ("disable", "allow", "prefer")
PIP = "pip install 'synthral[postgres]'"


def is_postgres_url(url: str) -> bool:
    return url.split(":", 1)[0].lower() in {"postgresql", "postgres"}


def psycopg_module() -> Any:
    """psycopg 3, or exit 2 with the pip command when the extra is not installed."""
    try:
        import psycopg
    except ImportError:
        raise UsageError(
            "SYNTHRAL_STORE_URL names a PostgreSQL store, but psycopg (3) is not installed.",
            f"Install it: {PIP}",
        ) from None
    return psycopg


def _params(url: str) -> dict[str, Any]:
    psycopg = psycopg_module()
    from psycopg.conninfo import conninfo_to_dict

    try:
        return dict(conninfo_to_dict(url))
    except psycopg.ProgrammingError as exc:
        raise UsageError(
            f"the store URL is not a valid PostgreSQL URL: {str(exc).strip()}",
            "Use postgresql://USER@HOST:PORT/DBNAME (the password in PGPASSWORD or ~/.pgpass).",
        ) from None


def safe_location(url: str) -> str:
    """The URL without its password (what ``store status`` and errors show)."""
    p = _params(url)
    host = p.get("host") or os.environ.get("PGHOST") or "localhost"
    port = p.get("port") or os.environ.get("PGPORT") or "5432"
    user = p.get("user") or os.environ.get("PGUSER") or ""
    db = p.get("dbname") or os.environ.get("PGDATABASE") or user
    return f"postgresql://{user + '@' if user else ''}{host}:{port}/{db}"


def has_password(url: str) -> bool:
    return bool(_params(url).get("password"))


def connect_kwargs(url: str, settings: Settings) -> dict[str, Any]:
    """The TLS decision and the session settings, made explicit (module docstring)."""
    from ..basics.insecure import libpq_remote_hosts, refuse_cleartext

    params = _params(url)
    out: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT}
    if "application_name" not in params:
        out["application_name"] = f"synthral pid {os.getpid()}"
    ca = settings.ca_bundle
    if ca and not params.get("sslrootcert"):
        out["sslrootcert"] = ca
    remote = libpq_remote_hosts(params)
    if remote and not settings.allow_insecure:
        sslmode = str(params.get("sslmode") or os.environ.get("PGSSLMODE") or "")
        if not sslmode:
            out["sslmode"] = "verify-full" if ca else "require"
        elif sslmode in CLEARTEXT_SSLMODES:
            refuse_cleartext(
                f"the PostgreSQL store at {remote[0]} (sslmode={sslmode}) could receive the password and "
                "every row",
                remote[0],
                allowed=False,
                fix="Use sslmode=require, or verify-full with sslrootcert (or SYNTHRAL_CA_BUNDLE)",
            )
    return out
