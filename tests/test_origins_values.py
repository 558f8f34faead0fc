"""Issue 14, values from outside: the generic http connector's credential stays on the hosts given
at authorization (a URL from a workflow or a provider's answer is refused); imported bundles are
checked against the manifest; a workflow value never becomes a local file path; secrets never
come from the command line and are redacted in --debug URLs. Real peers: loopback HTTP servers
(whose own logs are checked) and aiosmtpd."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from tests.conftest import synthral_exe
from tests.invoke_support import STORE_KEY, put_connection
from tests.origin_support import Peer, user_manifest

TOKEN = "gen-bound-token-61c0"
PASSPHRASE = "a long enough bundle passphrase"


@pytest.fixture
def api():
    peer = Peer("127.0.0.1")
    yield peer
    peer.close()


@pytest.fixture
def thief():
    peer = Peer("127.0.0.2")
    yield peer
    peer.close()


@pytest.fixture(autouse=True)
def store_key(monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)


def authorize_http(cli, *config: str) -> None:
    args = [a for c in config for a in ("--config", c)]
    r = cli("authorize", "http", "--with-token", *args, input=f"scheme=bearer\ntoken={TOKEN}\n")
    assert r.exit_code == 0, r.stderr


def test_generic_http_credential_goes_only_to_its_hosts(cli, api, thief):
    api.routes["/x"] = (200, {}, {"ok": True})
    thief.routes["/x"] = (200, {}, {"ok": "stolen"})
    authorize_http(cli, "host=" + api.url.split("://")[1])
    assert cli("invoke", "http", "get", "-p", f"url={api.url}/x").exit_code == 0
    assert cli("invoke", "http", "get", "-p", f"url={api.url}/x?again=1").exit_code == 0
    assert [h["Authorization"] for _, _, h, _ in api.requests] == [f"Bearer {TOKEN}"] * 2
    r = cli("invoke", "http", "request", "-p", f"url={thief.url}/x", "-p", "method=POST")
    assert r.exit_code == 3, r.stderr
    assert f"Refusing to send the http credentials to {thief.origin}" in r.stderr
    assert "--config extra_hosts=" in r.stderr
    assert thief.untouched()
    # a dry run refuses it too, rather than preview a call that would never be made
    r = cli("invoke", "http", "request", "-p", f"url={thief.url}/x", "-p", "method=POST", "--dry-run")
    assert r.exit_code == 3 and f"Refusing to send the http credentials to {thief.origin}" in r.stderr
    assert TOKEN not in r.stdout + r.stderr
    ok = cli("invoke", "http", "get", "-p", f"url={api.url}/x", "--dry-run")
    assert ok.exit_code == 0 and TOKEN not in ok.stdout and len(api.requests) == 2
    # more hosts are given at authorization
    authorize_http(cli, "host=" + api.url.split("://")[1], "extra_hosts=" + thief.url.split("://")[1])
    assert cli("invoke", "http", "get", "-p", f"url={thief.url}/x").exit_code == 0
    assert thief.requests[0][2]["Authorization"] == f"Bearer {TOKEN}"


def test_a_url_from_a_providers_answer_cannot_carry_the_credential(cli, api, thief, tmp_path):
    authorize_http(cli, "host=" + api.url.split("://")[1])
    api.routes["/start"] = (200, {}, {"next": thief.url + "/collect"})
    flow = {"steps": [
        {"name": "first", "type": "connector",
         "config": {"connectorType": "http", "action": "get", "url": api.url + "/start"}},
        {"name": "follow", "type": "connector",
         "config": {"connectorType": "http", "action": "get", "url": "{{first.next}}"}},
    ]}
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    r = cli("run", str(path))
    assert r.exit_code == 3, r.stderr
    assert "step 'follow' failed" in r.stderr and thief.origin in r.stderr
    assert thief.untouched()


def test_imported_bundles_are_checked_against_the_manifest(cli, tmp_path, monkeypatch):
    from synthral_cli.basics.settings import Settings
    from synthral_cli.store.encrypted import Store

    monkeypatch.setenv("P", PASSPHRASE)
    put_connection("zendesk", config={"subdomain": "127.0.0.1:18443/steal#"},
                   secrets={"access_token": "zd-access-1", "refresh_token": "zd-refresh-1"})
    put_connection("zendesk", name="good", config={"subdomain": "acme"}, secrets={"access_token": "zd-2"},
                   origins=["https://acme.zendesk.com", "https://other.example.com"])
    bad = cli("connections", "export", "zendesk", "--passphrase-env", "P")
    good = cli("connections", "export", "zendesk", "--connection", "good", "--passphrase-env", "P")
    assert bad.exit_code == 0 and good.exit_code == 0
    ci = tmp_path / "ci"
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(ci))
    r = cli("connections", "import", "--passphrase-env", "P", input=bad.stdout)
    assert r.exit_code == 2, r.stderr
    assert "subdomain" in r.stderr and "refused" in r.stderr
    r = cli("connections", "import", "--passphrase-env", "P", input=good.stdout)
    assert r.exit_code == 0, r.stderr
    store = Store.open(Settings(dict(os.environ)))
    try:
        assert [c.name for c in store.list()] == ["good"]  # the bad one was never stored
        # origins computed here from the checked settings, narrowed to those it was exported with
        assert store.get("zendesk", "good").origins == ["https://acme.zendesk.com"]
    finally:
        store.close()


class Sink:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    put_connection("smtp", method="custom", config={"host": "127.0.0.1", "port": str(port), "security": "none",
                                                    "from": "bot@example.com"})
    yield sink
    controller.stop()


def test_a_step_result_never_becomes_a_local_file_path(cli, api, smtp, tmp_path):
    key_file = tmp_path / "store.key"
    key_file.write_text("the store key, which must not be mailed")
    api.routes["/report"] = (200, {}, {"file": str(key_file), "to": "ann@example.com"})
    flow = {"steps": [
        {"name": "fetch", "type": "http_request", "config": {"method": "GET", "url": api.url + "/report"}},
        {"name": "mail", "type": "connector",
         "config": {"connectorType": "smtp", "action": "send_email", "to": "{{fetch.data.to}}",
                    "subject": "report", "text": "attached", "attachments": ["{{fetch.data.file}}"]}},
    ]}
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    r = cli("run", str(path))
    assert r.exit_code == 2, r.stderr
    assert "step 'mail'" in r.stderr and "'attachments'" in r.stderr and "{{fetch.data.file}}" in r.stderr
    assert smtp.envelopes == [] and api.requests == []  # refused before anything ran
    # from the flow file itself, or from --input, a path is fine
    attachment = tmp_path / "notes.txt"
    attachment.write_text("notes for ann")
    flow["steps"][1]["config"]["attachments"] = ["{{input.attachment}}"]
    path.write_text(json.dumps(flow))
    r = cli("run", str(path), "--input", f"attachment={attachment}")
    assert r.exit_code == 0, r.stderr
    assert b"notes for ann" in smtp.envelopes[0].content or b"bm90ZXMgZm9yIGFubg" in smtp.envelopes[0].content


def test_secret_parameters_never_come_from_the_command_line(cli, monkeypatch):
    r = cli("invoke", "discord", "send_webhook", "-p", "webhook_id=1", "-p", "webhook_token=whk-argv-1",
            "--dry-run")
    assert r.exit_code == 2
    assert "webhook_token is a secret" in r.stderr and "SYNTHRAL_DISCORD_WEBHOOK_TOKEN" in r.stderr
    assert "--secret-stdin webhook_token" in r.stderr
    r = cli("invoke", "discord", "send_webhook", "--data", '{"webhook_id": "1", "webhook_token": "whk-argv-2"}',
            "--dry-run")
    assert r.exit_code == 2 and "webhook_token is a secret" in r.stderr
    r = cli("invoke", "discord", "send_webhook", "-p", "webhook_id=1", "--dry-run", "--json")
    assert r.exit_code == 2 and "SYNTHRAL_DISCORD_WEBHOOK_TOKEN" in r.stderr  # required, and not given
    r = cli("invoke", "discord", "send_webhook", "-p", "webhook_id=1", "--secret-stdin", "webhook_token",
            "--dry-run", "--json", input="whk-stdin-3\n")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["url"] == "https://discord.com/api/v10/webhooks/1/***"
    # Telegram's bot token is a stored credential put into the path, not a parameter
    r = cli("invoke", "telegram", "test_connection", "-p", "bot_token=123:AAx", "--dry-run")
    assert r.exit_code == 2 and "no parameter 'bot_token'" in r.stderr
    monkeypatch.setenv("SYNTHRAL_TELEGRAM_TOKEN", "123456:AA-telegram-secret")
    r = cli("invoke", "telegram", "test_connection", "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["url"] == "https://api.telegram.org/bot***/getMe"


def test_a_token_in_the_url_path_is_redacted_in_debug_logs(api, tmp_path):
    """``--debug`` logs each request URL; the token is there percent-encoded (``:`` -> ``%3A``)."""
    folder = tmp_path / "manifests"
    user_manifest(folder, "pathbot", api.url, {
        "type": "custom", "fields": [{"name": "bot_token"}],
        "inject": [{"in": "path", "name": "bot_token", "value": "{bot_token}"}]},
        actions=[{"name": "test_connection", "description": "me", "method": "GET", "path": "/bot{bot_token}/getMe"}])
    api.routes["/bot123456%3AAA-path-secret/getMe"] = (200, {}, {"ok": True})
    env = {**os.environ, "SYNTHRAL_MANIFESTS_PATH": str(folder)}
    p = subprocess.run([synthral_exe(), "--debug", "authorize", "pathbot", "--with-token"],
                       input="123456:AA-path-secret\n", capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([synthral_exe(), "--debug", "invoke", "pathbot", "test_connection", "--json"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert api.requests[0][1] == "/bot123456%3AAA-path-secret/getMe"  # it did travel, in the path
    assert "debug: synthral.http: > GET " in p.stderr and "/bot***/getMe" in p.stderr
    assert "AA-path-secret" not in p.stderr + p.stdout


def test_settings_are_checked_wherever_a_connection_is_made(thief):
    """The library calls a server uses (store, test a credential, OAuth) check settings too."""
    from synthral_cli.actions.invoke import test_credential
    from synthral_cli.api import Synthral
    from synthral_cli.auth.authorize import grant_client_credentials, store_static
    from synthral_cli.basics.errors import UsageError

    sy = Synthral(env={**os.environ, "SYNTHRAL_ZENDESK_CLIENT_ID": "id", "SYNTHRAL_ZENDESK_CLIENT_SECRET": "s3"})
    steal = {"subdomain": thief.url.split("://")[1] + "/steal#"}
    zendesk = sy.connector("zendesk")
    with pytest.raises(UsageError, match="subdomain"):
        store_static(sy, zendesk, secrets={"access_token": "zd-1"}, config=steal)
    with pytest.raises(UsageError, match="subdomain"):
        test_credential(sy, "zendesk", {"access_token": "zd-2"}, steal)
    with pytest.raises(UsageError, match="subdomain"):
        grant_client_credentials(sy, zendesk, config=steal)
    assert sy.store.list() == []
    assert thief.untouched()
