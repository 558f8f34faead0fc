"""``synthral listen`` under load: verified Stripe-signed deliveries per second into a real
listener subprocess that writes each event to its spool (fsync) before the 2xx and emits it as
an NDJSON line, and the latency from sending a delivery to reading its line on the listener's
stdout.

    .venv/bin/python bench/bench_triggers.py            # full run (target: >= 500 deliveries/s)
    .venv/bin/python bench/bench_triggers.py --quick    # a few seconds (smoke)

The client is the standard library's ``http.client`` (keep-alive, one connection per worker
thread) so that the sender takes as little of the machine as it can; signatures are Stripe's
scheme (``t=...,v1=HMAC-SHA256(t.body)``) made per delivery with a fresh event id. A delivery
counts when its 2xx came back *and* its line was read from stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from run import SYNTHRAL  # noqa: E402

TARGET_RATE = 500.0
SECRET = "whsec_bench_0123456789"


def signed(event_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": event_id, "object": "event", "type": "payment_intent.succeeded",
                       "data": {"object": {"id": "pi_bench", "amount": 1099, "currency": "usd"}}}).encode()
    t = str(int(time.time()))
    sig = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={t},v1={sig}", "Content-Type": "application/json"}


class Listener:
    """A ``synthral listen stripe`` subprocess; ``seen[id]`` = when its line was read."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([SYNTHRAL, "listen", "stripe", "--port", "0", "--secret-stdin"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self.proc.stdin.write(SECRET.encode() + b"\n")
        self.proc.stdin.close()
        self.port = 0
        for raw in self.proc.stderr:
            line = raw.decode()
            if "listening on" in line:
                self.port = int(line.split(":")[-1].split("/")[0])
                break
        if not self.port:
            raise SystemExit("bench: synthral listen did not start")
        self.stderr: list[str] = []
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._out, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(r.decode() for r in self.proc.stderr), daemon=True).start()  # type: ignore[union-attr]

    def _out(self) -> None:
        for raw in self.proc.stdout:  # type: ignore[union-attr]
            when = time.perf_counter()
            event_id = json.loads(raw)["id"]
            with self.cond:
                self.seen[event_id] = when
                self.cond.notify_all()

    def wait_for(self, event_id: str, timeout: float = 30.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: event_id in self.seen, timeout):
                raise SystemExit(f"bench: no line for {event_id}; stderr: {''.join(self.stderr)[-800:]}")
            return self.seen[event_id]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def post(conn: http.client.HTTPConnection, event_id: str) -> None:
    body, headers = signed(event_id)
    conn.request("POST", "/", body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise SystemExit(f"bench: delivery {event_id} answered {resp.status}")


def measure(samples: int, seconds: float, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="synthral-bench-listen-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHRAL_", "NANGO_"))}
        env["SYNTHRAL_CONFIG_DIR"] = str(Path(tmp) / "config")
        listener = Listener(env)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=30)
            for i in range(20):  # warm-up
                post(conn, f"evt_warm_{i}")
                listener.wait_for(f"evt_warm_{i}")
            latencies = []
            for i in range(samples):
                event_id = f"evt_lat_{i}"
                start = time.perf_counter()
                post(conn, event_id)
                latencies.append((listener.wait_for(event_id) - start) * 1000)
            conn.close()
            sent: list[str] = []
            lock = threading.Lock()
            stop = time.perf_counter() + seconds

            def hammer(n: int) -> None:
                c = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=30)
                i = 0
                while time.perf_counter() < stop:
                    event_id = f"evt_load_{n}_{i}"
                    post(c, event_id)
                    with lock:
                        sent.append(event_id)
                    i += 1
                c.close()

            started = time.perf_counter()
            threads = [threading.Thread(target=hammer, args=(n,)) for n in range(workers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            last = max(listener.wait_for(e) for e in sent)
            rate = len(sent) / (last - started)
        finally:
            listener.stop()
    lat = sorted(latencies)
    return {"rate": rate, "count": len(sent), "workers": workers, "seconds": seconds,
            "p50": statistics.median(lat), "p95": lat[int(len(lat) * 0.95) - 1]}


def rows(args: Any, tmp: Path, run: ModuleType) -> list[Any]:
    m = measure(*((40, 2.0, 8) if args.quick else (300, 8.0, 16)))
    Row = run.Row
    out = [
        Row(f"synthral listen: verified deliveries, spooled (fsync) and emitted as NDJSON, {m['workers']} clients",
            round(m["rate"]), "deliveries/s", f">= {TARGET_RATE:g}/s", m["rate"] >= TARGET_RATE,
            f"{m['count']} deliveries in {m['seconds']:g} s"),
        Row("synthral listen: delivery sent -> its NDJSON line read, median", m["p50"], "ms",
            note=f"p95 {m['p95']:.1f} ms"),
    ]
    for r in out:
        r.block = "bench-triggers"
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    m = measure(*((40, 2.0, 8) if args.quick else (300, 8.0, 16)))
    verdict = "" if args.quick else (" PASS" if m["rate"] >= TARGET_RATE else " MISS")
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| verified deliveries/s, {m['workers']} clients, {m['seconds']:g} s | {m['rate']:.0f} | "
          f">= {TARGET_RATE:g}{verdict} |")
    print(f"| delivery -> NDJSON line, median | {m['p50']:.2f} ms | |")
    print(f"| delivery -> NDJSON line, p95 | {m['p95']:.2f} ms | |")


if __name__ == "__main__":
    main()
