"""``synthral serve`` as a real subprocess: the seed's routes and shapes, API keys and their
permissions, the error taxonomy as HTTP statuses, body limits, connections and workflows, against
httpbin on 127.0.0.1."""

# ruff: noqa: F811 - pytest fixtures imported from tests.serve_support
from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
import requests

from tests.invoke_support import manifest, write_manifests
from tests.serve_support import bearer, new_key, serve  # noqa: F401

PROTECTED = [
    ("GET", "/api/v1/connectors/list"),
    ("GET", "/api/v1/connectors/slack"),
    ("GET", "/api/v1/connectors/slack/actions"),
    ("POST", "/api/v1/connectors/slack/authorize"),
    ("POST", "/api/v1/connectors/slack/refresh"),
    ("POST", "/api/v1/connectors/slack/send_message"),
    ("GET", "/api/v1/connections"),
    ("POST", "/api/v1/connections"),
    ("POST", "/api/v1/connections/test"),
    ("DELETE", "/api/v1/connections/slack/default"),
    ("POST", "/api/v1/workflows/run"),
    ("GET", "/api/v1/executions/ex_0"),
]
BIN_ACTIONS = [
    {"name": "headers", "description": "echo headers", "method": "GET", "path": "/headers"},
    {"name": "status", "description": "a status", "method": "GET", "path": "/status/{code}",
     "parameters": [{"name": "code", "in": "path", "type": "integer", "required": True}]},
    {"name": "echo", "description": "echo a JSON body", "method": "POST", "path": "/anything",
     "parameters": [{"name": "text", "in": "body", "type": "string", "required": True},
                    {"name": "count", "in": "body", "type": "integer"}]},
    {"name": "upload", "description": "multipart echo", "method": "POST", "path": "/anything", "body": "multipart",
     "parameters": [{"name": "file", "in": "body", "type": "file", "required": True}]},
    {"name": "delay", "description": "slow", "method": "GET", "path": "/delay/{n}",
     "parameters": [{"name": "n", "in": "path", "type": "integer", "required": True}]},
]


@pytest.fixture
def binpeer(httpbin, tmp_path, monkeypatch):
    """A ``bin`` connector (API key in a header) at the local httpbin."""
    folder = write_manifests(
        tmp_path / "manifests",
        manifest("bin", httpbin.url, BIN_ACTIONS,
                 auth={"type": "api_key", "inject": [{"in": "header", "name": "X-Api-Key", "value": "{api_key}"}]}),
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    return httpbin


def test_health_is_public_and_every_other_route_needs_a_valid_key_with_its_permission(serve):
    srv = serve()
    health = httpx.get(srv.url + "/api/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["connectors"] >= 100
    reader = new_key("connectors:read")
    for method, path in PROTECTED:
        missing = httpx.request(method, srv.url + path)
        assert missing.status_code == 401, (method, path)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.json()["success"] is False and missing.json()["error"]["code"] == "unauthorized"
        wrong = httpx.request(method, srv.url + path, headers=bearer("syk_00000000_" + "x" * 43))
        assert wrong.status_code == 401, (method, path)
        if not (method == "GET" and path.startswith("/api/v1/connectors")):
            lacking = httpx.request(method, srv.url + path, headers=bearer(reader))
            assert lacking.status_code == 403 and lacking.json()["error"]["code"] == "forbidden", (method, path)


def test_keys_cli_prints_the_key_once_keeps_a_hash_and_revocation_applies_to_a_running_server(serve, sh, config_dir):
    made = sh("serve", "keys", "create", "--name", "ci", "--permission", "connectors:read", "--json")
    assert made.exit_code == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    assert key.startswith("syk_") and key not in made.stderr
    stored = (config_dir / "serve-keys.json").read_text()
    assert key not in stored and key.split("_")[2] not in stored
    assert (config_dir / "serve-keys.json").stat().st_mode & 0o777 == 0o600
    listed = sh("serve", "keys", "list", "--json")
    assert json.loads(listed.stdout)["keys"][0]["name"] == "ci" and key not in listed.stdout
    assert sh("serve", "keys", "create", "--name", "x", "--permission", "root").exit_code == 2
    srv = serve()
    assert httpx.get(srv.url + "/api/v1/connectors/list", headers=bearer(key)).status_code == 200
    assert sh("serve", "keys", "revoke", "ci").exit_code == 0
    assert httpx.get(srv.url + "/api/v1/connectors/list", headers=bearer(key)).status_code == 401
    assert key not in "\n".join(srv.lines)


def test_the_seed_requests_snippets_list_filter_and_match_the_cli_json(serve, sh):
    srv = serve()
    base, headers = srv.url + "/api/v1", bearer(new_key("connectors:read"))
    everything = requests.get(f"{base}/connectors/list", headers=headers, timeout=30).json()
    cli = json.loads(sh("connectors", "list", "--json").stdout)
    assert everything == cli
    crm = requests.get(f"{base}/connectors/list", params={"category": "CRM & Sales"}, headers=headers, timeout=30)
    found = crm.json()
    assert found["total_count"] == len(found["connectors"]) > 0
    assert {c["category"] for c in found["connectors"]} == {"CRM & Sales"}
    first = found["connectors"][0]
    assert {"id", "slug", "name", "status", "category", "description", "latest_version", "nango_enabled",
            "nango_provider_key"} <= set(first)
    stable = requests.get(f"{base}/connectors/list", params={"status_filter": "stable", "search": "slack"},
                          headers=headers, timeout=30).json()
    assert [c["slug"] for c in stable["connectors"]] == ["slack"]
    for query in ({"category": "nonsense-x"}, {"status_filter": "production"}):  # issue 15.9
        bad = requests.get(f"{base}/connectors/list", params=query, headers=headers, timeout=30)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
        assert "alpha, beta, stable, deprecated" in bad.json()["error"]["hint"] or "CRM & Sales" in bad.text
    one = requests.get(f"{base}/connectors/slack", headers=headers, timeout=30).json()
    assert set(one) == {"id", "slug", "name", "status", "version", "manifest"} and one["slug"] == "slack"
    assert "source" not in one["manifest"] and one["manifest"]["actions"]
    actions = requests.get(f"{base}/connectors/slack/actions", headers=headers, timeout=30).json()["actions"]
    send = actions["send_message"]
    assert set(send) >= {"name", "description", "method", "endpoint", "parameters"}
    assert send["method"] == "POST" and send["parameters"]["channel"]["required"] is True
    missing = requests.get(f"{base}/connectors/nosuch", headers=headers, timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_invoke_stores_and_uses_a_connection_and_maps_errors_to_statuses(serve, binpeer):
    srv = serve()
    base, headers = srv.url + "/api/v1", bearer(new_key("all"))
    before = httpx.post(f"{base}/connectors/bin/headers", headers=headers)
    assert before.status_code == 403 and before.json()["error"]["code"] == "not_authorized"
    made = httpx.post(f"{base}/connections", headers=headers,
                      json={"connector_slug": "bin", "credentials": {"api_key": "k3y-sekrit-value"}})
    assert made.status_code == 201 and made.json()["connection"] == "default"
    echoed = httpx.post(f"{base}/connectors/bin/headers", headers=headers)
    assert echoed.status_code == 200, echoed.text
    body = echoed.json()
    assert body["success"] is True and body["status"] == 200
    assert body["result"]["headers"]["X-Api-Key"] == "k3y-sekrit-value"  # the provider's answer, as the CLI gives it
    sent = httpx.post(f"{base}/connectors/bin/echo", headers=headers, json={"text": "hi", "count": 2}).json()
    assert sent["result"]["json"] == {"text": "hi", "count": 2}
    file = {"filename": "a.txt", "content_base64": base64.b64encode(b"hello file").decode()}
    up = httpx.post(f"{base}/connectors/bin/upload", headers=headers, json={"file": file}).json()
    assert up["result"]["files"]["file"] == "hello file"
    path = httpx.post(f"{base}/connectors/bin/upload", headers=headers, json={"file": "/etc/passwd"})
    assert path.status_code == 400 and "root:" not in path.text
    unknown = httpx.post(f"{base}/connectors/bin/echo", headers=headers, json={"text": "x", "nope": 1})
    assert unknown.status_code == 400 and "nope" in unknown.json()["error"]["message"]
    teapot = httpx.post(f"{base}/connectors/bin/status", headers=headers, json={"code": 418})
    assert teapot.status_code == 502
    assert teapot.json()["error"]["code"] == "provider_error" and teapot.json()["error"]["provider_status"] == 418
    assert httpx.post(f"{base}/connectors/bin/nosuch", headers=headers).status_code == 404
    assert httpx.post(f"{base}/connectors/bin/echo?connection=bad name", headers=headers).status_code == 400
    logs = "\n".join(srv.lines)
    assert "k3y-sekrit-value" not in logs


def test_network_failure_is_504(serve, tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    folder = write_manifests(tmp_path / "m", manifest("dead", f"http://127.0.0.1:{port}", [], auth={"type": "none"}))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    srv = serve()
    r = httpx.post(srv.url + "/api/v1/connectors/dead/test_connection", headers=bearer(new_key("all")), timeout=60)
    assert r.status_code == 504 and r.json()["error"]["code"] == "network_error"


def test_bodies_malformed_json_too_large_unknown_routes_and_methods(serve):
    srv = serve("--max-body", "2048")
    base, headers = srv.url + "/api/v1", bearer(new_key("all"))
    bad = httpx.post(f"{base}/connectors/slack/send_message", headers=headers, content=b'{"channel": ')
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    arr = httpx.post(f"{base}/connectors/slack/send_message", headers=headers, content=b"[1, 2]")
    assert arr.status_code == 400 and "JSON object" in arr.json()["error"]["message"]
    latin = httpx.post(f"{base}/connections/test", headers=headers, content=b'{"a": "\xff"}')
    assert latin.status_code == 400
    big = httpx.post(f"{base}/connectors/slack/send_message", headers=headers, content=b"x" * 5000)
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"

    def chunks():
        for _ in range(10):
            yield b" " * 1000

    chunked = httpx.post(f"{base}/workflows/run", headers=headers, content=chunks())
    assert chunked.status_code == 413
    nowhere = httpx.get(f"{base}/nowhere", headers=headers)
    assert nowhere.status_code == 404 and nowhere.json()["success"] is False
    method = httpx.put(f"{base}/connectors/list", headers=headers)
    assert method.status_code == 405 and method.json()["error"]["code"] == "method_not_allowed"
    rebinding = httpx.get(f"{base}/health", headers={"Host": "attacker.example"})
    assert rebinding.status_code == 421


def test_connections_list_test_and_delete(serve, binpeer):
    srv = serve()
    base, headers = srv.url + "/api/v1", bearer(new_key("all"))
    tested = httpx.post(f"{base}/connections/test", headers=headers,
                        json={"connector_slug": "bin", "credentials": {"api_key": "not-stored-key"}})
    assert tested.status_code == 200 and tested.json()["success"] is True
    assert httpx.get(f"{base}/connections", headers=headers).json() == {"connections": [], "total_count": 0}
    wrong = httpx.post(f"{base}/connections/test", headers=headers,
                       json={"connector_slug": "bin", "credentials": {"password": "x"}})
    assert wrong.status_code == 400 and "api_key" in wrong.json()["error"]["hint"]
    httpx.post(f"{base}/connections", headers=headers,
               json={"connector_slug": "bin", "connection": "work", "credentials": {"api_key": "stored-key-1"}})
    rows = httpx.get(f"{base}/connections", headers=headers).json()
    assert rows["total_count"] == 1 and rows["connections"][0]["connection"] == "work"
    assert "stored-key-1" not in json.dumps(rows)
    gone = httpx.delete(f"{base}/connections/bin/work", headers=headers)
    assert gone.status_code == 200 and gone.json()["success"] is True
    again = httpx.delete(f"{base}/connections/bin/work", headers=headers)
    assert again.status_code == 404


def test_workflow_runs_in_the_background_with_step_timings_and_redacted_results(serve, binpeer):
    srv = serve()
    base, key = srv.url + "/api/v1", new_key("all")
    headers = bearer(key)
    httpx.post(f"{base}/connections", headers=headers,
               json={"connector_slug": "bin", "credentials": {"api_key": "flow-secret-key"}})
    flow = {"steps": [
        {"name": "who", "type": "connector", "config": {"connectorType": "bin", "action": "headers"}},
        {"name": "echo", "type": "connector",
         "config": {"connectorType": "bin", "action": "echo", "text": "{{input.greeting}}"}},
    ]}
    started = httpx.post(f"{base}/workflows/run", headers=headers, json={"flow": flow, "inputs": {"greeting": "hi"}})
    assert started.status_code == 202 and started.json()["execution_id"].startswith("ex_")
    ident = started.json()["execution_id"]
    end = time.monotonic() + 30
    while True:
        ex = httpx.get(f"{base}/executions/{ident}", headers=headers).json()
        if ex["status"] != "running" or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert ex["status"] == "succeeded", ex
    assert [s["name"] for s in ex["steps"]] == ["who", "echo"]
    assert all(s["status"] == "succeeded" and s["duration_ms"] >= 0 and s["started_at"] for s in ex["steps"])
    assert ex["steps"][0]["result"]["headers"]["X-Api-Key"] == "***"  # redacted in the execution log
    assert ex["steps"][1]["result"]["json"] == {"text": "hi"}
    other = bearer(new_key("workflows:execute"))
    assert httpx.get(f"{base}/executions/{ident}", headers=other).status_code == 404
    failing = {"steps": [{"name": "bad", "type": "connector",
                          "config": {"connectorType": "bin", "action": "status", "code": 500}}]}
    done = httpx.post(f"{base}/workflows/run", headers=headers, json={"flow": failing, "wait": True}, timeout=60)
    assert done.status_code == 200 and done.json()["status"] == "failed"
    assert done.json()["steps"][0]["error"]["code"] == "provider_error"
    invalid = httpx.post(f"{base}/workflows/run", headers=headers, json={"flow": {"steps": []}})
    assert invalid.status_code == 400
    unknown = {"steps": [{"name": "x", "type": "connector", "config": {"connectorType": "bin", "action": "nope"}}]}
    assert httpx.post(f"{base}/workflows/run", headers=headers, json={"flow": unknown}).status_code == 400
