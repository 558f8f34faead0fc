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

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..basics.errors import NetworkError, StoreError
from .rows import SqlRows, Statements
from .sqlite_schema import foreign, migrate, schema_state

if TYPE_CHECKING:
    from ..basics.settings import Settings

BUSY_TIMEOUT = 30.0  # seconds: long enough for a queue of processes waiting on one refresh


class SqliteBackend(SqlRows):
    """The store's rows in one SQLite file; used by one thread. The row methods are ``SqlRows``'."""

    SQL = Statements(tables="", mark="?")

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
