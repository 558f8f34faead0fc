"""Issue 14, item 3: a user manifest cannot silently take over a bundled connector's secrets.

A planted ``github.yaml`` (the bundled one with its token endpoint and API moved to a real local
Authlib server) is announced once per command, and the github connection and OAuth app stored
for the bundled connector are not sent to it (exit 3) until the user authorizes under it; the
server's own request log shows that nothing arrived. A relative ``SYNTHRAL_MANIFESTS_PATH`` entry
is refused (exit 2) before any manifest is read.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from synthral_cli.api import Synthral
from synthral_cli.auth import apps, credentials
from synthral_cli.basics.errors import AuthError
from synthral_cli.catalogue.manifest import bundled_dir
from synthral_cli.catalogue.origins import ShadowInfo, origin, origins
from synthral_cli.store.keys import encode_key, generate_key
from synthral_cli.store.model import Connection
from tests.authserver import OAuthServer
from tests.conftest import synthral_exe

APP_SECRET = "github-app-secret-d41d8cd98f00"
REFRESH_TOKEN = "github-refresh-token-9e107d9d372bb6826bd81d3542a419d6"
ACCESS_TOKEN = "github-access-token-e4d909c290d0fb1ca068ffaddf22cbd0"


@pytest.fixture
def planted_server():
    """A fresh Authlib server standing in for the attacker: every request it gets is logged."""
    srv = OAuthServer().start()
    yield srv
    srv.stop()


def planted_github(url: str) -> str:
    """The bundled github manifest with its token endpoint and API moved to ``url``."""
    text = (bundled_dir() / "github.yaml").read_text(encoding="utf-8")
    replaced = (
        text.replace("base_url: https://api.github.com\n", f"base_url: {url}/api\n")
        .replace(
            "  token_url: https://github.com/login/oauth/access_token\n",
            f"  token_url: {url}/token\n  revocation_url: {url}/revoke\n",
        )
        .replace("    path: /user\n", "    path: /me\n", 1)
    )
    assert replaced.count(url) == 3, "the bundled github manifest changed; update this test"
    return replaced


@pytest.fixture
def stored_github(config_dir, monkeypatch):
    """The user's setup before anything was planted: an OAuth app and an (expired) github
    connection authorized under the bundled manifest, as rows made before origins were recorded."""
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", encode_key(generate_key()))
    sy = Synthral(env=dict(os.environ))
    sy.store.put_app("github", "Iv1.bundled-app", APP_SECRET)
    sy.store.put(
        Connection(
            slug="github",
            method="direct",
            scopes=["repo"],
            expires_at=time.time() - 60,
            secrets={"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN},
        )
    )
    before = sy.store.get("github", "default")
    sy.store.close()
    return before


def plant(folder: Path, server: OAuthServer, monkeypatch) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "github.yaml"
    path.write_text(planted_github(server.url), encoding="utf-8")
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    return path


def stored(name: str = "default") -> Connection | None:
    sy = Synthral(env=dict(os.environ))
    try:
        return sy.store.get("github", name)
    finally:
        sy.store.close()


def test_shadowing_manifest_gets_no_stored_secret_until_authorized_under_it(
    planted_server, stored_github, sh, tmp_path, monkeypatch
):
    planted = plant(tmp_path / "planted", planted_server, monkeypatch)
    host = planted_server.url
    notice = f"warning: github comes from {planted}, which replaces the bundled github connector"
    for argv in (
        ["invoke", "github", "test_connection", "--json"],
        ["token", "github"],
        ["refresh", "github"],
        ["test", "github"],
        ["connections", "remove", "github", "--revoke"],
    ):
        r = sh(*argv)
        assert r.exit_code == 3, (argv, r.stderr)
        assert r.stdout == ""
        assert r.stderr.count(notice) == 1, r.stderr  # announced once per command
        assert f"auth.token_url -> {host} (bundled: https://github.com)" in r.stderr
        assert (
            f"error: Refusing to send the github credentials to {host}: the user manifest {planted} "
            "replaces the bundled github connector, and the 'default' connection is bound to "
            "https://api.github.com, https://github.com."
        ) in r.stderr
        assert "synthral authorize github" in r.stderr
        for secret in (APP_SECRET, REFRESH_TOKEN, ACCESS_TOKEN):
            assert secret not in r.stderr
    # The stored OAuth app is refused too: authorizing under the planted endpoints needs its own app.
    r = sh("authorize", "github", "--no-browser", "--timeout", "2")
    assert r.exit_code == 3, r.stderr
    assert f"error: Refusing to send the github OAuth client secret to {host}" in r.stderr
    assert "SYNTHRAL_GITHUB_CLIENT_ID and SYNTHRAL_GITHUB_CLIENT_SECRET" in r.stderr
    # The planted server received nothing at all, and the stored connection is untouched.
    assert planted_server.requests == []
    after = stored()
    assert after is not None and after.secrets == stored_github.secrets
    assert after.version == stored_github.version and not after.needs_reauth

    # The user trusts the manifest and authorizes under it: from then on it works, against the
    # same server, whose log now shows the request (so the empty log above means something).
    client = planted_server.add_client("planted-client")
    minted = planted_server.mint(client.client_id)
    r = sh("authorize", "github", "--with-token", input=minted.access_token + "\n")
    assert r.exit_code == 0, r.stderr
    assert stored().origins == [host]  # API, token and revocation endpoints: all on the planted server
    r = sh("invoke", "github", "test_connection", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"]["client_id"] == "planted-client"
    assert [(q["method"], q["path"]) for q in planted_server.requests] == [("GET", "/api/me")]
    assert planted_server.requests[0]["headers"]["Authorization"] == f"Bearer {minted.access_token}"
    assert all(REFRESH_TOKEN not in json.dumps(q) and APP_SECRET not in json.dumps(q) for q in planted_server.requests)


def test_a_relative_manifests_path_is_refused_before_anything_is_read(
    planted_server, stored_github, tmp_path, monkeypatch
):
    checkout = tmp_path / "checkout"  # e.g. a repository checked out in CI
    plant(checkout / "manifests", planted_server, monkeypatch)
    env = {**os.environ, "SYNTHRAL_MANIFESTS_PATH": "manifests"}
    for argv in (["list", "--json"], ["connectors", "list"], ["invoke", "github", "test_connection"],
                 ["token", "github"], ["refresh", "github"], ["show", "github"]):
        p = subprocess.run([synthral_exe(), *argv], cwd=checkout, env=env, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 2, (argv, p.stderr)
        assert p.stdout == ""
        assert p.stderr == (
            "error: SYNTHRAL_MANIFESTS_PATH has the relative entry 'manifests'; synthral does not read "
            "manifests relative to the current directory.\n"
            f"  Use an absolute path, e.g. SYNTHRAL_MANIFESTS_PATH={checkout / 'manifests'} "
            "(only if you trust every manifest in it).\n"
        )
    mixed = {**env, "SYNTHRAL_MANIFESTS_PATH": f"{tmp_path}{os.pathsep}./manifests"}
    p = subprocess.run([synthral_exe(), "list"], cwd=checkout, env=mixed, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "relative entry './manifests'" in p.stderr
    assert planted_server.requests == []
    assert stored().secrets == stored_github.secrets


def test_home_relative_entries_are_absolute(tmp_path, monkeypatch, cli):
    home = tmp_path / "home"
    (home / "mine").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", "~/mine")
    assert cli("list", "--json").exit_code == 0


def test_a_shadow_with_the_same_hosts_is_announced_and_keeps_working(config_dir, sh, monkeypatch):
    """Renaming or rewording a bundled connector changes no host: announced, nothing refused."""
    text = (bundled_dir() / "stripe.yaml").read_text(encoding="utf-8").replace("name: Stripe\n", "name: My Stripe\n")
    (config_dir / "manifests").mkdir()
    (config_dir / "manifests" / "stripe.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", encode_key(generate_key()))
    r = sh("authorize", "stripe", "--with-token", input="sk_test_shadow_same_hosts\n")
    assert r.exit_code == 0, r.stderr
    r = sh("invoke", "stripe", "test_connection", "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    note = f"warning: stripe comes from {config_dir / 'manifests' / 'stripe.yaml'}, which replaces the bundled "
    assert r.stderr.count(note + "stripe connector (same hosts).") == 1
    fast = sh("list", "--json")  # the fast path announces it too, once
    assert fast.exit_code == 0 and fast.stderr.count(note) == 1
    assert "My Stripe" in fast.stdout


def test_the_fast_path_and_typer_announce_the_same(config_dir, stored_github, planted_server, monkeypatch, cli,
                                                    capsys, tmp_path):
    from synthral_cli.cli.main import fast_path

    plant(tmp_path / "p", planted_server, monkeypatch)
    assert fast_path(["connectors", "list", "--json"]) == 0
    fast = capsys.readouterr()
    typer = cli("connectors", "list", "--json")
    assert (fast.out, fast.err) == (typer.stdout, typer.stderr)
    assert fast.err.count("warning: github comes from") == 1


def test_stored_app_is_kept_when_only_the_api_host_moves(stored_github, tmp_path, monkeypatch):
    """The app secret goes only to OAuth endpoints: a manifest that moves just the API keeps the
    stored app, but the connection (whose token would go to the new API host) is refused."""
    folder = tmp_path / "ghe"
    folder.mkdir()
    text = (bundled_dir() / "github.yaml").read_text(encoding="utf-8")
    (folder / "github.yaml").write_text(text.replace("https://api.github.com", "https://ghe.example.invalid/api/v3"))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    sy = Synthral(env=dict(os.environ))
    manifest = sy.connector("github")
    assert manifest.shadowing is not None and not manifest.shadowing.auth_changed
    assert apps.app_credentials(sy, manifest).client_secret == APP_SECRET
    with pytest.raises(AuthError, match="Refusing to send the github credentials to https://ghe.example.invalid"):
        credentials.resolve(sy, manifest)
    sy.store.close()


def test_a_connection_recorded_under_the_user_manifest_is_used(stored_github, planted_server, tmp_path, monkeypatch):
    """Rows that record their origins are judged by them (no network: a fresh token is not refreshed)."""
    plant(tmp_path / "p", planted_server, monkeypatch)
    sy = Synthral(env=dict(os.environ))
    manifest = sy.connector("github")
    sy.store.put(Connection(slug="github", name="mine", method="direct", expires_at=time.time() + 3600,
                            secrets={"access_token": "t-under-planted"},
                            origins=sorted(set(origins(manifest.raw).values()))))
    assert credentials.resolve(sy, manifest, "mine").secrets["access_token"] == "t-under-planted"
    sy.store.put(Connection(slug="github", name="elsewhere", method="direct", expires_at=time.time() + 3600,
                            secrets={"access_token": "t-bundled"}, origins=["https://github.com",
                                                                           "https://api.github.com"]))
    with pytest.raises(AuthError, match="the 'elsewhere' connection is bound to https://github.com, https://api.github.com"):
        credentials.resolve(sy, manifest, "elsewhere")
    sy.store.close()
    assert planted_server.requests == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://API.GitHub.com/user?x=1#y", "https://api.github.com"),
        ("https://api.github.com:443/v3", "https://api.github.com"),
        ("http://127.0.0.1:80/x", "http://127.0.0.1"),
        ("http://127.0.0.1:8443/x", "http://127.0.0.1:8443"),
        ("https://user:pw@host.example/x", "https://host.example"),
        ("https://{subdomain}.zendesk.com/api/v2", "https://{subdomain}.zendesk.com"),
        ("{instance_url}/services/data", "{instance_url}"),
        ("http://[::1]:9000/x", "http://[::1]:9000"),
    ],
)
def test_origin(url, expected):
    assert origin(url) == expected


def test_shadow_info_names_only_new_origins():
    info = ShadowInfo(
        "zendesk",
        "/x/zendesk.yaml",
        {"base_url": "https://{subdomain}.zendesk.com", "auth.token_url": "https://{subdomain}.zendesk.com"},
        {"base_url": "https://{subdomain}.zendesk.com", "auth.token_url": "https://evil.example",
         "auth.revocation_url": "https://{subdomain}.zendesk.com"},
    )
    assert info.changed == {"auth.token_url": ("https://{subdomain}.zendesk.com", "https://evil.example")}
    assert info.auth_changed
    assert "auth.token_url -> https://evil.example (bundled: https://{subdomain}.zendesk.com)" in info.notice()
