"""The lean standard-library HTTP client (wire/lean.py) and httpx answer every call alike: each
invocation here runs twice against a real httpbin (plain and TLS), once through each client,
and the outcomes (or errors) must be equal."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.invoke_support import STORE_KEY, alike_through_both_clients, manifest, write_manifests

P = {"in": "query", "type": "string"}
ACTIONS = [
    {"name": "get", "description": "echo", "method": "GET", "path": "/anything",
     "parameters": [{"name": "q", **P}, {"name": "tag", **P}]},
    {"name": "post", "description": "json echo", "method": "POST", "path": "/anything",
     "parameters": [{"name": "title", "in": "body", "type": "string"}, {"name": "n", "in": "body", "type": "integer"}]},
    {"name": "form", "description": "form echo", "method": "POST", "path": "/anything", "body": "form",
     "parameters": [{"name": "email", "in": "body", "type": "string"}]},
    {"name": "put_empty", "description": "empty PUT", "method": "PUT", "path": "/anything"},
    {"name": "delete", "description": "DELETE", "method": "DELETE", "path": "/anything"},
    {"name": "head", "description": "HEAD", "method": "HEAD", "path": "/get"},
    {"name": "status", "description": "a status", "method": "GET", "path": "/status/{code}",
     "parameters": [{"name": "code", "in": "path", "type": "integer", "required": True}]},
    {"name": "redirect", "description": "redirect", "method": "GET", "path": "/redirect-to",
     "parameters": [{"name": "url", "in": "query", "type": "string", "required": True}]},
    {"name": "hops", "description": "redirects", "method": "GET", "path": "/absolute-redirect/{n}",
     "parameters": [{"name": "n", "in": "path", "type": "integer", "required": True}]},
    {"name": "path", "description": "any path", "method": "GET", "path": "/{what}",
     "parameters": [{"name": "what", "in": "path", "type": "string", "required": True}]},
    {"name": "cookies", "description": "repeated headers", "method": "GET", "path": "/response-headers",
     "parameters": [{"name": "X-Twice", "in": "query", "type": "array"}]},
    {"name": "delay", "description": "slow", "method": "GET", "path": "/delay/{n}",
     "parameters": [{"name": "n", "in": "path", "type": "integer", "required": True}]},
]


@pytest.fixture
def peers(httpbin, httpbin_secure, tmp_path, monkeypatch):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    folder = write_manifests(
        tmp_path / "m",
        manifest("bin", httpbin.url, ACTIONS),
        manifest("sbin", httpbin_secure.url, ACTIONS),
        manifest("nobody", closed, ACTIONS),
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    for slug in ("BIN", "SBIN", "NOBODY"):
        monkeypatch.setenv(f"SYNTHRAL_{slug}_TOKEN", "lean-token-123")
    return httpbin, httpbin_secure


def outcome(slug: str, action: str, params: dict[str, Any], **options: Any) -> Any:
    from synthral_cli.api import Synthral
    from synthral_cli.basics.errors import SynthralError

    options.setdefault("retries", 0)
    try:
        out = Synthral().invoke(slug, action, params, **options)
    except SynthralError as exc:
        return ("error", type(exc).__name__, exc.exit_code, exc.message, exc.hint,
                getattr(exc, "status", None), getattr(exc, "result", None))
    headers = {k: v for k, v in out.headers.items() if k != "date"}
    return ("ok", out.to_dict(), headers, out.content_type, out.binary)


def both(monkeypatch, slug: str, action: str, params: dict[str, Any], **options: Any) -> Any:
    """The outcome through the lean client (which must have sent the request) and through httpx."""
    return alike_through_both_clients(monkeypatch, lambda: outcome(slug, action, params, **options))


CALLS = [
    ("get", {"q": "a b&c=d/é", "tag": "x"}),
    ("post", {"title": "Ünïcode ✓ \"quoted\"", "n": 3}),
    ("form", {"email": "ada@example.com"}),
    ("put_empty", {}),
    ("delete", {}),
    ("head", {}),
    ("status", {"code": 418}),
    ("status", {"code": 404}),
    ("status", {"code": 401}),
    ("status", {"code": 204}),
    ("status", {"code": 503}),
    ("redirect", {"url": "/get"}),
    ("hops", {"n": 2}),
    ("hops", {"n": 7}),
    ("path", {"what": "gzip"}),
    ("path", {"what": "deflate"}),
    ("path", {"what": "brotli"}),
    ("path", {"what": "encoding/utf8"}),
    ("path", {"what": "html"}),
    ("path", {"what": "xml"}),
    ("path", {"what": "image/png"}),
    ("path", {"what": "robots.txt"}),
    ("cookies", {"X-Twice": ["one", "two"]}),
]


@pytest.mark.parametrize(("action", "params"), CALLS, ids=[f"{a}-{i}" for i, (a, _) in enumerate(CALLS)])
def test_plain_http_calls_are_answered_alike(peers, monkeypatch, action, params):
    got = both(monkeypatch, "bin", action, params)
    if action == "get":
        assert got[0] == "ok" and got[1]["result"]["args"] == {"q": "a b&c=d/é", "tag": "x"}
        assert got[1]["result"]["headers"]["Authorization"] == "Bearer lean-token-123"


@pytest.mark.parametrize(("action", "params"), CALLS[:8], ids=[f"{a}-{i}" for i, (a, _) in enumerate(CALLS[:8])])
def test_tls_calls_with_a_private_ca_are_answered_alike(peers, monkeypatch, action, params):
    import pytest_httpbin.certs

    got = both(monkeypatch, "sbin", action, params, ca_bundle=pytest_httpbin.certs.where())
    assert got[0] == "ok" or got[3] is not None  # an answer, not a network failure


def test_an_untrusted_certificate_is_refused_alike(peers, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    got = both(monkeypatch, "sbin", "get", {})
    assert got[:3] == ("error", "NetworkError", 4) and "is not trusted" in got[3]


def test_a_redirect_to_another_origin_keeps_the_credential_alike(peers, monkeypatch):
    httpbin, _ = peers
    elsewhere = httpbin.url.replace("127.0.0.1", "localhost") + "/anything"
    got = both(monkeypatch, "bin", "redirect", {"url": elsewhere})
    assert got[0] == "error" and got[5] == 302 and "does not follow with credentials" in got[3]


def test_network_failures_are_reported_alike(peers, monkeypatch):
    got = both(monkeypatch, "bin", "delay", {"n": 3}, timeout=0.5)
    assert got[:3] == ("error", "NetworkError", 4) and "No answer from" in got[3]


def test_a_refused_connection_is_reported_alike(peers, monkeypatch):
    from synthral_cli.wire import lean

    first = outcome("nobody", "get", {}, retries=1, backoff_base=0.0)
    monkeypatch.setattr(lean, "usable", lambda env=None: False)
    assert outcome("nobody", "get", {}, retries=1, backoff_base=0.0) == first
    assert first[:3] == ("error", "NetworkError", 4) and "Could not connect to 127.0.0.1" in first[3]


def test_a_credential_bound_elsewhere_is_never_sent_by_either(peers, monkeypatch):
    from synthral_cli.api import Synthral
    from synthral_cli.store.model import Connection
    from synthral_cli.wire import lean

    monkeypatch.delenv("SYNTHRAL_BIN_TOKEN")
    sy = Synthral()
    with sy.store.locked():
        sy.store.put(Connection(slug="bin", method="bearer", secrets={"token": "bound-tok"},
                                origins=["https://api.example.com"]))
    sy.store.close()
    sent: list[str] = []
    monkeypatch.setattr(lean.Client, "_send", lambda self, method, url, *a: sent.append(url))
    first = outcome("bin", "get", {})
    monkeypatch.setattr(lean, "usable", lambda env=None: False)
    assert outcome("bin", "get", {}) == first
    assert sent == [] and first[:3] == ("error", "AuthError", 3) and "Refusing to send" in first[3]


@pytest.mark.parametrize(("env", "usable"), [({}, True), ({"HTTPS_PROXY": "http://proxy:3128"}, False),
                                             ({"http_proxy": "http://proxy:3128"}, False),
                                             ({"ALL_PROXY": "socks5://proxy"}, False), ({"NO_PROXY": "*"}, True)])
def test_a_proxy_in_the_environment_leaves_everything_to_httpx(env, usable):
    from synthral_cli.wire import lean

    assert lean.usable(env) is usable


def test_debug_logging_leaves_everything_to_httpx():
    from synthral_cli.basics.logs import disable_debug_logging, enable_debug_logging
    from synthral_cli.wire import lean

    enable_debug_logging()
    try:
        assert lean.usable({}) is False
    finally:
        disable_debug_logging()
    assert lean.usable({}) is True


def test_a_url_httpx_would_reencode_goes_to_httpx(peers, monkeypatch):
    """An unusual path (a space is sent as %20 by httpx) is not sent by the lean client."""
    from synthral_cli.wire import lean

    httpbin, _ = peers
    from synthral_cli.wire.http import new_client

    with lean.Client(5.0, None, lambda: new_client(5.0, None)) as client:
        resp = client.request("GET", f"{httpbin.url}/anything/a b", headers=[])
        assert type(resp).__module__.startswith("httpx")
        assert resp.json()["url"].endswith("/anything/a%20b")
        resp = client.request("GET", f"{httpbin.url}/anything/ab", headers=[])
        assert isinstance(resp, lean.Response) and resp.status_code == 200
