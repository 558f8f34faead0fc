"""PostgreSQL: ``test_connection`` and a parameterised ``query``, with psycopg 3 (the
``postgres`` extra). Rows come back as JSON objects keyed by column name.

Credential fields: ``dsn``, or host/port/user/password/dbname/sslmode. Values are passed to
psycopg as separate parameters (never pasted into SQL); ``%s`` placeholders take ``params``.

TLS: to a host that is not loopback, sslmode disable/allow/prefer is refused (exit 2) unless
``--allow-insecure``; without an sslmode it is ``require`` (``verify-full`` with a CA bundle).
``--ca-bundle`` / ``SYNTHRAL_CA_BUNDLE`` is the ``sslrootcert`` unless the connection names one.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from ..basics.errors import AuthError, NetworkError, ProviderError, UsageError

if TYPE_CHECKING:
    from ..catalogue.manifest import Manifest
    from .request import Options, PreparedRequest
    from .response import Outcome

CONN_KEYS = ("host", "port", "user", "password", "dbname", "sslmode")
AUTH_STATES = {"28P01", "28000"}
CLEARTEXT_SSLMODES = {"disable", "allow", "prefer"}  # a server (or a man in the middle) can say no TLS


def _psycopg(manifest: Manifest) -> Any:
    try:
        import psycopg
    except ImportError:
        raise UsageError(
            f"{manifest.slug} needs the PostgreSQL driver psycopg.",
            "Install it: pip install 'synthral[postgres]'",
        ) from None
    return psycopg


def _conninfo(manifest: Manifest, fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kwargs = {k: str(fields[k]) for k in CONN_KEYS if fields.get(k) not in (None, "")}
    dsn = str(fields.get("dsn") or "")
    if not dsn and not kwargs.get("host") and not kwargs.get("dbname"):
        raise AuthError(
            f"The {manifest.slug} connection has no dsn or host.", f"Run: synthral authorize {manifest.slug}"
        )
    return dsn, kwargs


def _where(dsn: str, kwargs: dict[str, Any]) -> str:
    if dsn:
        from urllib.parse import urlsplit

        if "://" in dsn:
            parts = urlsplit(dsn)
            port = f":{parts.port}" if parts.port else ""
            return f"postgresql://{parts.hostname or ''}{port}{parts.path}"
        return "postgresql (dsn)"
    return (
        f"postgresql://{kwargs.get('user', '')}@{kwargs.get('host', '')}:{kwargs.get('port', 5432)}"
        f"/{kwargs.get('dbname', '')}"
    )


def jsonable(value: Any) -> Any:
    """A database value as JSON: datetimes ISO 8601, decimals and UUIDs as strings, bytes base64."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID, dt.timedelta)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def _with_tls(manifest: Manifest, dsn: str, kwargs: dict[str, Any], options: Options) -> dict[str, Any]:
    """``kwargs`` with the TLS decision made explicit (see the module docstring)."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    from ..basics.insecure import libpq_remote_hosts, refuse_cleartext

    try:
        params = conninfo_to_dict(dsn, **kwargs)
    except ProgrammingError as exc:
        raise UsageError(
            f"The {manifest.slug} connection string is not valid: {str(exc).strip()}",
            f"Fix it: synthral authorize {manifest.slug}",
        ) from None
    out = dict(kwargs)
    if options.ca_bundle and not params.get("sslrootcert"):
        out["sslrootcert"] = options.ca_bundle
    remote = libpq_remote_hosts(params)
    if not remote or options.allow_insecure:
        return out
    sslmode = str(params.get("sslmode") or os.environ.get("PGSSLMODE") or "")
    if not sslmode:
        out["sslmode"] = "verify-full" if options.ca_bundle else "require"
    elif sslmode in CLEARTEXT_SSLMODES:
        refuse_cleartext(
            f"PostgreSQL sslmode={sslmode} could send the password and every query to {remote[0]}",
            remote[0],
            allowed=False,
            fix=f"Use sslmode=require, or verify-full with --ca-bundle (synthral authorize {manifest.slug})",
        )
    return out


def _connect(manifest: Manifest, fields: dict[str, Any], options: Options) -> Any:
    psycopg = _psycopg(manifest)
    dsn, kwargs = _conninfo(manifest, fields)
    where = _where(dsn, kwargs)
    if options.binding is not None:  # the password goes only to the server it was given for
        from ..auth.binding import postgres_hosts

        for host in postgres_hosts(fields):
            options.binding.check_server("postgresql", host)
    kwargs = _with_tls(manifest, dsn, kwargs, options)
    try:
        return psycopg.connect(dsn, connect_timeout=max(1, int(options.timeout)), autocommit=False, **kwargs)
    except psycopg.OperationalError as exc:
        text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        if (
            getattr(exc, "sqlstate", None) in AUTH_STATES
            or "authentication failed" in str(exc)
            or "no password supplied" in str(exc)
        ):
            raise AuthError(
                f"PostgreSQL at {where} refused the login: {text}",
                f"Check the user and password: synthral authorize {manifest.slug}",
            ) from None
        if any(w in str(exc).lower() for w in ("ssl", "certificate")):
            raise NetworkError(
                f"TLS with PostgreSQL at {where} failed: {text}",
                "For a private CA give --ca-bundle (SYNTHRAL_CA_BUNDLE); a server without TLS needs "
                "sslmode=disable and --allow-insecure.",
            ) from None
        if "does not exist" in str(exc):
            raise ProviderError(f"PostgreSQL at {where}: {text}", "Check dbname and user.") from None
        raise NetworkError(
            f"Could not connect to PostgreSQL at {where}: {text}",
            "Check host, port and that the server is running.",
        ) from None


def run(
    manifest: Manifest, op: str, params: dict[str, Any], fields: dict[str, Any], options: Options
) -> Outcome | PreparedRequest:
    from .request import PreparedRequest
    from .response import Outcome

    if op == "test_connection":
        sql, args = "select current_user as user, current_database() as database, version() as version", []
    elif op == "list_tables":
        sql = (
            "select table_schema as schema, table_name as name, table_type as type "
            "from information_schema.tables where table_schema = %s order by table_name"
        )
        args = [str(params.get("schema") or "public")]
    elif op == "describe_table":
        sql = (
            "select column_name as name, data_type as type, is_nullable = 'YES' as nullable, "
            "column_default as default from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position"
        )
        args = [str(params.get("schema") or "public"), str(params.get("table") or "")]
    elif op == "query":
        sql, args = str(params.get("sql") or ""), list(params.get("params") or [])
        if not sql.strip():
            raise UsageError("query needs some SQL.", "Pass -p sql='select ...'")
    else:
        raise UsageError(
            f"The postgresql transport has no operation {op!r}.",
            "Use query, list_tables, describe_table or test_connection.",
        )
    max_rows = int(params.get("max_rows") or 1000)
    if options.dry_run:
        dsn, kwargs = _conninfo(manifest, fields)
        return PreparedRequest(
            "QUERY",
            _where(dsn, kwargs),
            [],
            None,
            {"sql": sql, "params": args},
            masked=[str(fields.get("password") or ""), dsn],
        )
    psycopg = _psycopg(manifest)
    started = time.monotonic()
    conn = _connect(manifest, fields, options)
    try:
        with conn:
            with conn.cursor() as cur:
                cur.execute(sql, args or None)
                columns = [d.name for d in cur.description] if cur.description else []
                rows = cur.fetchmany(max_rows + 1) if cur.description else []
                count = cur.rowcount
    except psycopg.Error as exc:
        diag = getattr(exc, "diag", None)
        detail = getattr(diag, "message_primary", None) or str(exc).strip().splitlines()[0]
        state = getattr(exc, "sqlstate", None)
        raise ProviderError(
            f"PostgreSQL error{f' {state}' if state else ''}: {detail}",
            "Check the SQL and its %s parameters.",
            result={"sqlstate": state, "message": detail},
        ) from None
    finally:
        conn.close()
    truncated = len(rows) > max_rows
    rows = rows[:max_rows]
    records = [{c: jsonable(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    if op == "test_connection":
        return Outcome(True, None, records[0] if records else {}, elapsed=time.monotonic() - started)
    result = {
        "columns": columns,
        "rows": records,
        "row_count": count if count >= 0 else len(records),
        "truncated": truncated,
    }
    return Outcome(True, None, result, elapsed=time.monotonic() - started)
