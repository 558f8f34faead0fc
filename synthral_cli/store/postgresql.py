"""The PostgreSQL store backend (``backend.StoreBackend``): a store a team or a fleet shares.

``SYNTHRAL_STORE_URL=postgresql://...`` chooses it (``encrypted.Store.open``). Only ciphertext and
non-secret metadata reach the database: ``encrypted.Store`` seals every secret with the store
key before a row is written, so a database administrator reading every table (or the WAL) sees
slugs, names, scopes, expiry times and settings, never a token, a password or the key.

One connection per process (psycopg 3, imported here only), in autocommit: a read is one
statement. ``locked(slug, name)`` is one transaction holding transaction-scoped advisory locks:
the whole store shared plus that connection's row exclusive (``locked()`` with no row takes the
whole store exclusive, e.g. key creation and rotation). The locks end with the transaction, and
PostgreSQL ends the transaction when the process dies or its connection drops, so a SIGKILLed
refresh never leaves a lock behind. Waiting for a lock is bounded (``SYNTHRAL_STORE_LOCK_TIMEOUT``,
30 s): past it the command fails with exit 4 and says why. A lost connection is exit 4 too; the
next statement outside a transaction reconnects (long-running surfaces keep one connection per
thread and survive a server restart).

TLS: to a host that is not loopback, a URL without ``sslmode`` gets ``sslmode=require``
(``verify-full`` with ``SYNTHRAL_CA_BUNDLE``); ``sslmode`` disable/allow/prefer is refused
(exit 2) unless ``--allow-insecure``. A password in the URL is allowed only from the environment
or the config file, never from the command line (``cli``); ``PGPASSWORD``/``~/.pgpass`` work.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..basics.errors import NetworkError, StoreError, UsageError
from .model import CONNECTION_COLUMNS, AppCredentials, Connection, connection_from_row
from .pg_schema import LOCK_CLASS, ROW_LOCK_CLASS, STORE_LOCK, current, migrate
from .pg_url import connect_kwargs, psycopg_module, safe_location

if TYPE_CHECKING:
    from ..basics.settings import Settings
    from .backend import ReportRow

IDLE_IN_TRANSACTION = 120_000  # ms: a stuck process loses its transaction (and its locks) after this

_WRITE = (
    f"INSERT INTO synthral.connections ({CONNECTION_COLUMNS}, secret) VALUES ({', '.join(['%s'] * 17)}) "  # noqa: S608
    "ON CONFLICT (slug, name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in [*CONNECTION_COLUMNS.split(", ")[2:], "secret"])
    + " WHERE synthral.connections.version = %s"
)


class PostgresBackend:
    """The store's rows in PostgreSQL (schema ``synthral``); one connection, used by one thread."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.lock_timeout = settings.store_lock_timeout
        self._location = safe_location(url)
        self._kwargs = connect_kwargs(url, settings)
        self._depth = 0
        self._held: tuple[str | None, str | None] = (None, None)
        self.conn: Any = None

    @property
    def location(self) -> str:
        return self._location

    # -- connecting, errors, migrating -------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, url: str | None = None) -> PostgresBackend:
        """Connect and create or migrate the schema (once, under a lock, across machines)."""
        backend = cls(url or settings.store_url or "", settings)
        backend._connect()
        from .pg_schema import applied

        try:
            with backend.conn.cursor() as cur:
                names = applied(cur, backend.location)
            if not current(names):
                migrate(backend.conn, backend.location)
        except StoreError:
            backend.close()
            raise
        except Exception as exc:
            backend.close()
            raise backend._error(exc) from None
        return backend

    def _connect(self) -> None:
        psycopg = psycopg_module()
        try:
            self.conn = psycopg.connect(self.url, **self._kwargs)
            self.conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION}")
        except psycopg.Error as exc:
            self.conn = None
            raise self._error(exc, connecting=True) from None

    def _error(self, exc: BaseException, *, connecting: bool = False) -> StoreError | NetworkError | UsageError:
        import psycopg

        text = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        where = self.location
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            row = "/".join(p for p in self._held if p) or "the whole store"
            return NetworkError(
                f"waited {self.lock_timeout:g} s for the lock on {row} in the store {where}: another synthral "
                "process (on this or another machine) holds it, probably while refreshing the token.",
                "Retry in a moment; if it keeps happening, look for a stuck process "
                "(pg_stat_activity, application_name 'synthral pid N') or raise SYNTHRAL_STORE_LOCK_TIMEOUT.",
            )
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return StoreError(
                f"the PostgreSQL store {where} refused: {text}",
                "Ask the database administrator to grant this user the schema synthral "
                "(CREATE on the database for the first run, then USAGE and table privileges).",
            )
        auth_failed = "authentication failed" in text or "no password supplied" in text
        if connecting and (auth_failed or getattr(exc, "sqlstate", None) in ("28P01", "28000", "3D000")):
            return StoreError(
                f"the PostgreSQL store {where} refused the login: {text}",
                "Check the user, database and password (PGPASSWORD, ~/.pgpass, or SYNTHRAL_STORE_URL).",
            )
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) or connecting:
            if connecting and any(w in text.lower() for w in ("ssl", "certificate")):
                return NetworkError(
                    f"TLS with the PostgreSQL store {where} failed: {text}",
                    "For a private CA set sslrootcert in the URL or SYNTHRAL_CA_BUNDLE; a server without TLS "
                    "needs sslmode=disable and --allow-insecure.",
                )
            what = "cannot reach" if connecting else "lost the connection to"
            return NetworkError(
                f"{what} the PostgreSQL store {where}: {text}",
                "Check that the server is up and reachable, then retry (nothing was half-written).",
            )
        return StoreError(f"the PostgreSQL store {where} failed: {text}", "Rerun with --debug and report it.")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _ready(self) -> Any:
        """The connection, reconnected first if it was lost (only between transactions)."""
        if self.conn is None or self.conn.closed or self.conn.broken:
            if self._depth:
                raise NetworkError(
                    f"lost the connection to the PostgreSQL store {self.location} during a transaction; "
                    "nothing of it was written.",
                    "Retry the command.",
                )
            self.close()
            self._connect()
        return self.conn

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        import psycopg

        for attempt in (1, 2):
            conn = self._ready()
            try:
                return conn.execute(sql, params)
            except psycopg.Error as exc:
                lost = conn.closed or conn.broken
                if lost and not self._depth and attempt == 1:
                    continue  # the server restarted or the connection dropped: once more, reconnected
                raise self._error(exc) from None
        raise AssertionError("unreachable")

    def schema_version(self) -> int:
        return int(self._execute("SELECT count(*) FROM synthral.migrations").fetchone()[0])

    def migrations(self) -> list[str]:
        rows = self._execute("SELECT name FROM synthral.migrations ORDER BY applied_at, name").fetchall()
        return [r[0] for r in rows]

    def count(self) -> int:
        return int(self._execute("SELECT count(*) FROM synthral.connections").fetchone()[0])

    def app_count(self) -> int:
        return int(self._execute("SELECT count(*) FROM synthral.apps").fetchone()[0])

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def locked(self, slug: str | None = None, name: str | None = None) -> Iterator[None]:
        """One transaction with advisory locks (module docstring); nested blocks join it."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        import psycopg

        self._held = (slug, name)
        for attempt in (1, 2):
            conn = self._ready()
            try:
                tx = conn.transaction()
                tx.__enter__()
                break
            except psycopg.Error as exc:
                if attempt == 1 and (conn.closed or conn.broken):
                    continue  # lost since the last statement (a restart): nothing done yet, reconnect
                raise self._error(exc) from None
        self._depth = 1
        try:
            try:
                conn.execute(f"SET LOCAL lock_timeout = {int(self.lock_timeout * 1000)}")
                if slug is None:
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, STORE_LOCK))
                else:
                    conn.execute(
                        "SELECT pg_advisory_xact_lock_shared(%s, %s), pg_advisory_xact_lock(%s, hashtext(%s))",
                        (LOCK_CLASS, STORE_LOCK, ROW_LOCK_CLASS, f"{slug}/{name or ''}"),
                    )
            except psycopg.Error as exc:
                raise self._error(exc) from None
            yield
        except BaseException as exc:
            self._depth = 0
            try:
                tx.__exit__(type(exc), exc, exc.__traceback__)
            except psycopg.Error:
                pass  # the connection is gone: the server rolled the transaction back itself
            raise
        self._depth = 0
        try:
            tx.__exit__(None, None, None)
        except psycopg.Error as exc:
            raise self._error(exc) from None

    # -- connections -------------------------------------------------------------------------

    def get_row(self, slug: str, name: str) -> tuple[Connection, bytes] | None:
        row = self._execute(
            f"SELECT {CONNECTION_COLUMNS}, secret FROM synthral.connections WHERE slug = %s AND name = %s",  # noqa: S608
            (slug, name),
        ).fetchone()
        return None if row is None else (connection_from_row(row), bytes(row[16]))

    def version_of(self, slug: str, name: str) -> tuple[int, float | None] | None:
        row = self._execute(
            "SELECT version, created_at FROM synthral.connections WHERE slug = %s AND name = %s", (slug, name)
        ).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def list_rows(self) -> list[Connection]:
        sql = f"SELECT {CONNECTION_COLUMNS} FROM synthral.connections ORDER BY slug, name"  # noqa: S608 - constants
        return [connection_from_row(r) for r in self._execute(sql).fetchall()]

    def report_rows(self) -> Iterator[ReportRow]:
        return iter(
            self._execute(
                "SELECT slug, name, method, scopes, expires_at, last_test_ok, last_test_at, needs_reauth "
                "FROM synthral.connections ORDER BY slug, name"
            ).fetchall()
        )

    def put_row(self, conn: Connection, sealed: bytes, *, if_version: int) -> bool:
        cur = self._execute(
            _WRITE,
            (
                conn.slug,
                conn.name,
                conn.method,
                json.dumps(list(conn.scopes)),
                conn.expires_at,
                json.dumps(conn.config),
                json.dumps(conn.metadata),
                conn.created_at,
                conn.updated_at,
                conn.last_used_at,
                None if conn.last_test_ok is None else int(conn.last_test_ok),
                conn.last_test_at,
                conn.last_test_message,
                int(conn.needs_reauth),
                conn.version,
                json.dumps(list(conn.origins)),
                sealed,
                if_version,
            ),
        )
        return bool(cur.rowcount > 0)

    def remove_row(self, slug: str, name: str) -> bool:
        cur = self._execute("DELETE FROM synthral.connections WHERE slug = %s AND name = %s", (slug, name))
        return bool(cur.rowcount > 0)

    def record_test(self, slug: str, name: str, ok: bool | None, message: str | None, at: float) -> None:
        self._execute(
            "UPDATE synthral.connections SET last_test_ok = %s, last_test_at = %s, last_test_message = %s "
            "WHERE slug = %s AND name = %s",
            (None if ok is None else int(ok), at, message, slug, name),
        )

    def touch(self, slug: str, name: str, at: float) -> None:
        self._execute(
            "UPDATE synthral.connections SET last_used_at = %s WHERE slug = %s AND name = %s", (at, slug, name)
        )

    def mark_needs_reauth(self, slug: str, name: str, *, if_version: int) -> bool:
        cur = self._execute(
            "UPDATE synthral.connections SET needs_reauth = 1 WHERE slug = %s AND name = %s AND version = %s",
            (slug, name, if_version),
        )
        return bool(cur.rowcount > 0)

    # -- OAuth apps --------------------------------------------------------------------------

    def get_app_row(self, slug: str) -> tuple[AppCredentials, bytes | None] | None:
        row = self._execute(
            "SELECT slug, client_id, client_secret, updated_at FROM synthral.apps WHERE slug = %s", (slug,)
        ).fetchone()
        if row is None:
            return None
        return AppCredentials(row[0], row[1], None, row[3]), None if row[2] is None else bytes(row[2])

    def app_slugs(self) -> list[str]:
        return [r[0] for r in self._execute("SELECT slug FROM synthral.apps ORDER BY slug").fetchall()]

    def put_app_row(self, app: AppCredentials, sealed: bytes | None) -> None:
        self._execute(
            "INSERT INTO synthral.apps (slug, client_id, client_secret, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (slug) DO UPDATE SET client_id = excluded.client_id, "
            "client_secret = excluded.client_secret, updated_at = excluded.updated_at",
            (app.slug, app.client_id, sealed, app.updated_at, app.updated_at),
        )

    def remove_app_row(self, slug: str) -> bool:
        return bool(self._execute("DELETE FROM synthral.apps WHERE slug = %s", (slug,)).rowcount > 0)

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._execute("SELECT value FROM synthral.meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._execute(
            "INSERT INTO synthral.meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
