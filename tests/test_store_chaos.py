"""One refresh per expiry across machines (issue 19, item 7), proven against real peers.

4 simulated machines (each its own SYNTHRAL_CONFIG_DIR, HOME and manifest folder; nothing shared
but SYNTHRAL_STORE_URL and SYNTHRAL_STORE_KEY) x 8 processes run ``synthral token`` (the CLI's
entry point, in-process in a long-lived worker, like an agent that asks for a token per task)
against one PostgreSQL store, all at once, over several expiries of a 16-second token. The
authorization server (tests/authserver.py) rotates refresh tokens and revokes the whole grant
when a rotated one is presented again. Along the way one process is SIGKILLed while its refresh
request is in flight (it holds the connection's lock), and PostgreSQL is restarted mid-round.

From the server's own log: exactly one grant per expiry, zero reuse detections, zero
``invalid_grant``; every process succeeds, or exits 4 during the restart.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from synthral_cli.basics.settings import Settings
from synthral_cli.store import keys
from synthral_cli.store.encrypted import Store
from synthral_cli.store.pg_schema import ROW_LOCK_CLASS
from tests.authserver import oauth_server, provider  # noqa: F401

MACHINES, PROCESSES, LIFETIME = 4, 8, 16

WORKER = """
import contextlib, io, json, sys
import psycopg, authlib.integrations.httpx_client, cryptography.hazmat.primitives.ciphers.aead  # noqa
import synthral_cli.cli.app  # noqa: F401 - warm, like a long-running agent
from synthral_cli.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):  # the catalogue (and this machine's cache of it) too
    try:
        main(["connectors", "show", "testprov", "--json"])
    except SystemExit:
        pass
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            main(["token", "testprov"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    print(json.dumps({"round": line.strip(), "code": code, "token": out.getvalue().strip()}), flush=True)
"""


class Worker:
    def __init__(self, machine: int, env: dict[str, str], log: Path) -> None:
        self.machine = machine
        self.errlog = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.errlog, text=True)
        self.results: queue.Queue[dict | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.results.put(json.loads(line))
        self.results.put(None)

    def go(self, name: str) -> None:
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()

    def result(self, timeout: float = 90) -> dict | None:
        return self.results.get(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        else:
            self.proc.stdin.close()
        self.proc.stdout.close()
        self.errlog.close()


def machine_env(base: Path, n: int, url: str, key: str, provider) -> dict[str, str]:
    root = base / f"machine{n}"
    config, home = root / "config", root / "home"
    (config / "manifests").mkdir(parents=True, mode=0o700)
    home.mkdir(parents=True)
    os.chmod(config, 0o700)
    (config / "manifests" / "testprov.yaml").write_text((provider.folder / "testprov.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHRAL_", "NANGO_"))}
    env.update(
        HOME=str(home), SYNTHRAL_CONFIG_DIR=str(config), SYNTHRAL_STORE_URL=url, SYNTHRAL_STORE_KEY=key,
        SYNTHRAL_TESTPROV_CLIENT_ID=provider.client_id, SYNTHRAL_TESTPROV_CLIENT_SECRET=str(provider.client_secret),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
    )
    return env


def lock_holder(cluster, dbname: str) -> int | None:
    with cluster.admin(dbname) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock' AND l.classid = %s",
            (ROW_LOCK_CLASS,),
        ).fetchone()
    return int(row[0].rsplit(" ", 1)[1]) if row else None


@pytest.mark.slow
def test_four_machines_eight_processes_each_one_refresh_per_expiry(provider, oauth_server, pg_cluster,
                                                                   pg_store_url, tmp_path, monkeypatch):
    server = oauth_server
    server.clients[provider.client_id].detect_reuse = True
    monkeypatch.setattr(server, "expires_in", LIFETIME)
    key = keys.encode_key(keys.generate_key())
    monkeypatch.setenv("SYNTHRAL_STORE_URL", pg_store_url)
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", key)
    provider.seed(expires_in=-5)  # the first expiry: already expired
    dbname = pg_store_url.rsplit("/", 1)[1]
    store = Store.open(Settings(dict(os.environ)))

    def stored():
        return store.get("testprov")

    envs = [machine_env(tmp_path, m, pg_store_url, key, provider) for m in range(MACHINES)]
    for env in envs:  # each machine's catalogue cache, built once (its 8 processes read it)
        subprocess.run([sys.executable, "-m", "synthral_cli", "connectors", "show", "testprov", "--json"], env=env,
                       capture_output=True, check=True, timeout=120)
    workers = [Worker(m, envs[m], tmp_path / f"w{m}-{i}.log") for m in range(MACHINES) for i in range(PROCESSES)]
    grants = lambda: server.count("refresh_token", provider.client_id)  # noqa: E731
    report: list[tuple[str, int, dict[int, int]]] = []
    killed: set[int] = set()
    try:
        t0 = time.monotonic()
        for w in workers:
            assert w.result(timeout=180) == {"ready": True}
        print(f"ready: {time.monotonic() - t0:.1f} s", flush=True)

        def round_(name: str, *, during=None) -> list[dict]:
            before = grants()
            start = time.monotonic()
            alive = [w for w in workers if w.proc.pid not in killed]
            for w in alive:
                w.go(name)
            if during is not None:
                during()
            results = [r for r in (w.result() for w in alive) if r is not None]
            codes: dict[int, int] = {}
            for r in results:
                codes[r["code"]] = codes.get(r["code"], 0) + 1
            report.append((name, grants() - before, codes))
            print(f"{name}: {time.monotonic() - start:.1f} s", flush=True)
            return results

        def until_expiring() -> None:  # inside the margin (a quarter of the lifetime) of the stored token
            while stored().expires_at - time.time() > LIFETIME / 4 - 0.5:
                time.sleep(0.1)

        # expiry 1: all 32 at once on an expired token
        results = round_("expiry-1")
        assert all(r["code"] == 0 for r in results) and len(results) == 32
        assert {r["token"] for r in results} == {stored().secrets["access_token"]}

        # expiry 2: the process holding the lock is SIGKILLed while its refresh request is in flight
        until_expiring()
        server.refresh_arrived.clear()
        hold = server.hold_refresh = threading.Event()

        def kill_the_refresher() -> None:
            assert server.refresh_arrived.wait(30)
            pid = lock_holder(pg_cluster, dbname)
            assert pid in {w.proc.pid for w in workers}, pid
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
            time.sleep(0.3)
            hold.set()

        results = round_("expiry-2", during=kill_the_refresher)
        assert len(results) == 31 and all(r["code"] == 0 for r in results), results
        assert {r["token"] for r in results} == {stored().secrets["access_token"]}

        # PostgreSQL restarts while the 31 ask for the (fresh) token: 0, or 4 for those in flight
        results = round_("restart", during=pg_cluster.restart)
        assert {r["code"] for r in results} <= {0, 4}, results
        results = round_("after-restart")
        assert all(r["code"] == 0 for r in results), results

        # expiries 3 and 4
        for n in (3, 4):
            until_expiring()
            results = round_(f"expiry-{n}")
            assert all(r["code"] == 0 for r in results) and len(results) == 31, results
            assert {r["token"] for r in results} == {stored().secrets["access_token"]}
    finally:
        hold_ = server.hold_refresh
        server.hold_refresh = None
        if hold_ is not None:
            hold_.set()
        for w in workers:
            w.close()
        store.close()
    print("\n".join(f"{name}: {n} grant(s), exit codes {codes}" for name, n, codes in report))
    per_round = {name: n for name, n, _ in report}
    assert per_round == {"expiry-1": 1, "expiry-2": 1, "restart": 0, "after-restart": 0, "expiry-3": 1,
                         "expiry-4": 1}, report
    # the authorization server's own log
    assert server.logged("reuse", provider.client_id) == []
    assert server.logged("invalid_grant", provider.client_id) == []
    assert len(server.logged("aborted", provider.client_id)) == 1  # the SIGKILLed refresh granted nothing
    assert len(server.logged("grant", provider.client_id)) == 4
