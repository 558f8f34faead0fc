"""The store backend protocol: the rows a backend keeps, and what it must do with them.

A backend stores rows; it never sees a key or a plaintext secret. ``encrypted.Store`` (what
callers use) seals each secret with AES-GCM before it reaches the backend and opens it after, so
a backend only ever handles ciphertext (``sealed`` bytes) and non-secret metadata. SQLite
(``sqlite.SqliteBackend``) is the one today; a PostgreSQL backend (``SYNTHRAL_STORE_URL``) plugs
in by implementing this protocol and being chosen in ``Store.open``; no caller changes.

What a backend keeps:

    connections  one row per (slug, name): the ``Connection`` fields except ``secrets``, plus the
                 sealed secrets. JSON-valued fields (scopes, config, metadata, origins) must come
                 back as the same values (store them as text, not a format that rewrites numbers).
    apps         one row per slug: client_id, the sealed client secret (or none), created/updated.
    meta         string key/value pairs (the sealed key check, where the key lives).

The rules a backend must keep:

* ``open`` (a module-level or class constructor taking ``Settings``) creates or migrates the
  schema with named migrations recorded in the store, refuses a store that is not synthral's or
  whose schema is newer (``StoreError``, untouched), and checks a file it opens with
  ``basics.files.check_private``.
* ``locked()`` is one cross-process write transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a
  transaction plus an advisory lock). Nested blocks join the outer one; an exception rolls it all
  back; reads inside it see the writes made inside it. ``locked(slug, name)`` says which row the
  caller means to change; a backend may narrow the lock to that row, SQLite locks the whole store.
  Every write below is called inside ``locked()``.
* ``put_row(conn, sealed, if_version=v)`` is compare-and-swap: it writes only if the stored
  version is ``v`` (``0``: only if there is no row) and says whether it wrote. The caller decides
  versions and times; the backend stores exactly what it is given.
* ``mark_needs_reauth(..., if_version=v)`` is compare-and-swap on the version too.
  ``record_test``, ``touch`` and ``mark_needs_reauth`` change bookkeeping columns only, which
  the sealed secrets' associated data does not cover (see ``crypto``), so they need no key.
* Errors are ``basics.errors.StoreError`` with a message and a hint (exit 5), never a driver error.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .model import AppCredentials, Connection

# slug, name, method, scopes (JSON text), expires_at, last_test_ok (1/0/None), last_test_at, needs_reauth;
# last_test_ok None with a last_test_at: the provider could not be reached (no verdict on the credential)
ReportRow = tuple[str, str, str, str, float | None, int | None, float | None, int]


class StoreBackend(Protocol):
    """Rows of connections, OAuth apps and meta values; ciphertext and metadata only."""

    @property
    def location(self) -> str:
        """Where the store is, safe to print (a path, or a URL without its password)."""
        ...

    # -- lifecycle and status ------------------------------------------------------------------

    def close(self) -> None: ...

    def schema_version(self) -> int: ...

    def migrations(self) -> list[str]:
        """The names of the migrations applied, oldest first."""
        ...

    def count(self) -> int:
        """The number of connections."""
        ...

    def app_count(self) -> int: ...

    # -- the cross-process write transaction ------------------------------------------------------

    def locked(self, slug: str | None = None, name: str | None = None) -> AbstractContextManager[None]: ...

    # -- connections ----------------------------------------------------------------------------

    def get_row(self, slug: str, name: str) -> tuple[Connection, bytes] | None:
        """The connection (``secrets == {}``) and its sealed secrets."""
        ...

    def version_of(self, slug: str, name: str) -> tuple[int, float | None] | None:
        """``(version, created_at)`` of a row, without reading the rest."""
        ...

    def list_rows(self) -> list[Connection]:
        """Every connection sorted by (slug, name), ``secrets == {}``."""
        ...

    def report_rows(self) -> Iterable[ReportRow]:
        """What ``connections list`` shows, sorted by (slug, name); must stay fast for 10,000 rows."""
        ...

    def put_row(self, conn: Connection, sealed: bytes, *, if_version: int) -> bool:
        """Insert or replace the row (``conn.secrets`` is ignored) if its version is ``if_version``."""
        ...

    def remove_row(self, slug: str, name: str) -> bool: ...

    def record_test(self, slug: str, name: str, ok: bool | None, message: str | None, at: float) -> None:
        """``ok`` None: the provider could not be reached, which says nothing of the credential."""
        ...

    def touch(self, slug: str, name: str, at: float) -> None: ...

    def mark_needs_reauth(self, slug: str, name: str, *, if_version: int) -> bool: ...

    # -- OAuth apps -----------------------------------------------------------------------------

    def get_app_row(self, slug: str) -> tuple[AppCredentials, bytes | None] | None:
        """The app (``client_secret is None``) and its sealed client secret, if any."""
        ...

    def app_slugs(self) -> list[str]: ...

    def put_app_row(self, app: AppCredentials, sealed: bytes | None) -> None:
        """Insert or update (``app.client_secret`` is ignored; ``app.updated_at`` is stored)."""
        ...

    def remove_app_row(self, slug: str) -> bool: ...

    # -- meta values ----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...
