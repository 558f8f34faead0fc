"""Issue 7: the Nango client against a spec-validated Nango double on 127.0.0.1."""

from __future__ import annotations

import socket
import time

import pytest

from synthral_cli.auth.nango_client import NangoClient, oauth2_import_credentials, parse_credentials
from synthral_cli.basics.errors import AuthError, NetworkError, UsageError
from tests.nangoserver import SPEC_VALIDATION, NangoServer

pytestmark = pytest.mark.nango_double


@pytest.fixture(scope="module")
def nango_server():
    server = NangoServer().start()
    server.add_integration("slack")
    yield server
    server.stop()


@pytest.fixture
def nango(nango_server):
    nango_server.violations.clear()
    client = NangoClient(nango_server.url, nango_server.secret_key, timeout=5)
    yield client
    client.close()
    assert nango_server.violations == []


def test_connect_session_then_connection_appears(nango, nango_server):
    tags = {"synthral_request": "req-1"}
    session = nango.create_connect_session("slack", tags)
    assert session["connect_link"].startswith(nango_server.url)
    assert nango.find_connections(tags) == []
    # the user completes the hosted flow
    nango_server.create_connection("slack", tags)
    found = nango.wait_for_connection(tags, timeout=5, interval=0.05)
    assert found["provider_config_key"] == "slack"
    conn = nango.get_connection(found["connection_id"], "slack")
    cred = parse_credentials(conn)
    assert cred.secrets["access_token"].startswith("nango-access-")
    assert cred.expires_at and cred.expires_at > time.time()


def test_credentials_are_cached_and_force_refresh_bypasses(nango, nango_server):
    conn = nango_server.create_connection("slack", {"synthral_request": "req-2"})
    before = len(nango_server.requests)
    first = nango.get_connection(conn.connection_id, "slack")
    again = nango.get_connection(conn.connection_id, "slack")
    assert first is again
    assert len(nango_server.requests) == before + 1
    refreshes = nango_server.refreshes
    fresh = nango.get_connection(conn.connection_id, "slack", force_refresh=True)
    assert nango_server.refreshes == refreshes + 1
    assert fresh["credentials"]["access_token"] != first["credentials"]["access_token"]


def test_wait_times_out(nango):
    with pytest.raises(AuthError, match="No connection was made in Nango within"):
        nango.wait_for_connection({"synthral_request": "never"}, timeout=0.3, interval=0.05)


def test_unknown_integration_is_usage_error(nango):
    with pytest.raises(UsageError, match="Nango has no integration .nope.") as info:
        nango.require_integration("nope")
    assert "Create the integration 'nope' in your Nango dashboard" in (info.value.hint or "")
    with pytest.raises(UsageError):
        nango.create_connect_session("nope", {"synthral_request": "x"})


def test_unknown_connection_is_auth_error(nango):
    with pytest.raises(AuthError, match="Nango has no connection 'ghost'"):
        nango.get_connection("ghost", "slack")


def test_refresh_failure_424_is_auth_error(nango, nango_server):
    conn = nango_server.create_connection("slack", {"synthral_request": "req-3"})
    nango_server.fail_refresh = True
    try:
        with pytest.raises(AuthError) as info:
            nango.get_connection(conn.connection_id, "slack", force_refresh=True)
    finally:
        nango_server.fail_refresh = False
    assert "Reconnect it" in (info.value.hint or "")


def test_import_and_delete(nango, nango_server):
    creds = oauth2_import_credentials({"access_token": "local-at-xyz", "refresh_token": "local-rt-xyz"}, None)
    assert "expires_at" in creds
    conn = nango.import_connection("slack", "imported-1", creds, tags={"synthral_connector": "slack"})
    assert conn["connection_id"] == "imported-1"
    assert nango_server.connections[("imported-1", "slack")].credentials["refresh_token"] == "local-rt-xyz"
    assert nango.delete_connection("imported-1", "slack") is True
    assert nango.delete_connection("imported-1", "slack") is False


def test_bad_secret_key_is_auth_error(nango_server):
    client = NangoClient(nango_server.url, "wrong-key-0000", timeout=5)
    with pytest.raises(AuthError, match="Nango refused the secret key"):
        client.list_connections()


def test_unreachable_is_network_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = NangoClient(f"http://127.0.0.1:{port}", "k" * 16, timeout=2)
    with pytest.raises(NetworkError) as info:
        client.list_connections()
    assert "NANGO_URL" in (info.value.hint or "")


def test_the_double_rejects_what_the_spec_rejects(nango_server):
    import httpx

    nango_server.violations.clear()
    auth = {"Authorization": f"Bearer {nango_server.secret_key}"}
    r = httpx.get(f"{nango_server.url}/connections/x", headers=auth)
    assert r.status_code == 400  # provider_config_key is required by the spec
    if SPEC_VALIDATION:
        assert len(nango_server.violations) == 1 and "provider_config_key" in nango_server.violations[0]
    else:  # no spec beside the clone: the double's own lookup still refuses it
        assert r.json() == {"error": {"code": "unknown_connection", "message": "No connection matching the params"}}
        assert nango_server.violations == []
    nango_server.violations.clear()


def test_cache_never_outlives_the_token(nango, nango_server):
    nango_server.token_life = 1
    try:
        conn = nango_server.create_connection("slack", {"synthral_request": "req-short"})
    finally:
        nango_server.token_life = 3600
    path = ("GET", f"/connections/{conn.connection_id}")
    nango.get_connection(conn.connection_id, "slack")
    nango.get_connection(conn.connection_id, "slack")
    assert nango_server.requests.count(path) == 1
    time.sleep(1.1)  # the token has expired: the cached copy is not used
    nango.get_connection(conn.connection_id, "slack")
    assert nango_server.requests.count(path) == 2
