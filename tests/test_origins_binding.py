"""Issue 14, binding: a connection's credential goes only to the origins it was authorized for.
A user manifest (or a setting) that points elsewhere gets nothing: exit 3 before a byte is sent,
and the other server's own log shows no connection. Real peers: loopback HTTP servers, the Authlib
OAuth server, aiosmtpd, and a TCP listener standing where a PostgreSQL server would be."""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest
import yaml

from tests.authserver import oauth_server, provider  # noqa: F401
from tests.invoke_support import STORE_KEY, put_connection
from tests.origin_support import Peer, user_manifest

REPO = Path(__file__).resolve().parent.parent
KEY = "bound-key-8d2a61f0"
XKEY = {"type": "api_key", "inject": [{"in": "header", "name": "x-api-key", "value": "{api_key}"}]}


@pytest.fixture
def api():
    peer = Peer("127.0.0.1")
    peer.routes["/thing"] = (200, {}, {"ok": True})
    yield peer
    peer.close()


@pytest.fixture
def thief():
    peer = Peer("127.0.0.2")
    yield peer
    peer.close()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    path = tmp_path / "manifests"
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(path))
    return path


def refused(r, target: str, slug: str) -> None:
    assert r.exit_code == 3, r.stderr
    assert f"Refusing to send the {slug}" in r.stderr and target in r.stderr
    assert f"synthral authorize {slug}" in r.stderr


def shadow(folder: Path, slug: str, **changes: str) -> None:
    """A user manifest copying the bundled one, with URLs changed."""
    doc = yaml.safe_load((REPO / "manifests" / f"{slug}.yaml").read_text())
    for key, value in changes.items():
        if key in doc["auth"]:
            doc["auth"][key] = value
        else:
            doc[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_manifest_that_moves_the_api_gets_nothing_until_reauthorized(cli, folder, api, thief):
    user_manifest(folder, "xkey", api.url, XKEY)
    assert cli("authorize", "xkey", "--with-token", input=KEY + "\n").exit_code == 0
    assert cli("invoke", "xkey", "thing").exit_code == 0
    assert api.requests[-1][2]["x-api-key"] == KEY
    user_manifest(folder, "xkey", thief.url, XKEY)  # edited, or shadowed by another folder
    r = cli("invoke", "xkey", "thing")
    refused(r, thief.origin, "xkey")
    assert f"bound to {api.origin}" in r.stderr
    assert thief.untouched()
    # an action-level base_url elsewhere is refused the same way
    user_manifest(folder, "xkey", api.url, XKEY, actions=[
        {"name": "test_connection", "description": "me", "method": "GET", "path": "/me"},
        {"name": "upload", "description": "up", "method": "POST", "path": "/up", "base_url": thief.url}])
    refused(cli("invoke", "xkey", "upload"), thief.origin, "xkey")
    assert thief.untouched()
    # re-authorizing against the new manifest is how a user moves the binding
    user_manifest(folder, "xkey", thief.url, XKEY)
    thief.routes["/thing"] = (200, {}, {"ok": 2})
    assert cli("authorize", "xkey", "--with-token", input=KEY + "\n").exit_code == 0
    assert cli("invoke", "xkey", "thing").exit_code == 0 and thief.requests[-1][2]["x-api-key"] == KEY


def test_refresh_and_revocation_go_only_to_the_bound_token_endpoint(cli, provider, thief):
    import dataclasses

    from synthral_cli.api import Synthral

    tok, conn = provider.seed(expires_in=3600)
    sy = Synthral(env=dict(os.environ))  # as `authorize` records it; and the access token has expired
    sy.store.put(dataclasses.replace(conn, origins=[provider.server.url], expires_at=1.0))
    sy.store.close()
    provider.manifest(auth={"token_url": thief.url + "/token", "revocation_url": thief.url + "/revoke"})
    r = cli("invoke", "testprov", "test_connection")
    assert r.exit_code == 3, r.stderr
    assert f"Refusing to send the testprov refresh token to {thief.origin}" in r.stderr
    r = cli("refresh", "testprov")
    assert r.exit_code == 3 and "refresh token" in r.stderr
    r = cli("connections", "remove", "testprov", "--revoke")
    assert r.exit_code == 3 and f"to {thief.origin}" in r.stderr
    assert thief.untouched()
    assert provider.server.find(tok.refresh_token).refresh_revoked is False  # never used anywhere
    assert provider.stored() is not None  # a refused revocation removes nothing


def test_legacy_connections_bind_to_the_bundled_manifest_not_a_shadow(cli, folder, thief):
    from synthral_cli.api import Synthral
    from synthral_cli.auth.binding import bound_origins

    put_connection("stripe", method="api_key", secrets={"api_key": "sk_live_legacy_1234"})  # origins == []
    sy = Synthral(env=dict(os.environ))
    assert bound_origins(sy, sy.connector("stripe"), sy.store.get("stripe")) == ["https://api.stripe.com"]
    shadow(folder, "stripe", base_url=thief.url)
    sy = Synthral(env=dict(os.environ))
    assert bound_origins(sy, sy.connector("stripe"), sy.store.get("stripe")) == ["https://api.stripe.com"]
    r = cli("invoke", "stripe", "test_connection")
    refused(r, thief.origin, "stripe")
    assert "bound to https://api.stripe.com" in r.stderr
    assert thief.untouched()


def test_an_env_token_goes_only_where_the_bundled_manifest_says(cli, folder, thief, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STRIPE_TOKEN", "sk_live_from_ci_5678")
    shadow(folder, "stripe", base_url=thief.url)
    r = cli("invoke", "stripe", "test_connection")
    assert r.exit_code == 3 and thief.origin in r.stderr and "SYNTHRAL_STRIPE_TOKEN" in r.stderr
    assert "sk_live_from_ci_5678" not in r.stdout + r.stderr
    assert thief.untouched()


def test_a_stored_app_secret_is_not_sent_to_a_shadow_token_endpoint(cli, folder, thief):
    r = cli("configure", "github", "--client-id", "Iv1.app", "--client-secret-stdin", input="app-secret-9f8e7d6c\n")
    assert r.exit_code == 0, r.stderr
    shadow(folder, "github", token_url=thief.url + "/token")
    r = cli("authorize", "github", "--no-browser", "--timeout", "5")
    assert r.exit_code == 3, r.stderr
    assert f"Refusing to send the github OAuth client secret to {thief.origin}" in r.stderr
    assert "https://github.com" in r.stderr and "SYNTHRAL_GITHUB_CLIENT_SECRET" in r.stderr
    assert "app-secret-9f8e7d6c" not in r.stdout + r.stderr
    assert thief.untouched()


class Listener:
    """A TCP port that only counts who connects (where a PostgreSQL server would be)."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.accepted = 0
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


def _credential(slug: str, origins: list[str], **fields: str):
    from synthral_cli.auth.credential import Credential

    secrets = {k: v for k, v in fields.items() if k in {"password", "dsn"}}
    config = {k: v for k, v in fields.items() if k not in secrets}
    return Credential(slug, "default", "custom", secrets, config, None, "store", origins=origins)


def _dispatch(slug: str, action: str, params: dict, credential):
    """Run an action of a bundled transport with a given credential, through its connector."""
    from synthral_cli.actions.connector import Call
    from synthral_cli.api import Synthral
    from synthral_cli.wire.params import check_params
    from synthral_cli.wire.request import Options

    sy = Synthral(env=dict(os.environ))
    manifest = sy.connector(slug)
    act = manifest.action(action)
    call = Call(manifest, act, check_params(act, params, slug), credential, Options(timeout=5))
    return sy.registry.connector(manifest.transport, slug).execute(call)


def test_smtp_login_goes_only_to_the_bound_server():
    from aiosmtpd.controller import Controller

    from synthral_cli.basics.errors import AuthError

    class Sink:
        envelopes: list = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 OK"

    other = Listener("127.0.0.2")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail = {"to": ["ann@example.com"], "subject": "hi", "text": "x", "from": "me@example.com"}
        bound = _credential("smtp", ["smtp://127.0.0.1"], host="127.0.0.1", port=str(port), security="none")
        assert _dispatch("smtp", "send_email", mail, bound).success
        assert len(sink.envelopes) == 1
        moved = _credential("smtp", ["smtp://127.0.0.1"], host="127.0.0.2", port=str(other.port),
                            security="none", username="me", password="smtp-pass-31")
        with pytest.raises(AuthError) as info:
            _dispatch("smtp", "send_email", mail, moved)
        assert "smtp://127.0.0.2" in info.value.message and "bound to smtp://127.0.0.1" in info.value.message
        assert other.accepted == 0 and len(sink.envelopes) == 1
    finally:
        controller.stop()
        other.sock.close()


def test_postgresql_password_goes_only_to_the_bound_server():
    from synthral_cli.basics.errors import AuthError

    other = Listener("127.0.0.2")
    try:
        cred = _credential("postgresql", ["postgresql://db.internal"],
                           dsn=f"postgresql://app:pg-pass-77@127.0.0.2:{other.port}/prod")
        with pytest.raises(AuthError) as info:
            _dispatch("postgresql", "query", {"sql": "select 1"}, cred)
        assert "postgresql://127.0.0.2" in info.value.message
        cred = _credential("postgresql", ["postgresql://db.internal"], host="127.0.0.2", port=str(other.port),
                           user="app", password="pg-pass-77", dbname="prod")
        with pytest.raises(AuthError):
            _dispatch("postgresql", "query", {"sql": "select 1"}, cred)
        assert other.accepted == 0
    finally:
        other.sock.close()


def test_authorize_records_the_origins_of_the_connection(cli, folder, api):
    from synthral_cli.api import Synthral

    user_manifest(folder, "xkey", api.url, XKEY)
    assert cli("authorize", "xkey", "--with-token", input=KEY + "\n").exit_code == 0
    r = cli("authorize", "zendesk", "--with-token", "--config", "subdomain=acme", input="zendesk-token-1\n")
    assert r.exit_code == 0, r.stderr
    sy = Synthral(env=dict(os.environ))
    assert sy.store.get("xkey").origins == [api.origin]
    assert sy.store.get("zendesk").origins == ["https://acme.zendesk.com"]
    assert json.loads(cli("connections", "list", "--json").stdout)  # still listable
