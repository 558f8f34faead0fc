"""The PostgreSQL store's schema: named migrations, recorded in ``synthral.migrations`` and run
once, under a transaction-scoped advisory lock, however many machines start at the same moment.

Everything lives in the schema ``synthral`` of the database the URL names:

    connections  slug, name, method, scopes (JSON text), expires_at, config (JSON text),
                 metadata (JSON text), secret (AES-GCM ciphertext of the secrets JSON),
                 created/updated/last_used_at, last_test_ok/at/message, needs_reauth, version,
                 origins (JSON text)
    apps         slug, client_id, client_secret (ciphertext or NULL), created/updated_at
    meta         key_check (ciphertext of a known plaintext naming the AAD version), key_source
    migrations   name, applied_at

The JSON columns are ``text``, not ``jsonb``: the sealed secrets' associated data covers their
values, and ``jsonb`` would rewrite numbers and key order (the values come back the same either
way, but text keeps the rows byte for byte what synthral wrote).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..basics.errors import StoreError

SCHEMA = "synthral"
LOCK_CLASS = 0x53594E54  # "SYNT": the first key of every advisory lock synthral takes
STORE_LOCK, MIGRATE_LOCK = 0, 1  # second keys; a row's lock is (LOCK_CLASS + 1, hashtext(slug/name))
ROW_LOCK_CLASS = LOCK_CLASS + 1


def m001_initial(cur: Any) -> None:
    cur.execute(
        """
        CREATE TABLE synthral.connections (
            slug text NOT NULL,
            name text NOT NULL,
            method text NOT NULL,
            scopes text NOT NULL DEFAULT '[]',
            expires_at double precision,
            config text NOT NULL DEFAULT '{}',
            metadata text NOT NULL DEFAULT '{}',
            secret bytea NOT NULL,
            created_at double precision,
            updated_at double precision,
            last_used_at double precision,
            last_test_ok smallint,
            last_test_at double precision,
            last_test_message text,
            needs_reauth smallint NOT NULL DEFAULT 0,
            version bigint NOT NULL DEFAULT 0,
            origins text NOT NULL DEFAULT '[]',
            PRIMARY KEY (slug, name)
        )"""
    )
    cur.execute(
        """
        CREATE TABLE synthral.apps (
            slug text PRIMARY KEY,
            client_id text NOT NULL,
            client_secret bytea,
            created_at double precision,
            updated_at double precision
        )"""
    )
    cur.execute("CREATE TABLE synthral.meta (key text PRIMARY KEY, value text NOT NULL)")


MIGRATIONS: list[Callable[[Any], None]] = [m001_initial]
SCHEMA_VERSION = len(MIGRATIONS)
_KNOWN = {fn.__name__ for fn in MIGRATIONS}


def foreign(location: str, why: str) -> StoreError:
    return StoreError(
        f"the schema {SCHEMA!r} of {location} is not a synthral store ({why}); it was left untouched.",
        "Point SYNTHRAL_STORE_URL at another database, or ask its administrator to move that schema.",
    )


def applied(cur: Any, location: str) -> list[str] | None:
    """The migrations applied, oldest first; ``None`` when there is no store yet. Raises for a
    schema that is not ours or is newer than this synthral."""
    cur.execute(
        "SELECT to_regclass('synthral.migrations') IS NOT NULL, "
        "(SELECT count(*) FROM pg_tables WHERE schemaname = %s)",
        (SCHEMA,),
    )
    has_migrations, tables = cur.fetchone()
    if not has_migrations:
        if tables:
            raise foreign(location, f"{tables} table(s) but no synthral.migrations")
        return None
    cur.execute("SELECT name FROM synthral.migrations ORDER BY applied_at, name")
    names = [r[0] for r in cur.fetchall()]
    unknown = [n for n in names if n not in _KNOWN]
    if unknown:
        raise StoreError(
            f"the store {location} has migrations this synthral does not know ({', '.join(unknown)}): "
            "it was made by a newer synthral; it was left untouched.",
            "Upgrade synthral (pip install -U 'synthral[postgres]') on this machine.",
        )
    return names


def current(names: list[str] | None) -> bool:
    return names is not None and len(names) == SCHEMA_VERSION


def migrate(conn: Any, location: str) -> None:
    """Create or bring the schema up to date, once: the first machine takes the migration lock,
    the others wait for it and find the work done (the caller maps driver errors)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, MIGRATE_LOCK))
        names = applied(cur, location)
        if current(names):
            return
        if names is None:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            cur.execute(
                "CREATE TABLE synthral.migrations (name text PRIMARY KEY, applied_at double precision NOT NULL)"
            )
            names = []
        for fn in MIGRATIONS:
            if fn.__name__ not in names:
                fn(cur)
                cur.execute(
                    "INSERT INTO synthral.migrations (name, applied_at) VALUES (%s, %s)", (fn.__name__, time.time())
                )
