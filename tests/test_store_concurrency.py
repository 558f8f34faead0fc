"""The store under real parallel processes and SIGKILL (issue 3, points 6 and 7)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from synthral_cli.basics.settings import Settings
from synthral_cli.store import keys
from synthral_cli.store.encrypted import Connection, Store


@pytest.fixture
def key_env(monkeypatch):
    """One key for every process of a test, from the environment (no keyring, no key-file race)."""
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", keys.encode_key(keys.generate_key()))
    return dict(os.environ)


def open_store() -> Store:
    return Store.open(Settings(dict(os.environ)))


def spawn(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


REFRESHER = """
import os, sys, time
from dataclasses import replace
from synthral_cli.api import Synthral
start = float(sys.argv[1]) if len(sys.argv) > 1 else 0
store = Synthral().store
while not os.path.exists(os.environ["GO_FILE"]):
    time.sleep(0.005)
conn = store.get("slack")
if conn.expires_at < time.time() + 60:
    with store.locked():
        conn = store.get("slack")          # re-read: another process may have refreshed
        if conn.expires_at < time.time() + 60:
            time.sleep(0.3)                # the token endpoint round trip
            store.put(replace(conn, secrets={"access_token": f"new-{os.getpid()}"},
                              expires_at=time.time() + 3600))
            print("refreshed", flush=True)
        else:
            print("reused", conn.secrets["access_token"], flush=True)
else:
    print("fresh", conn.secrets["access_token"], flush=True)
"""


def test_sixteen_processes_refresh_once(key_env, tmp_path):
    store = open_store()
    store.put(Connection("slack", secrets={"access_token": "old-token"}, expires_at=time.time() + 5))
    go = tmp_path / "go"
    env = {**key_env, "GO_FILE": str(go)}
    procs = [spawn(REFRESHER, env) for _ in range(16)]
    time.sleep(0.5)
    go.touch()
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outputs.append(out.split())
    refreshed = [o for o in outputs if o[0] == "refreshed"]
    assert len(refreshed) == 1, outputs
    final = open_store().get("slack")
    assert final.version == 2 and final.secrets["access_token"].startswith("new-")
    for o in outputs:
        if o[0] != "refreshed":
            assert o[1] == final.secrets["access_token"]  # everyone else read its result


COUNTER = """
from dataclasses import replace
from synthral_cli.api import Synthral
store = Synthral().store
for _ in range(20):
    with store.locked():
        c = store.get("counter")
        store.put(replace(c, secrets={"n": str(int(c.secrets["n"]) + 1)}))
"""


def test_locked_serialises_read_modify_write_across_processes(key_env):
    open_store().put(Connection("counter", secrets={"n": "0"}))
    procs = [spawn(COUNTER, key_env) for _ in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    final = open_store().get("counter")
    assert final.secrets["n"] == "160" and final.version == 161


WRITER = """
import sys
from synthral_cli.api import Synthral
from synthral_cli.store.model import Connection
store = Synthral().store
gen = int(sys.argv[1])
print("ready", flush=True)
while True:
    gen += 1
    with store.locked():
        for i in range(20):
            store.put(Connection(f"svc{i:02}", secrets={"token": f"gen{gen}-row{i}-" + "s" * 500},
                                 metadata={"gen": gen}))
    print(gen, flush=True)
"""


@pytest.mark.slow
def test_sigkill_mid_transaction_keeps_every_row_old_or_new(key_env):
    store = open_store()
    for i in range(20):
        store.put(
            Connection(f"svc{i:02}", secrets={"token": f"gen0-row{i}-" + "s" * 500}, metadata={"gen": 0})
        )
    store.close()
    committed = 0
    rng = random.Random(1234)
    kills = 0
    for _ in range(30):
        p = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(committed)],
            env=key_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert p.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))
        p.send_signal(signal.SIGKILL)
        out, _ = p.communicate(timeout=30)
        assert p.returncode == -signal.SIGKILL
        kills += 1
        printed = [int(x) for x in out.split()]
        # Every generation the writer printed was committed before the print.
        at_least = printed[-1] if printed else committed

        raw = sqlite3.connect(os.environ["SYNTHRAL_CONFIG_DIR"] + "/store.db")
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        raw.close()
        check = open_store()
        rows = check.list()
        assert len(rows) == 20
        gens = {c.metadata["gen"] for c in rows}
        assert len(gens) == 1, f"a transaction was half applied: {gens}"
        gen = gens.pop()
        assert gen >= at_least
        for c in rows:
            assert check.get(c.slug).secrets["token"].startswith(f"gen{gen}-row{int(c.slug[3:])}-")
        check.close()
        committed = gen
    assert kills == 30
