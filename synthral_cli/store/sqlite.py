"""The encrypted connection store: one SQLite file under the config directory.

Layout (schema version = number of migrations applied, also kept in ``PRAGMA user_version``;
``PRAGMA application_id`` marks the file as ours):

    connections  slug, name, method, scopes (JSON), expires_at, config (JSON), metadata (JSON),
                 secret (AES-GCM ciphertext of the secrets JSON), created/updated/last_used_at,
                 last_test_ok/at/message, needs_reauth, version
    apps         slug, client_id, client_secret (ciphertext or NULL), created/updated_at
    meta         key_check (ciphertext of a known plaintext), key_source (where the key was put)
    _migrations  name, applied_at

Reading is done with the standard library's ``sqlite3`` (``connections list`` must start fast);
schema creation and migrations go through sqlite-utils on the same connection. Every write runs
inside ``locked()`` (``BEGIN IMMEDIATE``): across processes one writer at a time, and a crash
leaves either the old or the new rows (WAL). A file that is not ours is never written to.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..basics.errors import StoreError, UsageError

if TYPE_CHECKING:
    from ..basics.settings import Settings
    from .crypto import KeyLocator, KeySource

APPLICATION_ID = 0x53594E54  # "SYNT"
BUSY_TIMEOUT = 30.0  # seconds: long enough for a queue of processes waiting on one refresh
KEY_CHECK_PLAINTEXT = b"synthral store key check v1"
KEY_CHECK_AAD = b"meta\0key_check"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,127}$")

METHODS = ("direct", "device", "client_credentials", "nango", "api_key", "bearer", "basic", "custom")


@dataclass
class Connection:
    """One stored account of one connector. ``secrets`` is ``{}`` in ``Store.list()``."""

    slug: str
    name: str = "default"
    method: str = "direct"
    scopes: list[str] = field(default_factory=list)
    expires_at: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None
    updated_at: float | None = None
    last_used_at: float | None = None
    last_test_ok: bool | None = None
    last_test_at: float | None = None
    last_test_message: str | None = None
    needs_reauth: bool = False
    version: int = 0
    # the origins (scheme://host[:port]) its credential may be sent to, recorded when it was made
    origins: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # never show secret values, even in a traceback
        return (
            f"Connection(slug={self.slug!r}, name={self.name!r}, method={self.method!r}, "
            f"secrets=<{len(self.secrets)} hidden>, version={self.version})"
        )


@dataclass
class AppCredentials:
    """An OAuth app registered by the user (``synthral configure``)."""

    slug: str
    client_id: str
    client_secret: str | None = None
    updated_at: float | None = None

    def __repr__(self) -> str:
        secret = "<hidden>" if self.client_secret else None
        return f"AppCredentials(slug={self.slug!r}, client_id={self.client_id!r}, client_secret={secret})"


# -- migrations -----------------------------------------------------------------------------


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


MIGRATIONS: list[Callable[[Any], None]] = [m001_initial, m002_origins]
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "slug, name, method, scopes, expires_at, config, metadata, created_at, updated_at, last_used_at, "
    "last_test_ok, last_test_at, last_test_message, needs_reauth, version, origins"
)


# The C scanner: json.loads minus ~3 us of Python wrapper per call (10,000 rows in `connections list`).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(text: str | None, empty: Any) -> Any:
    if not text or text == "[]" or text == "{}":
        return type(empty)()
    return _scan(text, 0)[0]


def _row_to_connection(r: tuple[Any, ...]) -> Connection:
    """Columns in ``_COLUMNS`` order; positional arguments follow the dataclass field order."""
    return Connection(
        r[0],
        r[1],
        r[2],
        _loads(r[3], []),
        r[4],
        _loads(r[5], {}),
        {},
        _loads(r[6], {}),
        r[7],
        r[8],
        r[9],
        None if r[10] is None else bool(r[10]),
        r[11],
        r[12],
        bool(r[13]),
        r[14],
        _loads(r[15], []),
    )


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise UsageError(
            f"invalid {what} {value!r}.",
            "Use letters, digits and . _ @ + : - (starting with a letter or digit, at most 128 characters).",
        )
    return value


def _foreign(path: Path, why: str) -> StoreError:
    return StoreError(
        f"{path} is not a synthral store ({why}); it was left untouched.",
        "Move the file away (synthral will create a new store), or point SYNTHRAL_CONFIG_DIR elsewhere.",
    )


class Store:
    """The encrypted store. Open it with ``Store.open(settings)``; it is used by one thread."""

    def __init__(self, settings: Settings, conn: sqlite3.Connection, path: Path) -> None:
        self.settings = settings
        self.path = path
        self.conn = conn
        self._depth = 0
        self._key: KeySource | None = None
        self._check_text: str | None = None
        self._locator: KeyLocator | None = None

    # -- opening and migrating ---------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Open (creating the directory 0700 and the file 0600) and migrate the store."""
        from .crypto import ensure_private_dir

        path = settings.paths.store
        ensure_private_dir(path.parent)
        if path.is_dir():
            raise _foreign(path, "it is a directory")
        if not path.exists():
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                os.chmod(path, 0o600)
            except FileExistsError:
                pass
        try:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the store {path}: {exc}", "Check the file's owner and permissions."
            ) from None
        store = cls(settings, conn, path)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}")
            if store._schema_state() != "current":
                store._migrate()
            if os.stat(path).st_mode & 0o077:  # ours (checked above): owner-only
                os.chmod(path, 0o600)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise store._db_error(exc) from None
        except BaseException:
            conn.close()
            raise
        return store

    def _schema_state(self) -> str:
        """``current`` | ``migrate``; raises for a foreign file or a newer schema."""
        app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id == APPLICATION_ID:
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.path} has schema version {version}, newer than this synthral "
                    f"understands ({SCHEMA_VERSION}); it was left untouched.",
                    "Upgrade synthral (pip install -U synthral).",
                )
            return "current" if version == SCHEMA_VERSION else "migrate"
        if app_id != 0:
            raise _foreign(self.path, f"application id {app_id:#x}")
        tables = self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise _foreign(self.path, "an SQLite database with other tables")
        return "migrate"

    def _migrate(self) -> None:
        import sqlite_utils

        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.conn.execute("PRAGMA journal_mode = wal")
        db = sqlite_utils.Database(self.conn, execute_plugins=False)
        with self.locked():
            if self._schema_state() == "current":  # another process migrated while we waited
                return
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                db.table("_migrations").create(
                    {"name": str, "applied_at": float}, pk="name", if_not_exists=True
                )
            done = {r[0] for r in self.conn.execute("SELECT name FROM _migrations")}
            for fn in MIGRATIONS[version:]:
                if fn.__name__ not in done:
                    fn(db)
                    db.table("_migrations").insert({"name": fn.__name__, "applied_at": time.time()})
            self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _db_error(self, exc: sqlite3.Error) -> StoreError:
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
            return StoreError(
                f"the store {self.path} stayed locked by another synthral process for {BUSY_TIMEOUT:g} s.",
                "Wait for the other process to finish, then retry.",
            )
        if "not a database" in text or "malformed" in text or "encrypted" in text:
            return _foreign(self.path, "not an SQLite database, or a damaged one")
        return StoreError(
            f"the store {self.path} cannot be used: {text}", "Check the file and its permissions."
        )

    def close(self) -> None:
        self.conn.close()

    def migrations(self) -> builtins.list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM _migrations ORDER BY applied_at, name")]

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE``: one writer across processes; get()/put() inside join it.

        Nested ``locked()`` blocks join the outer transaction. An exception rolls it back.
        """
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

    # -- the key -----------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def locator(self) -> KeyLocator:
        if self._locator is None:
            from .crypto import KeyLocator

            self._locator = KeyLocator(self.settings)
        return self._locator

    def key_source(self) -> KeySource:
        """The key, checked against the store's check value; created for a store that has none."""
        if self._key is not None:
            return self._key
        import base64

        from . import crypto

        check = self._meta("key_check")
        if check is None:
            with self.locked():
                check = self._meta("key_check")
                if check is None:
                    created = self.locator.find(None) or self.locator.create()
                    blob = crypto.encrypt(created.key, KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
                    self._set_meta("key_check", base64.b64encode(blob).decode())
                    self._set_meta("key_source", created.source)
                    self._key, self._check_text = created, self._meta("key_check")
                    return created
        hint = self._meta("key_source")
        blob = base64.b64decode(check)
        ks = self.locator.find(hint)
        if ks is not None and self._opens(ks.key, blob):
            self._key, self._check_text = ks, check
            return ks
        if ks is None or ks.source != "environment":
            pending = self.locator.pending(hint)
            if pending is not None and self._opens(pending.key, blob):
                self.locator.promote(pending)  # finish a rotation that was interrupted
                self._key, self._check_text = pending, check
                return pending
        if ks is None:
            where = {"keyring": "the OS keyring", "file": f"the key file {self.locator.key_file}"}.get(
                hint or "", "SYNTHRAL_STORE_KEY"
            )
            problem = (
                f" ({self.locator.keyring.problem})"
                if hint == "keyring" and self.locator.keyring.problem
                else ""
            )
            raise StoreError(
                f"no key found for the store {self.path}: it was kept in {where}{problem}.",
                "Set SYNTHRAL_STORE_KEY to the store's key, or restore the key file / keyring entry.",
            )
        raise StoreError(
            f"the store key from {ks.describe()} does not open the store {self.path} (wrong key); "
            "nothing was changed.",
            "Use the key the store was created with (see `synthral store status`), or move the store away.",
        )

    @staticmethod
    def _opens(key: bytes, blob: bytes) -> bool:
        from . import crypto

        try:
            return crypto.decrypt(key, blob, KEY_CHECK_AAD) == KEY_CHECK_PLAINTEXT
        except crypto.DecryptError:
            return False

    def _key_changed(self) -> bool:
        """Whether another process rotated the key since we loaded ours (then forget ours)."""
        if self._key is not None and self._meta("key_check") != self._check_text:
            self._key = None
            return True
        return False

    def _seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt under the current key; called inside ``locked()``, so a rotation by another
        process since our key was loaded is seen here and never mixes two keys in one store."""
        from . import crypto

        self._key_changed()
        return crypto.encrypt(self.key_source().key, plaintext, aad)

    def _open(self, blob: bytes, aad: bytes, what: str) -> bytes:
        from . import crypto

        try:
            return crypto.decrypt(self.key_source().key, bytes(blob), aad)
        except crypto.DecryptError:
            if self._key_changed():
                return self._open(blob, aad, what)
            raise StoreError(
                f"the secrets of {what} in {self.path} do not decrypt: the row was altered or copied "
                "from another row.",
                "Remove it and authorize again (synthral connections remove ...).",
            ) from None

    # -- connections -------------------------------------------------------------------------

    def list(self) -> builtins.list[Connection]:
        """Every connection, sorted; metadata only (nothing is decrypted, ``secrets == {}``)."""
        sql = f"SELECT {_COLUMNS} FROM connections ORDER BY slug, name"  # noqa: S608 - constant columns
        rows = self._execute(sql).fetchall()
        return [_row_to_connection(r) for r in rows]

    def count(self) -> int:
        return int(self._execute("SELECT count(*) FROM connections").fetchone()[0])

    def get(self, slug: str, name: str = "default") -> Connection | None:
        """One connection with its secrets decrypted, or ``None``."""
        row = self._execute(
            f"SELECT {_COLUMNS}, secret FROM connections WHERE slug = ? AND name = ?",  # noqa: S608
            (slug, name),
        ).fetchone()
        if row is None:
            return None
        conn = _row_to_connection(row)
        from ..basics.redact import register
        from . import crypto

        raw = self._open(row[16], crypto.row_aad("connection", slug, name), f"connection {slug}/{name}")
        conn.secrets = json.loads(raw)
        register(*conn.secrets.values())
        return conn

    def put(self, conn: Connection) -> Connection:
        """Insert or replace; returns the stored connection (``version`` bumped, times set)."""
        from ..basics.redact import register
        from . import crypto

        check_name(conn.slug, "connector slug")
        check_name(conn.name, "connection name")
        secrets = {str(k): str(v) for k, v in conn.secrets.items()}
        register(*secrets.values())
        aad = crypto.row_aad("connection", conn.slug, conn.name)
        with self.locked():
            blob = self._seal(json.dumps(secrets).encode(), aad)
            old = self._execute(
                "SELECT version, created_at FROM connections WHERE slug = ? AND name = ?",
                (conn.slug, conn.name),
            ).fetchone()
            now = time.time()
            stored = replace(
                conn,
                secrets=secrets,
                version=(old[0] if old else 0) + 1,
                created_at=(old[1] if old else None) or conn.created_at or now,
                updated_at=now,
            )
            self._execute(
                "INSERT OR REPLACE INTO connections (slug, name, method, scopes, expires_at, config, "
                "metadata, secret, created_at, updated_at, last_used_at, last_test_ok, last_test_at, "
                "last_test_message, "
                "needs_reauth, version, origins) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    stored.slug,
                    stored.name,
                    stored.method,
                    json.dumps(list(stored.scopes)),
                    stored.expires_at,
                    json.dumps(stored.config),
                    json.dumps(stored.metadata),
                    blob,
                    stored.created_at,
                    stored.updated_at,
                    stored.last_used_at,
                    None if stored.last_test_ok is None else int(stored.last_test_ok),
                    stored.last_test_at,
                    stored.last_test_message,
                    int(stored.needs_reauth),
                    stored.version,
                    json.dumps(list(stored.origins)),
                ),
            )
        return stored

    def remove(self, slug: str, name: str = "default") -> bool:
        with self.locked():
            cur = self._execute("DELETE FROM connections WHERE slug = ? AND name = ?", (slug, name))
        return cur.rowcount > 0

    def record_test(self, slug: str, name: str, ok: bool, message: str | None) -> None:
        with self.locked():
            self._execute(
                "UPDATE connections SET last_test_ok = ?, last_test_at = ?, last_test_message = ? "
                "WHERE slug = ? AND name = ?",
                (int(ok), time.time(), message, slug, name),
            )

    def mark_needs_reauth(self, slug: str, name: str, *, if_version: int) -> bool:
        """Flag the connection, unless another process stored a newer version meanwhile."""
        with self.locked():
            cur = self._execute(
                "UPDATE connections SET needs_reauth = 1 WHERE slug = ? AND name = ? AND version = ?",
                (slug, name, if_version),
            )
        return cur.rowcount > 0

    def touch(self, slug: str, name: str) -> None:
        with self.locked():
            self._execute(
                "UPDATE connections SET last_used_at = ? WHERE slug = ? AND name = ?",
                (time.time(), slug, name),
            )

    # -- OAuth apps --------------------------------------------------------------------------

    def get_app(self, slug: str) -> AppCredentials | None:
        row = self._execute(
            "SELECT slug, client_id, client_secret, updated_at FROM apps WHERE slug = ?", (slug,)
        ).fetchone()
        if row is None:
            return None
        secret = None
        if row[2] is not None:
            from ..basics.redact import register
            from . import crypto

            secret = self._open(
                row[2], crypto.row_aad("app", slug), f"the app credentials of {slug}"
            ).decode()
            register(secret)
        return AppCredentials(row[0], row[1], secret, row[3])

    def put_app(self, slug: str, client_id: str, client_secret: str | None) -> None:
        from ..basics.redact import register
        from . import crypto

        check_name(slug, "connector slug")
        if client_secret:
            register(client_secret)
        with self.locked():
            blob = self._seal(client_secret.encode(), crypto.row_aad("app", slug)) if client_secret else None
            now = time.time()
            self._execute(
                "INSERT INTO apps (slug, client_id, client_secret, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(slug) DO UPDATE SET client_id = excluded.client_id, "
                "client_secret = excluded.client_secret, updated_at = excluded.updated_at",
                (slug, client_id, blob, now, now),
            )

    def remove_app(self, slug: str) -> bool:
        with self.locked():
            cur = self._execute("DELETE FROM apps WHERE slug = ?", (slug,))
        return cur.rowcount > 0

    # -- status and rotation -----------------------------------------------------------------

    def has_key(self) -> bool:
        """Whether a key was ever set up for this store (a check value exists)."""
        return self._meta("key_check") is not None

    def status(self) -> dict[str, Any]:
        """Where things are; no secrets and no decryption (the key is not loaded)."""
        hint = self._meta("key_source")
        from ..basics.settings import STORE_KEY

        if self.settings.env.get(STORE_KEY):
            source, location = "environment", STORE_KEY
        elif hint == "keyring":
            source, location = "keyring", self.locator.keyring_location()
        elif hint == "file":
            source, location = "file", str(self.locator.key_file)
        else:
            source, location = None, None
        return {
            "store_path": str(self.path),
            "key_source": source,
            "key_location": location,
            "key_file": str(self.locator.key_file),
            "schema_version": self.schema_version,
            "migrations": self.migrations(),
            "connection_count": self.count(),
            "app_count": int(self._execute("SELECT count(*) FROM apps").fetchone()[0]),
        }

    def rotate_key(self, new_key: bytes | None = None) -> KeySource:
        """Re-encrypt every secret under a new key in one transaction; save the key where the old one was.

        For a key from ``SYNTHRAL_STORE_KEY`` the new key must be given (the caller sets the variable).
        """
        import base64

        from . import crypto

        old = self.key_source()
        if old.source == "environment" and new_key is None:
            raise UsageError(
                "the store key comes from SYNTHRAL_STORE_KEY, so synthral cannot save a new one.",
                "Generate a key (openssl rand -base64 32), pass it with --new-key-stdin, "
                "then set SYNTHRAL_STORE_KEY to it.",
            )
        key = new_key if new_key is not None else crypto.generate_key()
        if len(key) != crypto.KEY_BYTES:
            raise UsageError("the new key must be 32 bytes.", "Generate one with: openssl rand -base64 32")
        new = crypto.KeySource(key, old.source, old.location)
        self.locator.save_pending(old, key)
        try:
            with self.locked():
                current = self._meta("key_check")
                if current is None or not self._opens(old.key, base64.b64decode(current)):
                    raise StoreError(
                        f"the key of {self.path} changed while rotating (another rotate-key ran); "
                        "nothing was changed here.",
                        "Run `synthral store status` to see which key opens the store now.",
                    )
                for slug, name, blob in self._execute(
                    "SELECT slug, name, secret FROM connections"
                ).fetchall():
                    aad = crypto.row_aad("connection", slug, name)
                    plain = self._open(blob, aad, f"connection {slug}/{name}")
                    self._execute(
                        "UPDATE connections SET secret = ? WHERE slug = ? AND name = ?",
                        (crypto.encrypt(key, plain, aad), slug, name),
                    )
                for slug, blob in self._execute("SELECT slug, client_secret FROM apps").fetchall():
                    if blob is None:
                        continue
                    aad = crypto.row_aad("app", slug)
                    plain = self._open(blob, aad, f"the app credentials of {slug}")
                    self._execute(
                        "UPDATE apps SET client_secret = ? WHERE slug = ?",
                        (crypto.encrypt(key, plain, aad), slug),
                    )
                check_text = base64.b64encode(
                    crypto.encrypt(key, KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
                ).decode()
                self._set_meta("key_check", check_text)
        except BaseException:
            self.locator.discard_pending()
            raise
        if new.source != "environment":
            self.locator.promote(new)
        self._key, self._check_text = new, check_text
        return new


# -- export / import (the payload inside an encrypted bundle) --------------------------------

BUNDLE_FORMAT = "synthral-connection"


def export_payload(store: Store, slug: str, name: str = "default") -> bytes:
    """One connection (with its secrets) and the connector's OAuth app, as JSON bytes."""
    from ..basics.errors import AuthError

    conn = store.get(slug, name)
    if conn is None:
        raise AuthError(f"no stored connection {slug}/{name} to export.", "See `synthral connections list`.")
    app = store.get_app(slug)
    data = {
        "format": BUNDLE_FORMAT,
        "version": 1,
        "exported_at": time.time(),
        "connection": {
            "slug": conn.slug,
            "name": conn.name,
            "method": conn.method,
            "scopes": conn.scopes,
            "expires_at": conn.expires_at,
            "config": conn.config,
            "secrets": conn.secrets,
            "metadata": conn.metadata,
        },
        "app": None if app is None else {"client_id": app.client_id, "client_secret": app.client_secret},
    }
    return json.dumps(data).encode()


def import_payload(
    store: Store, payload: bytes, *, name: str | None = None, replace_existing: bool = False
) -> tuple[Connection, bool]:
    """Store the connection of a bundle (as ``name`` if given); returns it and whether its OAuth app was
    stored too (only when none is configured here)."""
    from ..basics.redact import register

    try:
        data = json.loads(payload)
        if data.get("format") != BUNDLE_FORMAT or data.get("version") != 1:
            raise ValueError("unknown format")
        c = data["connection"]
        secrets = {str(k): str(v) for k, v in dict(c["secrets"]).items()}
        register(*secrets.values())
        conn = Connection(
            slug=str(c["slug"]),
            name=str(name or c["name"]),
            method=str(c["method"]),
            scopes=[str(s) for s in c.get("scopes") or []],
            expires_at=c.get("expires_at"),
            config=dict(c.get("config") or {}),
            secrets=secrets,
            metadata=dict(c.get("metadata") or {}),
        )
        app = data.get("app")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError("the bundle's content is not a synthral connection.", "Export it again.") from None
    with store.locked():
        if store.get(conn.slug, conn.name) is not None and not replace_existing:
            raise UsageError(
                f"a connection {conn.slug}/{conn.name} already exists.",
                "Pass --replace to overwrite it, or --connection NAME to import it under another name.",
            )
        stored = store.put(conn)
        app_stored = False
        if app and app.get("client_id") and store.get_app(conn.slug) is None:
            store.put_app(conn.slug, str(app["client_id"]), app.get("client_secret"))
            app_stored = True
    return stored, app_stored


# -- the `connections list` report (data only; shared by the Typer command and any fast path) ----


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def connection_rows(
    store: Store, env: Mapping[str, str], catalogue_slugs: Callable[[], Iterable[str]]
) -> builtins.list[dict[str, Any]]:
    """The ``connections list --json`` rows: stored connections plus ``SYNTHRAL_<SLUG>_TOKEN``
    variables (``source``: environment | nango | store). Reads metadata only, decrypts nothing.

    ``expires_at`` and ``last_tested_at`` are unix seconds here; ``iso_times`` turns them into
    ISO 8601 UTC for JSON. ``catalogue_slugs`` is called only when a token variable names no
    stored connector.
    """
    from ..basics.settings import token_var

    cur = store._execute(
        "SELECT slug, name, method, scopes, expires_at, last_test_ok, last_test_at, needs_reauth "
        "FROM connections ORDER BY slug, name"
    )
    env_vars = {k for k, v in env.items() if v and k.startswith("SYNTHRAL_") and k.endswith("_TOKEN")}
    var_of: dict[str, str] = {}
    health = {None: "untested", 1: "ok", 0: "failed"}
    rows: builtins.list[dict[str, Any]] = []
    for slug, name, method, scopes, expires_at, ok, tested, reauth in cur:
        var = var_of.get(slug)
        if var is None:
            var = var_of[slug] = token_var(slug)
        rows.append(
            {
                "connector_slug": slug,
                "connection": name,
                "method": method,
                "scopes": _loads(scopes, []),
                "expires_at": expires_at,
                "health": health[ok],
                "last_tested_at": tested,
                "source": "environment" if var in env_vars else ("nango" if method == "nango" else "store"),
                "needs_reauth": bool(reauth),
            }
        )
    unmatched = env_vars - set(var_of.values())
    if unmatched:
        extra: builtins.list[dict[str, Any]] = [
            {
                "connector_slug": slug,
                "connection": "default",
                "method": None,
                "scopes": [],
                "expires_at": None,
                "health": "untested",
                "last_tested_at": None,
                "source": "environment",
                "needs_reauth": False,
            }
            for slug in catalogue_slugs()
            if token_var(slug) in unmatched
        ]
        if extra:
            rows = sorted(rows + extra, key=lambda r: (r["connector_slug"], r["connection"]))
    return rows


def iso_times(rows: builtins.list[dict[str, Any]]) -> builtins.list[dict[str, Any]]:
    """``connection_rows`` output with its times as ISO 8601 UTC strings (the JSON shape)."""
    for r in rows:
        for k in ("expires_at", "last_tested_at"):
            if r[k] is not None:
                r[k] = _iso(r[k])
    return rows
