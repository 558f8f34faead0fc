# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
"""Issue 7 end to end: the Nango backend through the CLI, against the spec-validated Nango double
(``tests/nangoserver.py``) and httpbin on 127.0.0.1, with headless Chromium as the person who
clicks Allow on Nango's connect page. Every test ends with ``server.violations == []``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from tests.authserver import BROWSER_SCRIPT, browser_log, oauth_server, provider  # noqa: F401
from tests.conftest import synthral_exe
from tests.nangoserver import NangoServer

pytestmark = pytest.mark.nango_double

STORE_KEY = "Zb1nS0x3qK5mW7yT9vR2uE4oI6pA8sD0fG2hJ4kL6zX"
INTEGRATION = "nbin-int"


def nbin_manifest(base_url: str, **nango: object) -> dict:
    return {
        "schema_version": 1,
        "slug": "nbin",
        "name": "Nango Bin",
        "category": "Development & Code",
        "status": "beta",
        "version": "1.0.0",
        "description": "httpbin behind an OAuth integration in Nango.",
        "docs_url": "https://docs.example.invalid/nbin",
        "base_url": base_url,
        "auth": {
            "type": "oauth2",
            "authorization_url": "https://auth.example.invalid/authorize",
            "token_url": "https://auth.example.invalid/token",
            "default_scopes": ["read"],
        },
        "nango": {"enabled": True, "provider_key": INTEGRATION, **nango},
        "actions": [
            {"name": "test_connection", "description": "Who am I.", "method": "GET", "path": "/bearer"},
            {
                "name": "whoami",
                "description": "The bearer token httpbin saw.",
                "method": "GET",
                "path": "/bearer",
            },
            {"name": "headers", "description": "Echo the headers.", "method": "GET", "path": "/headers"},
            {
                "name": "status",
                "description": "Answer with a status.",
                "method": "GET",
                "path": "/status/{code}",
                "parameters": [{"name": "code", "in": "path", "type": "integer", "required": True}],
            },
            {
                "name": "echo",
                "description": "Echo a JSON body and a query parameter.",
                "method": "POST",
                "path": "/anything/items",
                "parameters": [
                    {"name": "q", "in": "query", "type": "string"},
                    {"name": "title", "in": "body", "type": "string", "required": True},
                ],
            },
        ],
    }


@pytest.fixture(scope="module")
def nango_server():
    server = NangoServer().start()
    server.add_integration(INTEGRATION, "nbin-provider")
    server.add_integration("other-int", "other-provider")
    yield server
    server.stop()


@pytest.fixture
def nango(nango_server, httpbin, tmp_path, monkeypatch):
    """The double reset, a manifest folder with ``nbin`` (base_url: httpbin), env pointing at both."""
    from synthral_cli.auth import nango as backend

    for c in backend._CLIENTS.values():
        c.close()
    backend._CLIENTS.clear()
    s = nango_server
    s.violations.clear()
    s.connections.clear()
    s.sessions.clear()
    s.proxied.clear()
    s.requests.clear()
    s.refreshes, s.fail_refresh, s.upstream = 0, False, None
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "nbin.yaml").write_text(yaml.safe_dump(nbin_manifest(httpbin.url)), encoding="utf-8")
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    monkeypatch.setenv("NANGO_URL", s.url)
    monkeypatch.setenv("NANGO_SECRET_KEY", s.secret_key)
    s.folder = folder
    s.httpbin = httpbin
    yield s
    assert s.violations == []


def store():
    from synthral_cli.basics.settings import Settings
    from synthral_cli.store.encrypted import Store

    return Store.open(Settings(dict(os.environ)))


def stored(slug="nbin", name="default"):
    st = store()
    try:
        return st.get(slug, name)
    finally:
        st.close()


def put(conn):
    st = store()
    try:
        return st.put(conn)
    finally:
        st.close()


def seed(server, name="default", slug="nbin"):
    """A connection made in Nango plus its local reference, as authorize leaves them."""
    from synthral_cli.store.model import Connection

    remote = server.create_connection(
        INTEGRATION, {"synthral_connector": slug, "synthral_connection": name, "synthral_request": "r"}
    )
    put(
        Connection(
            slug=slug,
            name=name,
            method="nango",
            metadata={"nango_connection_id": remote.connection_id, "provider_config_key": INTEGRATION},
        )
    )
    return remote


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_until(proc, pattern: str, timeout: float = 20) -> str:
    import re

    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return m.group(0)
    proc.kill()
    raise AssertionError(f"{pattern!r} not in stderr:\n{''.join(seen)}")


# ---------------------------------------------------------------------------------------------
# Authorize through Nango's connect link


def test_authorize_auto_through_the_connect_link_clicked_in_chromium(nango, sh, tmp_path, monkeypatch):
    assert os.path.exists("/usr/bin/chromium"), "needs chromium: run `bash scripts/test`, which installs it"
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSER_SCRIPT} %s")
    monkeypatch.setenv("TESTBROWSER_LOG", str(tmp_path / "browser.log"))
    r = sh("authorize", "nbin", "--json", "--timeout", "60", timeout=90)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out == {
        "success": True,
        "connector_slug": "nbin",
        "connection": "default",
        "oauth_method": "nango",
        "scopes": [],
        "expires_at": None,
    }
    # The link was printed in full (its session token is for the person), and the browser used it.
    assert f"{nango.url}/connect/ui?session_token=nango_connect_session_" in r.stderr
    assert "Connected Nango Bin as nbin/default (through Nango)" in r.stderr
    events = browser_log(tmp_path / "browser.log", until="final")
    assert [e.get("page") for e in events[:2]] == [f"Connect {INTEGRATION}", "Connected"]
    # Nango holds the connection, tagged with this request; locally only the reference.
    (remote,) = nango.connections.values()
    assert remote.tags["synthral_connector"] == "nbin" and remote.tags["synthral_connection"] == "default"
    assert len(remote.tags["synthral_request"]) == 24
    conn = stored()
    assert conn.method == "nango" and conn.secrets == {} and conn.expires_at is None
    assert conn.metadata == {"nango_connection_id": remote.connection_id, "provider_config_key": INTEGRATION}
    for secret in (remote.credentials["access_token"], remote.credentials["refresh_token"]):
        assert secret not in r.stdout and secret not in r.stderr
    # invoke uses Nango's token: httpbin's /bearer echoes it.
    r = sh("invoke", "nbin", "whoami", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"] == {
        "authenticated": True,
        "token": remote.credentials["access_token"],
    }
    # token prints it (the one command that prints a secret).
    r = sh("token", "nbin")
    assert r.exit_code == 0 and r.stdout == remote.credentials["access_token"] + "\n"
    assert ("GET", f"/connections/{remote.connection_id}") in nango.requests


def test_no_browser_prints_the_link_and_waits_until_the_connection_exists(nango, tmp_path):
    marker = tmp_path / "browser-was-opened"
    env = {**os.environ, "BROWSER": f"{sys.executable} -c \"open('{marker}', 'w')\" %s"}
    proc = subprocess.Popen(
        [
            synthral_exe(),
            "authorize",
            "nbin",
            "--method",
            "nango",
            "--no-browser",
            "--json",
            "-c",
            "work",
            "--scope",
            "read",
            "--scope",
            "admin",
            "--timeout",
            "30",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    link = read_until(proc, r"http://\S+session_token=\S+")
    assert not marker.exists()
    (session,) = nango.sessions.values()
    assert session["integrations_config_defaults"] == {
        INTEGRATION: {"connection_config": {"oauth_scopes_override": "read,admin"}}
    }
    assert session["tags"]["synthral_connection"] == "work"
    # the person opens the link elsewhere and allows
    assert httpx.post(link, data={"decision": "allow"}).status_code == 200
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["oauth_method"] == "nango" and json.loads(out)["scopes"] == ["read", "admin"]
    assert not marker.exists()
    assert stored(name="work").method == "nango"


def test_reauthorizing_replaces_the_nango_connection(nango, cli):
    old = seed(nango)
    tags = {}

    def allow_when_session_appears():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not nango.sessions:
            time.sleep(0.02)
        token, session = next(iter(nango.sessions.items()))
        tags.update(session["tags"])
        httpx.post(f"{nango.url}/connect/ui", params={"session_token": token}, data={"decision": "allow"})

    import threading

    t = threading.Thread(target=allow_when_session_appears)
    t.start()
    try:
        r = cli("authorize", "nbin", "--method", "nango", "--no-browser", "--timeout", "20")
    finally:
        t.join()
    assert r.exit_code == 0, r.stderr
    (new,) = nango.connections.values()  # the old one was deleted in Nango
    assert new.connection_id != old.connection_id and new.tags["synthral_request"] == tags["synthral_request"]
    assert stored().metadata["nango_connection_id"] == new.connection_id


def test_no_connection_within_timeout_exits_3(nango, sh):
    r = sh("authorize", "nbin", "--method", "nango", "--no-browser", "--timeout", "1")
    assert r.exit_code == 3
    assert "No connection was made in Nango within 1 s" in r.stderr and "--timeout" in r.stderr
    assert stored() is None


def test_integration_override_variable(nango, cli, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_NBIN_NANGO_INTEGRATION", "missing-int")
    r = cli("authorize", "nbin", "--method", "nango", "--no-browser", "--timeout", "1")
    assert r.exit_code == 2 and "Nango has no integration 'missing-int'" in r.stderr
    monkeypatch.setenv("SYNTHRAL_NBIN_NANGO_INTEGRATION", "other-int")
    r = cli("authorize", "nbin", "--method", "nango", "--no-browser", "--timeout", "1")
    assert r.exit_code == 3  # the session was for other-int; nobody clicked
    (session,) = nango.sessions.values()
    assert session["allowed_integrations"] == ["other-int"]


# ---------------------------------------------------------------------------------------------
# Using, refreshing, removing


def test_invoke_test_and_request_use_nangos_token(nango, cli):
    remote = seed(nango)
    token = remote.credentials["access_token"]
    r = cli("test", "nbin", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"] == {"authenticated": True, "token": token}
    r = cli("request", "nbin", "GET", "/bearer", "--json")
    assert json.loads(r.stdout)["result"]["token"] == token
    r = cli("invoke", "nbin", "headers", "--json")
    assert json.loads(r.stdout)["result"]["headers"]["Authorization"] == f"Bearer {token}"
    # one process: Nango was asked once, the rest came from the in-memory cache
    gets = [p for m, p in nango.requests if m == "GET" and p == f"/connections/{remote.connection_id}"]
    assert len(gets) == 1
    assert token not in r.stderr


def test_refresh_forces_a_refresh_in_nango(nango, sh):
    remote = seed(nango)
    before = remote.credentials["access_token"]
    r = sh("refresh", "nbin", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["oauth_method"] == "nango" and out["success"] is True and out["connector_slug"] == "nbin"
    assert 3590 <= out["expires_in"] <= 3600
    assert nango.refreshes == 1
    after = remote.credentials["access_token"]
    assert after != before and after not in r.stdout + r.stderr
    assert sh("token", "nbin").stdout == after + "\n"
    assert stored().secrets == {}


def test_refresh_refused_by_nango_exits_3_with_how_to_reconnect(nango, sh):
    seed(nango, name="work")
    nango.fail_refresh = True
    r = sh("refresh", "nbin", "-c", "work")
    assert r.exit_code == 3
    assert "Nango could not refresh" in r.stderr
    assert "synthral authorize nbin --connection work --method nango" in r.stderr
    # the connection now carries an auth error in Nango: using it is exit 3 too
    nango.fail_refresh = False
    r = sh("invoke", "nbin", "whoami", "-c", "work")
    assert r.exit_code == 3 and "lost its authorization" in r.stderr


def test_401_from_the_provider_makes_nango_refresh_once(nango, cli):
    seed(nango)
    r = cli("invoke", "nbin", "status", "-p", "code=401")
    assert r.exit_code == 3
    assert nango.refreshes == 1


def test_remove_deletes_the_connection_in_nango(nango, sh):
    remote = seed(nango)
    r = sh("connections", "remove", "nbin")
    assert r.exit_code == 0, r.stderr
    assert "Deleted the Nango connection of nbin/default" in r.stderr
    assert (remote.connection_id, INTEGRATION) not in nango.connections
    assert ("DELETE", f"/connections/{remote.connection_id}") in nango.requests
    assert stored() is None
    # already gone in Nango: the local reference still goes
    seed(nango, name="gone")
    nango.connections.clear()
    r = sh("connections", "remove", "nbin", "-c", "gone")
    assert r.exit_code == 0 and "Nango no longer had" in r.stderr and stored(name="gone") is None


def test_remove_keeps_the_reference_when_nango_is_unreachable(nango, sh):
    seed(nango)
    r = sh("connections", "remove", "nbin", env={"NANGO_URL": f"http://127.0.0.1:{free_port()}"})
    assert r.exit_code == 4 and "NANGO_URL" in r.stderr
    assert stored() is not None


def test_connections_list_merges_nangos_connections(nango, sh):
    from synthral_cli.store.model import Connection

    local = seed(nango)  # a reference to a live Nango connection
    put(
        Connection(
            slug="nbin",
            name="stale",
            method="nango",
            metadata={"nango_connection_id": "deleted-in-nango", "provider_config_key": INTEGRATION},
        )
    )
    put(Connection(slug="nbin", name="laptop", method="direct", secrets={"access_token": "local-token-1"}))
    nango.create_connection(INTEGRATION, {"synthral_connector": "nbin", "synthral_connection": "ci"})
    bare = nango.create_connection(INTEGRATION, {"team": "data"}, connection_id="made-in-dashboard")
    broken = nango.create_connection("other-int", {}, connection_id="other-1")
    broken.errors = [{"type": "auth", "log_id": "abc"}]
    r = sh("connections", "list", "--json")
    assert r.exit_code == 0, r.stderr
    rows = {(x["connector_slug"], x["connection"]): x for x in json.loads(r.stdout)["connections"]}
    assert set(rows) == {
        ("nbin", "default"),
        ("nbin", "stale"),
        ("nbin", "laptop"),
        ("nbin", "ci"),
        ("nbin", "made-in-dashboard"),
        ("other-int", "other-1"),
    }
    assert rows[("nbin", "default")]["source"] == "nango"
    assert rows[("nbin", "default")]["nango_connection_id"] == local.connection_id
    assert rows[("nbin", "stale")]["health"] == "missing"
    assert (
        rows[("nbin", "laptop")]["source"] == "store"
        and rows[("nbin", "laptop")]["nango_connection_id"] is None
    )
    assert rows[("nbin", "ci")]["source"] == "nango" and rows[("nbin", "ci")]["method"] == "nango"
    assert rows[("nbin", "made-in-dashboard")]["nango_connection_id"] == bare.connection_id
    assert (
        rows[("other-int", "other-1")]["health"] == "failed"
        and rows[("other-int", "other-1")]["needs_reauth"]
    )
    r = sh("connections", "list")
    lines = r.stdout.splitlines()
    assert lines[0] == "SLUG\tCONNECTION\tMETHOD\tSCOPES\tEXPIRES\tHEALTH\tSOURCE"
    assert "nbin\tci\tnango\t-\t-\tuntested\tnango" in lines
    # Nango down: the local rows are still listed, with a warning
    r = sh("connections", "list", "--json", env={"NANGO_URL": f"http://127.0.0.1:{free_port()}"})
    assert r.exit_code == 0 and "Nango's connections are not shown" in r.stderr
    assert len(json.loads(r.stdout)["connections"]) == 3


# ---------------------------------------------------------------------------------------------
# nango import


def test_import_pushes_the_tokens_and_keeps_only_a_reference(nango, sh):
    from synthral_cli.store.model import Connection

    expires = time.time() + 1800
    put(
        Connection(
            slug="nbin",
            name="work",
            method="direct",
            scopes=["read"],
            expires_at=expires,
            config={"team": "a"},
            secrets={"access_token": "local-at-123456", "refresh_token": "local-rt-123456"},
            metadata={"client_id": "app-1"},
        )
    )
    r = sh("nango", "import", "nbin", "--connection", "work", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["oauth_method"] == "nango" and out["provider_config_key"] == INTEGRATION
    remote = nango.connections[(out["nango_connection_id"], INTEGRATION)]
    assert remote.credentials["access_token"] == "local-at-123456"
    assert remote.credentials["refresh_token"] == "local-rt-123456"
    got = (
        time.mktime(time.strptime(remote.credentials["expires_at"], "%Y-%m-%dT%H:%M:%S.000Z")) - time.timezone
    )
    assert abs(got - expires) < 2
    assert remote.connection_config == {"team": "a"}
    assert remote.tags == {"synthral_connector": "nbin", "synthral_connection": "work"}
    conn = stored(name="work")
    assert conn.method == "nango" and conn.secrets == {} and conn.expires_at is None
    assert conn.scopes == ["read"] and conn.config == {"team": "a"}
    assert conn.metadata == {
        "nango_connection_id": out["nango_connection_id"],
        "provider_config_key": INTEGRATION,
    }
    assert "local-at-123456" not in r.stdout + r.stderr
    # from now on the token comes from Nango
    r = sh("token", "nbin", "-c", "work")
    assert r.stdout == "local-at-123456\n"
    # importing again is a usage error
    r = sh("nango", "import", "nbin", "-c", "work")
    assert r.exit_code == 2 and "already a Nango connection" in r.stderr


def test_import_without_expiry_still_sends_expires_at(nango, cli):
    from synthral_cli.store.model import Connection

    put(
        Connection(
            slug="nbin", method="direct", secrets={"access_token": "at-no-expiry", "refresh_token": "rt-x1"}
        )
    )
    r = cli("nango", "import", "nbin")
    assert r.exit_code == 0, r.stderr
    (remote,) = nango.connections.values()
    assert remote.credentials["expires_at"].endswith("Z")


def test_import_of_nothing_and_of_an_unknown_integration(nango, cli, monkeypatch):
    from synthral_cli.store.model import Connection

    r = cli("nango", "import", "nbin")
    assert r.exit_code == 3 and "No nbin connection 'default' to import" in r.stderr
    put(Connection(slug="nbin", method="direct", secrets={"access_token": "at-kept-local"}))
    monkeypatch.setenv("SYNTHRAL_NBIN_NANGO_INTEGRATION", "nope-int")
    r = cli("nango", "import", "nbin")
    assert r.exit_code == 2 and "Create the integration 'nope-int' in your Nango dashboard first" in r.stderr
    assert stored().secrets == {"access_token": "at-kept-local"}  # nothing changed locally


# ---------------------------------------------------------------------------------------------
# The proxy


def test_via_nango_proxy_sends_through_nango(nango, sh):
    remote = seed(nango)
    r = sh("invoke", "nbin", "whoami", "--via-nango-proxy", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"] == {
        "authenticated": True,
        "token": remote.credentials["access_token"],
    }
    (call,) = nango.proxied
    assert call["path"] == "bearer" and call["base"] == nango.httpbin.url
    assert call["headers"]["Connection-Id"] == remote.connection_id
    assert call["headers"]["Provider-Config-Key"] == INTEGRATION
    # synthral never fetched the token
    assert not [p for m, p in nango.requests if p.startswith("/connections/")]
    r = sh("invoke", "nbin", "echo", "-p", "q=a b", "-p", "title=hello", "--via-nango-proxy", "--json")
    assert r.exit_code == 0, r.stderr
    echo = json.loads(r.stdout)["result"]
    assert echo["json"] == {"title": "hello"} and echo["args"] == {"q": "a b"}
    assert echo["url"].endswith("/anything/items?q=a+b") or echo["url"].endswith("/anything/items?q=a%20b")
    assert echo["headers"]["Accept"] == "application/json"  # forwarded as Nango-Proxy-Accept
    r = sh("request", "nbin", "POST", "/anything/raw", "-p", "n=1", "--via-nango-proxy", "--json")
    assert json.loads(r.stdout)["result"]["json"] == {"n": "1"}
    assert nango.proxied[-1]["path"] == "anything/raw"


def test_via_nango_proxy_dry_run_masks_the_secret_key(nango, cli):
    seed(nango)
    r = cli("invoke", "nbin", "whoami", "--via-nango-proxy", "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    req = json.loads(r.stdout)
    assert req["url"] == f"{nango.url}/proxy/bearer"
    assert req["headers"]["Authorization"] == "Bearer ***"
    assert req["headers"]["Provider-Config-Key"] == INTEGRATION
    assert nango.secret_key not in r.stdout + r.stderr
    assert nango.proxied == []


def test_via_nango_proxy_needs_a_nango_connection_and_maps_nangos_refusals(nango, cli, monkeypatch):
    from synthral_cli.store.model import Connection

    put(Connection(slug="nbin", name="local", method="direct", secrets={"access_token": "tok-local-1"}))
    r = cli("invoke", "nbin", "whoami", "-c", "local", "--via-nango-proxy")
    assert r.exit_code == 2 and "synthral nango import nbin --connection local" in r.stderr
    seed(nango)
    nango.connections.clear()
    r = cli("invoke", "nbin", "whoami", "--via-nango-proxy")
    assert r.exit_code == 3 and "Reconnect it: synthral authorize nbin --method nango" in r.stderr
    seed(nango, name="k")
    monkeypatch.setenv("NANGO_SECRET_KEY", "wrong-secret-key-0000")
    r = cli("invoke", "nbin", "whoami", "-c", "k", "--via-nango-proxy")
    assert r.exit_code == 3 and "Nango refused the secret key" in r.stderr
    assert "wrong-secret-key-0000" not in r.stderr


# ---------------------------------------------------------------------------------------------
# Fallback and failures


def test_auto_falls_back_to_direct_oauth_when_nango_is_not_configured(provider, sh, monkeypatch):
    """A Nango-enabled connector, no NANGO_SECRET_KEY: direct OAuth in Chromium. Nobody asked
    for Nango, so nothing is said about it (issue 15.11); with NANGO_URL set it is said."""
    provider.manifest(nango={"enabled": True, "provider_key": "testprov"})
    r = sh("authorize", "testprov", "--json", "--timeout", "60", timeout=90)
    assert r.exit_code == 0, r.stderr
    assert "Nango" not in r.stderr
    r = sh("authorize", "testprov", "--json", "--timeout", "60", env={"NANGO_URL": "http://127.0.0.1:9"}, timeout=90)
    assert r.exit_code == 0, r.stderr
    assert (
        "Nango is not configured (NANGO_SECRET_KEY is not set): using direct OAuth for testprov." in r.stderr
    )
    assert json.loads(r.stdout)["oauth_method"] == "direct"
    assert provider.stored().method == "direct"


def test_auto_with_nango_disabled_says_so(nango, cli, monkeypatch):
    monkeypatch.setenv("NANGO_ENABLED", "false")
    r = cli("authorize", "nbin", "--no-browser", "--timeout", "1")
    assert "NANGO_ENABLED is false: using direct OAuth for nbin." in r.stderr
    assert r.exit_code == 2 and "needs an OAuth app" in r.stderr  # direct OAuth was attempted
    assert ("POST", "/connect/sessions") not in nango.requests


def test_unreachable_nango_exits_4_naming_nango_url(nango, sh):
    seed(nango)
    env = {"NANGO_URL": f"http://127.0.0.1:{free_port()}"}
    for args in (
        ("authorize", "nbin", "--method", "nango", "--no-browser"),
        ("token", "nbin"),
        ("invoke", "nbin", "whoami", "--retries", "0"),
    ):
        r = sh(*args, env=env)
        assert r.exit_code == 4, (args, r.stderr)
        assert "Cannot reach Nango" in r.stderr and "NANGO_URL" in r.stderr
        assert "Traceback" not in r.stderr


def test_bad_secret_key_exits_3_without_printing_it(nango, sh):
    seed(nango)
    env = {"NANGO_SECRET_KEY": "not-the-key-987654321"}
    for args in (
        ("authorize", "nbin", "--method", "nango", "--no-browser"),
        ("token", "nbin"),
        ("refresh", "nbin"),
    ):
        r = sh(*args, env=env)
        assert r.exit_code == 3, (args, r.stderr)
        assert "Nango refused the secret key" in r.stderr and "NANGO_SECRET_KEY" in r.stderr
        assert "not-the-key-987654321" not in r.stdout + r.stderr


def test_unknown_integration_exits_2_saying_to_create_it(nango, sh, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_NBIN_NANGO_INTEGRATION", "never-created")
    r = sh("authorize", "nbin", "--no-browser")
    assert r.exit_code == 2
    assert "Nango has no integration 'never-created'" in r.stderr
    assert "Create the integration 'never-created' in your Nango dashboard first" in r.stderr


def test_method_nango_for_an_api_key_connector_points_to_import(nango, cli):
    r = cli("authorize", "openai", "--method", "nango")
    assert r.exit_code == 2 and "synthral nango import openai" in r.stderr


# ---------------------------------------------------------------------------------------------
# nango status


def test_status_configured_and_reachable(nango, sh):
    r = sh("nango", "status", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {
        "configured": True,
        "enabled": True,
        "url": nango.url,
        "secret_key_set": True,
        "reachable": True,
        "authenticated": True,
        "message": None,
    }
    assert ("GET", "/connections") in nango.requests
    r = sh("nango", "status")
    assert r.exit_code == 0 and f"url: {nango.url}\n" in r.stdout and "key accepted: yes\n" in r.stdout
    assert nango.secret_key not in r.stdout + r.stderr


def test_status_not_configured_unreachable_and_refused(nango, sh, monkeypatch):
    monkeypatch.delenv("NANGO_SECRET_KEY")
    r = sh("nango", "status", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["configured"] is False
    assert json.loads(r.stdout)["reachable"] is None
    r = sh(
        "nango",
        "status",
        "--json",
        env={"NANGO_SECRET_KEY": "k-0123456789", "NANGO_URL": f"http://127.0.0.1:{free_port()}"},
    )
    assert r.exit_code == 4 and json.loads(r.stdout)["reachable"] is False and "NANGO_URL" in r.stderr
    r = sh("nango", "status", env={"NANGO_SECRET_KEY": "k-0123456789"})
    assert r.exit_code == 3 and "key accepted: no" in r.stdout
    assert "k-0123456789" not in r.stdout + r.stderr


def test_nango_commands_have_help(cli):
    for args in (("nango", "--help"), ("nango", "import", "--help"), ("nango", "status", "--help")):
        r = cli(*args)
        assert r.exit_code == 0 and "Usage" in r.stdout
    assert "--via-nango-proxy" in cli("invoke", "--help").stdout


def test_import_of_an_api_key_connection(nango, cli):
    from synthral_cli.store.model import Connection

    doc = nbin_manifest(nango.httpbin.url)
    doc.update(slug="nkey", name="Nango Key")
    doc["auth"] = {"type": "api_key", "inject": [{"in": "header", "name": "X-Api-Key", "value": "{api_key}"}]}
    (nango.folder / "nkey.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    put(Connection(slug="nkey", method="api_key", secrets={"api_key": "key-0123456789"}))
    r = cli("nango", "import", "nkey")
    assert r.exit_code == 0, r.stderr
    (remote,) = nango.connections.values()
    assert remote.credentials == {"type": "API_KEY", "apiKey": "key-0123456789"}
    assert stored("nkey").secrets == {}
    r = cli("invoke", "nkey", "headers", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"]["headers"]["X-Api-Key"] == "key-0123456789"
