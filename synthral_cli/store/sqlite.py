"""The SQLite store backend (``backend.StoreBackend``): one file under the config directory.

Only ciphertext and non-secret metadata pass through here (``encrypted.Store`` seals above it).
Reading uses the standard library's ``sqlite3`` (``connections list`` must start fast); schema
creation and migrations go through sqlite-utils on the same connection (``sqlite_schema``).
Every write runs inside ``locked()`` (``BEGIN IMMEDIATE``): across processes one writer at a
time, and a crash leaves either the old or the new rows (WAL). ``PRAGMA secure_delete`` is on for
every connection, so deleted and overwritten rows are zeroed on disk. A file that is not ours is
never written to, and a store file or symlink that is not the user's own, is writable by others
or dangles is refused before it is opened (``basics.files.check_private``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..basics.errors import NetworkError, StoreError
from .model import CONNECTION_COLUMNS, AppCredentials, Connection, connection_from_row
from .sqlite_schema import foreign, migrate, schema_state

if TYPE_CHECKING:
    from ..basics.settings import Settings
    from .backend import ReportRow

BUSY_TIMEOUT = 30.0  # seconds: long enough for a queue of processes waiting on one refresh

_WRITE = (
    f"INSERT INTO connections ({CONNECTION_COLUMNS}, secret) VALUES ({', '.join('?' * 17)}) "  # noqa: S608 - constants
    "ON CONFLICT(slug, name) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in [*CONNECTION_COLUMNS.split(", ")[2:], "secret"])
    + " WHERE connections.version = ?"
)


class SqliteBackend:
    """The store's rows in one SQLite file; used by one thread."""

    def __init__(self, conn: sqlite3.Connection, path: Path, busy: float = BUSY_TIMEOUT) -> None:
        self.conn = conn
        self.path = path
        self.busy = busy
        self._depth = 0
        self.created = True  # False: the file does not exist; this is an empty store in memory

    @property
    def location(self) -> str:
        return str(self.path)

    # -- opening and migrating ---------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings, *, create: bool = True) -> SqliteBackend:
        """Open (creating the directory 0700 and the file 0600) and migrate the store.
        ``create=False`` (a command that only reads): a store that does not exist yet is an
        empty one in memory, and nothing is written to disk."""
        from ..basics.files import check_private, ensure_private_dir

        path = settings.paths.store
        check_private(settings.paths.config_dir, "the config directory")  # issue 14: it is ours
        if not create and not os.path.lexists(path):
            return cls._empty(path)
        ensure_private_dir(path.parent)
        check_private(path, "the store")
        if path.is_dir():
            raise foreign(path, "it is a directory")
        if not os.path.lexists(path):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
                os.chmod(path, 0o600)
            except FileExistsError:
                pass
            except OSError as exc:
                raise StoreError(
                    f"cannot create the store {path}: {exc.strerror}.",
                    f"Make {path.parent} writable by you, or set SYNTHRAL_CONFIG_DIR.",
                ) from None
        busy = settings.store_lock_timeout  # SYNTHRAL_STORE_LOCK_TIMEOUT, 30 s by default
        try:
            conn = sqlite3.connect(str(path), timeout=busy, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the store {path}: {exc}", "Check the file's owner and permissions."
            ) from None
        backend = cls(conn, path, busy)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy * 1000)}")
            conn.execute("PRAGMA secure_delete = ON")
            if schema_state(conn, path) != "current":
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = wal")
                with backend.locked():
                    migrate(conn, path)
            if os.stat(path).st_mode & 0o077:  # ours (checked above): owner-only
                os.chmod(path, 0o600)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise backend._db_error(exc) from None
        except BaseException:
            conn.close()
            raise
        return backend

    @classmethod
    def _empty(cls, path: Path) -> SqliteBackend:
        """A store with no rows, in memory, that reports ``path`` as its location."""
        conn = sqlite3.connect(":memory:", isolation_level=None)
        backend = cls(conn, path)
        backend.created = False
        with backend.locked():
            migrate(conn, path)
        return backend

    def _db_error(self, exc: sqlite3.Error) -> StoreError | NetworkError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
            return NetworkError(  # a bounded wait, as on PostgreSQL: exit 4 (timeout), with the reason
                f"waited {self.busy:g} s for the lock on the store {self.path}: another synthral process holds "
                "it, probably while refreshing a token.",
                "Retry in a moment; if it keeps happening, look for a stuck synthral process, "
                "or raise SYNTHRAL_STORE_LOCK_TIMEOUT.",
            )
        if "not a database" in text or "malformed" in text or "encrypted" in text:
            return foreign(self.path, "not an SQLite database, or a damaged one")
        return StoreError(f"the store {self.path} cannot be used: {text}", "Check the file and its permissions.")

    def close(self) -> None:
        self.conn.close()

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrations(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM _migrations ORDER BY applied_at, name")]

    def count(self) -> int:
        return int(self._execute("SELECT count(*) FROM connections").fetchone()[0])

    def app_count(self) -> int:
        return int(self._execute("SELECT count(*) FROM apps").fetchone()[0])

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def locked(self, slug: str | None = None, name: str | None = None) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` on the whole file (whatever row is named): one writer across
        processes. Nested blocks join the outer transaction; an exception rolls it back."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self._db_error(exc) from None
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise self._db_error(exc) from None

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise self._db_error(exc) from None

    # -- connections -------------------------------------------------------------------------

    def get_row(self, slug: str, name: str) -> tuple[Connection, bytes] | None:
        row = self._execute(
            f"SELECT {CONNECTION_COLUMNS}, secret FROM connections WHERE slug = ? AND name = ?",  # noqa: S608
            (slug, name),
        ).fetchone()
        return None if row is None else (connection_from_row(row), bytes(row[16]))

    def version_of(self, slug: str, name: str) -> tuple[int, float | None] | None:
        row = self._execute(
            "SELECT version, created_at FROM connections WHERE slug = ? AND name = ?", (slug, name)
        ).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def list_rows(self) -> list[Connection]:
        sql = f"SELECT {CONNECTION_COLUMNS} FROM connections ORDER BY slug, name"  # noqa: S608 - constant columns
        return [connection_from_row(r) for r in self._execute(sql).fetchall()]

    def report_rows(self) -> Iterator[ReportRow]:
        return iter(
            self._execute(
                "SELECT slug, name, method, scopes, expires_at, last_test_ok, last_test_at, needs_reauth "
                "FROM connections ORDER BY slug, name"
            )
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
        return cur.rowcount > 0

    def remove_row(self, slug: str, name: str) -> bool:
        return self._execute("DELETE FROM connections WHERE slug = ? AND name = ?", (slug, name)).rowcount > 0

    def record_test(self, slug: str, name: str, ok: bool | None, message: str | None, at: float) -> None:
        self._execute(
            "UPDATE connections SET last_test_ok = ?, last_test_at = ?, last_test_message = ? "
            "WHERE slug = ? AND name = ?",
            (None if ok is None else int(ok), at, message, slug, name),
        )

    def touch(self, slug: str, name: str, at: float) -> None:
        self._execute("UPDATE connections SET last_used_at = ? WHERE slug = ? AND name = ?", (at, slug, name))

    def mark_needs_reauth(self, slug: str, name: str, *, if_version: int) -> bool:
        cur = self._execute(
            "UPDATE connections SET needs_reauth = 1 WHERE slug = ? AND name = ? AND version = ?",
            (slug, name, if_version),
        )
        return cur.rowcount > 0

    # -- OAuth apps --------------------------------------------------------------------------

    def get_app_row(self, slug: str) -> tuple[AppCredentials, bytes | None] | None:
        row = self._execute(
            "SELECT slug, client_id, client_secret, updated_at FROM apps WHERE slug = ?", (slug,)
        ).fetchone()
        if row is None:
            return None
        return AppCredentials(row[0], row[1], None, row[3]), None if row[2] is None else bytes(row[2])

    def app_slugs(self) -> list[str]:
        return [r[0] for r in self._execute("SELECT slug FROM apps ORDER BY slug")]

    def put_app_row(self, app: AppCredentials, sealed: bytes | None) -> None:
        self._execute(
            "INSERT INTO apps (slug, client_id, client_secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(slug) DO UPDATE SET client_id = excluded.client_id, "
            "client_secret = excluded.client_secret, updated_at = excluded.updated_at",
            (app.slug, app.client_id, sealed, app.updated_at, app.updated_at),
        )

    def remove_app_row(self, slug: str) -> bool:
        return self._execute("DELETE FROM apps WHERE slug = ?", (slug,)).rowcount > 0

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
