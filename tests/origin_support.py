"""Peers for the origin-binding tests (issue 14): HTTP(S) servers on loopback that keep their own
log of every connection they accept and every request they read, so a test can assert from the
receiving side that nothing arrived; and trustme certificates for the https cases."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Answer = tuple[int, dict[str, str], Any]


class Peer:
    """``routes[path] = (status, headers, body)`` or a callable ``(path, headers, body) -> Answer``.
    ``connections`` counts accepted TCP connections; ``requests`` holds
    ``(method, path_with_query, headers, body)`` of each request read."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None, name: str | None = None):
        self.routes: dict[str, Answer | Callable[[str, dict[str, str], bytes], Answer]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.connections = 0
        self.name = name or host
        self.scheme = "https" if tls else "http"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers)
                outer.requests.append((self.command, self.path, headers, body))
                route = outer.routes.get(self.path.split("?")[0], (404, {}, {"error": "no route"}))
                status, extra, payload = route(self.path, headers, body) if callable(route) else route
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    extra = {"Content-Type": "application/json", **extra}
                else:
                    data = payload.encode() if isinstance(payload, str) else (payload or b"")
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, Any]:
                sock, addr = super().get_request()
                outer.connections += 1
                if tls is not None:
                    sock = tls.wrap_socket(sock, server_side=True)
                return sock, addr

        self.server = Server((host, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.name}:{self.port}"

    @property
    def url(self) -> str:
        return self.origin

    def untouched(self) -> bool:
        """Nothing reached this server: no connection, no request."""
        return self.connections == 0 and self.requests == []

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Certs:
    """A trustme CA, a server context for 127.0.0.1/localhost, and the CA's PEM file."""

    def __init__(self, folder: Path) -> None:
        import trustme

        self.ca = trustme.CA()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.server)
        self.pem = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.pem))


def user_manifest(folder: Path, slug: str, base_url: str, auth: dict[str, Any], **extra: Any) -> None:
    """A connector manifest with a few actions against ``base_url``, written to ``folder``."""
    import yaml

    doc: dict[str, Any] = {
        "schema_version": 1,
        "slug": slug,
        "name": slug.title(),
        "category": "Development & Code",
        "status": "beta",
        "version": "1.0.0",
        "description": f"{slug}: origin binding test connector",
        "docs_url": "https://example.com/docs",
        "base_url": base_url,
        "auth": auth,
        "nango": {"enabled": False},
        "actions": [
            {"name": "test_connection", "description": "who am i", "method": "GET", "path": "/me"},
            {"name": "thing", "description": "GET a thing", "method": "GET", "path": "/thing"},
            {
                "name": "make",
                "description": "POST a thing",
                "method": "POST",
                "path": "/thing",
                "parameters": [{"name": "name", "in": "body", "type": "string"}],
            },
            {
                "name": "things",
                "description": "pages of things",
                "method": "GET",
                "path": "/things",
                "pagination": {"type": "link", "items_path": "items"},
            },
            {
                "name": "feed",
                "description": "pages by next_url",
                "method": "GET",
                "path": "/feed",
                "pagination": {"type": "next_url", "next_url_path": "next", "items_path": "items"},
            },
        ],
        **extra,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
