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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..basics.errors import NetworkError, StoreError, UsageError
from .pg_schema import LOCK_CLASS, ROW_LOCK_CLASS, STORE_LOCK, current, migrate
from .pg_url import connect_kwargs, psycopg_module, safe_location
from .rows import SqlRows, Statements

if TYPE_CHECKING:
    from ..basics.settings import Settings

IDLE_IN_TRANSACTION = 120_000  # ms: a stuck process loses its transaction (and its locks) after this


class PostgresBackend(SqlRows):
    """The store's rows in PostgreSQL (schema ``synthral``); one connection, used by one thread.
    The row methods are ``SqlRows``'."""

    SQL = Statements(tables="synthral.", mark="%s")

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
