"""Issue 9.5 — faults: bounded retries, the documented exit code, and a stored connection that
changes only when a new token was really issued.

Proven elsewhere and referenced in the README table (not repeated here):
tests/test_invoke_http.py::test_connection_refused_exits_4 (refused, retried, exit 4),
::test_timeout_exits_4 (a read timeout is not retried), ::test_retries_give_up_and_report_the_last_error,
::test_post_is_not_retried_unless_idempotent; tests/test_store_concurrency.py::
test_sigkill_mid_transaction_keeps_every_row_old_or_new (SIGKILL during writes);
tests/test_store.py::test_foreign_or_corrupt_file_is_never_touched,
::test_damaged_store_is_an_error_not_a_reset, ::test_wrong_key_is_detected_and_nothing_is_written.
"""

from __future__ import annotations

import socket
import time

import pytest

from synthral_cli.basics.errors import ProviderError
from tests.hardening_support import RawPeer, free_port, http_answer, tally
from tests.invoke_support import STORE_KEY, Scripted, get_connection, manifest, put_connection, write_manifests

POST = {
    "name": "create",
    "description": "POST",
    "method": "POST",
    "path": "/get",
    "parameters": [{"name": "x", "in": "body", "type": "string"}],
}


def _use(tmp_path, monkeypatch, *docs):
    folder = write_manifests(tmp_path / "m", *docs)
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)


def one_error(stderr: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert len(lines) <= 2 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr


def test_dns_failure_exits_4_quickly(cli, tmp_path, monkeypatch):
    """``.invalid`` never resolves (RFC 6761): resolvers answer NXDOMAIN without asking anyone
    (here, in well under a second); the bound below allows a slow upstream resolver."""
    _use(tmp_path, monkeypatch, manifest("nodns", "https://api.synthral-hardening.invalid", []))
    monkeypatch.setenv("SYNTHRAL_NODNS_TOKEN", "nodns-token-1")
    started = time.monotonic()
    r = cli("invoke", "nodns", "test_connection", "--retries", "1", "--timeout", "5")
    assert r.exit_code == 4, r.stderr
    assert "Could not connect to api.synthral-hardening.invalid" in r.stderr and "tried 2 time(s)" in r.stderr
    one_error(r.stderr)
    assert time.monotonic() - started < 15
    tally("faults: DNS failure", faults=2)


def _truncated(conn: socket.socket, request: bytes) -> None:
    conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"partial":')


@pytest.mark.parametrize("retries", [0, 2])
def test_server_closing_mid_response_is_retried_for_get_then_exits_4(cli, tmp_path, monkeypatch, retries):
    peer = RawPeer(_truncated)
    try:
        _use(tmp_path, monkeypatch, manifest("midway", peer.url, [POST]))
        monkeypatch.setenv("SYNTHRAL_MIDWAY_TOKEN", "midway-token-1")
        r = cli("invoke", "midway", "test_connection", "--retries", str(retries))
        assert r.exit_code == 4, r.stderr
        assert "The connection to 127.0.0.1" in r.stderr and "failed" in r.stderr
        one_error(r.stderr)
        assert peer.requests == retries + 1  # bounded
        peer.requests = 0
        r = cli("invoke", "midway", "create", "-p", "x=1", "--retries", str(retries))
        assert r.exit_code == 4 and "may or may not have reached the provider" in r.stderr
        assert peer.requests == 1  # a POST is never repeated after it may have arrived
    finally:
        peer.close()
    tally("faults: closed mid-response", faults=retries + 2)


def test_a_storm_of_503s_is_bounded_and_exits_1(cli, tmp_path, monkeypatch):
    server = Scripted()
    try:
        _use(tmp_path, monkeypatch, manifest("storm", server.url, []))
        monkeypatch.setenv("SYNTHRAL_STORM_TOKEN", "storm-token-1")
        server.add("/get", (503, {"Retry-After": "0"}, {"error": {"message": "overloaded"}}))
        r = cli("invoke", "storm", "test_connection", "--retries", "5")
        assert r.exit_code == 1 and "storm answered 503: overloaded" in r.stderr
        one_error(r.stderr)
        assert len(server.requests) == 6
    finally:
        server.close()
    tally("faults: 503 storm", faults=6)


def test_a_503_storm_asking_for_an_hour_waits_at_most_the_cap_each_time(tmp_path, monkeypatch):
    from synthral_cli import Synthral
    from synthral_cli.wire.http import MAX_RETRY_AFTER

    server = Scripted()
    try:
        _use(tmp_path, monkeypatch, manifest("slow", server.url, []))
        monkeypatch.setenv("SYNTHRAL_SLOW_TOKEN", "slow-token-1")
        server.add("/get", (503, {"Retry-After": "3600"}, {"error": "later"}))
        waits: list[float] = []
        with pytest.raises(ProviderError) as info:
            Synthral().invoke("slow", "test_connection", retries=4, sleep=waits.append)
        assert info.value.status == 503
        assert waits == [MAX_RETRY_AFTER] * 4 and len(server.requests) == 5
    finally:
        server.close()
    tally("faults: Retry-After capped", faults=5)


# ---------------------------------------------------------------------------------------------
# The token endpoint misbehaving: the stored connection is never touched


def _html(status):
    return lambda conn, req: conn.sendall(http_answer(status, b"<html><body>Sign in</body></html>", "text/html"))


TOKEN_FAULTS = {
    "html-200": (_html(200), 1),
    "html-500": (_html(500), 1),
    "html-502": (_html(502), 1),
    "broken-json": (lambda c, r: c.sendall(http_answer(200, b'{"access_token": "x", ')), 1),
    "json-without-token": (lambda c, r: c.sendall(http_answer(200, b'{"token_type": "bearer"}')), 1),
    "json-array": (lambda c, r: c.sendall(http_answer(200, b"[1, 2]")), 1),
    "not-http": (lambda c, r: c.sendall(b"\x00\xffSSH-2.0-nope\r\n\r\n"), 4),
    "dropped-after-request": (lambda c, r: None, 4),  # read the request, close without a word
    "truncated-answer": (_truncated, 4),
    "server-error-json": (lambda c, r: c.sendall(http_answer(500, b'{"error": "server_error"}')), 1),
}


@pytest.fixture
def oauth_peer(tmp_path, monkeypatch):
    def start(behave):
        peer = RawPeer(behave) if behave is not None else None
        url = peer.url if peer else f"http://127.0.0.1:{free_port()}"
        auth = {
            "type": "oauth2",
            "authorization_url": f"{url}/authorize",
            "token_url": f"{url}/token",
            "grant_types": ["authorization_code", "refresh_token"],
        }
        _use(tmp_path, monkeypatch, manifest("flaky", url, [], auth=auth))
        monkeypatch.setenv("SYNTHRAL_FLAKY_CLIENT_ID", "cid")
        monkeypatch.setenv("SYNTHRAL_FLAKY_CLIENT_SECRET", "flaky-client-secret")
        put_connection(
            "flaky",
            method="direct",
            expires_at=time.time() - 5,
            scopes=["read"],
            secrets={"access_token": "old-access-flaky", "refresh_token": "refresh-flaky-1"},
        )
        started.append(peer)
        return peer

    started: list = []
    yield start
    for p in started:
        if p is not None:
            p.close()


def _row(conn):
    return (conn.version, conn.secrets, conn.expires_at, conn.scopes, conn.needs_reauth, conn.updated_at)


@pytest.mark.parametrize("fault", [*TOKEN_FAULTS, "refused"])
def test_token_endpoint_faults_keep_the_stored_connection(cli, oauth_peer, fault):
    behave, code = TOKEN_FAULTS.get(fault, (None, 4))
    peer = oauth_peer(behave)
    before = _row(get_connection("flaky"))
    r = cli("refresh", "flaky")
    assert r.exit_code == code, (fault, r.stderr)
    one_error(r.stderr)
    assert "old-access-flaky" not in r.stderr and "refresh-flaky-1" not in r.stderr
    assert _row(get_connection("flaky")) == before, fault
    # the same fault met by invoke's proactive refresh
    r = cli("invoke", "flaky", "test_connection", "--retries", "0")
    assert r.exit_code == code, (fault, r.stderr)
    assert _row(get_connection("flaky")) == before, fault
    if peer is not None:
        assert peer.requests == 2  # one token request each, no retry storm on the token endpoint
    tally("faults: token endpoint", faults=2)


def test_after_the_faults_a_real_token_is_stored(cli, oauth_peer):
    body = b'{"access_token": "new-access-flaky", "token_type": "Bearer", "expires_in": 3600}'
    oauth_peer(lambda c, r: c.sendall(http_answer(200, body)))
    before = get_connection("flaky")
    r = cli("refresh", "flaky")
    assert r.exit_code == 0, r.stderr
    after = get_connection("flaky")
    assert after.version == before.version + 1
    assert after.secrets == {"access_token": "new-access-flaky", "refresh_token": "refresh-flaky-1"}
    tally("faults: token endpoint recovers", inputs=1)


def test_invalid_grant_marks_reauthorization_but_keeps_the_tokens(cli, oauth_peer):
    body = b'{"error": "invalid_grant", "error_description": "revoked"}'
    oauth_peer(lambda c, r: c.sendall(http_answer(400, body)))
    before = get_connection("flaky")
    r = cli("refresh", "flaky")
    assert r.exit_code == 3 and "invalid_grant" in r.stderr
    after = get_connection("flaky")
    assert after.needs_reauth and after.secrets == before.secrets
    tally("faults: invalid_grant", faults=1)
