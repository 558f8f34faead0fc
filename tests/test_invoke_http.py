"""Delivery against real peers on 127.0.0.1: httpbin (pytest-httpbin) and a scripted server."""

from __future__ import annotations

import base64
import email.utils
import json
import socket
import time

import pytest

from tests.invoke_support import (
    STORE_KEY,
    Scripted,
    get_connection,
    manifest,
    put_connection,
    write_manifests,
)

BIN_ACTIONS = [
    {"name": "headers", "description": "echo headers", "method": "GET", "path": "/headers"},
    {
        "name": "status",
        "description": "a status",
        "method": "GET",
        "path": "/status/{code}",
        "parameters": [{"name": "code", "in": "path", "type": "integer", "required": True}],
    },
    {
        "name": "delay",
        "description": "slow",
        "method": "GET",
        "path": "/delay/{n}",
        "parameters": [{"name": "n", "in": "path", "type": "integer", "required": True}],
    },
    {
        "name": "redirect",
        "description": "redirect",
        "method": "GET",
        "path": "/redirect-to",
        "parameters": [{"name": "url", "in": "query", "type": "string", "required": True}],
    },
    {
        "name": "form",
        "description": "form echo",
        "method": "POST",
        "path": "/anything",
        "body": "form",
        "parameters": [
            {"name": "metadata", "in": "body", "type": "object"},
            {"name": "email", "in": "body", "type": "string"},
        ],
    },
    {
        "name": "upload",
        "description": "multipart echo",
        "method": "POST",
        "path": "/anything",
        "body": "multipart",
        "parameters": [
            {"name": "file", "in": "body", "type": "file", "required": True},
            {"name": "title", "in": "body", "type": "string"},
        ],
    },
    {
        "name": "bytes",
        "description": "binary",
        "method": "GET",
        "path": "/bytes/{n}",
        "parameters": [{"name": "n", "in": "path", "type": "integer", "required": True}],
    },
    {"name": "html", "description": "text", "method": "GET", "path": "/html"},
]


@pytest.fixture
def binpeer(httpbin, tmp_path, monkeypatch):
    folder = write_manifests(
        tmp_path / "m",
        manifest("bin", httpbin.url, BIN_ACTIONS),
        manifest(
            "binbasic",
            httpbin.url,
            [
                {
                    "name": "check",
                    "description": "basic",
                    "method": "GET",
                    "path": "/basic-auth/{u}/{p}",
                    "parameters": [
                        {"name": "u", "in": "path", "type": "string", "required": True},
                        {"name": "p", "in": "path", "type": "string", "required": True},
                    ],
                }
            ],
            auth={"type": "basic"},
        ),
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_BIN_TOKEN", "bin-token-123")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    return httpbin


def run_json(cli, *args):
    r = cli(*args, "--json")
    return r, (json.loads(r.stdout) if r.stdout.strip() else None)


def test_auth_and_user_agent_reach_the_server(cli, binpeer):
    r, out = run_json(cli, "invoke", "bin", "headers")
    assert r.exit_code == 0, r.stderr
    assert out["success"] is True and out["status"] == 200
    headers = out["result"]["headers"]
    assert headers["Authorization"] == "Bearer bin-token-123"
    assert headers["User-Agent"] == "synthral/0.1.0"
    assert headers["Accept"] == "application/json"


def test_basic_auth(cli, binpeer):
    put_connection("binbasic", method="basic", secrets={"username": "ann", "password": "s3cret-pw"})
    r, out = run_json(cli, "invoke", "binbasic", "check", "-p", "u=ann", "-p", "p=s3cret-pw")
    assert r.exit_code == 0 and out["result"] == {"authenticated": True, "user": "ann"}
    r, out = run_json(cli, "invoke", "binbasic", "check", "-p", "u=ann", "-p", "p=other")
    assert r.exit_code == 3  # 401: the credential was refused
    assert "binbasic refused the credentials (401" in r.stderr
    assert out == {"success": False, "status": 401, "result": None}


@pytest.mark.parametrize(
    ("code", "exit_code", "text"),
    [
        (404, 1, "bin answered 404: NOT FOUND"),
        (400, 1, "bin answered 400"),
        (500, 1, "bin answered 500"),
        (401, 3, "bin refused the credentials"),
        (204, 0, ""),
    ],
)
def test_status_codes(cli, binpeer, code, exit_code, text):
    r = cli("invoke", "bin", "status", "-p", f"code={code}", "--retries", "0")
    assert r.exit_code == exit_code, r.stderr
    assert text in r.stderr
    if code == 401:
        assert "Check SYNTHRAL_BIN_TOKEN" in r.stderr


def test_timeout_exits_4(cli, binpeer):
    # Warm up first (imports, the manifest cache): under xdist this may be the first invoke in its
    # process, and on a loaded machine that alone can take seconds. Only the timeout is timed.
    assert cli("invoke", "bin", "delay", "-p", "n=0", "--timeout", "5").exit_code == 0
    started = time.monotonic()
    r = cli("invoke", "bin", "delay", "-p", "n=3", "--timeout", "0.5")
    assert r.exit_code == 4
    assert "No answer from 127.0.0.1" in r.stderr and "within 0.5 s" in r.stderr and "--timeout" in r.stderr
    assert time.monotonic() - started < 2.5  # a read timeout is not retried


def test_delay_within_timeout(cli, binpeer):
    r = cli("invoke", "bin", "delay", "-p", "n=1", "--timeout", "5", "--json")
    assert r.exit_code == 0


def test_redirect_is_followed(cli, binpeer):
    r, out = run_json(cli, "invoke", "bin", "redirect", "-p", f"url={binpeer.url}/get?x=1")
    assert r.exit_code == 0 and out["result"]["args"] == {"x": "1"}


def test_form_and_multipart_echo(cli, binpeer, tmp_path):
    r, out = run_json(cli, "invoke", "bin", "form", "-p", 'metadata={"userId": 1}', "-p", "email=a@b.c")
    assert out["result"]["form"] == {"metadata[userId]": "1", "email": "a@b.c"}
    f = tmp_path / "report.csv"
    f.write_text("a,b\n1,2\n")
    r, out = run_json(cli, "invoke", "bin", "upload", "-p", f"file=@{f}", "-p", "title=Q3")
    assert r.exit_code == 0, r.stderr
    assert out["result"]["files"] == {"file": "a,b\n1,2\n"}
    assert out["result"]["form"] == {"title": "Q3"}
    assert out["result"]["headers"]["Content-Type"].startswith("multipart/form-data; boundary=synthral-")


def test_binary_needs_output(cli, binpeer, tmp_path):
    target = tmp_path / "out.bin"
    r, out = run_json(cli, "invoke", "bin", "bytes", "-p", "n=64", "--output", str(target))
    assert r.exit_code == 0
    assert target.stat().st_size == 64
    assert out["result"] == {"saved_to": str(target), "bytes": 64, "content_type": "application/octet-stream"}
    r, out = run_json(cli, "invoke", "bin", "bytes", "-p", "n=16")
    assert out["result"]["size"] == 16 and len(base64.b64decode(out["result"]["base64"])) == 16


def test_binary_is_refused_on_a_terminal(binpeer, tmp_path):
    """Through a pty the binary guard applies; piped it goes to stdout as-is."""
    import os
    import pty
    import subprocess
    import sys

    exe = os.path.join(os.path.dirname(sys.executable), "synthral")
    primary, secondary = pty.openpty()
    p = subprocess.run(
        [exe, "invoke", "bin", "bytes", "-p", "n=32"],
        stdout=secondary,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(secondary)
    os.close(primary)
    assert p.returncode == 2
    assert "The answer is binary (application/octet-stream, 32 bytes)" in p.stderr
    assert "--output FILE" in p.stderr
    piped = subprocess.run([exe, "invoke", "bin", "bytes", "-p", "n=32"], capture_output=True, timeout=60)
    assert piped.returncode == 0 and len(piped.stdout) == 32


def test_text_body(cli, binpeer):
    r, out = run_json(cli, "invoke", "bin", "html")
    assert isinstance(out["result"], str) and "Herman Melville" in out["result"]
    r = cli("invoke", "bin", "html")
    assert "Herman Melville" in r.stdout


def test_ca_bundle_for_a_private_ca(cli, httpbin_secure, tmp_path, monkeypatch):
    from pytest_httpbin import certs

    httpbin_ca_bundle = certs.where()
    folder = write_manifests(tmp_path / "m", manifest("tls", httpbin_secure.url, []))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_TLS_TOKEN", "tls-token-1")
    r = cli("invoke", "tls", "test_connection")
    assert (
        r.exit_code == 4 and "The TLS certificate of 127.0.0.1" in r.stderr and "is not trusted" in r.stderr
    )
    assert "--ca-bundle FILE" in r.stderr
    r = cli("invoke", "tls", "test_connection", "--ca-bundle", httpbin_ca_bundle, "--json")
    assert r.exit_code == 0, r.stderr
    monkeypatch.setenv("SYNTHRAL_CA_BUNDLE", httpbin_ca_bundle)
    assert cli("invoke", "tls", "test_connection").exit_code == 0
    r = cli("invoke", "tls", "test_connection", "--ca-bundle", str(tmp_path / "nope.pem"))
    assert r.exit_code == 2 and "Cannot use the CA bundle" in r.stderr


# ---------------------------------------------------------------------------------------------
# Scripted peer: errors in bodies, retries, pagination, refresh


@pytest.fixture
def peer(tmp_path, monkeypatch):
    server = Scripted()
    actions = [
        {"name": "get", "description": "GET", "method": "GET", "path": "/thing"},
        {
            "name": "post",
            "description": "POST",
            "method": "POST",
            "path": "/thing",
            "parameters": [{"name": "x", "in": "body", "type": "string"}],
        },
        {
            "name": "post_idem",
            "description": "POST idempotent",
            "method": "POST",
            "path": "/thing",
            "idempotent": True,
        },
        {"name": "slackish", "description": "ok false", "method": "POST", "path": "/slack"},
        {
            "name": "link",
            "description": "link pages",
            "method": "GET",
            "path": "/link",
            "pagination": {"type": "link"},
        },
        {
            "name": "cursor",
            "description": "cursor pages",
            "method": "GET",
            "path": "/cursor",
            "pagination": {
                "type": "cursor",
                "cursor_param": "cursor",
                "next_cursor_path": "meta.next",
                "items_path": "data",
            },
        },
        {
            "name": "stripe",
            "description": "stripe pages",
            "method": "GET",
            "path": "/stripe",
            "parameters": [{"name": "limit", "in": "query", "type": "integer"}],
            "pagination": {
                "type": "cursor",
                "cursor_param": "starting_after",
                "cursor_from_last_item": "id",
                "has_more_path": "has_more",
                "items_path": "data",
                "limit_param": "limit",
                "page_size": 2,
            },
        },
        {
            "name": "paged",
            "description": "page numbers",
            "method": "GET",
            "path": "/paged",
            "pagination": {"type": "page", "page_param": "page", "max_pages": 3},
        },
        {
            "name": "offset",
            "description": "offsets",
            "method": "GET",
            "path": "/offset",
            "pagination": {
                "type": "offset",
                "offset_param": "offset",
                "limit_param": "limit",
                "page_size": 2,
                "items_path": "items",
            },
            "parameters": [{"name": "limit", "in": "query", "type": "integer"}],
        },
    ]
    folder = write_manifests(
        tmp_path / "m",
        manifest(
            "peer",
            server.url,
            actions,
            errors={"ok_path": "ok", "message_paths": ["error", "detail.reason"]},
        ),
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_PEER_TOKEN", "peer-token-123")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    yield server
    server.close()


def test_provider_message_is_extracted(cli, peer):
    peer.add("/thing", (422, {}, {"detail": {"reason": "email is invalid"}}))
    r, out = run_json(cli, "invoke", "peer", "post", "-p", "x=1")
    assert r.exit_code == 1
    assert "error: peer answered 422: email is invalid" in r.stderr
    assert out == {"success": False, "status": 422, "result": {"detail": {"reason": "email is invalid"}}}
    peer.add("/thing", (400, {}, {"error": {"message": "Missing email"}}))
    r = cli("invoke", "peer", "post")
    assert r.exit_code == 1 and "peer answered 400: Missing email" in r.stderr
    assert "synthral connectors actions peer" in r.stderr


def test_ok_false_in_a_200_is_an_error(cli, peer):
    peer.add("/slack", (200, {}, {"ok": False, "error": "channel_not_found"}))
    r, out = run_json(cli, "invoke", "peer", "slackish")
    assert r.exit_code == 1 and "peer answered 200: channel_not_found" in r.stderr
    assert out["success"] is False and out["status"] == 200
    peer.add("/slack", (200, {}, {"ok": False, "error": "invalid_auth"}))
    assert cli("invoke", "peer", "slackish").exit_code == 3
    peer.add("/slack", (200, {}, {"ok": True, "ts": "1.2"}))
    r, out = run_json(cli, "invoke", "peer", "slackish")
    assert r.exit_code == 0 and out == {"success": True, "status": 200, "result": {"ok": True, "ts": "1.2"}}


def test_retry_after_seconds_is_honoured(cli, peer):
    peer.add("/thing", (503, {"Retry-After": "1"}, {"error": "busy"}), (200, {}, {"done": True}))
    started = time.monotonic()
    r, out = run_json(cli, "invoke", "peer", "get")
    assert r.exit_code == 0 and out["result"] == {"done": True}
    assert time.monotonic() - started >= 0.95
    assert len(peer.requests) == 2


def test_retry_after_http_date(cli, peer):
    when = email.utils.formatdate(time.time() + 1.5, usegmt=True)
    peer.add("/thing", (429, {"Retry-After": when}, {}), (200, {}, {"done": True}))
    started = time.monotonic()
    r = cli("invoke", "peer", "get")
    assert r.exit_code == 0
    assert time.monotonic() - started >= 0.4  # HTTP dates have 1 s resolution


def test_retries_give_up_and_report_the_last_error(cli, peer):
    peer.add("/thing", (502, {"Retry-After": "0"}, {"error": "bad gateway"}))
    r = cli("invoke", "peer", "get", "--retries", "2")
    assert r.exit_code == 1 and "peer answered 502: bad gateway" in r.stderr
    assert "try again later" in r.stderr
    assert len(peer.requests) == 3


def test_post_is_not_retried_unless_idempotent(cli, peer):
    peer.add("/thing", (503, {"Retry-After": "0"}, {"error": "busy"}), (200, {}, {"ok": True}))
    r = cli("invoke", "peer", "post")
    assert r.exit_code == 1 and len(peer.requests) == 1
    peer.requests.clear()
    peer.add("/thing", (503, {"Retry-After": "0"}, {"error": "busy"}), (200, {}, {"ok": True}))
    r = cli("invoke", "peer", "post_idem")
    assert r.exit_code == 0 and len(peer.requests) == 2


def test_connection_refused_exits_4(cli, tmp_path, monkeypatch):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    folder = write_manifests(tmp_path / "m", manifest("gone", f"http://127.0.0.1:{port}", []))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_GONE_TOKEN", "gone-token-1")
    r = cli("invoke", "gone", "test_connection", "--retries", "1")
    assert r.exit_code == 4
    assert f"Could not connect to 127.0.0.1:{port}" in r.stderr and "tried 2 time(s)" in r.stderr


def test_backoff_and_retry_after_parsing():
    from synthral_cli.wire.http import MAX_BACKOFF, backoff, retry_after

    assert retry_after("3") == 3.0
    assert retry_after("-1") == 0.0
    assert retry_after("soon") is None
    assert retry_after(None) is None
    assert 9 <= retry_after(email.utils.formatdate(time.time() + 10, usegmt=True)) <= 10.5
    assert all(0 <= backoff(a, 0.5) <= min(MAX_BACKOFF, 0.5 * 2**a) for a in range(10) for _ in range(20))


def test_link_pagination(cli, peer):
    peer.add("/link", (200, {"Link": f'<{peer.url}/link2?page=2>; rel="next"'}, [1, 2]))
    peer.add("/link2", (200, {"Link": '<https://elsewhere.test/link3>; rel="next"'}, [3]))
    r, out = run_json(cli, "invoke", "peer", "link", "--paginate")
    assert r.exit_code == 0 and out["result"] == [1, 2, 3]  # never follows to another host
    assert all(req[2]["Authorization"] == "Bearer peer-token-123" for req in peer.requests)


def test_cursor_pagination(cli, peer):
    def page(path, body):
        if "cursor=c2" in path:
            return {"data": [3], "meta": {"next": ""}}
        return {"data": [1, 2], "meta": {"next": "c2"}}

    peer.add("/cursor", (200, {}, page))
    r, out = run_json(cli, "invoke", "peer", "cursor", "--paginate")
    assert out["result"] == [1, 2, 3]
    r, out = run_json(cli, "invoke", "peer", "cursor")
    assert out["result"] == {"data": [1, 2], "meta": {"next": "c2"}}


def test_stripe_style_cursor_from_last_item(cli, peer):
    def page(path, body):
        if "starting_after=b" in path:
            return {"data": [{"id": "c"}], "has_more": False}
        return {"data": [{"id": "a"}, {"id": "b"}], "has_more": True}

    peer.add("/stripe", (200, {}, page))
    r, out = run_json(cli, "invoke", "peer", "stripe", "--paginate")
    assert [i["id"] for i in out["result"]] == ["a", "b", "c"]
    assert [req[1] for req in peer.requests] == ["/stripe?limit=2", "/stripe?limit=2&starting_after=b"]


def test_page_pagination_bounded_by_max_pages(cli, peer):
    peer.add("/paged", (200, {}, lambda path, body: [path]))
    r, out = run_json(cli, "invoke", "peer", "paged", "--paginate")
    assert out["result"] == ["/paged", "/paged?page=2", "/paged?page=3"]
    assert "stopped after 3 pages" in r.stderr


def test_offset_pagination(cli, peer):
    data = list(range(5))

    def page(path, body):
        off = int(path.split("offset=")[1]) if "offset=" in path else 0
        return {"items": data[off : off + 2]}

    peer.add("/offset", (200, {}, page))
    r, out = run_json(cli, "invoke", "peer", "offset", "--paginate")
    assert out["result"] == [0, 1, 2, 3, 4]


def test_request_command_against_peer(cli, peer):
    peer.add("/raw/path", (200, {}, lambda path, body: {"path": path, "body": body.decode()}))
    r, out = run_json(cli, "request", "peer", "GET", "/raw/path", "-p", "a=1")
    assert r.exit_code == 0 and out["result"]["path"] == "/raw/path?a=1"
    r, out = run_json(cli, "request", "peer", "POST", "/raw/path", "-p", "a=1", "-p", "b:=true")
    assert json.loads(out["result"]["body"]) == {"a": "1", "b": True}
    r = cli("request", "peer", "GET", "/missing")
    assert r.exit_code == 1 and "peer answered 404: no route" in r.stderr


def test_test_command_records_health(cli, peer, monkeypatch):
    monkeypatch.delenv("SYNTHRAL_PEER_TOKEN")
    put_connection("peer", method="bearer", secrets={"token": "stored-peer-1"})
    peer.add("/get", (200, {}, {"user": "me"}))
    r = cli("test", "peer")
    assert r.exit_code == 0 and "peer (default): ok in" in r.stderr
    conn = get_connection("peer")
    assert conn.last_test_ok is True and conn.last_test_at is not None
    peer.add("/get", (403, {}, {"error": "forbidden here"}))
    r, out = run_json(cli, "test", "peer")
    assert r.exit_code == 1 and out["status"] == 403
    conn = get_connection("peer")
    assert conn.last_test_ok is False and "forbidden here" in conn.last_test_message
    r = cli("test", "peer", "--connection", "nope")
    assert r.exit_code == 3


def test_refresh_and_retry_once_on_401(cli, tmp_path, monkeypatch):
    server = Scripted()
    try:
        auth = {
            "type": "oauth2",
            "authorization_url": f"{server.url}/authorize",
            "token_url": f"{server.url}/token",
            "grant_types": ["authorization_code", "refresh_token"],
        }
        folder = write_manifests(tmp_path / "m", manifest("refresher", server.url, [], auth=auth))
        monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
        monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
        monkeypatch.setenv("SYNTHRAL_REFRESHER_CLIENT_ID", "cid")
        monkeypatch.setenv("SYNTHRAL_REFRESHER_CLIENT_SECRET", "csecret-1")
        put_connection(
            "refresher",
            method="direct",
            expires_at=time.time() + 3600,
            secrets={"access_token": "old-access-1", "refresh_token": "refresh-1"},
        )
        server.add(
            "/token", (200, {}, {"access_token": "new-access-2", "token_type": "Bearer", "expires_in": 3600})
        )
        server.add("/get", (401, {}, {"error": "expired"}), (200, {}, {"user": "me"}))
        r = cli("invoke", "refresher", "test_connection", "--json")
        assert r.exit_code == 0, r.stderr
        auths = [req[2].get("Authorization") for req in server.requests if req[1] == "/get"]
        assert auths == ["Bearer old-access-1", "Bearer new-access-2"]
        assert get_connection("refresher").secrets["access_token"] == "new-access-2"
        server.add("/get", (401, {}, {"error": "still no"}))
        server.add("/token", (400, {}, {"error": "invalid_grant"}))
        r = cli("invoke", "refresher", "test_connection")
        assert r.exit_code == 3
    finally:
        server.close()


def test_python_api_outcome(peer):
    from synthral_cli import Synthral
    from synthral_cli.basics.errors import ProviderError

    peer.add("/thing", (200, {}, {"n": 1}))
    out = Synthral().invoke("peer", "get")
    assert out.to_dict() == {"success": True, "status": 200, "result": {"n": 1}}
    peer.add("/thing", (409, {}, {"message": "conflict!"}))
    with pytest.raises(ProviderError) as info:
        Synthral().invoke("peer", "get", retries=0)
    assert info.value.status == 409 and info.value.result == {"message": "conflict!"}


def test_subprocess_error_json_and_exit_code(sh, peer):
    peer.add("/thing", (404, {}, {"error": "no such thing"}))
    r = sh("invoke", "peer", "get", "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout) == {"success": False, "status": 404, "result": {"error": "no such thing"}}
    assert r.stderr.startswith("error: peer answered 404: no such thing")
    assert "peer-token-123" not in r.stdout + r.stderr
