"""Issue 8: `synthral run` end to end — the documented examples against local servers: a scripted
HTTP server standing in for the API and for Stripe/Slack (through user manifests), aiosmtpd for
email, httpbin for http_request steps."""

from __future__ import annotations

import email
import json
import socket
from email import policy
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml

from tests.invoke_support import STORE_KEY, Scripted, put_connection

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


class Sink:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self):
        return [email.message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
def api():
    server = Scripted()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def store_key(monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)


def smtp_connection(port: int, name: str = "default") -> None:
    put_connection("smtp", name=name, method="custom",
                   config={"host": "127.0.0.1", "port": str(port), "security": "none", "from": "bot@example.com"},
                   secrets={})


def providers_at(folder: Path, url: str, monkeypatch) -> None:
    """User manifests: the bundled stripe and slack, with their base URL on the local server."""
    folder.mkdir(parents=True, exist_ok=True)
    for slug in ("stripe", "slack"):
        doc = yaml.safe_load((REPO / "manifests" / f"{slug}.yaml").read_text())
        doc["base_url"] = url
        (folder / f"{slug}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    # Authorized against these manifests, so bound to the local server (issue 14: an env token
    # would be bound to the bundled manifests' origins, never to a user manifest's).
    import os

    from synthral_cli.api import Synthral
    from synthral_cli.auth.authorize import store_static

    sy = Synthral(env=dict(os.environ))
    store_static(sy, sy.connector("stripe"), secrets={"api_key": "sk_test_stripe_flow_secret_1"})
    store_static(sy, sy.connector("slack"), secrets={"access_token": "xoxb-slack-flow-secret-2"})
    sy.store.close()


def localized(example: str, tmp_path: Path, api_url: str) -> Path:
    """The example file, unchanged but for the host it fetches from."""
    text = (EXAMPLES / example).read_text().replace("https://api.example.com", api_url)
    out = tmp_path / example
    out.write_text(text)
    return out


def test_fetch_and_email_example(cli, api, smtp, tmp_path):
    sink, port = smtp
    smtp_connection(port, "cred_smtp")
    api.add("/users/123", (200, {}, {"email": "ada@example.com", "name": "Ada", "balance": 12.5}))
    r = cli("run", str(localized("fetch-and-email.json", tmp_path, api.url)), "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["success"] is True
    assert [s["name"] for s in out["steps"]] == ["fetch_data", "send_email"]
    fetched = out["steps"][0]["output"]
    assert fetched["status"] == 200 and fetched["data"]["name"] == "Ada"
    assert fetched["headers"]["content-type"] == "application/json"
    (msg,) = sink.messages()
    assert msg["To"] == "ada@example.com" and msg["Subject"] == "Hello Ada"
    assert "Your account balance is $12.5" in msg.get_body(("html",)).get_content()
    assert "[1/2] fetch_data: ok" in r.stderr and "[2/2] send_email: ok" in r.stderr


def test_new_customer_chain_as_a_real_process(sh, api, smtp, tmp_path, monkeypatch):
    sink, port = smtp
    smtp_connection(port)
    providers_at(tmp_path / "manifests", api.url, monkeypatch)
    api.add("/v1/customers", (200, {}, {"id": "cus_Q1w2e3", "object": "customer"}))
    api.add("/chat.postMessage", (200, {}, {"ok": True, "ts": "1.2"}))
    for flow in ("new-customer.json", "new-customer.yaml"):
        sink.envelopes.clear()
        api.requests.clear()
        r = sh("run", str(EXAMPLES / flow), "--input", "email=ada@example.com", "--input", "name=Ada Lovelace")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["accepted"] == ["ada@example.com"]  # the last step's output
        (stripe, slack) = api.requests
        assert stripe[0] == "POST" and stripe[1] == "/v1/customers"
        assert stripe[2]["Authorization"] == "Bearer sk_test_stripe_flow_secret_1"
        assert parse_qs(stripe[3].decode()) == {
            "email": ["ada@example.com"], "name": ["Ada Lovelace"], "metadata[source]": ["synthral"]}
        assert json.loads(slack[3]) == {"channel": "#customers", "text": "New customer created: cus_Q1w2e3"}
        (msg,) = sink.messages()
        assert msg["Subject"] == "Welcome, Ada Lovelace!"
        assert "cus_Q1w2e3" in msg.get_body(("plain",)).get_content()
        for secret in ("sk_test_stripe_flow_secret_1", "xoxb-slack-flow-secret-2"):
            assert secret not in r.stdout + r.stderr


def test_first_failure_stops_the_run_with_its_exit_code(cli, api, smtp, tmp_path, monkeypatch):
    sink, port = smtp
    smtp_connection(port)
    providers_at(tmp_path / "manifests", api.url, monkeypatch)
    api.add("/v1/customers", (200, {}, {"id": "cus_1"}))
    api.add("/chat.postMessage", (200, {}, {"ok": False, "error": "channel_not_found"}))
    r = cli("run", str(EXAMPLES / "new-customer.json"), "--input", "email=a@b.c", "--input", "name=A")
    assert r.exit_code == 1
    assert "error: step 'send_slack_alert' failed:" in r.stderr and "channel_not_found" in r.stderr
    assert sink.envelopes == []  # the email step never ran
    r = cli("run", str(EXAMPLES / "new-customer.json"), "--input", "email=a@b.c", "--input", "name=A", "--json")
    assert r.exit_code == 1
    out = json.loads(r.stdout)
    assert out["success"] is False
    assert [(s["name"], s["success"]) for s in out["steps"]] == [("create_stripe_customer", True),
                                                                  ("send_slack_alert", False)]
    assert out["steps"][1]["exit_code"] == 1


def test_continue_on_error_goes_on(cli, api, smtp, tmp_path, monkeypatch):
    sink, port = smtp
    smtp_connection(port)
    providers_at(tmp_path / "manifests", api.url, monkeypatch)
    api.add("/v1/customers", (200, {}, {"id": "cus_1"}))
    api.add("/chat.postMessage", (200, {}, {"ok": False, "error": "channel_not_found"}))
    flow = json.loads((EXAMPLES / "new-customer.json").read_text())
    flow["steps"][1]["continue_on_error"] = True
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    r = cli("run", str(path), "--input", "email=a@b.c", "--input", "name=A")
    assert r.exit_code == 0, r.stderr
    assert len(sink.envelopes) == 1
    assert "warning: step 'send_slack_alert' failed (continue_on_error)" in r.stderr


def test_dry_run_sends_nothing_and_shows_placeholders(cli, api, smtp, tmp_path, monkeypatch):
    sink, port = smtp
    smtp_connection(port)
    providers_at(tmp_path / "manifests", api.url, monkeypatch)
    r = cli("run", str(EXAMPLES / "new-customer.json"), "--input", "email=a@b.c", "--input", "name=Ada", "--dry-run",
            "--json")
    assert r.exit_code == 0, r.stderr
    assert api.requests == [] and sink.envelopes == []
    steps = json.loads(r.stdout)["steps"]
    slack = steps[1]["request"]
    assert slack["method"] == "POST" and slack["url"] == f"{api.url}/chat.postMessage"
    assert slack["body"]["text"] == "New customer created: <create_stripe_customer.id>"
    assert slack["headers"]["Authorization"] == "Bearer ***"
    assert "xoxb-slack-flow-secret-2" not in r.stdout + r.stderr
    r = cli("run", str(EXAMPLES / "new-customer.json"), "--input", "email=a@b.c", "--input", "name=Ada", "--dry-run")
    assert r.exit_code == 0
    assert "# step send_slack_alert (connector)" in r.stdout and f"POST {api.url}/chat.postMessage" in r.stdout


def test_http_request_step_against_httpbin(cli, httpbin, tmp_path):
    flow = {"steps": [
        {"name": "echo", "type": "http_request",
         "config": {"method": "POST", "url": f"{httpbin.url}/anything", "params": {"q": "{{input.q}}"},
                    "headers": {"X-Trace": "t-1"}, "body": {"n": "{{input.n}}"}, "timeout": 10}},
        {"name": "again", "type": "http_request",
         "config": {"url": f"{httpbin.url}/get", "params": {"seen": "{{echo.data.json.n}}"}}},
    ]}
    path = tmp_path / "flow.yaml"
    path.write_text(yaml.safe_dump(flow))
    r = cli("run", str(path), "--input", "q=hello", "--input", "n:=7", "--json")
    assert r.exit_code == 0, r.stderr
    echo, again = (s["output"] for s in json.loads(r.stdout)["steps"])
    assert echo["data"]["args"] == {"q": "hello"}
    assert echo["data"]["json"] == {"n": 7}
    assert echo["data"]["headers"]["X-Trace"] == "t-1"
    assert again["data"]["args"] == {"seen": "7"}


def test_http_request_step_failure_and_network_error(cli, httpbin, tmp_path):
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"steps": [
        {"name": "boom", "type": "http_request", "config": {"url": f"{httpbin.url}/status/418"}}]}))
    r = cli("run", str(path))
    assert r.exit_code == 1 and "step 'boom' failed" in r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path.write_text(json.dumps({"steps": [
        {"name": "down", "type": "http_request", "config": {"url": f"http://127.0.0.1:{port}/x"}}]}))
    r = cli("run", str(path), "--retries", "0")
    assert r.exit_code == 4 and "step 'down' failed" in r.stderr


def test_check_validates_without_running(cli, api, tmp_path):
    for example in ("fetch-and-email.json", "new-customer.json", "new-customer.yaml"):
        r = cli("run", "--check", str(EXAMPLES / example))
        assert r.exit_code == 0, r.stderr
        assert "step(s) valid" in r.stderr
    bad = json.loads((EXAMPLES / "new-customer.json").read_text())
    bad["steps"][1]["config"]["chanel"] = "#oops"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    r = cli("run", "--check", str(path))
    assert r.exit_code == 2
    assert "step 'send_slack_alert': slack send_message has no parameter 'chanel'" in r.stderr
    bad["steps"][1]["config"] = {"connectorType": "slakc", "action": "send_message"}
    path.write_text(json.dumps(bad))
    r = cli("run", "--check", str(path))
    assert r.exit_code == 2 and "step 'send_slack_alert': Unknown connector 'slakc'" in r.stderr
    assert api.requests == []


def test_missing_input_fails_before_sending(cli, api, tmp_path, monkeypatch):
    providers_at(tmp_path / "manifests", api.url, monkeypatch)
    r = cli("run", str(EXAMPLES / "new-customer.json"), "--input", "email=a@b.c")
    assert r.exit_code == 2
    assert "{{input.name}} needs the input 'name'" in r.stderr
    assert api.requests == []


def test_bad_files_and_inputs(cli, tmp_path):
    missing = tmp_path / "nope.json"
    r = cli("run", str(missing))
    assert r.exit_code == 2 and "Cannot read the flow" in r.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    r = cli("run", str(broken))
    assert r.exit_code == 2 and "is not valid JSON/YAML" in r.stderr
    r = cli("run", str(EXAMPLES / "new-customer.json"), "--input", "novalue")
    assert r.exit_code == 2 and "expected KEY=VALUE or @file.json" in r.stderr
    inputs = tmp_path / "in.json"
    inputs.write_text('{"email": "a@b.c", "name": "A"}')
    r = cli("run", "--check", str(EXAMPLES / "new-customer.json"), "--input", f"@{inputs}")
    assert r.exit_code == 0
