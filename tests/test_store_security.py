"""The store authenticates what routes a token (issue 14, items 4 and 10), on real files, real
SQLite and real processes: associated data v2 and the upgrade of old stores, secure_delete, key and
store files that cannot be trusted or saved, the keyring fallback notice, and bundles v2."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from synthral_cli.basics.errors import StoreError, UsageError
from synthral_cli.basics.settings import Settings
from synthral_cli.store import bundle, crypto, keys
from synthral_cli.store.encrypted import Connection, Store
from tests.invoke_support import STORE_KEY, Scripted, manifest, write_manifests

from .conftest import synthral_exe

TOKEN = "tok-ROUTE-5c1e9b-distinctive"
APP_SECRET = "app-secret-ROUTE-77d2a0"
PASSPHRASE = "correct horse battery staple"
NOBODY = 65534


@pytest.fixture(autouse=True)
def no_os_keyring(monkeypatch):
    import keyring
    from keyring.backends import null

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    keyring.set_keyring(null.Keyring())


def open_store(extra: dict[str, str] | None = None) -> Store:
    return Store.open(Settings({**os.environ, **(extra or {})}))


def sql(path: Path, statement: str, *params: object) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute(statement, params)
    raw.close()


# -- associated data v2: the routing columns are authenticated -----------------------------------


EDITS = {
    "config": ("config", json.dumps({"api": "https://evil.example"})),
    "origins": ("origins", json.dumps(["https://evil.example"])),
    "method": ("method", "basic"),
    "metadata": ("metadata", json.dumps({"token_type": "mac", "provider_config_key": "other"})),
    "scopes": ("scopes", json.dumps(["admin"])),
    "expires_at": ("expires_at", 4102444800.0),
}


@pytest.mark.parametrize("column", list(EDITS))
def test_editing_a_routing_column_without_the_key_stops_the_row(config_dir, column):
    store = open_store()
    store.put(
        Connection(
            "slack",
            method="bearer",
            scopes=["chat:write"],
            expires_at=1893456000,
            config={"api": "https://slack.com/api"},
            metadata={"token_type": "bearer"},
            origins=["https://slack.com"],
            secrets={"token": TOKEN},
        )
    )
    store.put(Connection("asana", secrets={"token": "asana-untouched"}))
    assert store.get("slack").secrets == {"token": TOKEN}
    store.close()
    name, value = EDITS[column]
    sql(config_dir / "store.db", f"UPDATE connections SET {name} = ? WHERE slug = 'slack'", value)  # noqa: S608
    store = open_store()
    with pytest.raises(StoreError) as info:
        store.get("slack")
    assert info.value.exit_code == 5 and "altered" in info.value.message and info.value.hint
    assert "slack/default" in info.value.message
    assert store.get("asana").secrets == {"token": "asana-untouched"}  # other rows are unaffected
    # bookkeeping columns are not bound: tests, last use and re-authorization need no key
    store.record_test("asana", "default", True, None)
    store.touch("asana", "default")
    assert store.mark_needs_reauth("asana", "default", if_version=1)
    assert store.get("asana").secrets == {"token": "asana-untouched"}


def test_the_app_client_id_is_bound_to_its_secret(config_dir):
    store = open_store()
    store.put_app("github", "Iv1.real", APP_SECRET)
    store.close()
    sql(config_dir / "store.db", "UPDATE apps SET client_id = 'Iv1.other' WHERE slug = 'github'")
    with pytest.raises(StoreError, match="app credentials of github"):
        open_store().get_app("github")


@pytest.fixture
def two_peers(tmp_path, monkeypatch):
    """The API the user authorized (``good``) and another local server (``evil``)."""
    good, evil = Scripted(), Scripted()
    for server in (good, evil):
        server.add("/get", (200, {}, {"ok": True}))
    doc = manifest("routed", "{api}", [], connection_config={"api": {"description": "The API URL."}})
    folder = write_manifests(tmp_path / "manifests", doc)
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    store = open_store()
    store.put(
        Connection("routed", method="bearer", config={"api": good.url}, origins=[good.url], secrets={"token": TOKEN})
    )
    store.close()
    yield good, evil
    good.close()
    evil.close()


@pytest.mark.parametrize(
    "column, value",
    [
        ("config", "EVIL_CONFIG"),
        ("origins", "EVIL_ORIGINS"),
        ("method", "basic"),
        ("metadata", json.dumps({"token_type": "other"})),
    ],
)
def test_a_rerouted_row_exits_5_and_sends_nothing(sh, config_dir, two_peers, column, value):
    good, evil = two_peers
    ok = sh("invoke", "routed", "test_connection", "--json")
    assert ok.exit_code == 0, ok.stderr
    assert [r[2].get("Authorization") for r in good.requests] == [f"Bearer {TOKEN}"]
    value = {"EVIL_CONFIG": json.dumps({"api": evil.url}), "EVIL_ORIGINS": json.dumps([evil.url])}.get(value, value)
    sql(config_dir / "store.db", f"UPDATE connections SET {column} = ? WHERE slug = 'routed'", value)  # noqa: S608
    r = sh("invoke", "routed", "test_connection", "--json")
    assert r.exit_code == 5, r.stderr
    assert "connection routed/default" in r.stderr and "altered" in r.stderr
    assert r.stderr.count("\n") == 2 and TOKEN not in r.stdout + r.stderr
    assert evil.requests == [] and len(good.requests) == 1  # nothing was sent anywhere


# -- stores sealed before AAD v2 are upgraded, and cannot be taken back --------------------------

OLD_CONNECTIONS = """CREATE TABLE "connections" (
   "slug" TEXT NOT NULL, "name" TEXT NOT NULL, "method" TEXT NOT NULL,
   "scopes" TEXT NOT NULL DEFAULT '[]', "expires_at" REAL, "config" TEXT NOT NULL DEFAULT '{}',
   "metadata" TEXT NOT NULL DEFAULT '{}', "secret" BLOB NOT NULL, "created_at" REAL, "updated_at" REAL,
   "last_used_at" REAL, "last_test_ok" INTEGER, "last_test_at" REAL, "last_test_message" TEXT,
   "needs_reauth" INTEGER NOT NULL DEFAULT 0, "version" INTEGER NOT NULL DEFAULT 0,
   PRIMARY KEY ("slug", "name"))"""


def _old_seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """What synthral wrote before AAD v2: ``\\x01 + nonce + AES-GCM``, associated data naming the row."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def build_old_store(config_dir: Path, schema: int) -> bytes:
    """A store file as synthral wrote it at schema 1 (or 2, with origins), sealed with AAD v1;
    the key in a key file. Returns the key."""
    key = os.urandom(32)
    (config_dir / "store.key").write_text(base64.urlsafe_b64encode(key).decode().rstrip("=") + "\n")
    os.chmod(config_dir / "store.key", 0o600)
    db = sqlite3.connect(config_dir / "store.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = wal")
    db.execute('CREATE TABLE "_migrations" ("name" TEXT PRIMARY KEY, "applied_at" REAL)')
    db.execute(OLD_CONNECTIONS)
    db.execute(
        'CREATE TABLE "apps" ("slug" TEXT PRIMARY KEY NOT NULL, "client_id" TEXT NOT NULL, '
        '"client_secret" BLOB, "created_at" REAL, "updated_at" REAL)'
    )
    db.execute('CREATE TABLE "meta" ("key" TEXT PRIMARY KEY NOT NULL, "value" TEXT NOT NULL)')
    db.execute("INSERT INTO _migrations VALUES ('m001_initial', 1700000000.0)")
    if schema >= 2:
        db.execute("ALTER TABLE connections ADD COLUMN origins TEXT NOT NULL DEFAULT '[]'")
        db.execute("INSERT INTO _migrations VALUES ('m002_origins', 1700000001.0)")
    check = _old_seal(key, b"synthral store key check v1", b"meta\0key_check")
    db.execute("INSERT INTO meta VALUES ('key_check', ?)", (base64.b64encode(check).decode(),))
    db.execute("INSERT INTO meta VALUES ('key_source', 'file')")
    rows = [
        ("slack", "default", {"access_token": TOKEN, "refresh_token": "rt-old-store"}, {"team": "T1"}),
        ("slack", "work", {"access_token": "work-token-old"}, {}),
        ("github", "default", {"token": "gh-token-old"}, {"host": "api.github.com"}),
    ]
    for slug, name, secrets, config in rows:
        blob = _old_seal(key, json.dumps(secrets).encode(), f"connection\0{slug}\0{name}".encode())
        db.execute(
            "INSERT INTO connections (slug, name, method, scopes, expires_at, config, metadata, secret, "
            "created_at, updated_at, needs_reauth, version) VALUES (?, ?, 'direct', '[\"read\"]', 1893456000.0, "
            "?, '{}', ?, 1700000000.0, 1700000000.0, 0, 3)",
            (slug, name, json.dumps(config), blob),
        )
    app_blob = _old_seal(key, APP_SECRET.encode(), b"app\0github")
    db.execute("INSERT INTO apps VALUES ('github', 'Iv1.abc', ?, 1700000000.0, 1700000000.0)", (app_blob,))
    db.execute("PRAGMA application_id = 1398361684")
    db.execute(f"PRAGMA user_version = {schema}")
    db.close()
    os.chmod(config_dir / "store.db", 0o600)
    return key


def _blob(config_dir: Path, slug: str, name: str = "default") -> bytes:
    raw = sqlite3.connect(config_dir / "store.db")
    try:
        return bytes(
            raw.execute("SELECT secret FROM connections WHERE slug = ? AND name = ?", (slug, name)).fetchone()[0]
        )
    finally:
        raw.close()


@pytest.mark.parametrize("schema", [1, 2])
def test_an_old_store_is_upgraded_and_old_rows_cannot_be_put_back(config_dir, schema):
    key = build_old_store(config_dir, schema)
    old_blob = _blob(config_dir, "slack")
    store = open_store()
    assert store.schema_version == 3 and store.migrations()[-1] == "m003_aad_v2"
    assert [c.name for c in store.list()] == ["default", "default", "work"]  # no key needed to list
    assert store.get("slack").secrets == {"access_token": TOKEN, "refresh_token": "rt-old-store"}
    assert store.get("slack", "work").secrets == {"access_token": "work-token-old"}
    assert store.get("github").config == {"host": "api.github.com"}
    assert store.get_app("github").client_secret == APP_SECRET
    assert store.get("slack").version == 3  # re-sealing is not a new version
    store.close()
    # every row was re-sealed under v2 and the key check records v2, under the same key
    raw = sqlite3.connect(config_dir / "store.db")
    check = base64.b64decode(raw.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()[0])
    raw.close()
    assert crypto.check_version(key, check) == 2
    assert _blob(config_dir, "slack") != old_blob
    # an edit without the key now stops the row ...
    sql(config_dir / "store.db", "UPDATE connections SET config = '{\"team\": \"T2\"}' WHERE slug = 'github'")
    with pytest.raises(StoreError, match="github/default"):
        open_store().get("github")
    # ... and the old v1 ciphertext put back (with edited settings) does not open any more
    sql(
        config_dir / "store.db",
        "UPDATE connections SET secret = ?, config = '{\"team\": \"EVIL\"}' WHERE slug = 'slack' AND name = 'default'",
        old_blob,
    )
    with pytest.raises(StoreError, match="slack/default .* altered"):
        open_store().get("slack")
    assert open_store().get("slack", "work").secrets == {"access_token": "work-token-old"}


def test_an_old_row_altered_before_the_upgrade_stays_unreadable(config_dir):
    build_old_store(config_dir, 2)
    other = _blob(config_dir, "slack", "work")
    sql(config_dir / "store.db", "UPDATE connections SET secret = ? WHERE slug = 'github'", other)
    store = open_store()
    assert store.get("slack").secrets["access_token"] == TOKEN
    with pytest.raises(StoreError, match="github/default"):
        store.get("github")


def test_an_old_store_is_upgraded_once_by_concurrent_processes(config_dir):
    build_old_store(config_dir, 1)
    code = textwrap.dedent(
        """
        from synthral_cli.api import Synthral
        store = Synthral().store
        print(store.get("slack").secrets["access_token"], store.get_app("github").client_secret)
        """
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert out.split() == [TOKEN, APP_SECRET]
    assert open_store().get("slack", "work").secrets == {"access_token": "work-token-old"}


def test_older_synthral_is_kept_out_of_an_upgraded_store(config_dir):
    build_old_store(config_dir, 2)
    open_store().get("slack")
    raw = sqlite3.connect(config_dir / "store.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 3  # older releases refuse schema 3
    raw.close()


def test_rotation_reseals_under_v2(config_dir):
    build_old_store(config_dir, 1)
    store = open_store()
    store.rotate_key()
    store.close()
    sql(config_dir / "store.db", "UPDATE connections SET metadata = '{\"x\": 1}' WHERE name = 'work'")
    fresh = open_store()
    assert fresh.get("slack").secrets["access_token"] == TOKEN
    with pytest.raises(StoreError, match="slack/work"):
        fresh.get("slack", "work")


# -- secure_delete ------------------------------------------------------------------------------


def test_secure_delete_zeroes_removed_and_replaced_rows(config_dir, monkeypatch):
    import synthral_cli.store.sqlite as backend_module

    connect = sqlite3.connect

    def connect_with_the_stock_default(*args, **kwargs):
        """SQLite's own default is secure_delete=OFF (some builds, e.g. Debian's, turn it on):
        start every connection from OFF so the test shows what the store itself does."""
        conn = connect(*args, **kwargs)
        conn.execute("PRAGMA secure_delete = OFF")
        return conn

    monkeypatch.setattr(backend_module.sqlite3, "connect", connect_with_the_stock_default)
    store = open_store()
    assert store.backend.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    for i in range(5):
        store.put(Connection(f"svc{i}", secrets={"token": f"t-{i}"}, config={"pad": "p" * 100}))
    store.put(Connection("gone", secrets={"token": "t"}, config={"marker": "REMOVED-MARKER-4f2e"}))
    store.put(Connection("kept", secrets={"token": "t"}, config={"marker": "REPLACED-MARKER-91ab"}))
    store.put(Connection("kept", secrets={"token": "t"}, config={"m": "short"}))  # a new, smaller cell
    store.remove("gone")
    store.close()
    again = open_store()  # every connection turns it on
    assert again.backend.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    again.close()
    for p in config_dir.glob("store.db*"):
        data = p.read_bytes()
        assert b"REMOVED-MARKER-4f2e" not in data and b"REPLACED-MARKER-91ab" not in data, p.name


# -- key and store files that cannot be trusted or saved -----------------------------------------


def _configure(sh, **env: str):
    return sh(
        "configure", "github", "--client-id", "Iv1.abc", "--client-secret-stdin", input=APP_SECRET + "\n", env=env
    )


def _no_key_was_used(config_dir: Path) -> None:
    raw = sqlite3.connect(config_dir / "store.db")
    try:
        assert raw.execute("SELECT count(*) FROM meta").fetchone()[0] == 0
        assert raw.execute("SELECT count(*) FROM apps").fetchone()[0] == 0
    finally:
        raw.close()


def test_a_dangling_symlink_at_the_key_path_is_refused_before_anything_is_encrypted(sh, config_dir):
    target = config_dir / "elsewhere" / "store.key"
    (config_dir / "store.key").symlink_to(target)
    r = _configure(sh)
    assert r.exit_code == 5, r.stderr
    assert f"{config_dir / 'store.key'} is a symlink to {target}, which does not exist" in r.stderr
    assert f"rm {config_dir / 'store.key'}" in r.stderr and "Saved" not in r.stderr
    # the reported case: authorize used to say it connected, under a key it never saved
    r = sh("authorize", "openai", "--with-token", input="sk-never-stored-0123456789\n")
    assert r.exit_code == 5 and "does not exist" in r.stderr and "Connected" not in r.stderr
    assert not target.exists()
    _no_key_was_used(config_dir)
    raw = sqlite3.connect(config_dir / "store.db")
    assert raw.execute("SELECT count(*) FROM connections").fetchone()[0] == 0
    raw.close()


def test_a_dangling_symlink_at_the_store_path_is_refused(sh, config_dir, tmp_path):
    target = tmp_path / "planted" / "store.db"
    (config_dir / "store.db").symlink_to(target)
    r = _configure(sh)
    assert r.exit_code == 5 and "the store" in r.stderr and "does not exist" in r.stderr
    assert not target.exists() and not target.parent.exists()


def test_a_key_path_that_cannot_hold_a_file_is_an_error(sh, config_dir):
    (config_dir / "store.key").mkdir(mode=0o700)
    r = _configure(sh)
    assert r.exit_code == 5 and "store.key" in r.stderr and "Saved" not in r.stderr
    _no_key_was_used(config_dir)


@pytest.mark.skipif(not hasattr(os, "lchown"), reason="POSIX only")
def test_foreign_files_and_symlinks_are_refused(sh, config_dir, tmp_path):
    if os.getuid() != 0:
        pytest.skip("making a file owned by another user needs root")  # the CI container runs as root
    ours = tmp_path / "our.key"
    ours.write_text(keys.encode_key(crypto.generate_key()) + "\n")
    os.chmod(ours, 0o600)
    link = config_dir / "store.key"
    link.symlink_to(ours)
    os.lchown(link, NOBODY, NOBODY)
    r = _configure(sh)
    assert r.exit_code == 5 and "symlink owned by another user" in r.stderr and f"rm {link}" in r.stderr
    link.unlink()
    link.symlink_to(ours)
    os.chown(ours, NOBODY, NOBODY)
    r = _configure(sh)
    assert r.exit_code == 5 and f"{ours} is owned by another user" in r.stderr and "chown" in r.stderr
    link.unlink()
    _no_key_was_used(config_dir)
    store = config_dir / "store.db"
    os.chown(store, NOBODY, NOBODY)
    r = _configure(sh)
    assert r.exit_code == 5 and f"the store {store} is owned by another user" in r.stderr
    assert f"chown root {store}" in r.stderr


@pytest.mark.parametrize("name", ["store.key", "store.db"])
@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
def test_group_or_world_writable_key_or_store_exits_5_with_the_chmod(sh, config_dir, name, mode):
    assert _configure(sh).exit_code == 0
    path = config_dir / name
    os.chmod(path, mode)
    r = _configure(sh)
    assert r.exit_code == 5, r.stderr
    assert f"{path} is writable by" in r.stderr and f"chmod 600 {path}" in r.stderr
    assert r.stderr.count("\n") == 2


def test_a_read_only_config_directory_is_an_error_not_a_key_in_memory(tmp_path):
    """A key file that cannot be written: exit 5 naming it, and nothing sealed under a lost key.
    As root (who can write anywhere) the command runs as ``nobody``."""
    base = Path(tempfile.mkdtemp(prefix="store-ro-"))
    try:
        config = base / "cfg"
        config.mkdir(mode=0o700)
        prefix: list[str] = []
        if os.getuid() == 0:
            os.chmod(base, 0o755)
            os.chown(config, NOBODY, NOBODY)
            prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SYNTHRAL_")},
            "SYNTHRAL_CONFIG_DIR": str(config),
            "HOME": str(base),
        }
        # the store exists (and stays open in a second process, so SQLite keeps its WAL files)
        holder = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                "-c",
                "import sys, sqlite3; from synthral_cli.api import Synthral\n"
                "s = Synthral().store; s.list(); print('open', flush=True); sys.stdin.read()",
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout.readline().strip() == "open", holder.stderr.read()
            os.chmod(config, 0o500)
            p = subprocess.run(
                [*prefix, synthral_exe(), "configure", "github", "--client-id", "Iv1.abc", "--client-secret-stdin"],
                input=APP_SECRET + "\n",
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            holder.communicate("", timeout=30)
        assert p.returncode == 5, p.stderr
        assert f"cannot save the store key in {config / 'store.key'}" in p.stderr
        assert "nothing was encrypted under it" in p.stderr and APP_SECRET not in p.stderr
        os.chmod(config, 0o700)
        _no_key_was_used(config)
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


# -- the keyring fallback is said once -----------------------------------------------------------


def test_the_key_file_fallback_is_said_once(sh, config_dir):
    first = _configure(sh)
    assert first.exit_code == 0
    warning = [line for line in first.stderr.splitlines() if line.startswith("warning:")]
    assert warning == [
        f"warning: no OS keyring backend is available: the store key was saved in the file "
        f"{config_dir / 'store.key'}, readable by you only (set SYNTHRAL_STORE_KEY, or set up an OS keyring, "
        "to keep it off the disk)."
    ]
    again = _configure(sh)
    assert again.exit_code == 0 and "warning" not in again.stderr


def test_no_fallback_notice_with_an_environment_key_or_a_keyring(config_dir, tmp_path, monkeypatch):
    import keyring
    from keyring.backends import null

    from .test_store import DictKeyring

    store = open_store({"SYNTHRAL_STORE_KEY": STORE_KEY})
    store.put(Connection("slack", secrets={"token": TOKEN}))
    assert store.take_notices() == []
    keyring.set_keyring(DictKeyring())
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(tmp_path / "other"))
    store = open_store()
    store.put(Connection("slack", secrets={"token": TOKEN}))
    assert store.key_source().source == "keyring" and store.take_notices() == []
    # the core only records it: the store never prints
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(tmp_path / "third"))
    keyring.set_keyring(null.Keyring())
    store = open_store()
    store.put(Connection("slack", secrets={"token": TOKEN}))
    notes = store.take_notices()
    assert len(notes) == 1 and "store.key" in notes[0] and store.take_notices() == []


# -- bundles v2 -----------------------------------------------------------------------------------


def _seed_slack(config_dir: Path) -> None:
    store = open_store({"SYNTHRAL_STORE_KEY": STORE_KEY})
    store.put(Connection("slack", scopes=["chat:write"], config={"team": "T1"}, secrets={"access_token": TOKEN}))
    store.close()


def _old_v1_bundle(payload: bytes, passphrase: str) -> str:
    """A bundle as synthral wrote it before v2: scrypt N=2^15, no parameters recorded."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt, nonce = os.urandom(16), os.urandom(12)
    key = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())
    sealed = AESGCM(key).encrypt(nonce, payload, b"synthral-bundle-v1.")
    return "synthral-bundle-v1." + base64.urlsafe_b64encode(salt + nonce + sealed).decode().rstrip("=")


def test_bundles_record_scrypt_2_17_and_need_12_characters(cli, config_dir, monkeypatch):
    _seed_slack(config_dir)
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    monkeypatch.setenv("P11", "a" * 11)
    r = cli("connections", "export", "slack", "--passphrase-env", "P11")
    assert r.exit_code == 2 and "too short (11 characters; at least 12)" in r.stderr and r.stdout == ""
    monkeypatch.setenv("P12", "b" * 12)
    r = cli("connections", "export", "slack", "--passphrase-env", "P12")
    assert r.exit_code == 0, r.stderr
    text = r.stdout.strip()
    body = text[len("synthral-bundle-v2.") :]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert text.startswith("synthral-bundle-v2.") and raw[:3] == bytes([17, 8, 1])  # N = 2^17, r = 8, p = 1
    assert json.loads(bundle.open_bundle(text, "b" * 12))["connection"]["secrets"] == {"access_token": TOKEN}
    # the parameters are authenticated: a bundle edited to a cheaper N does not open
    cheap = "synthral-bundle-v2." + base64.urlsafe_b64encode(bytes([15]) + raw[1:]).decode().rstrip("=")
    with pytest.raises(UsageError, match="does not open"):
        bundle.open_bundle(cheap, "b" * 12)
    greedy = "synthral-bundle-v2." + base64.urlsafe_b64encode(bytes([40]) + raw[1:]).decode().rstrip("=")
    with pytest.raises(UsageError, match="scrypt parameters"):
        bundle.open_bundle(greedy, "b" * 12)


def test_an_old_v1_bundle_with_a_short_passphrase_still_imports(cli, config_dir, tmp_path, monkeypatch):
    _seed_slack(config_dir)
    from synthral_cli.store.bundle import export_payload

    store = open_store({"SYNTHRAL_STORE_KEY": STORE_KEY})
    old = _old_v1_bundle(export_payload(store, "slack"), "eight-ch")
    store.close()
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(tmp_path / "ci"))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    monkeypatch.setenv("OLD", old)
    monkeypatch.setenv("P", "eight-ch")
    r = cli("connections", "import", "--from-env", "OLD", "--passphrase-env", "P")
    assert r.exit_code == 0, r.stderr
    assert open_store().get("slack").secrets == {"access_token": TOKEN}


def test_the_cipher_is_cryptographys_public_aesgcm_and_reads_what_it_wrote():
    """``crypto.aesgcm`` takes AES-GCM from the Rust extension (fewer imports); it must be the very
    class ``cryptography.hazmat.primitives.ciphers.aead`` exports, interoperable both ways."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert crypto.aesgcm() is AESGCM
    key = crypto.generate_key()
    blob = crypto.encrypt(key, b"secret", b"aad")
    assert AESGCM(key).decrypt(blob[1:13], blob[13:], b"aad") == b"secret"
    nonce = os.urandom(12)
    assert crypto.decrypt(key, b"\x01" + nonce + AESGCM(key).encrypt(nonce, b"other", b"x"), b"x") == b"other"
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(key, blob, b"another aad")
