"""The encrypted store on real files: schema, encryption, keys, permissions, faults (issue 3)."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from synthral_cli.basics.errors import StoreError, UsageError
from synthral_cli.basics.settings import Settings
from synthral_cli.store import keys
from synthral_cli.store.encrypted import Connection, Store
from synthral_cli.store.report import store_status
from synthral_cli.store.sqlite_schema import APPLICATION_ID

SECRETS = {
    "access_token": "AT-zq9VvXoW3kJ7-distinctive-access",
    "refresh_token": "RT-mP4sLw8Qx2-distinctive-refresh",
}
APP_SECRET = "CS-hY6tRb1Nn5-distinctive-client-secret"


@pytest.fixture(autouse=True)
def no_os_keyring(monkeypatch):
    """Never touch the developer's real keyring: the null backend unless a test sets one."""
    import keyring
    from keyring.backends import null

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    keyring.set_keyring(null.Keyring())
    yield
    keyring.set_keyring(null.Keyring())


class DictKeyring:
    """A working keyring backend kept in memory (no Secret Service runs in CI containers)."""

    def __new__(cls):
        from keyring.backend import KeyringBackend

        class _Backend(KeyringBackend):
            priority = 1  # type: ignore[assignment]

            def __init__(self):
                super().__init__()
                self.data: dict[tuple[str, str], str] = {}

            def get_password(self, service, username):
                return self.data.get((service, username))

            def set_password(self, service, username, password):
                self.data[(service, username)] = password

            def delete_password(self, service, username):
                self.data.pop((service, username), None)

        return _Backend()


def settings(extra: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ)
    env.update(extra or {})
    return Settings(env)


def open_store(extra: dict[str, str] | None = None) -> Store:
    return Store.open(settings(extra))


def env_key() -> str:
    return keys.encode_key(keys.generate_key())


def snapshot(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- the API ----------------------------------------------------------------------------------


def test_put_get_list_round_trip(config_dir):
    store = open_store()
    assert store.get("slack") is None
    stored = store.put(
        Connection("slack", scopes=["chat:write"], expires_at=1e9, config={"team": "T1"}, secrets=SECRETS)
    )
    assert stored.version == 1 and stored.created_at and stored.updated_at
    again = store.put(replace(stored, secrets={**SECRETS, "access_token": "AT-2-rotated-value"}))
    assert again.version == 2 and again.created_at == stored.created_at

    got = store.get("slack")
    assert got is not None
    assert got.secrets["access_token"] == "AT-2-rotated-value"
    assert (got.scopes, got.expires_at, got.config, got.version) == (["chat:write"], 1e9, {"team": "T1"}, 2)
    listed = store.list()
    assert [(c.slug, c.name, c.secrets, c.version) for c in listed] == [("slack", "default", {}, 2)]
    assert SECRETS["refresh_token"] not in repr(got)
    assert store.remove("slack") is True and store.remove("slack") is False
    assert store.list() == [] and store.count() == 0


def test_several_connections_sorted_and_names_validated(config_dir):
    store = open_store()
    for slug, name in [("slack", "work"), ("asana", "default"), ("slack", "default")]:
        store.put(Connection(slug, name, secrets={"token": f"tok-{slug}-{name}"}))
    assert [(c.slug, c.name) for c in store.list()] == [
        ("asana", "default"),
        ("slack", "default"),
        ("slack", "work"),
    ]
    assert store.get("slack", "work").secrets == {"token": "tok-slack-work"}
    with pytest.raises(UsageError):
        store.put(Connection("slack", "bad\0name"))
    with pytest.raises(UsageError):
        store.put(Connection("", "x"))


def test_record_test_touch_and_needs_reauth_compare_and_swap(config_dir):
    store = open_store()
    c = store.put(Connection("slack", secrets=SECRETS))
    store.record_test("slack", "default", False, "401 invalid_auth")
    store.touch("slack", "default")
    got = store.get("slack")
    assert (got.last_test_ok, got.last_test_message) == (False, "401 invalid_auth")
    assert got.last_test_at and got.last_used_at and got.version == c.version  # metadata: no bump
    assert store.mark_needs_reauth("slack", "default", if_version=c.version + 1) is False
    assert store.get("slack").needs_reauth is False
    assert store.mark_needs_reauth("slack", "default", if_version=c.version) is True
    assert store.list()[0].needs_reauth is True
    assert store.put(replace(store.get("slack"), needs_reauth=False)).needs_reauth is False


def test_app_credentials(config_dir):
    store = open_store()
    assert store.get_app("github") is None
    store.put_app("github", "Iv1.abc", APP_SECRET)
    app = store.get_app("github")
    assert (app.client_id, app.client_secret) == ("Iv1.abc", APP_SECRET)
    assert APP_SECRET not in repr(app)
    store.put_app("github", "Iv1.public", None)
    assert store.get_app("github").client_secret is None
    assert store.remove_app("github") and store.get_app("github") is None


def test_locked_rolls_back_on_error_and_nests(config_dir):
    store = open_store()
    store.put(Connection("slack", secrets={"token": "before-value"}))
    with pytest.raises(RuntimeError):
        with store.locked():
            store.put(Connection("slack", secrets={"token": "after-value"}))
            with store.locked():
                store.put(Connection("asana", secrets={"token": "nested-value"}))
            raise RuntimeError("boom")
    assert store.get("slack").secrets == {"token": "before-value"}
    assert store.get("asana") is None
    assert not store.backend.conn.in_transaction


def test_schema_migrations_recorded_wal_and_busy_timeout(config_dir):
    store = open_store()
    assert store.migrations() == ["m001_initial", "m002_origins", "m003_aad_v2"]
    assert store.schema_version == 3
    raw = sqlite3.connect(config_dir / "store.db")
    assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [r[0] for r in raw.execute("SELECT name FROM _migrations")] == [
        "m001_initial",
        "m002_origins",
        "m003_aad_v2",
    ]
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"connections", "apps", "meta", "_migrations"} <= tables
    cols = {r[1] for r in raw.execute("PRAGMA table_info(connections)")}
    assert {
        "slug",
        "name",
        "method",
        "scopes",
        "expires_at",
        "config",
        "metadata",
        "secret",
        "created_at",
        "updated_at",
        "last_used_at",
        "last_test_ok",
        "last_test_at",
        "last_test_message",
        "needs_reauth",
        "version",
        "origins",
    } == cols
    raw.close()
    assert store.backend.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    store.close()
    again = open_store()  # reopening does not migrate twice
    assert again.migrations() == ["m001_initial", "m002_origins", "m003_aad_v2"]


# -- no plaintext on disk ---------------------------------------------------------------------


def test_byte_scan_finds_no_secret_in_any_file(config_dir):
    store = open_store()
    for i in range(30):
        store.put(Connection(f"svc{i}", secrets={k: f"{v}-{i}" for k, v in SECRETS.items()}, scopes=["read"]))
    store.put_app("github", "Iv1.abc", APP_SECRET)
    with store.locked():
        store.put(Connection("slack", secrets=SECRETS))
    needles = [s.encode() for s in (*SECRETS.values(), APP_SECRET)]

    def scan():
        files = [p for p in config_dir.rglob("*") if p.is_file() and p.name != "store.key"]
        for p in files:
            data = p.read_bytes()
            for n in needles:
                assert n not in data, f"plaintext secret found in {p.name}"
        return files

    names = {p.name for p in scan()}  # the WAL is live while the store is open
    assert "store.db-wal" in names
    store.rotate_key()
    scan()
    store.close()
    scan()


# -- permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_private_permissions_whatever_the_umask(config_dir, monkeypatch, umask):
    nested = config_dir / "fresh" / "synthral"
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(nested))
    old = os.umask(umask)
    try:
        store = open_store()
        store.put(Connection("slack", secrets=SECRETS))
        assert mode(nested) == 0o700
        for name in ("store.db", "store.key", "store.db-wal", "store.db-shm"):
            assert mode(nested / name) == 0o600, name
        store.close()
    finally:
        os.umask(old)


def test_private_permissions_in_a_subprocess_with_umask_000(config_dir, tmp_path):
    target = tmp_path / "cfg"
    script = (
        "from synthral_cli.api import Synthral\n"
        "from synthral_cli.store.model import Connection\n"
        "Synthral().store.put(Connection('slack', secrets={'token': 'subprocess-secret-value'}))\n"
    )
    env = {**os.environ, "SYNTHRAL_CONFIG_DIR": str(target)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, umask=0, timeout=60)
    assert mode(target) == 0o700
    assert mode(target / "store.db") == 0o600 and mode(target / "store.key") == 0o600


# -- keys -------------------------------------------------------------------------------------


def test_key_file_is_created_once_and_reused(config_dir):
    store = open_store()
    store.put(Connection("slack", secrets=SECRETS))
    key_file = config_dir / "store.key"
    first = key_file.read_bytes()
    assert len(keys.decode_key(first.decode(), "test")) == 32
    assert store.key_source().source == "file"
    store.close()
    again = open_store()
    assert again.get("slack").secrets == SECRETS
    assert key_file.read_bytes() == first


def test_env_key_is_used_and_never_written(config_dir):
    key = env_key()
    store = open_store({"SYNTHRAL_STORE_KEY": key})
    store.put(Connection("slack", secrets=SECRETS))
    assert store.key_source().source == "environment"
    assert not (config_dir / "store.key").exists()
    for p in config_dir.iterdir():
        assert key.encode() not in p.read_bytes()
    # standard base64 with padding names the same key
    std = base64.b64encode(keys.decode_key(key, "x")).decode()
    assert open_store({"SYNTHRAL_STORE_KEY": std}).get("slack").secrets == SECRETS


@pytest.mark.parametrize("bad", ["short", "not base64 !!!", base64.b64encode(b"x" * 31).decode()])
def test_malformed_env_key_is_a_store_error(config_dir, bad):
    store = open_store({"SYNTHRAL_STORE_KEY": bad})
    with pytest.raises(StoreError, match="SYNTHRAL_STORE_KEY is not valid"):
        store.put(Connection("slack", secrets=SECRETS))
    assert store.count() == 0


def test_wrong_key_is_detected_and_nothing_is_written(config_dir):
    store = open_store({"SYNTHRAL_STORE_KEY": env_key()})
    store.put(Connection("slack", secrets=SECRETS))
    store.close()
    before = snapshot(config_dir)
    wrong = open_store({"SYNTHRAL_STORE_KEY": env_key()})
    with pytest.raises(StoreError, match="environment variable SYNTHRAL_STORE_KEY does not open"):
        wrong.get("slack")
    with pytest.raises(StoreError):
        wrong.put(Connection("slack", secrets={"token": "overwrite-attempt"}))
    with pytest.raises(StoreError):
        wrong.put_app("slack", "id", "secret-attempt")
    assert [c.slug for c in wrong.list()] == ["slack"]  # metadata stays readable
    wrong.close()
    assert snapshot(config_dir) == before


def test_wrong_key_file_is_named(config_dir):
    store = open_store()
    store.put(Connection("slack", secrets=SECRETS))
    store.close()
    (config_dir / "store.key").write_text(env_key() + "\n")
    with pytest.raises(StoreError, match=r"key file .*store\.key does not open"):
        open_store().get("slack")


def test_missing_key_is_not_silently_replaced(config_dir):
    store = open_store()
    store.put(Connection("slack", secrets=SECRETS))
    store.close()
    (config_dir / "store.key").unlink()
    with pytest.raises(StoreError, match="no key found .* key file"):
        open_store().get("slack")
    assert not (config_dir / "store.key").exists()


def test_ciphertext_moved_to_another_row_fails(config_dir):
    store = open_store()
    store.put(Connection("slack", secrets={"token": "slack-token-value"}))
    store.put(Connection("asana", secrets={"token": "asana-token-value"}))
    store.put_app("github", "id", APP_SECRET)
    store.close()
    raw = sqlite3.connect(config_dir / "store.db", isolation_level=None)
    blob = raw.execute("SELECT secret FROM connections WHERE slug='slack'").fetchone()[0]
    raw.execute("UPDATE connections SET secret=? WHERE slug='asana'", (blob,))
    raw.execute("UPDATE apps SET client_secret=? WHERE slug='github'", (blob,))
    raw.close()
    store = open_store()
    assert store.get("slack").secrets == {"token": "slack-token-value"}
    with pytest.raises(StoreError, match="connection asana/default .* altered or copied"):
        store.get("asana")
    with pytest.raises(StoreError, match="github"):
        store.get_app("github")


def test_keyring_is_used_when_a_backend_works(config_dir):
    import keyring

    backend = DictKeyring()
    keyring.set_keyring(backend)
    store = open_store()
    store.put(Connection("slack", secrets=SECRETS))
    assert not (config_dir / "store.key").exists()
    ks = store.key_source()
    assert ks.source == "keyring" and str(config_dir.resolve()) in ks.location
    assert list(backend.data) == [("synthral", f"store-key:{config_dir.resolve()}")]
    assert store_status(store)["key_source"] == "keyring"
    store.close()
    assert open_store().get("slack").secrets == SECRETS
    old = dict(backend.data)
    store = open_store()
    store.rotate_key()
    assert backend.data != old and len(backend.data) == 1  # pending entry promoted and removed
    store.close()
    assert open_store().get("slack").secrets == SECRETS


def test_a_failing_keyring_backend_counts_as_absent(config_dir):
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    store = open_store()
    store.put(Connection("slack", secrets=SECRETS))
    assert store.key_source().source == "file"


def test_a_hanging_keyring_is_abandoned_after_the_timeout(config_dir, monkeypatch):
    import keyring

    release = threading.Event()
    backend = DictKeyring()
    backend.get_password = lambda s, u: release.wait(30)
    backend.set_password = lambda s, u, p: release.wait(30)
    keyring.set_keyring(backend)
    monkeypatch.setattr(keys, "KEYRING_TIMEOUT", 0.3)
    try:
        started = time.monotonic()
        store = open_store()
        store.put(Connection("slack", secrets=SECRETS))
        assert time.monotonic() - started < 3
        assert store.key_source().source == "file"
        assert open_store().get("slack").secrets == SECRETS
    finally:
        release.set()


# -- rotation ---------------------------------------------------------------------------------


def test_rotate_key_file_source(config_dir):
    store = open_store()
    store.put(Connection("slack", secrets=SECRETS))
    store.put_app("slack", "id", APP_SECRET)
    old_key = (config_dir / "store.key").read_text().strip()
    store.rotate_key()
    new_key = (config_dir / "store.key").read_text().strip()
    assert new_key != old_key and mode(config_dir / "store.key") == 0o600
    assert not (config_dir / "store.key.new").exists()
    store.close()
    fresh = open_store()
    assert fresh.get("slack").secrets == SECRETS and fresh.get_app("slack").client_secret == APP_SECRET
    with pytest.raises(StoreError, match="does not open"):
        open_store({"SYNTHRAL_STORE_KEY": old_key}).get("slack")


def test_rotate_env_key_needs_the_new_key(config_dir):
    old, new = env_key(), env_key()
    store = open_store({"SYNTHRAL_STORE_KEY": old})
    store.put(Connection("slack", secrets=SECRETS))
    with pytest.raises(UsageError, match="SYNTHRAL_STORE_KEY"):
        store.rotate_key()
    store.rotate_key(keys.decode_key(new, "test"))
    store.close()
    assert open_store({"SYNTHRAL_STORE_KEY": new}).get("slack").secrets == SECRETS
    with pytest.raises(StoreError):
        open_store({"SYNTHRAL_STORE_KEY": old}).get("slack")
    assert not (config_dir / "store.key").exists()


def test_interrupted_rotation_is_finished_on_next_open(config_dir, monkeypatch):
    store = open_store()
    store.put(Connection("slack", secrets=SECRETS))

    def crash(ks):
        raise KeyboardInterrupt  # the process dies after the commit, before the key file moves

    monkeypatch.setattr(store.locator, "promote", crash)
    with pytest.raises(KeyboardInterrupt):
        store.rotate_key()
    store.close()
    assert (config_dir / "store.key.new").exists()
    fresh = open_store()
    assert fresh.get("slack").secrets == SECRETS
    assert not (config_dir / "store.key.new").exists()
    fresh.close()
    assert open_store().get("slack").secrets == SECRETS


def test_failed_rotation_keeps_the_old_key(config_dir):
    store = open_store()
    store.put(Connection("slack", secrets=SECRETS))
    raw = sqlite3.connect(config_dir / "store.db", isolation_level=None)
    raw.execute("UPDATE connections SET secret = x'00' WHERE slug = 'slack'")  # an unreadable row
    raw.close()
    store.put(Connection("asana", secrets={"token": "asana-token-value"}))
    old = (config_dir / "store.key").read_bytes()
    with pytest.raises(StoreError):
        store.rotate_key()
    assert (config_dir / "store.key").read_bytes() == old
    assert not (config_dir / "store.key.new").exists()
    assert open_store().get("asana").secrets == {"token": "asana-token-value"}


# -- corrupt and foreign files ----------------------------------------------------------------


def _foreign_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('hello')")
    db.commit()
    db.close()


def _newer_schema(path: Path) -> None:
    open_store().close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()


def _other_app(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA application_id = 1234")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(os.urandom(8192)), "not a synthral store"),
        (lambda p: p.write_bytes(b"SQLite format 3\0" + os.urandom(4000)), "not a synthral store"),
        (_foreign_sqlite, "SQLite database with other tables"),
        (_other_app, "application id"),
        (_newer_schema, "newer than this synthral"),
    ],
    ids=["random-bytes", "bad-header", "foreign-sqlite", "other-application", "newer-schema"],
)
def test_foreign_or_corrupt_file_is_never_touched(config_dir, make, message):
    path = config_dir / "store.db"
    make(path)
    for extra in config_dir.glob("store.db-*"):
        extra.unlink()
    before = snapshot(config_dir)
    with pytest.raises(StoreError, match=message) as info:
        store = open_store()
        store.put(Connection("slack", secrets=SECRETS))
    assert info.value.exit_code == 5 and info.value.hint
    assert snapshot(config_dir) == before


def test_damaged_store_is_an_error_not_a_reset(config_dir):
    store = open_store()
    for i in range(400):
        store.put(Connection(f"svc{i:03}", secrets={"token": f"token-{i}"}, config={"pad": "x" * 200}))
    store.close()
    path = config_dir / "store.db"
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data) - page, page):
        data[offset : offset + 64] = os.urandom(64)
    path.write_bytes(bytes(data))
    before = snapshot(config_dir)
    store = None
    with pytest.raises(StoreError) as info:
        store = open_store()
        store.list()
    assert info.value.exit_code == 5 and "damaged" in info.value.message
    if store is not None:
        store.close()
    assert snapshot(config_dir) == before


def test_rotation_by_another_process_meanwhile_is_detected(config_dir):
    first = open_store()
    first.put(Connection("slack", secrets=SECRETS))
    second = open_store()
    second.rotate_key()  # "another process" rotated after `first` loaded its key
    with pytest.raises(StoreError, match="changed while rotating"):
        first.rotate_key()
    assert open_store().get("slack").secrets == SECRETS


def test_a_long_running_process_follows_a_rotation_by_another(config_dir):
    long_running = open_store()
    long_running.put(Connection("slack", secrets=SECRETS))
    other = open_store()
    other.rotate_key()
    other.close()
    # reads and writes after the rotation use the new key: nothing is sealed under the old one
    assert long_running.get("slack").secrets == SECRETS
    long_running.put(Connection("asana", secrets={"token": "written-after-rotation"}))
    long_running.close()
    assert open_store().get("asana").secrets == {"token": "written-after-rotation"}
