"""``Store``: the encrypted connection store callers use, sealing secrets above a backend.

``Store.open(settings)`` opens the backend (SQLite today, see ``backend.StoreBackend``) and wraps
it. Secrets are sealed here with the store key (``keys``) and AES-GCM (``crypto``) before a row
reaches the backend, and opened here after; the backend only ever sees ciphertext and metadata.

The key is loaded on the first operation that needs it, checked against the store's key check,
created for a store that has none (under the write lock), and followed when another process
rotates it. A store whose key check records AAD v1 is re-sealed under AAD v2 as soon as the key is
loaded (``reseal.upgrade_aad``); from then on only v2 rows open. Reading the list of connections
never needs the key.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..basics.errors import StoreError, UsageError
from .model import AppCredentials, Connection, check_name

if TYPE_CHECKING:
    from ..basics.settings import Settings
    from .backend import StoreBackend
    from .keys import KeyLocator, KeySource

__all__ = ["AppCredentials", "Connection", "StaleWrite", "Store", "check_name"]


class StaleWrite(StoreError):
    """A compare-and-swap ``put`` found a newer version stored: nothing was written."""


def _plain(value: Any) -> Any:
    """The value as a backend gives it back (JSON round trip): what the associated data covers."""
    return json.loads(json.dumps(value))


class Store:
    """The encrypted store. Open it with ``Store.open(settings)``; it is used by one thread."""

    def __init__(self, settings: Settings, backend: StoreBackend) -> None:
        self.settings = settings
        self.backend = backend
        self.location = backend.location
        self._key: KeySource | None = None
        self._check_text: str | None = None
        self._aad = 0  # the AAD version of the loaded key check
        self._locator: KeyLocator | None = None

    @classmethod
    def open(cls, settings: Settings, url: str | None = None, *, create: bool = True) -> Store:
        """Open (creating and migrating) the store of ``settings``: the one place a backend is
        chosen. ``url`` (else ``settings.store_url``) names a PostgreSQL store; none is the SQLite
        file of the config directory (``sqlite:`` says so explicitly). ``create=False`` for a
        command that only reads: a missing SQLite store is an empty one and no file is made."""
        url = settings.store_url if url is None else url
        if url and url.lower() not in ("sqlite", "sqlite:"):
            from .pg_url import is_postgres_url

            if not is_postgres_url(url):
                raise UsageError(
                    f"unknown store URL scheme {url.split(':', 1)[0]!r}.",
                    "Use postgresql://USER@HOST:PORT/DBNAME, or sqlite: for the file in the config directory.",
                )
            from .postgresql import PostgresBackend

            return cls(settings, PostgresBackend.open(settings, url))
        from .sqlite import SqliteBackend

        return cls(settings, SqliteBackend.open(settings, create=create))

    @property
    def created(self) -> bool:
        """Whether the store exists on disk (False: opened with ``create=False``, not there)."""
        return bool(getattr(self.backend, "created", True))

    @staticmethod
    def exists(settings: Settings) -> bool:
        """Whether there may be a store to read (a configured URL, or the file), creating none."""
        return bool(settings.store_url) or settings.paths.store.exists()

    @property
    def backend_name(self) -> str:
        return "postgresql" if type(self.backend).__name__ == "PostgresBackend" else "sqlite"

    def close(self) -> None:
        self.backend.close()

    def migrations(self) -> builtins.list[str]:
        return self.backend.migrations()

    @property
    def schema_version(self) -> int:
        return self.backend.schema_version()

    @contextmanager
    def locked(self, slug: str | None = None, name: str | None = None) -> Iterator[None]:
        """One writer across processes; get()/put() inside join it, an exception rolls it back.

        Naming the row (``locked(slug, name)``) lets a backend lock less than the whole store.
        """
        with self.backend.locked(slug, name):
            yield

    def take_notices(self) -> builtins.list[str]:
        """What the user should be told once (e.g. the key went to a file); each is returned once."""
        if self._locator is None:
            return []
        out, self._locator.notices[:] = builtins.list(self._locator.notices), []
        return out

    # -- the key -----------------------------------------------------------------------------

    @property
    def locator(self) -> KeyLocator:
        if self._locator is None:
            from .keys import KeyLocator

            self._locator = KeyLocator(self.settings)
        return self._locator

    def has_key(self) -> bool:
        """Whether a key was ever set up for this store (a check value exists)."""
        return self.backend.get_meta("key_check") is not None

    def key_source(self) -> KeySource:
        """The key, checked against the store's check value; created for a store that has none."""
        if self._key is not None:
            return self._key
        from . import crypto, reseal

        check = self.backend.get_meta("key_check")
        if check is None:
            with self.locked():
                check = self.backend.get_meta("key_check")
                if check is None:
                    created = self.locator.find(None) or self.locator.create()
                    if self.backend_name == "postgresql" and created.source != "environment":
                        self.locator.notices.append(
                            f"the key of the shared store {self.location} was saved on this machine only "
                            f"({created.describe()}); give every other machine the same key as "
                            "SYNTHRAL_STORE_KEY (from the team's secret manager)."
                        )
                    text = base64.b64encode(crypto.key_check_blob(created.key)).decode()
                    self.backend.set_meta("key_check", text)
                    self.backend.set_meta("key_source", created.source)
                    self._key, self._check_text, self._aad = created, text, crypto.AAD_VERSION
                    return created
        hint = self.backend.get_meta("key_source")
        try:
            blob = base64.b64decode(check, validate=True)
        except (binascii.Error, ValueError):
            blob = b""
        ks = self.locator.find(hint)
        version = crypto.check_version(ks.key, blob) if ks is not None else None
        if version is None and (ks is None or ks.source != "environment"):
            pending = self.locator.pending(hint)
            pending_version = crypto.check_version(pending.key, blob) if pending is not None else None
            if pending is not None and pending_version is not None:
                self.locator.promote(pending)  # finish a rotation that was interrupted
                ks, version = pending, pending_version
        if ks is None:
            where = {"keyring": "the OS keyring", "file": f"the key file {self.locator.key_file}"}.get(
                hint or "", "SYNTHRAL_STORE_KEY"
            )
            problem = f" ({self.locator.keyring.problem})" if hint == "keyring" and self.locator.keyring.problem else ""
            shared = self.backend_name == "postgresql"
            raise StoreError(
                f"no key found for the store {self.location}: it was kept in {where}{problem}"
                + (" on the machine that created it." if shared and hint != "environment" else "."),
                "Set SYNTHRAL_STORE_KEY to the store's key"
                + (" (the team's secret manager should hold it)." if shared else
                   ", or restore the key file / keyring entry."),
            )
        if version is None:
            raise StoreError(
                f"the store key from {ks.describe()} does not open the store {self.location} (wrong key); "
                "nothing was changed.",
                "Use the key the store was created with (see `synthral store status`), or move the store away.",
            )
        if version < crypto.AAD_VERSION:
            with self.locked():
                if self.backend.get_meta("key_check") != check:  # another process re-sealed meanwhile
                    return self.key_source()
                check = reseal.upgrade_aad(self.backend, ks.key)
                version = crypto.AAD_VERSION
        self._key, self._check_text, self._aad = ks, check, version
        return ks

    def _key_changed(self) -> bool:
        """Whether another process rotated the key or re-sealed the store since we loaded our key
        (then forget ours)."""
        if self._key is not None and self.backend.get_meta("key_check") != self._check_text:
            self._key = None
            return True
        return False

    def _sealing_key(self) -> bytes:
        """The current key, inside ``locked()``: a rotation by another process since our key was
        loaded is seen here, so two keys never mix in one store."""
        self._key_changed()
        return self.key_source().key

    def _open(self, blob: bytes, aad_of: Callable[[int], bytes], what: str) -> bytes:
        from . import crypto

        key = self.key_source().key
        try:
            return crypto.decrypt(key, blob, aad_of(self._aad))
        except crypto.DecryptError:
            if self._key_changed():
                return self._open(blob, aad_of, what)
            from .reseal import altered

            raise altered(what, self.location) from None

    # -- connections -------------------------------------------------------------------------

    def list(self) -> builtins.list[Connection]:
        """Every connection, sorted; metadata only (nothing is decrypted, ``secrets == {}``)."""
        return self.backend.list_rows()

    def count(self) -> int:
        return self.backend.count()

    def get(self, slug: str, name: str = "default") -> Connection | None:
        """One connection with its secrets decrypted, or ``None``."""
        from . import crypto

        row = self.backend.get_row(slug, name)
        if row is not None and self._key is None:
            self.key_source()  # loading the key may re-seal every row (AAD upgrade): read it again
            row = self.backend.get_row(slug, name)
        if row is None:
            return None
        conn, blob = row
        raw = self._open(blob, lambda v: crypto.connection_aad(conn, v), f"connection {slug}/{name}")
        conn.secrets = json.loads(raw)
        from ..basics.redact import register

        register(*conn.secrets.values())
        return conn

    def put(self, conn: Connection, *, if_version: int | None = None) -> Connection:
        """Insert or replace; returns the stored connection (``version`` bumped, times set).

        With ``if_version`` it is compare-and-swap: written only if the stored version is still
        that one (``0``: no row), else ``StaleWrite`` and nothing changes (a refresh that lost
        its lock never overwrites a newer token)."""
        from ..basics.redact import register
        from . import crypto

        check_name(conn.slug, "connector slug")
        check_name(conn.name, "connection name")
        secrets = {str(k): str(v) for k, v in conn.secrets.items()}
        register(*secrets.values())
        with self.locked(conn.slug, conn.name):
            key = self._sealing_key()
            head = self.backend.version_of(conn.slug, conn.name)
            if if_version is not None and (head[0] if head else 0) != if_version:
                raise StaleWrite(
                    f"connection {conn.slug}/{conn.name} was changed by another process (version "
                    f"{head[0] if head else 0}, expected {if_version}); nothing was written.",
                    "Retry the command: it reads the newer connection.",
                )
            now = time.time()
            stored = replace(
                conn,
                scopes=_plain(list(conn.scopes)),
                expires_at=None if conn.expires_at is None else float(conn.expires_at),
                config=_plain(conn.config),
                metadata=_plain(conn.metadata),
                origins=_plain(list(conn.origins)),
                secrets=secrets,
                version=(head[0] if head else 0) + 1,
                created_at=(head[1] if head else None) or conn.created_at or now,
                updated_at=now,
            )
            blob = crypto.encrypt(key, json.dumps(secrets).encode(), crypto.connection_aad(stored, self._aad))
            if not self.backend.put_row(replace(stored, secrets={}), blob, if_version=head[0] if head else 0):
                raise StoreError(  # cannot happen under the lock; a backend that breaks it must not lose data
                    f"connection {conn.slug}/{conn.name} changed while it was being stored; nothing was written.",
                    "Retry the command.",
                )
        return stored

    def remove(self, slug: str, name: str = "default") -> bool:
        with self.locked(slug, name):
            return self.backend.remove_row(slug, name)

    def record_test(self, slug: str, name: str, ok: bool | None, message: str | None) -> None:
        """The outcome of ``synthral test``: ok, failed, or None when the provider could not be
        reached (``connections list`` shows "unreachable", not a bad credential)."""
        with self.locked(slug, name):
            self.backend.record_test(slug, name, ok, message, time.time())

    def mark_needs_reauth(self, slug: str, name: str, *, if_version: int) -> bool:
        """Flag the connection, unless another process stored a newer version meanwhile."""
        with self.locked(slug, name):
            return self.backend.mark_needs_reauth(slug, name, if_version=if_version)

    def touch(self, slug: str, name: str) -> None:
        with self.locked(slug, name):
            self.backend.touch(slug, name, time.time())

    # -- OAuth apps --------------------------------------------------------------------------

    def get_app(self, slug: str) -> AppCredentials | None:
        from . import crypto

        row = self.backend.get_app_row(slug)
        if row is not None and row[1] is not None and self._key is None:
            self.key_source()  # may re-seal (AAD upgrade): read it again
            row = self.backend.get_app_row(slug)
        if row is None:
            return None
        app, blob = row
        if blob is not None:
            from ..basics.redact import register

            aad_of = lambda v: crypto.app_aad(slug, app.client_id, v)  # noqa: E731
            app.client_secret = self._open(blob, aad_of, f"the app credentials of {slug}").decode()
            register(app.client_secret)
        return app

    def put_app(self, slug: str, client_id: str, client_secret: str | None) -> None:
        from ..basics.redact import register
        from . import crypto

        check_name(slug, "connector slug")
        if client_secret:
            register(client_secret)
        with self.locked():
            blob = None
            if client_secret:
                key = self._sealing_key()
                blob = crypto.encrypt(key, client_secret.encode(), crypto.app_aad(slug, client_id, self._aad))
            self.backend.put_app_row(AppCredentials(slug, client_id, None, time.time()), blob)

    def remove_app(self, slug: str) -> bool:
        with self.locked():
            return self.backend.remove_app_row(slug)

    # -- status and rotation -----------------------------------------------------------------

    def rotate_key(self, new_key: bytes | None = None) -> KeySource:
        """Re-encrypt every secret under a new key in one transaction; save the key where the old one was.

        For a key from ``SYNTHRAL_STORE_KEY`` the new key must be given (the caller sets the variable).
        """
        from . import crypto, reseal
        from .keys import KeySource

        old = self.key_source()  # also brings the store to the current AAD version
        if old.source == "environment" and new_key is None:
            raise UsageError(
                "the store key comes from SYNTHRAL_STORE_KEY, so synthral cannot save a new one.",
                "Generate a key (openssl rand -base64 32), pass it with --new-key-stdin, "
                "then set SYNTHRAL_STORE_KEY to it.",
            )
        key = new_key if new_key is not None else crypto.generate_key()
        if len(key) != crypto.KEY_BYTES:
            raise UsageError("the new key must be 32 bytes.", "Generate one with: openssl rand -base64 32")
        new = KeySource(key, old.source, old.location)
        self.locator.save_pending(old, key)
        try:
            with self.locked():
                check = reseal.rotate_rows(self.backend, old.key, key)
        except BaseException:
            self.locator.discard_pending()
            raise
        if new.source != "environment":
            self.locator.promote(new)
        self._key, self._check_text, self._aad = new, check, crypto.AAD_VERSION
        return new
