"""The SQLite store's schema: named migrations, recorded in ``_migrations`` and counted in
``PRAGMA user_version`` (schema version = number of migrations applied); ``PRAGMA application_id``
marks the file as ours.

    connections  slug, name, method, scopes (JSON), expires_at, config (JSON), metadata (JSON),
                 secret (AES-GCM ciphertext of the secrets JSON), created/updated/last_used_at,
                 last_test_ok/at/message, needs_reauth, version, origins (JSON)
    apps         slug, client_id, client_secret (ciphertext or NULL), created/updated_at
    meta         key_check (ciphertext of a known plaintext naming the AAD version),
                 key_source (where the key was put)
    _migrations  name, applied_at

Migrations run through sqlite-utils on the store's own connection, inside its write lock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..basics.errors import StoreError

APPLICATION_ID = 0x53594E54  # "SYNT"


def m001_initial(db: Any) -> None:
    db.table("connections").create(
        {
            "slug": str,
            "name": str,
            "method": str,
            "scopes": str,
            "expires_at": float,
            "config": str,
            "metadata": str,
            "secret": bytes,
            "created_at": float,
            "updated_at": float,
            "last_used_at": float,
            "last_test_ok": int,
            "last_test_at": float,
            "last_test_message": str,
            "needs_reauth": int,
            "version": int,
        },
        pk=("slug", "name"),
        not_null={
            "slug",
            "name",
            "method",
            "scopes",
            "config",
            "metadata",
            "secret",
            "needs_reauth",
            "version",
        },
        defaults={"scopes": "[]", "config": "{}", "metadata": "{}", "needs_reauth": 0, "version": 0},
    )
    db.table("apps").create(
        {"slug": str, "client_id": str, "client_secret": bytes, "created_at": float, "updated_at": float},
        pk="slug",
        not_null={"slug", "client_id"},
    )
    db.table("meta").create({"key": str, "value": str}, pk="key", not_null={"key", "value"})


def m002_origins(db: Any) -> None:
    """The origins a connection's credential may be sent to (credential origin binding)."""
    db.execute("ALTER TABLE connections ADD COLUMN origins TEXT NOT NULL DEFAULT '[]'")


def m003_aad_v2(db: Any) -> None:
    """The secrets' associated data covers the routing columns (``crypto``, AAD v2).

    No table changes: the rows are re-sealed by ``Store`` the next time the key is loaded (the key
    is not available here). The version bump keeps older synthral releases, which would take the
    v2 key check for a wrong key, out of this store with a clear "upgrade synthral" message.
    """


MIGRATIONS: list[Callable[[Any], None]] = [m001_initial, m002_origins, m003_aad_v2]
SCHEMA_VERSION = len(MIGRATIONS)


def foreign(path: Path | str, why: str) -> StoreError:
    return StoreError(
        f"{path} is not a synthral store ({why}); it was left untouched.",
        "Move the file away (synthral will create a new store), or point SYNTHRAL_CONFIG_DIR elsewhere.",
    )


def schema_state(conn: sqlite3.Connection, path: Path) -> str:
    """``current`` | ``migrate``; raises for a foreign file or a newer schema."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store {path} has schema version {version}, newer than this synthral "
                f"understands ({SCHEMA_VERSION}); it was left untouched.",
                "Upgrade synthral (pip install -U synthral).",
            )
        return "current" if version == SCHEMA_VERSION else "migrate"
    if app_id != 0:
        raise foreign(path, f"application id {app_id:#x}")
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if tables:
        raise foreign(path, "an SQLite database with other tables")
    return "migrate"


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the missing migrations; the caller holds the write lock (``BEGIN IMMEDIATE``)."""
    import sqlite_utils

    if schema_state(conn, path) == "current":  # another process migrated while we waited
        return
    db = sqlite_utils.Database(conn, execute_plugins=False)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        db.table("_migrations").create({"name": str, "applied_at": float}, pk="name", if_not_exists=True)
    done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    for fn in MIGRATIONS[version:]:
        if fn.__name__ not in done:
            fn(db)
            db.table("_migrations").insert({"name": fn.__name__, "applied_at": time.time()})
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
