"""The store backend protocol (issue 13, item 3; issue 19): ``Store`` runs unchanged over SQLite,
an in-memory backend and a real PostgreSQL server (tests/pgcluster.py).

``MemoryBackend`` implements ``StoreBackend`` with dictionaries and a lock, the way a PostgreSQL
backend would with tables and a transaction. The same tests run over it and over SQLite: the
public API, compare-and-swap on the version, rollback, key rotation, the AAD v1 -> v2 upgrade,
and that a backend is handed ciphertext only.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from synthral_cli.basics.errors import StoreError
from synthral_cli.basics.settings import Settings
from synthral_cli.store import crypto
from synthral_cli.store.encrypted import Store
from synthral_cli.store.model import AppCredentials, Connection
from synthral_cli.store.sqlite import SqliteBackend
from tests.invoke_support import STORE_KEY

SECRET = "sk-BACKEND-4b9e1d-distinctive"


class MemoryBackend:
    """``StoreBackend`` in memory; a write outside ``locked()`` or a plaintext secret is a bug."""

    location = "memory:test"

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[Connection, bytes]] = {}
        self.apps: dict[str, tuple[AppCredentials, bytes | None]] = {}
        self.meta: dict[str, str] = {}
        self.locks: list[tuple[str | None, str | None]] = []
        self._mutex = threading.RLock()
        self._depth = 0

    def close(self) -> None:
        pass

    def schema_version(self) -> int:
        return 1

    def migrations(self) -> list[str]:
        return ["memory_initial"]

    def count(self) -> int:
        return len(self.rows)

    def app_count(self) -> int:
        return len(self.apps)

    @contextmanager
    def locked(self, slug: str | None = None, name: str | None = None) -> Iterator[None]:
        self.locks.append((slug, name))
        with self._mutex:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            saved = copy.deepcopy((self.rows, self.apps, self.meta))
            self._depth = 1
            try:
                yield
            except BaseException:
                self.rows, self.apps, self.meta = saved
                raise
            finally:
                self._depth = 0

    def _writing(self) -> None:
        assert self._depth, "a backend write outside locked()"

    def get_row(self, slug: str, name: str) -> tuple[Connection, bytes] | None:
        row = self.rows.get((slug, name))
        return None if row is None else (copy.deepcopy(row[0]), row[1])

    def version_of(self, slug: str, name: str) -> tuple[int, float | None] | None:
        row = self.rows.get((slug, name))
        return None if row is None else (row[0].version, row[0].created_at)

    def list_rows(self) -> list[Connection]:
        return [copy.deepcopy(self.rows[k][0]) for k in sorted(self.rows)]

    def report_rows(self):
        for key in sorted(self.rows):
            c = self.rows[key][0]
            ok = None if c.last_test_ok is None else int(c.last_test_ok)
            yield (
                c.slug,
                c.name,
                c.method,
                json.dumps(c.scopes),
                c.expires_at,
                ok,
                c.last_test_at,
                int(c.needs_reauth),
            )

    def put_row(self, conn: Connection, sealed: bytes, *, if_version: int) -> bool:
        self._writing()
        assert conn.secrets == {} and isinstance(sealed, bytes), "plaintext reached the backend"
        current = self.rows.get((conn.slug, conn.name))
        if (current[0].version if current else 0) != if_version:
            return False
        self.rows[(conn.slug, conn.name)] = (copy.deepcopy(conn), sealed)
        return True

    def remove_row(self, slug: str, name: str) -> bool:
        self._writing()
        return self.rows.pop((slug, name), None) is not None

    def _update(self, slug: str, name: str, **changes: object) -> bool:
        self._writing()
        row = self.rows.get((slug, name))
        if row is None:
            return False
        self.rows[(slug, name)] = (replace(row[0], **changes), row[1])  # type: ignore[arg-type]
        return True

    def record_test(self, slug: str, name: str, ok: bool, message: str | None, at: float) -> None:
        self._update(slug, name, last_test_ok=ok, last_test_message=message, last_test_at=at)

    def touch(self, slug: str, name: str, at: float) -> None:
        self._update(slug, name, last_used_at=at)

    def mark_needs_reauth(self, slug: str, name: str, *, if_version: int) -> bool:
        row = self.rows.get((slug, name))
        return row is not None and row[0].version == if_version and self._update(slug, name, needs_reauth=True)

    def get_app_row(self, slug: str) -> tuple[AppCredentials, bytes | None] | None:
        row = self.apps.get(slug)
        return None if row is None else (copy.deepcopy(row[0]), row[1])

    def app_slugs(self) -> list[str]:
        return sorted(self.apps)

    def put_app_row(self, app: AppCredentials, sealed: bytes | None) -> None:
        self._writing()
        assert app.client_secret is None, "plaintext reached the backend"
        self.apps[app.slug] = (copy.deepcopy(app), sealed)

    def remove_app_row(self, slug: str) -> bool:
        self._writing()
        return self.apps.pop(slug, None) is not None

    def get_meta(self, key: str) -> str | None:
        return self.meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self._writing()
        self.meta[key] = value


def settings(**extra: str) -> Settings:
    return Settings({**os.environ, "SYNTHRAL_STORE_KEY": STORE_KEY, **extra})


@pytest.fixture(params=["sqlite", "memory", "postgresql"])
def store(request, config_dir) -> Iterator[Store]:
    s = settings()
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_store_url")
        st = Store.open(settings(SYNTHRAL_STORE_URL=url))
        assert type(st.backend).__name__ == "PostgresBackend"
    else:
        st = Store(s, SqliteBackend.open(s) if request.param == "sqlite" else MemoryBackend())
    yield st
    st.close()


def test_the_public_api_over_any_backend(store):
    assert store.get("slack") is None and store.list() == [] and store.count() == 0
    first = store.put(
        Connection(
            "slack",
            scopes=["chat:write"],
            config={"team": "T1"},
            origins=["https://slack.com"],
            secrets={"token": SECRET},
        )
    )
    second = store.put(replace(first, secrets={"token": SECRET + "-2"}))
    assert (first.version, second.version, second.created_at) == (1, 2, first.created_at)
    got = store.get("slack")
    assert got.secrets == {"token": SECRET + "-2"} and got.origins == ["https://slack.com"]
    assert [(c.slug, c.secrets) for c in store.list()] == [("slack", {})]
    store.record_test("slack", "default", False, "401")
    store.touch("slack", "default")
    assert store.mark_needs_reauth("slack", "default", if_version=1) is False  # a newer version exists
    assert store.mark_needs_reauth("slack", "default", if_version=2) is True
    got = store.get("slack")
    assert (got.last_test_ok, got.last_test_message, got.needs_reauth, got.version) == (False, "401", True, 2)
    assert got.last_used_at is not None
    store.put_app("slack", "cid", SECRET)
    assert store.get_app("slack").client_secret == SECRET
    from synthral_cli.store.report import connection_rows, store_status

    rows = connection_rows(store, {}, lambda: [])
    assert [(r["connector_slug"], r["health"], r["needs_reauth"]) for r in rows] == [("slack", "failed", True)]
    status = store_status(store)
    assert (status["connection_count"], status["app_count"], status["key_source"]) == (1, 1, "environment")
    assert store.remove("slack") and not store.remove("slack") and store.remove_app("slack")


def test_put_row_is_compare_and_swap(store):
    stored = store.put(Connection("slack", secrets={"token": SECRET}))
    conn, sealed = store.backend.get_row("slack", "default")
    with store.locked():
        assert store.backend.put_row(replace(conn, version=9), sealed, if_version=0) is False  # a row exists
        assert store.backend.put_row(replace(conn, version=9), sealed, if_version=5) is False  # not version 5
        assert store.backend.put_row(replace(conn, version=2), sealed, if_version=stored.version) is True
    assert store.backend.version_of("slack", "default")[0] == 2


def test_locked_rolls_back_and_nests(store):
    store.put(Connection("slack", secrets={"token": "before"}))
    with pytest.raises(RuntimeError), store.locked("slack", "default"):
        store.put(Connection("slack", secrets={"token": "after"}))
        with store.locked():
            store.put(Connection("asana", secrets={"token": "nested"}))
        raise RuntimeError("boom")
    assert store.get("slack").secrets == {"token": "before"} and store.get("asana") is None


def test_a_backend_never_holds_a_plaintext_secret(config_dir):
    backend = MemoryBackend()
    store = Store(settings(), backend)
    store.put(Connection("slack", secrets={"token": SECRET}, config={"team": "T1"}))
    store.put_app("slack", "cid", SECRET + "-app")
    assert SECRET not in repr(backend.rows) + repr(backend.apps) + repr(backend.meta)
    assert all(SECRET.encode() not in sealed for _, sealed in backend.rows.values())
    assert ("slack", "default") in backend.locks  # writes name the row they lock


def test_an_edited_row_does_not_open_over_any_backend(store):
    store.put(Connection("slack", config={"api": "https://slack.com"}, secrets={"token": SECRET}))
    conn, sealed = store.backend.get_row("slack", "default")
    with store.locked():
        store.backend.put_row(replace(conn, config={"api": "https://evil.example"}), sealed, if_version=conn.version)
    with pytest.raises(StoreError, match="altered"):
        store.get("slack")


def test_rotation_and_the_aad_upgrade_over_any_backend(store):
    key = crypto.generate_key()
    # a v1 store written directly into the backend: check, a connection and an app
    with store.locked():
        store.backend.set_meta("key_check", base64.b64encode(crypto.key_check_blob(_env_key(), 1)).decode())
        store.backend.set_meta("key_source", "environment")
        conn = Connection("slack", config={"team": "T1"}, version=4, created_at=1.0, updated_at=1.0)
        blob = crypto.encrypt(_env_key(), json.dumps({"token": SECRET}).encode(), crypto.connection_aad(conn, 1))
        store.backend.put_row(conn, blob, if_version=0)
        app_blob = crypto.encrypt(_env_key(), SECRET.encode(), crypto.app_aad("slack", "cid", 1))
        store.backend.put_app_row(AppCredentials("slack", "cid", None, 1.0), app_blob)
    assert store.get("slack").secrets == {"token": SECRET} and store.get("slack").version == 4
    assert store.get_app("slack").client_secret == SECRET
    check = base64.b64decode(store.backend.get_meta("key_check"))
    assert crypto.check_version(_env_key(), check) == 2
    store.rotate_key(key)
    assert store.get("slack").secrets == {"token": SECRET} and store.get_app("slack").client_secret == SECRET
    fresh = Store(settings(SYNTHRAL_STORE_KEY=base64.b64encode(key).decode()), store.backend)
    assert fresh.get("slack").secrets == {"token": SECRET}


def _env_key() -> bytes:
    from synthral_cli.store.keys import decode_key

    return decode_key(STORE_KEY, "test")
