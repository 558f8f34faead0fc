"""The MCP rows of bench/run.py (``--only mcp``): how fast ``synthral mcp`` answers an agent.

- start-up: from process start to the answers of ``initialize`` + ``tools/list`` over stdio, for
  the whole bundled catalogue as tools (``--all``) and for the meta tools alone;
- tool-call overhead: the median round trip of a ``tools/call`` to a local httpbin in a warm
  server, minus the median of the same request made directly with a warm ``httpx.Client``.

The client side is a minimal JSON-RPC-over-pipes loop, so what is measured is the server.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Any


class StdioSession:
    """``synthral mcp ARGS`` with newline-delimited JSON-RPC on its stdin/stdout."""

    def __init__(self, synthral: str, args: list[str], env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([synthral, "mcp", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.next_id = 0

    def send(self, method: str, params: dict[str, Any] | None = None, notify: bool = False) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        if not notify:
            self.next_id += 1
            msg["id"] = self.next_id
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise SystemExit(f"bench: synthral mcp closed its stdout: {err[-800:]}")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise SystemExit(f"bench: synthral mcp answered an error: {answer['error']}")
        return answer

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.send(method, params)
        return self.receive()

    def initialize(self) -> list[dict[str, Any]]:
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "bench", "version": "1"}})
        self.send("notifications/initialized", notify=True)
        tools: list[dict[str, Any]] = self.request("tools/list")["result"]["tools"]
        return tools

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


SDK_IMPORT = "import mcp.server.lowlevel, mcp.server.stdio"


def startup_ms(synthral: str, args: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    """Medians over ``runs``: ms to the tools/list answer (``wall``), CPU ms of the whole server
    process (``cpu``), CPU ms of a process that only imports the SDK, run right after each server
    so both see the same machine (``sdk``), and the difference of each pair (``own``: synthral's
    share); plus the number of tools and the answer's size in characters. CPU time is much less
    sensitive than wall time to other work on the machine."""
    import sys

    got: dict[str, list[float]] = {"wall": [], "cpu": [], "sdk": [], "own": []}
    count = size = 0
    for i in range(runs + 2):
        before = _cpu()
        session = StdioSession(synthral, args, env)
        tools = session.initialize()
        elapsed = (time.perf_counter() - session.started) * 1000
        session.close()
        cpu = (_cpu() - before) * 1000
        before = _cpu()
        subprocess.run([sys.executable, "-c", SDK_IMPORT], env=env, check=True)
        sdk = (_cpu() - before) * 1000
        if i >= 2:  # two warm-ups: the catalogue cache, the OS page cache
            for key, value in (("wall", elapsed), ("cpu", cpu), ("sdk", sdk), ("own", cpu - sdk)):
                got[key].append(value)
        count, size = len(tools), len(json.dumps({"tools": tools}, separators=(",", ":")))
    out = {k: statistics.median(v) for k, v in got.items()}
    out.update(tools=count, size=size)
    return out


def call_overhead(synthral: str, env: dict[str, str], url: str, token: str, calls: int) -> tuple[float, float]:
    """Median ms of a warm tools/call and of the same request with a warm httpx client, taken
    alternately so that both see the same machine."""
    import httpx

    session = StdioSession(synthral, ["--connector", "benchbin"], env)
    session.initialize()
    args = {"name": "benchbin__bearer", "arguments": {}}
    mcp_samples, direct = [], []
    with httpx.Client(timeout=30) as client:
        for i in range(calls + 20):
            start = time.perf_counter()
            answer = session.request("tools/call", args)
            middle = time.perf_counter()
            client.get(f"{url}/bearer", headers={"Authorization": f"Bearer {token}"}).raise_for_status()
            end = time.perf_counter()
            if answer["result"].get("isError"):
                raise SystemExit(f"bench: the tool call failed: {answer['result']}")
            if i >= 20:
                mcp_samples.append((middle - start) * 1000)
                direct.append((end - middle) * 1000)
    session.close()
    return statistics.median(mcp_samples), statistics.median(direct)


def rows(args: Any, tmp: Path, run: ModuleType) -> list[Any]:
    from synthral_cli.store.model import Connection

    Row = run.Row
    env = run.base_env(tmp / "mcp")
    full = startup_ms(run.SYNTHRAL, ["--all"], env, args.runs)
    meta = startup_ms(run.SYNTHRAL, ["--all", "--tools", "meta"], env, args.runs)
    out = [
        Row(f"synthral mcp --all: initialize + tools/list ({full['tools']:.0f} tools), from process start",
            full["wall"], "ms", "<= 1000 ms", full["wall"] <= 1000, f"CPU {full['cpu']:,.0f} ms"),
        Row("CPU of a python that only imports the MCP SDK (paired runs)", full["sdk"], "ms",
            note=f"synthral's own share of the server's CPU: {full['own']:,.0f} ms"),
        Row("synthral mcp --tools meta: initialize + tools/list (3 tools)", meta["wall"], "ms",
            note=f"CPU {meta['cpu']:,.0f} ms; tools/list answer {meta['size']:,.0f} characters"),
    ]
    with run.LocalHTTPBin() as bin_:
        env = run.base_env(tmp / "mcp-call")
        env["SYNTHRAL_STORE_KEY"] = run.STORE_KEY
        env["SYNTHRAL_MANIFESTS_PATH"] = str(tmp / "mcp-manifests")
        run.bench_manifest(tmp / "mcp-manifests", bin_.url)
        run.store_connections(env, [Connection(slug="benchbin", method="bearer", secrets={"token": run.TOKEN})])
        calls = max(20, args.runs * 10)
        ours, direct = call_overhead(run.SYNTHRAL, env, bin_.url, run.TOKEN, calls)
    overhead = ours - direct
    out += [
        Row("MCP tools/call over stdio, warm server, vs local httpbin", ours, "ms"),
        Row("httpx, same request, warm client", direct, "ms"),
        Row("tool-call overhead over httpx (medians)", overhead, "ms", "<= 5 ms", overhead <= 5),
    ]
    for r in out:
        r.block = "bench-mcp"
    return out
