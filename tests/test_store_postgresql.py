"""The PostgreSQL store (issue 19) against a real server (tests/pgcluster.py) and the Authlib
authorization server (tests/authserver.py): the CLI on it, migrations once across machines, a
foreign schema, the wrong key, what a DBA can read, TLS, missing psycopg, passwords on argv,
bounded lock waits, SIGKILL mid-refresh, a server restart, ``store copy`` and the margin."""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from synthral_cli.basics.settings import Settings
from synthral_cli.store import keys
from synthral_cli.store.encrypted import Store
from synthral_cli.store.model import Connection
from tests.authserver import oauth_server, provider  # noqa: F401
from tests.conftest import synthral_exe

SECRET = "xoxb-PGSTORE-7d1c2e-distinctive"
APP_SECRET = "app-secret-PGSTORE-93ab"
REFRESH = "refresh_token"


@pytest.fixture
def pg_env(monkeypatch, pg_store_url):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("SYNTHRAL_STORE_URL", pg_store_url)
    if "SYNTHRAL_STORE_KEY" not in os.environ:
        monkeypatch.setenv("SYNTHRAL_STORE_KEY", keys.encode_key(keys.generate_key()))
    return pg_store_url


def open_store() -> Store:
    return Store.open(Settings(dict(os.environ)))


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([synthral_exe(), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, input=input)


def rows_of(cluster, url: str) -> list[tuple]:
    with cluster.admin(url.rsplit("/", 1)[1]) as conn:
        return [
            *conn.execute("SELECT t::text FROM synthral.connections t ORDER BY slug, name").fetchall(),
            *conn.execute("SELECT t::text FROM synthral.apps t ORDER BY slug").fetchall(),
            *conn.execute("SELECT t::text FROM synthral.meta t ORDER BY key").fetchall(),
        ]


def test_the_cli_on_postgresql_status_names_the_backend_and_the_key_source(cli, pg_env, config_dir):
    store = open_store()
    store.put(Connection("slack", method="bearer", secrets={"token": SECRET}))
    store.close()
    r = cli("store", "status", "--json")
    assert r.exit_code == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["backend"], info["key_source"], info["key_ok"]) == ("postgresql", "environment", True)
    assert info["store_path"].startswith("postgresql://synthral@127.0.0.1:") and "pg-secret-pw" not in r.stdout
    assert info["migrations"] == ["m001_initial"] and info["connection_count"] == 1
    r = cli("store", "status")
    assert "backend: postgresql\n" in r.stdout and "key source: environment\n" in r.stdout
    listed = json.loads(cli("connections", "list", "--json").stdout)
    assert [c["connector_slug"] for c in listed["connections"] if c["source"] == "store"] == ["slack"]
    assert not (config_dir / "store.db").exists()  # nothing went to the file store


def test_store_url_from_the_config_file_and_the_option(cli, pg_env, config_dir, monkeypatch):
    monkeypatch.delenv("SYNTHRAL_STORE_URL")
    (config_dir / "config.toml").write_text(f'store_url = "{pg_env}"\n')
    assert json.loads(cli("store", "status", "--json").stdout)["backend"] == "postgresql"
    r = cli("--store-url", "sqlite:", "store", "status", "--json")
    assert json.loads(r.stdout)["backend"] == "sqlite"
    r = cli("--store-url", pg_env, "store", "status")  # the URL carries the password
    assert r.exit_code == 2 and "must not carry a password" in r.stderr and "PGPASSWORD" in r.stderr
    no_pw = pg_env.replace("synthral:pg-secret-pw@", "synthral@")
    r = cli("--store-url", no_pw, "store", "status", "--json", env={"PGPASSWORD": "pg-secret-pw"})
    assert r.exit_code == 0 and json.loads(r.stdout)["backend"] == "postgresql"


MIGRATE = """
import os, time
from synthral_cli.basics.settings import Settings
from synthral_cli.store.encrypted import Store
while not os.path.exists(os.environ["GO_FILE"]):
    time.sleep(0.005)
s = Store.open(Settings(dict(os.environ)))
print(s.schema_version, flush=True)
"""


def test_migrations_run_once_when_six_machines_start_together(pg_env, pg_cluster, tmp_path):
    go = tmp_path / "go"
    env = {**os.environ, "GO_FILE": str(go)}
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    time.sleep(0.8)
    go.touch()
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [e for _, e in outs]
    assert {o.strip() for o, _ in outs} == {"1"}
    with pg_cluster.admin(pg_env.rsplit("/", 1)[1]) as conn:
        assert conn.execute("SELECT name FROM synthral.migrations").fetchall() == [("m001_initial",)]


def test_a_foreign_schema_is_refused_and_left_untouched(pg_env, pg_cluster):
    with pg_cluster.admin(pg_env.rsplit("/", 1)[1]) as conn:
        conn.execute("CREATE SCHEMA synthral; CREATE TABLE synthral.connections (x int); "
                     "INSERT INTO synthral.connections VALUES (42)")
    r = run("store", "status")
    assert r.returncode == 5 and "not a synthral store" in r.stderr and "left untouched" in r.stderr
    with pg_cluster.admin(pg_env.rsplit("/", 1)[1]) as conn:
        assert conn.execute("SELECT x FROM synthral.connections").fetchall() == [(42,)]


def test_the_wrong_key_exits_5_and_changes_nothing(pg_env, pg_cluster):
    store = open_store()
    store.put(Connection("slack", method="bearer", secrets={"token": SECRET}))
    store.put_app("slack", "cid", APP_SECRET)
    store.close()
    before = rows_of(pg_cluster, pg_env)
    wrong = {"SYNTHRAL_STORE_KEY": keys.encode_key(os.urandom(32))}
    for args in (["token", "slack"], ["store", "status"], ["store", "rotate-key", "--new-key-stdin"]):
        r = run(*args, env=wrong, input=keys.encode_key(os.urandom(32)) + "\n")
        assert r.returncode == 5, (args, r.stderr)
        assert "wrong key" in r.stderr and SECRET not in r.stdout + r.stderr
    assert rows_of(pg_cluster, pg_env) == before


def test_a_database_administrator_sees_no_secret_in_any_table_or_the_wal(pg_env, pg_cluster, cli):
    store = open_store()
    store.put(Connection("slack", method="direct", config={"team": "T1"},
                         secrets={"access_token": SECRET, "refresh_token": SECRET + "-r"}))
    store.put_app("slack", "cid-visible", APP_SECRET)
    assert cli("token", "slack").stdout.strip() == SECRET
    store.close()
    with pg_cluster.admin(pg_env.rsplit("/", 1)[1]) as conn:
        conn.execute("CHECKPOINT")
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'synthral'")]
        dump = "\n".join(str(row) for t in tables for row in conn.execute(f"SELECT t::text FROM synthral.{t} t"))
    assert set(tables) == {"connections", "apps", "meta", "migrations"}
    assert "slack" in dump and "cid-visible" in dump and 'T1' in dump  # metadata is readable
    key = os.environ["SYNTHRAL_STORE_KEY"]
    wal = pg_cluster.wal_bytes()
    assert b"cid-visible" in wal  # the WAL was read (it holds the rows)
    for secret in (SECRET, APP_SECRET, key):
        assert secret not in dump
        assert secret.encode() not in wal


def test_tls_by_default_off_loopback_and_cleartext_refused(pg_env, pg_cluster, cli):
    from synthral_cli.store.pg_url import connect_kwargs

    s = Settings({})
    assert connect_kwargs("postgresql://u@db.example.com/x", s)["sslmode"] == "require"
    assert connect_kwargs("postgresql://u@db.example.com/x", Settings({"SYNTHRAL_CA_BUNDLE": "/ca.pem"}))[
        "sslmode"] == "verify-full"
    assert "sslmode" not in connect_kwargs("postgresql://u@127.0.0.1/x", s)
    r = cli("--store-url", "postgresql://u@db.example.com/x?sslmode=disable", "store", "status")
    assert r.exit_code == 2 and "unencrypted" in r.stderr and "--allow-insecure" in r.stderr
    # verify-full against the real server's certificate (trustme CA)
    url = f"{pg_env}?sslmode=verify-full&sslrootcert={pg_cluster.ca}"
    store = Store.open(Settings({**os.environ, "SYNTHRAL_STORE_URL": url}))
    ssl = store.backend.conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]
    store.close()
    assert ssl is True


def test_a_store_url_without_psycopg_is_exit_2_with_the_pip_command(pg_env):
    code = "import sys; sys.modules['psycopg'] = None; from synthral_cli.cli.main import main; main()"
    p = subprocess.run([sys.executable, "-c", code, "store", "status"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert "psycopg (3) is not installed" in p.stderr and "pip install 'synthral[postgres]'" in p.stderr


HOLD = """
import os, sys, time
from synthral_cli.basics.settings import Settings
from synthral_cli.store.encrypted import Store
store = Store.open(Settings(dict(os.environ)))
with store.locked(sys.argv[1], "default"):
    print("locked", flush=True)
    time.sleep(60)
"""


def hold_lock(slug: str) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", HOLD, slug], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_a_lock_wait_is_bounded_exit_4_and_a_sigkilled_holder_releases_it(provider, pg_env):
    provider.seed(expires_in=-5)
    holder = hold_lock("testprov")
    try:
        start = time.monotonic()
        r = run("token", "testprov", env={"SYNTHRAL_STORE_LOCK_TIMEOUT": "1"})
        assert r.returncode == 4, r.stderr
        assert "waited 1 s for the lock on testprov/default" in r.stderr and "another synthral process" in r.stderr
        assert time.monotonic() - start < 29  # bounded: the default wait would be 30 s
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=10)
    r = run("token", "testprov", env={"SYNTHRAL_STORE_LOCK_TIMEOUT": "5"})  # the database freed the lock
    assert r.returncode == 0, r.stderr
    assert provider.server.count(REFRESH, provider.client_id) == 1


def test_a_lock_wait_on_sqlite_is_bounded_exit_4_too(provider):
    provider.seed(expires_in=-5)
    holder = hold_lock("testprov")  # BEGIN IMMEDIATE on the file
    try:
        r = run("token", "testprov", env={"SYNTHRAL_STORE_LOCK_TIMEOUT": "1"})
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=10)
    assert r.returncode == 4 and "waited 1 s for the lock on the store" in r.stderr, r.stderr
    assert run("token", "testprov").returncode == 0


def test_sigkill_mid_refresh_loses_no_token(provider, pg_env):
    """The refresh request is in flight when its process dies: the lock goes with its connection,
    the provider grants nothing to a client that went away, the next process refreshes once."""
    server = provider.server
    server.clients[provider.client_id].detect_reuse = True
    provider.seed(expires_in=-5)
    server.refresh_arrived.clear()
    server.hold_refresh = threading.Event()
    hold = server.hold_refresh
    victim = subprocess.Popen([synthral_exe(), "token", "testprov"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.refresh_arrived.wait(30)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=10)
    finally:
        hold.set()
    r = run("token", "testprov", env={"SYNTHRAL_STORE_LOCK_TIMEOUT": "10"})
    assert r.returncode == 0, r.stderr
    assert server.count(REFRESH, provider.client_id) == 1
    assert server.logged("reuse", provider.client_id) == [] and server.logged("invalid_grant", provider.client_id) == []
    assert len(server.logged("aborted", provider.client_id)) == 1
    assert provider.stored().secrets["access_token"] == r.stdout.strip()


def test_a_postgresql_restart_fails_in_flight_commands_with_4_and_the_next_succeed(provider, pg_env, pg_cluster):
    provider.seed(expires_in=3600)
    holder = hold_lock("testprov")  # a command waits on it when the server restarts
    waiting = subprocess.Popen([synthral_exe(), "refresh", "testprov"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    with pg_cluster.admin(pg_env.rsplit("/", 1)[1]) as admin:
        while not admin.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                ).fetchone()[0]:
            assert time.monotonic() < deadline and waiting.poll() is None
            time.sleep(0.05)
    pg_cluster.restart()
    _, err = waiting.communicate(timeout=60)
    holder.kill()
    holder.communicate(timeout=10)
    assert waiting.returncode == 4, err
    assert "PostgreSQL store" in err and "Traceback" not in err
    r = run("token", "testprov")
    assert r.returncode == 0, r.stderr


def test_a_restart_after_the_provider_answered_still_stores_the_rotated_token(provider, pg_env, pg_cluster):
    """The grant happened, then the store went away: the tokens are written once it is back
    (compare-and-swap on the version read), so the rotated refresh token is not lost."""
    server = provider.server
    server.clients[provider.client_id].detect_reuse = True
    provider.seed(expires_in=-5)
    server.refresh_arrived.clear()
    server.hold_refresh = threading.Event()
    hold = server.hold_refresh
    proc = subprocess.Popen([synthral_exe(), "token", "testprov"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert server.refresh_arrived.wait(30)
    restart = threading.Thread(target=pg_cluster.restart)
    restart.start()
    time.sleep(0.3)  # the server is going down while the provider answers
    hold.set()
    restart.join(60)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert provider.stored().secrets["access_token"] == out.strip()
    assert run("token", "testprov").stdout.strip() == out.strip()
    assert server.count(REFRESH, provider.client_id) == 1 and server.logged("reuse", provider.client_id) == []


def test_store_copy_both_ways_idempotent_and_resumable(cli, pg_env, monkeypatch, config_dir):
    monkeypatch.delenv("SYNTHRAL_STORE_URL")
    local = open_store()
    for i in range(3):
        local.put(Connection("slack", f"c{i}", method="bearer", secrets={"token": f"{SECRET}-{i}"},
                             config={"team": f"T{i}"}, origins=["https://slack.com"]))
    local.put_app("slack", "cid", APP_SECRET)
    local.close()
    pg = Store.open(Settings({**os.environ, "SYNTHRAL_STORE_URL": pg_env}))
    pg.put(Connection("slack", "c0", method="bearer", secrets={"token": f"{SECRET}-0"}, config={"team": "T0"},
                      origins=["https://slack.com"]))  # a copy that stopped after its first row
    pg.put(Connection("slack", "c2", method="bearer", secrets={"token": "newer-elsewhere"}))
    pg.close()
    no_pw = pg_env.replace("synthral:pg-secret-pw@", "synthral@")
    env = {"PGPASSWORD": "pg-secret-pw"}
    r = cli("store", "copy", "--to", no_pw, "--json", env=env)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["copied"], out["unchanged"], out["differ"]) == (["slack/c1", "app:slack"], ["slack/c0"], ["slack/c2"])
    assert "--overwrite" in r.stderr and SECRET not in r.stdout + r.stderr
    again = json.loads(cli("store", "copy", "--to", no_pw, "--json", env=env).stdout)
    assert again["copied"] == [] and again["unchanged"] == ["slack/c0", "slack/c1", "app:slack"]
    pg = Store.open(Settings({**os.environ, "SYNTHRAL_STORE_URL": pg_env}))
    assert pg.get("slack", "c1").secrets == {"token": f"{SECRET}-1"} and pg.get("slack", "c1").config == {"team": "T1"}
    assert pg.get("slack", "c2").secrets == {"token": "newer-elsewhere"}  # not overwritten
    assert pg.get_app("slack").client_secret == APP_SECRET
    pg.close()
    # ... and back, into another machine's empty file store
    other = config_dir.parent / (config_dir.name + "-other")
    other.mkdir(mode=0o700)
    r = cli("store", "copy", "--from", no_pw, "--json", env={**env, "SYNTHRAL_CONFIG_DIR": str(other)})
    assert r.exit_code == 0, r.stderr
    assert len(json.loads(r.stdout)["copied"]) == 4
    back = Store.open(Settings({**os.environ, "SYNTHRAL_CONFIG_DIR": str(other)}))
    assert back.get("slack", "c2").secrets == {"token": "newer-elsewhere"} and back.backend_name == "sqlite"
    back.close()
    for p in other.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes() and APP_SECRET.encode() not in p.read_bytes()
    r = cli("store", "copy", "--to", "sqlite:")
    assert r.exit_code == 2 and "same store" in r.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_short_lived_tokens_eight_processes_make_one_grant(provider, oauth_server, monkeypatch, backend, request):
    """30-second tokens: the margin is a quarter of the lifetime, so the token one process just got
    is not "expiring" for the seven others (with a fixed 60 s margin each would refresh again)."""
    if backend == "postgresql":
        monkeypatch.setenv("SYNTHRAL_STORE_URL", request.getfixturevalue("pg_store_url"))
    monkeypatch.setattr(oauth_server, "expires_in", 30)
    provider.seed(expires_in=-5)
    for round_ in (1, 2):
        procs = [subprocess.Popen([synthral_exe(), "token", "testprov"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(8)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0] * 8, [e for _, e in outs]
        assert len({o.strip() for o, _ in outs}) == 1
        assert provider.server.count(REFRESH, provider.client_id) == 1, round_
    conn = provider.stored()
    assert conn.metadata["token_lifetime"] == 30


def test_invalid_grant_never_kills_a_connection_another_machine_refreshed(provider, pg_env, pg_cluster):
    """The lock was lost (another machine wrote meanwhile): the refused refresh does not flag the
    newer row, and the newer token is used."""
    from synthral_cli.api import Synthral
    from synthral_cli.auth import credentials

    provider.seed(expires_in=-5)
    provider.server.revoke_all()  # our refresh token is refused ...
    sy = Synthral(env=dict(os.environ))
    other = open_store()
    original = credentials._renew

    def renew_while_another_machine_writes(sy_, manifest, conn):
        newer = other.get("testprov")  # ... while another machine, whose lock we no longer see, stores a newer one
        with pg_cluster.admin(pg_env.rsplit("/", 1)[1]) as admin:
            admin.execute("UPDATE synthral.connections SET version = version + 1")
        assert newer is not None
        return original(sy_, manifest, conn)

    credentials._renew = renew_while_another_machine_writes
    try:
        conn = credentials.refresh_connection(sy, sy.connector("testprov"))
    finally:
        credentials._renew = original
        other.close()
        sy.store.close()
    assert conn.needs_reauth is False and provider.stored().needs_reauth is False
    assert provider.server.logged("invalid_grant", provider.client_id)


def test_a_long_running_process_reconnects_after_a_restart(pg_env, pg_cluster):
    store = open_store()
    store.put(Connection("slack", method="bearer", secrets={"token": SECRET}))
    pg_cluster.restart()
    store.put(Connection("slack", method="bearer", secrets={"token": SECRET + "-2"}))  # a write first
    pg_cluster.restart()
    assert store.get("slack").secrets == {"token": SECRET + "-2"}  # one process, one connection, reconnected
    store.close()


def test_a_shared_store_keyed_on_one_machine_says_the_others_need_the_key(pg_env, monkeypatch, config_dir, tmp_path):
    monkeypatch.delenv("SYNTHRAL_STORE_KEY")
    store = open_store()
    store.put(Connection("slack", method="bearer", secrets={"token": SECRET}))
    notices = store.take_notices()
    store.close()
    assert any("saved on this machine only" in n and "SYNTHRAL_STORE_KEY" in n for n in notices), notices
    other = tmp_path / "other-machine"
    other.mkdir(mode=0o700)
    r = run("token", "slack", env={"SYNTHRAL_CONFIG_DIR": str(other)})
    assert r.returncode == 5 and "on the machine that created it" in r.stderr and "secret manager" in r.stderr
