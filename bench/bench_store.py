"""Benchmark the store with 10,000 connections (issue 3).

    .venv/bin/python bench/bench_store.py [--connections 10000] [--runs 15]

Measures, in a throw-away config directory with a key file:
  * ``synthral connections list`` and ``--json`` as whole processes (target: <= 150 ms),
  * ``synthral token slack --connection cNNNNN`` as a whole process (a stored, unexpired token),
  * ``Store.get`` in a loop (decrypt included) and ``Store.list`` in-process.

``teams_rows`` is the "teams" benchmark of bench/run.py (``--only teams``, issue 19), against a
throwaway PostgreSQL cluster (tests/pgcluster.py) and the Authlib server (tests/authserver.py):
  * ``synthral token`` latency, a stored fresh token, SQLite vs PostgreSQL on loopback;
  * 32 processes over 4 simulated machines (own config directory and HOME each, one
    SYNTHRAL_STORE_URL and SYNTHRAL_STORE_KEY) on one expired token: wall time and refresh
    grants at the server (target: exactly 1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def synthral() -> str:
    exe = shutil.which("synthral", path=str(Path(sys.executable).parent))
    if not exe:
        sys.exit("the synthral console script is not installed next to this Python")
    return exe


def whole_process(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        p = subprocess.run([synthral(), *args], env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.exit(f"synthral {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    times = times[1:]  # the first run warms the page cache
    return statistics.median(times) * 1000, min(times) * 1000


NO_TYPER_LIST = """
import time
from synthral_cli.cli import ui
from synthral_cli.cli.runtime import Runtime
from synthral_cli.basics.settings import Settings
from synthral_cli.store.encrypted import Store
from synthral_cli.store.report import connection_rows
rt = Runtime()
store = Store.open(Settings(rt.env))
rows = connection_rows(store, rt.env, lambda: rt.catalogue.slugs())
now = time.time()
ui.table(["slug", "connection", "method", "scopes", "expires", "health", "source"],
         [(r["connector_slug"], r["connection"], r["method"], " ".join(r["scopes"]), r["expires_at"] - now,
           r["health"], r["source"]) for r in rows])
"""


def whole_process_py(code: str, env: dict[str, str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:]) * 1000, min(times[1:]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    opts = parser.parse_args()

    config = Path(tempfile.mkdtemp(prefix="synthral-bench-"))
    env = {
        **os.environ,
        "SYNTHRAL_CONFIG_DIR": str(config),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    for key in [k for k in env if k.startswith("SYNTHRAL_") and k != "SYNTHRAL_CONFIG_DIR"]:
        del env[key]
    os.environ.clear()
    os.environ.update(env)

    from synthral_cli.basics.settings import Settings
    from synthral_cli.store.encrypted import Connection, Store

    n = opts.connections
    store = Store.open(Settings(env))
    t = time.perf_counter()
    with store.locked():
        for i in range(n):
            store.put(
                Connection(
                    "slack",
                    f"c{i:05}",
                    scopes=["chat:write", "channels:read", "users:read"],
                    expires_at=time.time() + 86400 * 30,
                    config={"team": f"T{i}"},
                    secrets={
                        "access_token": f"xoxb-{i:05}-" + "x" * 40,
                        "refresh_token": f"xoxe-{i:05}-" + "y" * 40,
                    },
                    metadata={"token_type": "bearer"},
                )
            )
    fill = time.perf_counter() - t
    print(f"store: {config / 'store.db'}, {n} connections")
    print(f"  put x{n} in one transaction: {fill * 1000:.0f} ms ({fill / n * 1e6:.0f} us each)")

    t = time.perf_counter()
    listed = store.list()
    print(f"  Store.list(): {(time.perf_counter() - t) * 1000:.1f} ms for {len(listed)} rows")
    names = [c.name for c in listed]
    store.get("slack", names[0])  # key loaded once
    t = time.perf_counter()
    for name in names:
        store.get("slack", name)
    loop = time.perf_counter() - t
    print(
        f"  Store.get() loop: {loop * 1000:.0f} ms for {n} ({loop / n * 1e6:.1f} us each, decrypt included)"
    )
    store.close()
    print(f"  file size after checkpoint: {(config / 'store.db').stat().st_size / 1e6:.1f} MB")

    print(f"whole process (median / best of {opts.runs}):")
    for args in (
        ["--version"],
        ["connections", "list"],
        ["connections", "list", "--json"],
        ["store", "status"],
    ):
        med, best = whole_process(args, env, opts.runs)
        print(f"  synthral {' '.join(args):<28} {med:6.0f} ms / {best:4.0f} ms")
    if "token" in subprocess.run([synthral(), "--help"], env=env, capture_output=True, text=True).stdout:
        args = ["token", "slack", "--connection", f"c{n // 2:05}"]
        med, best = whole_process(args, env, opts.runs)
        print(f"  synthral {' '.join(args):<28} {med:6.0f} ms / {best:4.0f} ms")
    # What `connections list` costs without Typer (the shape of main.py's fast path): the same
    # store and ui calls as views.list_connections.
    med, best = whole_process_py(NO_TYPER_LIST, env, opts.runs)
    print(f"  {'connections list, no Typer (python -c)':<37} {med:6.0f} ms / {best:4.0f} ms")
    shutil.rmtree(config)


def teams_rows(args: argparse.Namespace, tmp: Path, run: Any) -> list[Any]:
    """The rows of ``bench/run.py --only teams`` (module docstring)."""
    import secrets as _secrets

    from synthral_cli.store.model import Connection
    from tests.authserver import OAuthServer, Provider
    from tests.pgcluster import PgCluster

    row = run.Row
    cluster = PgCluster().start()
    server = OAuthServer().start()
    try:
        sqlite_env = run.base_env(tmp / "teams-sqlite")
        sqlite_env["SYNTHRAL_STORE_KEY"] = run.STORE_KEY
        pg_env = {**run.base_env(tmp / "teams-pg"), "SYNTHRAL_STORE_KEY": run.STORE_KEY,
                  "SYNTHRAL_STORE_URL": cluster.new_database()}
        fresh = Connection("slack", method="direct", expires_at=time.time() + 86400, scopes=["chat:write"],
                           secrets={"access_token": _secrets.token_urlsafe(24), "refresh_token": "r"})
        for env in (sqlite_env, pg_env):
            run.store_connections(env, [fresh])
        cmd = [run.SYNTHRAL, "token", "slack"]
        lite = run.timed(cmd, sqlite_env, args.runs)
        pg = run.timed(cmd, pg_env, args.runs)
        # 32 processes, 4 machines, one expired token
        client = server.add_client("bench-teams", detect_reuse=True)
        url = cluster.new_database()
        machines = []
        for m in range(4):
            folder = tmp / f"teams-m{m}" / "manifests"
            folder.mkdir(parents=True)
            env = run.base_env(tmp / f"teams-m{m}" / "config")
            env.update(HOME=str(tmp / f"teams-m{m}"), SYNTHRAL_STORE_KEY=run.STORE_KEY, SYNTHRAL_STORE_URL=url,
                       SYNTHRAL_MANIFESTS_PATH=str(folder), SYNTHRAL_TESTPROV_CLIENT_ID="bench-teams",
                       SYNTHRAL_TESTPROV_CLIENT_SECRET=str(client.client_secret),
                       PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
            prov = Provider(server, "bench-teams", client.client_secret, folder)
            prov.manifest()
            subprocess.run([run.SYNTHRAL, "connectors", "show", "testprov"], env=env, capture_output=True, check=True)
            machines.append((env, prov))
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(machines[0][0])
        try:
            machines[0][1].seed(expires_in=-5)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        start = time.perf_counter()
        procs = [subprocess.Popen([run.SYNTHRAL, "token", "testprov"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for env, _ in machines for _ in range(8)]
        codes = [p.wait(timeout=300) for p in procs]
        wall = (time.perf_counter() - start) * 1000
        ok = sum(c == 0 for c in codes)
        grants = server.count("refresh_token", "bench-teams")
        reuse = len(server.logged("reuse", "bench-teams"))
        return [
            row("token, stored fresh token: SQLite", lite, "ms"),
            row("token, stored fresh token: PostgreSQL (loopback)", pg, "ms", note=f"{pg / lite:.2f}x SQLite"),
            row("32 processes on 4 machines, one expired token (PostgreSQL): wall time", wall, "ms"),
            row("32 processes on 4 machines: successes", ok, "of 32", "32", ok == 32),
            row("32 processes on 4 machines: refresh grants at the server", grants, "grants", "exactly 1",
                grants == 1, f"reuse detections: {reuse}"),
        ]
    finally:
        server.stop()
        cluster.stop()


if __name__ == "__main__":
    main()
