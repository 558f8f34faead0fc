"""The row operations both SQL backends share, written once: ``SqlRows`` over a ``Statements`` dialect.

``SqliteBackend`` and ``PostgresBackend`` keep the same three tables (connections, apps, meta) and
read and write them with the same SQL; only two things differ: where the tables are (PostgreSQL
keeps them in the schema ``synthral``) and how a parameter is written (``?`` or ``%s``).
``Statements(tables, mark)`` renders every statement once for a dialect, and ``SqlRows``
implements the ``StoreBackend`` row methods (connections, apps, meta, counts) over them and the
backend's own ``_execute``: one statement, driver errors mapped to ``basics.errors`` (PostgreSQL
also reconnects between transactions). What stays in each backend is what really differs:
connecting, ``locked()`` (``BEGIN IMMEDIATE`` or advisory locks), the schema and its migrations,
and error mapping. Imported by ``connections list``'s fast path: standard library and ``model``
only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .model import CONNECTION_COLUMNS, AppCredentials, Connection, connection_from_row, connection_to_row

if TYPE_CHECKING:
    from .backend import ReportRow


class Cursor(Protocol):
    """What ``SqlRows`` uses of a DB-API cursor (``sqlite3.Cursor``, ``psycopg.Cursor``)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Statements:
    """Every statement ``SqlRows`` runs, in one dialect: ``tables`` prefixes each table name
    (``""`` or ``"synthral."``), ``mark`` is the driver's parameter placeholder (``?`` or ``%s``)."""

    def __init__(self, tables: str, mark: str) -> None:
        columns = [*CONNECTION_COLUMNS.split(", "), "secret"]
        fields = {
            "t": tables,
            "row": "slug = ? AND name = ?",  # one connection
            "columns": CONNECTION_COLUMNS,
            "values": ", ".join("?" * len(columns)),
            "updates": ", ".join(f"{c} = excluded.{c}" for c in columns[2:]),  # all but the key (slug, name)
        }

        def sql(template: str) -> str:  # constants only: no value is ever formatted into SQL
            return template.format(**fields).replace("?", mark)

        self.count = sql("SELECT count(*) FROM {t}connections")
        self.app_count = sql("SELECT count(*) FROM {t}apps")
        self.get_row = sql("SELECT {columns}, secret FROM {t}connections WHERE {row}")
        self.version_of = sql("SELECT version, created_at FROM {t}connections WHERE {row}")
        self.list_rows = sql("SELECT {columns} FROM {t}connections ORDER BY slug, name")
        self.report_rows = sql(
            "SELECT slug, name, method, scopes, expires_at, last_test_ok, last_test_at, needs_reauth "
            "FROM {t}connections ORDER BY slug, name"
        )
        # compare-and-swap: an existing row is replaced only if its version is the last parameter
        self.put_row = sql(
            "INSERT INTO {t}connections ({columns}, secret) VALUES ({values}) "
            "ON CONFLICT (slug, name) DO UPDATE SET {updates} WHERE {t}connections.version = ?"
        )
        self.remove_row = sql("DELETE FROM {t}connections WHERE {row}")
        self.record_test = sql(
            "UPDATE {t}connections SET last_test_ok = ?, last_test_at = ?, last_test_message = ? WHERE {row}"
        )
        self.touch = sql("UPDATE {t}connections SET last_used_at = ? WHERE {row}")
        self.mark_needs_reauth = sql("UPDATE {t}connections SET needs_reauth = 1 WHERE {row} AND version = ?")
        self.get_app_row = sql("SELECT slug, client_id, client_secret, updated_at FROM {t}apps WHERE slug = ?")
        self.app_slugs = sql("SELECT slug FROM {t}apps ORDER BY slug")
        self.put_app_row = sql(
            "INSERT INTO {t}apps (slug, client_id, client_secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (slug) DO UPDATE SET client_id = excluded.client_id, "
            "client_secret = excluded.client_secret, updated_at = excluded.updated_at"
        )
        self.remove_app_row = sql("DELETE FROM {t}apps WHERE slug = ?")
        self.get_meta = sql("SELECT value FROM {t}meta WHERE key = ?")
        self.set_meta = sql(
            "INSERT INTO {t}meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )


class SqlRows:
    """The ``StoreBackend`` row methods. A backend sets ``SQL`` (its dialect's ``Statements``) and
    implements ``_execute``; every write here is called inside the backend's ``locked()``."""

    SQL: ClassVar[Statements]

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> Cursor:
        """Run one statement; a driver error is raised as ``StoreError`` or ``NetworkError``."""
        raise NotImplementedError

    def count(self) -> int:
        return int(self._execute(self.SQL.count).fetchone()[0])

    def app_count(self) -> int:
        return int(self._execute(self.SQL.app_count).fetchone()[0])

    # -- connections -------------------------------------------------------------------------

    def get_row(self, slug: str, name: str) -> tuple[Connection, bytes] | None:
        row = self._execute(self.SQL.get_row, (slug, name)).fetchone()
        return None if row is None else (connection_from_row(row), bytes(row[16]))

    def version_of(self, slug: str, name: str) -> tuple[int, float | None] | None:
        row = self._execute(self.SQL.version_of, (slug, name)).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def list_rows(self) -> list[Connection]:
        return [connection_from_row(r) for r in self._execute(self.SQL.list_rows).fetchall()]

    def report_rows(self) -> Iterator[ReportRow]:
        return iter(self._execute(self.SQL.report_rows).fetchall())

    def put_row(self, conn: Connection, sealed: bytes, *, if_version: int) -> bool:
        return self._execute(self.SQL.put_row, (*connection_to_row(conn), sealed, if_version)).rowcount > 0

    def remove_row(self, slug: str, name: str) -> bool:
        return self._execute(self.SQL.remove_row, (slug, name)).rowcount > 0

    def record_test(self, slug: str, name: str, ok: bool | None, message: str | None, at: float) -> None:
        self._execute(self.SQL.record_test, (None if ok is None else int(ok), at, message, slug, name))

    def touch(self, slug: str, name: str, at: float) -> None:
        self._execute(self.SQL.touch, (at, slug, name))

    def mark_needs_reauth(self, slug: str, name: str, *, if_version: int) -> bool:
        return self._execute(self.SQL.mark_needs_reauth, (slug, name, if_version)).rowcount > 0

    # -- OAuth apps --------------------------------------------------------------------------

    def get_app_row(self, slug: str) -> tuple[AppCredentials, bytes | None] | None:
        row = self._execute(self.SQL.get_app_row, (slug,)).fetchone()
        if row is None:
            return None
        return AppCredentials(row[0], row[1], None, row[3]), None if row[2] is None else bytes(row[2])

    def app_slugs(self) -> list[str]:
        return [r[0] for r in self._execute(self.SQL.app_slugs).fetchall()]

    def put_app_row(self, app: AppCredentials, sealed: bytes | None) -> None:
        self._execute(self.SQL.put_app_row, (app.slug, app.client_id, sealed, app.updated_at, app.updated_at))

    def remove_app_row(self, slug: str) -> bool:
        return self._execute(self.SQL.remove_app_row, (slug,)).rowcount > 0

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._execute(self.SQL.get_meta, (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._execute(self.SQL.set_meta, (key, value))
