"""CI without a store works for connectors that need settings (issue 15, item 7): settings come
from ``SYNTHRAL_<SLUG>_<SETTING>`` (as rclone's ``RCLONE_CONFIG_<REMOTE>_<OPTION>``); ``invoke``,
``test``, ``request`` and ``run`` say once on stderr when an environment token shadows a stored
connection, and ``--ignore-env`` uses the store. The installed ``synthral`` calls httpbin
(pytest-httpbin) on 127.0.0.1 through a user manifest whose base URL takes a setting.
"""

from __future__ import annotations

import json

import pytest

from tests.invoke_support import STORE_KEY, manifest, write_manifests

NOTICE = (
    "warning: SYNTHRAL_TBIN_TOKEN is set: it is used instead of the stored tbin connection 'default' "
    "(pass --ignore-env to use the stored one).\n"
)
ENV = {"SYNTHRAL_TBIN_TOKEN": "env-token-0123456789", "SYNTHRAL_TBIN_TENANT": "acme"}


@pytest.fixture
def tbin(httpbin, tmp_path, monkeypatch):
    doc = manifest(
        "tbin",
        httpbin.url + "/anything/{tenant}",
        [],
        connection_config={"tenant": {"description": "The tenant", "example": "acme"}},
    )
    doc["actions"][0]["path"] = "/me"
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    return httpbin


def called(stdout: str) -> tuple[str, str]:
    """(path, bearer token) that httpbin saw."""
    echo = json.loads(stdout)["result"]
    return echo["url"].split("/anything", 1)[1], echo["headers"]["Authorization"]


def test_token_and_settings_from_the_environment_without_a_store(tbin, sh, config_dir):
    r = sh("invoke", "tbin", "test_connection", "--json", env=ENV)
    assert (r.exit_code, r.stderr) == (0, "")
    assert called(r.stdout) == ("/acme/me", "Bearer env-token-0123456789")  # as httpbin echoes it
    assert not (config_dir / "store.db").exists() or "tbin" not in sh("connections", "list").stdout
    r = sh("test", "tbin", env=ENV)
    assert r.exit_code == 0 and "warning" not in r.stderr, r.stderr
    # Without the setting: exit 2 naming --config and the variable.
    r = sh("invoke", "tbin", "test_connection", env={"SYNTHRAL_TBIN_TOKEN": "env-token-0123456789"})
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        "error: tbin needs the connection setting 'tenant' (The tenant).\n"
        "  Run: synthral authorize tbin --config tenant=acme (or set SYNTHRAL_TBIN_TENANT)\n"
    )
    # A setting that would reshape the URL is refused like --config, naming the variable.
    r = sh("invoke", "tbin", "test_connection", env={**ENV, "SYNTHRAL_TBIN_TENANT": "a/../b"})
    assert r.exit_code == 2 and r.stderr.startswith("error: SYNTHRAL_TBIN_TENANT: tenant='a/../b' may not contain")


def test_zendesk_in_ci_without_a_store(sh):
    env = {"SYNTHRAL_ZENDESK_TOKEN": "t", "SYNTHRAL_ZENDESK_SUBDOMAIN": "acme"}
    r = sh("invoke", "zendesk", "test_connection", "--dry-run", env=env)
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "GET https://acme.zendesk.com/api/v2/users/me\n"
        "User-Agent: synthral/0.1.0\n"
        "Accept: application/json\n"
        "Authorization: Bearer ***\n"
    )


def test_an_env_token_shadowing_a_stored_connection_is_said_once_and_ignore_env_uses_the_store(tbin, sh, tmp_path):
    r = sh("authorize", "tbin", "--with-token", "--config", "tenant=stored", input="stored-token-0123456789\n")
    assert r.exit_code == 0, r.stderr
    # invoke, test, request: the env token and setting win, said once.
    r = sh("invoke", "tbin", "test_connection", "--json", env=ENV)
    assert (r.exit_code, r.stderr) == (0, NOTICE)
    assert called(r.stdout) == ("/acme/me", "Bearer env-token-0123456789")
    r = sh("test", "tbin", env=ENV)
    assert r.exit_code == 0 and r.stderr.count(NOTICE) == 1, r.stderr
    r = sh("request", "tbin", "GET", "/x", "--json", env=ENV)
    assert (r.exit_code, r.stderr) == (0, NOTICE)
    assert called(r.stdout)[0] == "/acme/x"
    # run: two steps on the same connection, one notice.
    flow = tmp_path / "two.yaml"
    flow.write_text(
        "steps:\n"
        "  - {name: a, type: connector, config: {connectorType: tbin, action: test_connection}}\n"
        "  - {name: b, type: connector, config: {connectorType: tbin, action: test_connection}}\n",
        encoding="utf-8",
    )
    r = sh("run", str(flow), env=ENV)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count(NOTICE) == 1 and r.stderr.endswith(NOTICE)
    # The stored setting is used when only the token comes from the environment ...
    r = sh("invoke", "tbin", "test_connection", "--json", env={"SYNTHRAL_TBIN_TOKEN": "env-token-0123456789"})
    assert (r.exit_code, r.stderr) == (0, NOTICE)
    assert called(r.stdout) == ("/stored/me", "Bearer env-token-0123456789")
    # ... and --ignore-env (anywhere on the line) uses the stored connection: no notice.
    for args in (("--ignore-env", "invoke", "tbin", "test_connection", "--json"),
                 ("invoke", "tbin", "test_connection", "--json", "--ignore-env")):
        r = sh(*args, env=ENV)
        assert (r.exit_code, r.stderr) == (0, "")
        assert called(r.stdout) == ("/stored/me", "Bearer stored-token-0123456789")
    r = sh("test", "tbin", "--ignore-env", env=ENV)
    assert r.exit_code == 0 and "warning" not in r.stderr, r.stderr


def test_a_setting_from_the_environment_cannot_move_a_stored_credential(sh):
    r = sh("authorize", "zendesk", "--with-token", "--config", "subdomain=acme", input="ztok-0123456789\n")
    assert r.exit_code == 0, r.stderr
    r = sh("invoke", "zendesk", "test_connection", env={"SYNTHRAL_ZENDESK_SUBDOMAIN": "evil"})
    assert (r.exit_code, r.stdout) == (3, "")
    assert r.stderr == (
        "error: Refusing to send the zendesk credentials to https://evil.zendesk.com: the 'default' "
        "connection is bound to https://acme.zendesk.com.\n"
        "  If that host is right, bind the connection to it again: synthral authorize zendesk\n"
    )
