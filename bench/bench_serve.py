"""``synthral serve`` under load: sustained action calls per second against a local httpbin, and
the median latency it adds over a direct httpx call to the same httpbin, measured in the same run.

    .venv/bin/python bench/bench_serve.py            # full run (target: added latency <= 5 ms)
    .venv/bin/python bench/bench_serve.py --quick    # a few samples (smoke)

The server is a real ``synthral serve`` subprocess on 127.0.0.1; the action is ``GET /bearer`` of
the local httpbin with the stored bearer token (store read, credential, one shared HTTP client).
Direct and served calls alternate so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from run import SYNTHRAL, TOKEN, LocalHTTPBin, bench_manifest, store_connections  # noqa: E402

TARGET_ADDED_MS = 5.0


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([SYNTHRAL, "serve", "--port", "0", "--json"], env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    url = ""
    for line in proc.stderr:
        event = json.loads(line)
        if event.get("event") == "listening":
            url = event["url"]
        if event.get("event") == "login":
            break
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
    if not url:
        raise SystemExit("bench: synthral serve did not start")
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    samples, seconds, workers = (40, 2.0, 4) if args.quick else (400, 8.0, 8)

    import httpx

    from synthral_cli.serve import keys
    from synthral_cli.store.crypto import encode_key, generate_key
    from synthral_cli.store.model import Connection

    with tempfile.TemporaryDirectory(prefix="synthral-bench-serve-") as tmp, LocalHTTPBin() as bin_:
        config = Path(tmp) / "config"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHRAL_", "NANGO_"))}
        env.update({"SYNTHRAL_CONFIG_DIR": str(config), "SYNTHRAL_STORE_KEY": encode_key(generate_key()),
                    "SYNTHRAL_MANIFESTS_PATH": str(Path(tmp) / "manifests"),
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
        bench_manifest(Path(tmp) / "manifests", bin_.url)
        store_connections(env, [Connection(slug="benchbin", method="bearer", secrets={"token": TOKEN})])
        _, key = keys.create(config, "bench", ["actions:execute"])
        proc, url = start_server(env)
        try:
            served_url = url + "/api/v1/connectors/benchbin/bearer"
            served_headers = {"Authorization": f"Bearer {key}"}
            direct_headers = {"Authorization": f"Bearer {TOKEN}"}
            with httpx.Client(timeout=30) as client:
                for _ in range(20):  # warm-up: connections, threads, the store
                    assert client.post(served_url, headers=served_headers).status_code == 200
                    assert client.get(bin_.url + "/bearer", headers=direct_headers).status_code == 200
                direct, served = [], []
                for _ in range(samples):
                    t0 = time.perf_counter()
                    client.get(bin_.url + "/bearer", headers=direct_headers)
                    t1 = time.perf_counter()
                    r = client.post(served_url, headers=served_headers)
                    t2 = time.perf_counter()
                    assert r.status_code == 200 and r.json()["result"]["authenticated"] is True
                    direct.append((t1 - t0) * 1000)
                    served.append((t2 - t1) * 1000)
            done = [0]
            lock = threading.Lock()
            stop = time.monotonic() + seconds

            def hammer() -> None:
                with httpx.Client(timeout=30) as c:
                    while time.monotonic() < stop:
                        if c.post(served_url, headers=served_headers).status_code == 200:
                            with lock:
                                done[0] += 1

            started = time.monotonic()
            with ThreadPoolExecutor(workers) as pool:
                for f in [pool.submit(hammer) for _ in range(workers)]:
                    f.result()
            rate = done[0] / (time.monotonic() - started)
        finally:
            proc.terminate()
            proc.wait(20)
    d, s = statistics.median(direct), statistics.median(served)
    added = s - d
    verdict = "" if args.quick else (" PASS" if added <= TARGET_ADDED_MS else " MISS")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| direct httpx call to httpbin, median | {d:.2f} ms | |")
    print(f"| the same call through synthral serve, median | {s:.2f} ms | |")
    print(f"| added latency (median difference) | {added:.2f} ms | <= {TARGET_ADDED_MS:g} ms{verdict} |")
    print(f"| sustained action calls, {workers} clients for {seconds:g} s | {rate:.0f} calls/s | |")


if __name__ == "__main__":
    main()
