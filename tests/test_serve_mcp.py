"""MCP on ``synthral serve`` at ``/mcp``: the same server as ``synthral mcp --transport http``,
behind serve's API keys. ``synthral serve`` runs as a real subprocess; the official MCP
TypeScript SDK client lists and calls tools through it (a stored bearer connection on httpbin)."""

# ruff: noqa: F811 - pytest fixtures imported from tests.mcp_support / tests.serve_support
from __future__ import annotations

import json

import httpx

from tests.mcp_support import TOKEN, mcpbin, run_client  # noqa: F401
from tests.serve_support import bearer, new_key, serve  # noqa: F401

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "tests", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_mcp_answers_at_slash_mcp_with_an_api_key_that_may_execute_actions(serve, mcpbin, tmp_path):
    key = new_key("actions:execute")
    srv = serve()
    report = run_client({"transport": "http", "url": srv.url + "/mcp", "token": key,
                         "steps": [{"op": "list"}, {"op": "call", "name": "mcpbin__whoami"}]}, tmp_path)
    assert report["server"]["name"] == "synthral"
    names = [t["name"] for t in report["steps"][0]["tools"]]
    assert "mcpbin__whoami" in names and "search_actions" in names
    assert report["steps"][1]["result"]["structuredContent"] == {"authenticated": True, "token": "***"}
    srv.stop()
    logged = "\n".join(srv.lines)
    assert key not in logged and TOKEN not in logged
    requests = [e for e in srv.events("request") if e.get("path") == "/mcp"]
    assert requests and all(e["status"] < 400 for e in requests)
    assert {e["key"] for e in requests} == {requests[0]["key"]} and requests[0]["key"]  # the key's id


def test_mcp_without_a_key_or_with_a_wrong_one_is_401_and_without_the_permission_403(serve, mcpbin):
    reader = new_key("connectors:read", name="reader")
    srv = serve()
    url = srv.url + "/mcp"
    body = json.dumps(INITIALIZE)
    missing = httpx.post(url, content=body, headers=MCP_HEADERS)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = httpx.post(url, content=body, headers={**MCP_HEADERS, **bearer("synthral_wrong_key_0123456789")})
    assert wrong.status_code == 401 and wrong.json()["success"] is False
    forbidden = httpx.post(url, content=body, headers={**MCP_HEADERS, **bearer(reader)})
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == {
        "code": "forbidden",
        "message": "The API key 'reader' lacks the permission actions:execute.",
        "hint": "Create a key with --permission actions:execute.",
    }
    # A key that may: the MCP handshake itself answers (the SDK's JSON-RPC response).
    ok = httpx.post(url, content=body, headers={**MCP_HEADERS, **bearer(new_key("actions:execute"))})
    assert ok.status_code == 200, ok.text
    assert '"serverInfo"' in ok.text and '"synthral"' in ok.text
