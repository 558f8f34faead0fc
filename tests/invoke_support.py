"""Helpers for the invocation tests: user manifests in a temp dir, a scripted HTTP peer on
127.0.0.1 (for sequences httpbin cannot play: 503-then-200, pages, token refresh), and
credentials written into a real store."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

STORE_KEY = "u7wbHqVgqXW0vO5xQ9f6b3aZrJ2nS1mT8kLcE4dYpG0"


def manifest(
    slug: str, base_url: str, actions: list[dict[str, Any]], auth: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": 1,
        "slug": slug,
        "name": slug.title(),
        "category": "Development & Code",
        "status": "beta",
        "version": "1.0.0",
        "description": f"{slug} test connector",
        "docs_url": "https://example.com/docs",
        "base_url": base_url,
        "auth": auth or {"type": "bearer"},
        "nango": {"enabled": False},
        "actions": [
            {"name": "test_connection", "description": "who am i", "method": "GET", "path": "/get"},
            *actions,
        ],
    }
    if base_url is None:
        del doc["base_url"]
    doc.update(extra)
    return doc


def write_manifests(folder: Path, *docs: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        (folder / f"{doc['slug']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return folder


def put_connection(slug: str, **kwargs: Any) -> Any:
    """Write a connection into the store of the current (hermetic) environment."""
    import os

    from synthral_cli.basics.settings import Settings
    from synthral_cli.store.encrypted import Connection, Store

    store = Store.open(Settings(dict(os.environ)))
    try:
        return store.put(Connection(slug=slug, **kwargs))
    finally:
        store.close()


def get_connection(slug: str, name: str = "default") -> Any:
    import os

    from synthral_cli.basics.settings import Settings
    from synthral_cli.store.encrypted import Store

    store = Store.open(Settings(dict(os.environ)))
    try:
        return store.get(slug, name)
    finally:
        store.close()


class Scripted:
    """An HTTP server on 127.0.0.1 answering each path from a script; the last answer repeats.

    ``add(path, (status, headers, body), ...)``; body is bytes, str or JSON-able. ``requests``
    records ``(method, path_with_query, headers, body)``.
    """

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, dict[str, str], Any]]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                key = self.path.split("?")[0]
                script = outer.routes.get(key) or [(404, {}, {"error": {"message": "no route"}})]
                status, headers, payload = script.pop(0) if len(script) > 1 else script[0]
                if callable(payload):
                    payload = payload(self.path, body)
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    headers = {"Content-Type": "application/json", **headers}
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = payload or b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, path: str, *responses: tuple[int, dict[str, str], Any]) -> None:
        self.routes[path] = list(responses)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def alike_through_both_clients(monkeypatch: Any, call: Callable[[], Any]) -> Any:
    """``call()`` through the lean client (which must have sent the request) and through httpx:
    the two outcomes must be equal; the lean one is returned."""
    from synthral_cli.wire import lean

    sent: list[str] = []
    real = lean.Client._send

    def counting(self: Any, method: str, url: Any, *args: Any) -> Any:
        sent.append(url)
        return real(self, method, url, *args)

    with monkeypatch.context() as m:
        m.setattr(lean.Client, "_send", counting)
        via_lean = call()
    assert sent, "the lean client did not send the request"
    with monkeypatch.context() as m:
        m.setattr(lean, "usable", lambda env=None: False)
        via_httpx = call()
    assert via_lean == via_httpx
    return via_lean
