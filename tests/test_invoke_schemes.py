"""Custom auth schemes against httpbin: AWS SigV4 (botocore) and the generic http connector."""

from __future__ import annotations

import json
import sys

import pytest

from tests.invoke_support import STORE_KEY, manifest, put_connection, write_manifests

AWS_AUTH = {
    "type": "custom",
    "scheme": "aws_sigv4",
    "aws_service": "execute-api",
    "fields": [
        {"name": "access_key_id", "secret": False},
        {"name": "secret_access_key"},
        {"name": "session_token", "required": False},
        {"name": "region", "secret": False},
    ],
}


@pytest.fixture
def aws(httpbin, tmp_path, monkeypatch):
    doc = manifest(
        "awsy",
        httpbin.url,
        [
            {
                "name": "echo",
                "description": "echo",
                "method": "POST",
                "path": "/anything/items",
                "parameters": [{"name": "name", "in": "body", "type": "string"}],
            }
        ],
        auth=AWS_AUTH,
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection(
        "awsy",
        method="custom",
        config={"access_key_id": "AKIDEXAMPLE", "region": "eu-west-1"},
        secrets={"secret_access_key": "wJalrXUtnFEMI/K7MDENG", "session_token": "sess-tok-1"},
    )
    return httpbin


def test_sigv4_signature_verifies(cli, aws):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    r = cli("invoke", "awsy", "echo", "-p", "name=x", "--json")
    assert r.exit_code == 0, r.stderr
    echoed = json.loads(r.stdout)["result"]
    h = echoed["headers"]
    assert h["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in h["Authorization"]
    assert h["X-Amz-Security-Token"] == "sess-tok-1"
    # re-sign what the server received, at the same time stamp: the signatures must agree
    signed = [p.split("=")[1] for p in h["Authorization"].split(", ") if p.startswith("SignedHeaders")][0]
    req = AWSRequest(
        method="POST",
        url=echoed["url"],
        data=echoed["data"].encode(),
        headers={k: v for k, v in h.items() if k.lower() in signed.split(";")},
    )
    req.context["timestamp"] = h["X-Amz-Date"]
    auth = SigV4Auth(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "sess-tok-1"), "execute-api", "eu-west-1"
    )
    canonical = auth.canonical_request(req)
    expected = auth.signature(auth.string_to_sign(req, canonical), req)
    assert h["Authorization"].endswith("Signature=" + expected)


def test_sigv4_dry_run_masks_signature(cli, aws):
    r = cli("invoke", "awsy", "echo", "-p", "name=x", "--dry-run", "--json")
    req = json.loads(r.stdout)
    assert req["headers"]["Authorization"].endswith("Signature=***")
    assert req["headers"]["X-Amz-Security-Token"] == "***"
    assert "wJalrXUtnFEMI" not in r.stdout


def test_sigv4_without_botocore_names_the_extra(cli, aws, monkeypatch):
    monkeypatch.setitem(sys.modules, "botocore.auth", None)  # a fault no peer can produce
    r = cli("invoke", "awsy", "echo", "--dry-run")
    assert r.exit_code == 2 and "pip install 'synthral[aws]'" in r.stderr


def test_sigv4_missing_field_exits_3(cli, aws):
    put_connection("awsy", method="custom", config={"access_key_id": "AKIDEXAMPLE"}, secrets={})
    r = cli("invoke", "awsy", "echo")
    assert r.exit_code == 3 and "has no secret_access_key, region" in r.stderr


@pytest.mark.parametrize(
    ("config", "secrets", "expect"),
    [
        ({"scheme": "bearer"}, {"token": "gen-token-1"}, {"Authorization": "Bearer gen-token-1"}),
        (
            {"scheme": "basic", "username": "u1"},
            {"password": "gen-pass-1"},
            {"Authorization": "Basic dTE6Z2VuLXBhc3MtMQ=="},
        ),
        ({"scheme": "api_key", "api_key_header": "X-Key"}, {"api_key": "gen-key-1"}, {"X-Key": "gen-key-1"}),
        ({"scheme": "none"}, {}, {}),
    ],
)
def test_http_connector_against_httpbin(cli, httpbin, monkeypatch, config, secrets, expect):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    # the credential goes only to the host given at authorization (issue 14)
    host = httpbin.url.split("://", 1)[1]
    put_connection("http", method="custom", config={**config, "host": host}, secrets=secrets)
    r = cli(
        "invoke",
        "http",
        "request",
        "-p",
        f"url={httpbin.url}/anything",
        "-p",
        "method=PUT",
        "-p",
        'params={"a": 1}',
        "-p",
        'body={"k": "v"}',
        "-p",
        'headers={"X-Extra": "yes"}',
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    echoed = json.loads(r.stdout)["result"]
    assert echoed["method"] == "PUT" and echoed["args"] == {"a": "1"} and echoed["json"] == {"k": "v"}
    assert echoed["headers"]["X-Extra"] == "yes"
    for k, v in expect.items():
        assert echoed["headers"][k] == v
    if not expect:
        assert "Authorization" not in echoed["headers"]


def test_http_connector_refuses_credentials_over_plain_http_and_needs_a_host(cli, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("http", method="custom", config={"scheme": "bearer"}, secrets={"token": "gen-token-2"})
    r = cli("invoke", "http", "request", "-p", "url=http://example.com/x", "--dry-run")
    assert r.exit_code == 2 and "Refusing to send credentials over plain http" in r.stderr
    r = cli("invoke", "http", "request", "-p", "url=/relative", "--dry-run", "--json")  # shown (issue 15, item 2)
    assert r.exit_code == 0 and json.loads(r.stdout)["url"] == "https://<host>/relative"
    assert "warning: http needs the connection setting 'host'" in r.stderr
    r = cli("invoke", "http", "request", "-p", "url=/relative")  # never sent
    assert r.exit_code == 2 and "needs the connection setting 'host'" in r.stderr
    put_connection(
        "http",
        method="custom",
        config={"scheme": "bearer", "host": "api.example.com"},
        secrets={"token": "gen-token-2"},
    )
    r = cli("invoke", "http", "request", "-p", "url=/relative", "--dry-run", "--json")
    assert json.loads(r.stdout)["url"] == "https://api.example.com/relative"


def test_http_connector_timeout_parameter(cli, httpbin, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("http", method="custom", config={"scheme": "none"}, secrets={})
    r = cli("invoke", "http", "request", "-p", f"url={httpbin.url}/delay/3", "-p", "timeout=0.5")
    assert r.exit_code == 4 and "within 0.5 s" in r.stderr


def test_http_connector_method_actions(cli, httpbin, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("http", method="custom", config={"scheme": "none"}, secrets={})
    for action, method in (("get", "GET"), ("post", "POST"), ("delete", "DELETE")):
        r = cli("invoke", "http", action, "-p", f"url={httpbin.url}/anything", "--json")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)["result"]["method"] == method
    r = cli("invoke", "http", "post", "-p", f"url={httpbin.url}/anything", "-p", 'body={"a": 1}', "--json")
    assert json.loads(r.stdout)["result"]["json"] == {"a": 1}
