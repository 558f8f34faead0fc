"""Refresh, rotation, ``invalid_grant``, revocation, one refresh across 16 processes, and the
non-browser ways in: client credentials, ``--with-token``, env overrides, app credentials."""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import pytest

from synthral_cli.api import Synthral
from synthral_cli.auth import authorize, credentials
from synthral_cli.basics.errors import AuthError
from tests.authserver import oauth_server, provider  # noqa: F401
from tests.conftest import synthral_exe

REFRESH = "refresh_token"


def sy() -> Synthral:
    return Synthral(env=dict(os.environ))


def test_token_refreshes_an_expired_token_once_and_stores_the_rotated_refresh_token(provider, cli):
    old, _ = provider.seed(expires_in=-10)
    r = cli("token", "testprov")
    assert r.exit_code == 0, r.stderr
    new_access = r.stdout.strip()
    assert new_access and new_access != old.access_token
    assert provider.server.count(REFRESH, provider.client_id) == 1
    conn = provider.stored()
    assert conn.secrets["access_token"] == new_access
    assert conn.secrets["refresh_token"] != old.refresh_token  # rotated, and replaced
    assert conn.expires_at > time.time() + 3000
    assert provider.server.find(old.refresh_token).refresh_revoked  # the server rotated it
    again = cli("token", "testprov")
    assert again.stdout.strip() == new_access
    assert provider.server.count(REFRESH, provider.client_id) == 1  # still fresh: no new grant


def test_token_refreshes_when_less_than_a_minute_remains(provider, cli):
    provider.seed(expires_in=30)
    assert cli("token", "testprov").exit_code == 0
    assert provider.server.count(REFRESH, provider.client_id) == 1


def test_refresh_command_forces_one_and_prints_the_contract_json(provider, cli):
    provider.seed(expires_in=3600)
    r = cli("refresh", "testprov", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"success", "connector_slug", "connection", "expires_in", "oauth_method"}
    assert out["success"] is True and out["connector_slug"] == "testprov" and out["connection"] == "default"
    assert out["oauth_method"] == "direct" and 3500 < out["expires_in"] <= 3600
    first = provider.stored().secrets["refresh_token"]
    # The rotated refresh token is the one used next time (the old one is revoked).
    assert cli("refresh", "testprov").exit_code == 0
    assert provider.server.count(REFRESH, provider.client_id) == 2
    assert provider.stored().secrets["refresh_token"] != first


def test_invalid_grant_marks_the_connection_for_reauthorization(provider, cli):
    provider.seed(expires_in=3600)
    provider.server.revoke_all()
    r = cli("refresh", "testprov")
    assert r.exit_code == 3
    assert "invalid_grant" in r.stderr and "synthral authorize testprov" in r.stderr
    conn = provider.stored()
    assert conn.needs_reauth is True
    assert conn.secrets["access_token"]  # the tokens are kept, not wiped
    t = cli("token", "testprov")
    assert t.exit_code == 3 and "authorized again" in t.stderr and t.stdout == ""


def test_invalid_grant_after_another_process_stored_a_newer_token_keeps_it(provider):
    """The refused refresh token was already replaced: nothing is flagged, the new token wins."""
    tok, conn = provider.seed(expires_in=3600)
    s = sy()
    manifest = s.connector("testprov")
    stale = conn.secrets["access_token"]
    # Another process refreshed (rotating the refresh token) after we read the credential.
    credentials.refresh_connection(s, manifest, force=True)
    assert provider.server.find(tok.refresh_token).refresh_revoked
    cred = credentials._to_credential(manifest, conn)
    fresh = credentials.refresh_after_401(s, manifest, cred)
    assert fresh is not None and fresh.secrets["access_token"] != stale
    assert provider.server.count(REFRESH, provider.client_id) == 1  # no second grant with the dead token
    assert provider.stored().needs_reauth is False


def test_refresh_after_401_refreshes_once_and_the_new_token_works(provider):
    provider.seed(expires_in=3600)
    s = sy()
    manifest = s.connector("testprov")
    cred = credentials.resolve(s, manifest)
    assert cred.kind == "oauth2" and cred.source == "store" and cred.scopes == ["read", "write"]
    me = provider.server.url + "/api/me"

    def call(c):
        return httpx.get(me, headers={"Authorization": f"Bearer {c.secrets['access_token']}"})

    assert call(cred).status_code == 200
    provider.server.expire_access_tokens()  # the provider ends it early
    assert call(cred).status_code == 401
    fresh = credentials.refresh_after_401(s, manifest, cred)
    assert fresh is not None and call(fresh).status_code == 200
    assert provider.server.count(REFRESH, provider.client_id) == 1
    # The same stale credential again (another request in flight): no second refresh.
    again = credentials.refresh_after_401(s, manifest, cred)
    assert again.secrets["access_token"] == fresh.secrets["access_token"]
    assert provider.server.count(REFRESH, provider.client_id) == 1


def test_refresh_after_401_is_none_for_an_environment_token(provider, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_TESTPROV_TOKEN", "from-the-env")
    s = sy()
    cred = credentials.resolve(s, s.connector("testprov"))
    assert (
        cred.source == "environment"
        and cred.secrets == {"access_token": "from-the-env"}
        and cred.scopes is None
    )
    assert credentials.refresh_after_401(s, s.connector("testprov"), cred) is None


@pytest.mark.slow
def test_sixteen_processes_share_one_refresh(provider):
    old, _ = provider.seed(expires_in=-5)
    procs = [
        subprocess.Popen(
            [synthral_exe(), "token", "testprov"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(16)
    ]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert [rc for _, _, rc in results] == [0] * 16, [err for _, err, _ in results]
    tokens = {out.strip() for out, _, _ in results}
    assert len(tokens) == 1 and old.access_token not in tokens
    assert provider.server.count(REFRESH, provider.client_id) == 1  # the server's own record
    assert provider.stored().secrets["access_token"] in tokens


def test_revocation_through_connections_remove(provider, cli):
    tok, conn = provider.seed(expires_in=3600)
    s = sy()
    assert authorize.revoke_connection(s, s.connector("testprov"), conn) is True
    assert provider.server.revocations[-1] == {"client_id": provider.client_id, "hint": "refresh_token"}
    assert provider.server.find(tok.access_token).access_revoked
    with pytest.raises(AuthError, match="invalid_grant"):
        credentials.refresh_connection(s, s.connector("testprov"), force=True)
    # And from the command line (the store's command calls the same function).
    provider.seed(expires_in=3600)
    r = cli("connections", "remove", "testprov", "--revoke")
    assert r.exit_code == 0, r.stderr
    assert len([x for x in provider.server.revocations if x["client_id"] == provider.client_id]) == 2
    assert provider.stored() is None


def test_revocation_without_an_endpoint_is_false(provider):
    doc = json.loads((provider.folder / "testprov.yaml").read_text())
    del doc["auth"]["revocation_url"]
    (provider.folder / "testprov.yaml").write_text(json.dumps(doc))
    _, conn = provider.seed(expires_in=3600)
    s = sy()
    assert authorize.revoke_connection(s, s.connector("testprov"), conn) is False


def test_client_credentials_manifest_uses_that_grant(provider, oauth_server, cli, monkeypatch):
    oauth_server.add_client(
        "cc-" + provider.client_id, "cc-secret", ("client_credentials",), "client_secret_basic"
    )
    monkeypatch.setenv("SYNTHRAL_TESTPROV_CLIENT_ID", "cc-" + provider.client_id)
    monkeypatch.setenv("SYNTHRAL_TESTPROV_CLIENT_SECRET", "cc-secret")
    provider.manifest(
        auth={"grant_types": ["client_credentials"], "token_auth_method": "client_secret_basic"},
        connection_config={
            "granted": {"description": "scope", "from_token_response": "scope", "required": False}
        },
    )
    r = cli("authorize", "testprov", "--json", "--scope", "read")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["oauth_method"] == "direct" and out["scopes"] == ["read"]
    assert oauth_server.count("client_credentials", "cc-" + provider.client_id) == 1
    conn = provider.stored()
    assert conn.method == "client_credentials" and conn.config == {"granted": "read"}
    assert "refresh_token" not in conn.secrets
    # Expired: a new client-credentials token, not a refresh.
    s = sy()
    s.store.put(conn.__class__(**{**conn.__dict__, "expires_at": time.time() - 1}))
    t = cli("token", "testprov")
    assert t.exit_code == 0 and t.stdout.strip() != conn.secrets["access_token"]
    assert oauth_server.count("client_credentials", "cc-" + provider.client_id) == 2


def test_missing_app_credentials_name_the_variables_and_the_console(provider, cli, monkeypatch):
    monkeypatch.delenv("SYNTHRAL_TESTPROV_CLIENT_ID")
    monkeypatch.delenv("SYNTHRAL_TESTPROV_CLIENT_SECRET")
    r = cli("authorize", "testprov", "--no-browser")
    assert r.exit_code == 2
    assert "set SYNTHRAL_TESTPROV_CLIENT_ID and SYNTHRAL_TESTPROV_CLIENT_SECRET" in r.stderr
    assert "synthral configure testprov --client-id ID --client-secret-stdin" in r.stderr
    assert "https://console.example.invalid/apps" in r.stderr


def test_configured_app_credentials_are_used(provider, cli, monkeypatch):
    monkeypatch.delenv("SYNTHRAL_TESTPROV_CLIENT_ID")
    monkeypatch.delenv("SYNTHRAL_TESTPROV_CLIENT_SECRET")
    s = sy()
    s.store.put_app("testprov", provider.client_id, provider.client_secret)
    provider.seed(expires_in=3600)
    assert cli("refresh", "testprov").exit_code == 0
    assert provider.server.count(REFRESH, provider.client_id) == 1


def test_nango_method_without_nango_is_a_clear_usage_error(provider, cli):
    r = cli("authorize", "testprov", "--method", "nango")
    assert r.exit_code == 2 and "Nango is not configured" in r.stderr and "NANGO_SECRET_KEY" in r.stderr


def test_environment_token_is_printed_as_is_and_says_it_shadows(provider, cli, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_TESTPROV_TOKEN", "env-token-value")
    r = cli("token", "testprov")
    assert r.exit_code == 0 and r.stdout == "env-token-value\n" and r.stderr == ""
    provider.seed(expires_in=3600)
    r = cli("token", "testprov")
    assert r.stdout == "env-token-value\n"
    assert "SYNTHRAL_TESTPROV_TOKEN is set" in r.stderr
    assert provider.server.count(REFRESH, provider.client_id) == 0


def test_no_connection_exits_3_with_the_command_to_run(provider, cli):
    r = cli("token", "testprov", "--connection", "work")
    assert r.exit_code == 3
    assert "synthral authorize testprov --connection work" in r.stderr


# -- API keys, basic and custom credentials ----------------------------------------------------


def _plain(provider, slug, auth_type, **auth):
    """A copy of the test manifest with a non-OAuth auth block."""
    doc = json.loads((provider.folder / "testprov.yaml").read_text())
    doc["slug"] = slug
    doc["auth"] = {"type": auth_type, **auth}
    (provider.folder / f"{slug}.yaml").write_text(json.dumps(doc))


def test_api_key_with_token_from_stdin(provider, cli):
    _plain(provider, "keyed", "api_key", inject=[{"in": "header", "name": "X-Key", "value": "{api_key}"}])
    r = cli("authorize", "keyed", "--with-token", "--json", input="k-123456789\n")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["oauth_method"] == "direct"  # the contract's values: nango | direct
    assert "k-123456789" not in r.stdout + r.stderr
    conn = provider.stored("keyed")
    assert conn.method == "api_key" and conn.secrets == {"api_key": "k-123456789"}
    assert cli("token", "keyed").stdout == "k-123456789\n"


def test_custom_fields_from_stdin_as_name_value_lines(provider, cli):
    fields = [
        {"name": "host", "secret": False},
        {"name": "port", "type": "integer", "default": 587, "secret": False},
        {"name": "username", "secret": False},
        {"name": "password"},
    ]
    _plain(provider, "mailer", "custom", scheme="smtp", fields=fields)
    r = cli(
        "authorize",
        "mailer",
        "--with-token",
        input="host=smtp.example.org\nusername=bob\npassword=pw-secret-1\n",
    )
    assert r.exit_code == 0, r.stderr
    stored = provider.stored("mailer")
    assert stored.secrets == {"password": "pw-secret-1"}  # only secret fields are encrypted
    assert stored.config == {"host": "smtp.example.org", "username": "bob", "port": "587"}
    missing = cli("authorize", "mailer", "--with-token", input="host=h\nusername=bob\n")
    assert missing.exit_code == 2 and "needs password" in missing.stderr
    bad = cli("authorize", "mailer", "--with-token", input="just-a-secret\n")
    assert bad.exit_code == 2 and "name=value" in bad.stderr
    badint = cli(
        "authorize", "mailer", "--with-token", input="host=h\nport=abc\nusername=u\npassword=p-123\n"
    )
    assert badint.exit_code == 2 and "whole number" in badint.stderr
    assert cli("token", "mailer").exit_code == 2  # no single token to print


def test_no_terminal_and_no_with_token_says_how_to_pipe_it(provider, cli):
    _plain(provider, "keyed", "bearer")
    r = cli("authorize", "keyed")
    assert r.exit_code == 2 and "--with-token" in r.stderr


def test_connection_settings_are_validated_and_used_in_urls(provider, oauth_server, cli, monkeypatch):
    oauth_server.add_client("cfg-" + provider.client_id, "cfg-secret", ("client_credentials",))
    monkeypatch.setenv("SYNTHRAL_TESTPROV_CLIENT_ID", "cfg-" + provider.client_id)
    monkeypatch.setenv("SYNTHRAL_TESTPROV_CLIENT_SECRET", "cfg-secret")
    provider.manifest(
        auth={"grant_types": ["client_credentials"], "token_url": oauth_server.url + "/token?tenant={shop}"},
        connection_config={
            "shop": {"description": "Shop name", "pattern": "^[a-z0-9-]+$", "example": "acme"}
        },
    )
    missing = cli("authorize", "testprov")
    assert missing.exit_code == 2 and "--config shop=acme" in missing.stderr
    bad = cli("authorize", "testprov", "--config", "shop=Not/Valid")
    assert bad.exit_code == 2 and "does not look right" in bad.stderr
    unknown = cli("authorize", "testprov", "--config", "region=eu")
    assert unknown.exit_code == 2 and "no setting 'region'" in unknown.stderr
    ok = cli("authorize", "testprov", "--config", "shop=acme")
    assert ok.exit_code == 0, ok.stderr
    assert provider.stored().config == {"shop": "acme"}


def test_hidden_prompt_on_a_terminal_does_not_echo_the_key(provider):
    import pty
    import select

    _plain(provider, "keyed", "api_key", inject=[{"in": "header", "name": "X-Key", "value": "{api_key}"}])
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [synthral_exe(), "authorize", "keyed"],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        end = time.monotonic() + 20
        while marker not in seen and time.monotonic() < end:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    return

    read_until(b"API key: ")
    os.write(master, b"k-typed-secret-42\n")
    read_until(b"Connected")
    out, _ = proc.communicate(timeout=20)
    os.close(master)
    assert proc.returncode == 0, seen
    assert out == b""
    assert b"k-typed-secret-42" not in seen  # not echoed, not printed
    assert provider.stored("keyed").secrets == {"api_key": "k-typed-secret-42"}
