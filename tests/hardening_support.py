"""Helpers for the hardening tests (issue 9): hypothesis settings, a tally of inputs tried and
faults injected (for the README table), secret scanning, and fault-injecting peers.

Counts: every property test and fault test calls :func:`tally`. Set ``HARDENING_COUNTS=FILE``
to have them merged into a JSON file (``scripts/hardening-counts`` style); without it the
counts are only checked (each test must really have tried its inputs).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

# Modest example counts keep the suite fast; the README table records what the last run tried.
# In CI (CI=true) the examples are derived from each test's name, so a run is reproducible and a
# green CI stays green; on developer machines every run explores new inputs.
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
    derandomize=bool(os.environ.get("CI")),
)
CLI_PROPERTY = settings(PROPERTY, max_examples=60)

_lock = threading.Lock()


def tally(name: str, inputs: int = 0, faults: int = 0) -> None:
    """Record how many inputs a test tried and how many faults it injected."""
    path = os.environ.get("HARDENING_COUNTS")
    if not path:
        return
    with _lock:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        entry = data.setdefault(name, {"inputs": 0, "faults": 0})
        entry["inputs"] += inputs
        entry["faults"] += faults
        Path(path).write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


class Counter:
    """Counts the examples a property test really ran (hypothesis calls the body per example)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.n = 0

    def __call__(self) -> None:
        self.n += 1

    def done(self, minimum: int = 20, faults: int = 0) -> None:
        assert self.n >= minimum, f"{self.name}: only {self.n} examples ran"
        tally(self.name, inputs=self.n, faults=faults)


def error_lines(stderr: str) -> list[str]:
    """The lines of an error report, without warnings and progress."""
    return [line for line in stderr.splitlines() if not line.startswith("warning:")]


def assert_clean_failure(result: Any, allowed: Iterable[int]) -> None:
    """Exit code is a documented one (never 70, the 'unexpected error' code), the message is one
    line starting with ``error:`` plus at most one hint line, and there is no traceback."""
    allowed = set(allowed)
    assert result.exit_code in allowed, (result.exit_code, result.stderr)
    assert result.exit_code != 70, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    if result.exit_code != 0:
        lines = [ln for ln in error_lines(result.stderr) if ln.strip()]
        errors = [i for i, ln in enumerate(lines) if ln.startswith("error: ")]
        assert errors, result.stderr
        tail = lines[errors[-1] :]
        assert len(tail) <= 2 and all(ln.startswith("  ") for ln in tail[1:]), result.stderr


# ---------------------------------------------------------------------------------------------
# Secrets


def scan_tree(root: Path, needles: Iterable[str], *, skip: Iterable[Path] = ()) -> list[str]:
    """``file: secret`` for every plaintext secret (as bytes, UTF-8) found under ``root``."""
    skip = {p.resolve() for p in skip}
    found = []
    raw = [(n, n.encode()) for n in needles if n]
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.resolve() in skip:
            continue
        data = p.read_bytes()
        found.extend(f"{p}: {n}" for n, b in raw if b in data)
    return found


# ---------------------------------------------------------------------------------------------
# Fault peers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


class RawPeer:
    """A TCP server on 127.0.0.1 that reads one request per connection and then does what
    ``behave(conn, request_bytes)`` says: answer garbage, close mid-response, stay silent.
    ``requests`` counts the requests that arrived."""

    def __init__(self, behave: Any) -> None:
        self.behave = behave
        self.requests = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            self.requests += 1
            self.behave(conn, head + b"\r\n\r\n" + body)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass


def http_answer(status: int, body: bytes, ctype: str = "application/json", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n{extra}\r\n"
    ).encode() + body


class TLSPeer:
    """An HTTPS server on 127.0.0.1 with a certificate from a private trustme CA, answering
    every path from ``routes`` (path -> (status, JSON body)); ``ca_file`` is the CA's PEM."""

    def __init__(self, tmp: Path, routes: dict[str, tuple[int, Any]]) -> None:
        import ssl
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = str(tmp / "private-ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self.routes = routes
        self.requests: list[tuple[str, str, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, body))
                status, payload = outer.routes.get(self.path.split("?")[0], (404, {"error": "no route"}))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> Any:
                conn, addr = self.socket.accept()
                return ctx.wrap_socket(conn, server_side=True), addr

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client refusing our certificate is the point of the test

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
