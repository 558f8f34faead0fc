"""``synthral mcp`` as a real subprocess, driven by clients nobody here wrote: the official MCP
TypeScript SDK client (tests/mcp_client/client.mjs) over stdio and Streamable HTTP, and the
official conformance suite against the HTTP transport. Peers: httpbin with a stored bearer token
and the local Authlib authorization server (a refresh during a call)."""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver / tests.mcp_support
from __future__ import annotations

import json
import subprocess

import pytest

from tests.authserver import oauth_server, provider  # noqa: F401
from tests.mcp_support import (
    CLIENT_DIR,
    TOKEN,
    HttpServer,
    client_installed,
    mcpbin,  # noqa: F401
    node,
    run_client,
    stdio_plan,
    texts,
)

SERVER_ARGS = ["--connector", "mcpbin", "--connector", "mcpother", "--connector", "testprov"]
STEPS = [
    {"op": "list"},
    {"op": "call", "name": "mcpbin__echo_query", "arguments": {"q": "hi", "tags": ["b"]}},
    {"op": "call", "name": "mcpbin__whoami"},
    {"op": "call", "name": "mcpother__ping"},
    {"op": "call", "name": "mcpbin__status", "arguments": {"code": 418}},
    {"op": "call", "name": "testprov__test_connection"},
    {"op": "call", "name": "mcpbin__remove"},
    {"op": "call", "name": "mcpbin__nope"},
]


def plan_for(transport: str, url: str, steps: list[dict], elicitation: str | None = None,
             args: list[str] = SERVER_ARGS) -> dict:
    if transport == "stdio":
        return stdio_plan(args, steps, elicitation)
    return {"transport": "http", "url": url, "steps": steps, "elicitation": elicitation}


@pytest.fixture(params=["stdio", "http"])
def transport(request):
    return request.param


def serve(transport: str, args: list[str] = SERVER_ARGS):
    return HttpServer(args) if transport == "http" else None


def test_the_typescript_sdk_client_lists_and_calls_tools(transport, provider, mcpbin, tmp_path):
    provider.seed(expires_in=-10)  # expired: the call refreshes it first
    srv = serve(transport, ["--debug", *SERVER_ARGS])  # debug logs too must hold no secret
    try:
        report = run_client(plan_for(transport, srv.url if srv else "", STEPS, args=["--debug", *SERVER_ARGS]),
                            tmp_path)
    finally:
        code, _, stderr = srv.stop() if srv else (0, "", "")
    assert report["server"] == {"name": "synthral", "title": "synthral", "version": report["server"]["version"]}
    assert "search_actions" in report["instructions"]
    steps = {(s["op"], s.get("name")): s for s in report["steps"]}

    tools = {t["name"]: t for t in steps[("list", None)]["tools"]}
    assert list(tools) == sorted(tools)
    assert {"mcpbin__echo_query", "mcpother__ping", "testprov__test_connection", "search_actions"} <= set(tools)
    assert "mcpbin__upload" not in tools  # a required local file, and no --allow-files
    echo = tools["mcpbin__echo_query"]
    assert echo["inputSchema"]["required"] == ["q"] and echo["outputSchema"]["required"] == ["args", "url"]
    assert echo["annotations"] == {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
                                   "openWorldHint": True}
    assert tools["mcpbin__remove"]["annotations"]["destructiveHint"] is True

    ok = steps[("call", "mcpbin__echo_query")]["result"]  # the SDK validated it against outputSchema
    assert ok.get("isError") is False and ok["structuredContent"]["args"] == {"q": "hi", "n": "3", "tags": "b"}
    masked = steps[("call", "mcpbin__whoami")]["result"]
    assert masked["structuredContent"] == {"authenticated": True, "token": "***"}
    missing = steps[("call", "mcpother__ping")]["result"]
    assert missing["isError"] is True and "Run: synthral authorize mcpother" in texts(missing)
    failed = steps[("call", "mcpbin__status")]["result"]
    assert failed["isError"] is True and texts(failed).startswith("mcpbin answered 418:")
    refreshed = steps[("call", "testprov__test_connection")]["result"]
    assert refreshed.get("isError") is False, texts(refreshed)
    assert refreshed["structuredContent"]["client_id"] == provider.client_id
    assert provider.server.count("refresh_token", provider.client_id) == 1
    refused = steps[("call", "mcpbin__remove")]["result"]
    assert refused["isError"] is True and "--allow-destructive" in texts(refused)
    unknown = steps[("call", "mcpbin__nope")]["error"]
    assert unknown["code"] == -32602 and "Unknown tool: mcpbin__nope" in unknown["message"]

    stored = provider.stored()
    everything = json.dumps(report) + stderr
    assert "debug: " in everything  # the logs were on
    for secret in (TOKEN, stored.secrets["access_token"], stored.secrets["refresh_token"]):
        assert secret not in everything
    if srv:  # Ctrl-C: the contract's 130, quietly
        assert code == 130 and "Traceback" not in stderr, stderr


def test_a_destructive_tool_runs_only_after_the_user_confirms(transport, mcpbin, tmp_path):
    srv = serve(transport, ["--connector", "mcpbin"])
    steps = [{"op": "call", "name": "mcpbin__remove"},
             {"op": "call", "name": "call_action", "arguments": {"connector": "mcpbin", "action": "archive"}}]
    reports = {}
    try:
        for answer in ("accept", "decline"):
            plan = plan_for(transport, srv.url if srv else "", steps, answer, ["--connector", "mcpbin"])
            reports[answer] = run_client(plan, tmp_path)
    finally:
        if srv:
            srv.stop()
    for answer, report in reports.items():
        assert len(report["elicitations"]) == 2
        assert "Mcpbin: Remove (mcpbin, connection 'default') can delete or overwrite data" in \
            report["elicitations"][0]["message"]
        assert report["elicitations"][0]["requestedSchema"]["required"] == ["confirm"]
        for step in report["steps"]:
            result = step["result"]
            if answer == "accept":
                assert result.get("isError") is False, texts(result)
                assert result["structuredContent"]["headers"]["Authorization"] == "Bearer ***"
            else:
                assert result["isError"] is True and "the user did not confirm it (decline)" in texts(result)


def test_meta_tools_only_is_a_small_tools_list_and_the_whole_catalogue_lists(config_dir, tmp_path):
    report = run_client(stdio_plan(["--tools", "meta", "--all"], [{"op": "list"}]), tmp_path)
    tools = report["steps"][0]["tools"]
    assert [t["name"] for t in tools] == ["call_action", "describe_action", "search_actions"]
    assert len(json.dumps({"tools": tools}, separators=(",", ":"))) < 4000
    everything = run_client(stdio_plan(["--all", "--allow-files"], [{"op": "list"}]), tmp_path)
    names = [t["name"] for t in everything["steps"][0]["tools"]]  # each one parsed by the SDK's schema
    assert len(names) > 590 and "slack__send_message" in names and "smtp__send_raw_email" in names


def test_http_with_a_bearer_token(mcpbin, tmp_path):
    bearer = "mcp-bearer-for-tests-5d0c2b7e9a41"
    with HttpServer(["--connector", "mcpbin", "--token-stdin"], stdin=bearer + "\n") as srv:
        steps = [{"op": "call", "name": "mcpbin__whoami"}]
        client_installed()
        path = tmp_path / "noauth.json"
        path.write_text(json.dumps({"transport": "http", "url": srv.url, "steps": steps}))
        p = subprocess.run([node(), str(CLIENT_DIR / "client.mjs"), str(path)], capture_output=True, text=True,
                           timeout=60, cwd=CLIENT_DIR)
        assert "unauthorized" in json.loads(p.stdout)["fatal"]
        ok = run_client({"transport": "http", "url": srv.url, "token": bearer, "steps": steps}, tmp_path)
        assert ok["steps"][0]["result"]["structuredContent"]["authenticated"] is True
        code, out, err = srv.stop()
    assert code == 130 and out == ""
    assert bearer not in err and TOKEN not in err


def test_the_official_conformance_suite_passes_what_applies(mcpbin, tmp_path):
    """The suite's active server scenarios. Those written for its reference "everything" server
    (fixture tools such as test_simple_text, resources, prompts, logging, completion) are listed
    in conformance-baseline.yml with the reason; the suite fails if one of them starts passing."""
    client_installed()
    with HttpServer(["--connector", "mcpbin"]) as srv:
        p = subprocess.run(
            [node(), str(CLIENT_DIR / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"),
             "server", "--url", srv.url, "--expected-failures", str(CLIENT_DIR / "conformance-baseline.yml")],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    for scenario in ("server-initialize", "ping", "tools-list", "server-sse-multiple-streams",
                     "dns-rebinding-protection"):
        assert f"✓ {scenario}:" in p.stdout, scenario


def test_the_http_app_factory_serves_inside_another_starlette_app(mcpbin, tmp_path):
    """What ``synthral serve`` does: its own routes, MCP at /mcp, the MCP lifespan inside its own."""
    import contextlib
    import socket
    import threading

    import httpx
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from synthral_cli.api import Synthral
    from synthral_cli.mcp.http import McpHttpApp
    from synthral_cli.mcp.server import ServerOptions
    from synthral_cli.mcp.tools import Selection

    mcp_app = McpHttpApp(Synthral(), ServerOptions(selection=Selection(connectors=["mcpbin"])))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with mcp_app.lifespan():
            yield

    host_app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("the host app")),
                                 mcp_app.route("/mcp")], lifespan=lifespan)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(host_app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        deadline = 50
        while not server.started and deadline:
            threading.Event().wait(0.1)
            deadline -= 1
        assert httpx.get(url + "/").text == "the host app"
        report = run_client({"transport": "http", "url": url + "/mcp",
                             "steps": [{"op": "list"}, {"op": "call", "name": "mcpbin__whoami"}]}, tmp_path)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert "mcpbin__whoami" in [t["name"] for t in report["steps"][0]["tools"]]
    assert report["steps"][1]["result"]["structuredContent"] == {"authenticated": True, "token": "***"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_the_python_sdk_client_in_both_protocol_eras(transport, mode, mcpbin):
    """The official Python SDK's client: ``auto`` negotiates the 2026-07-28 revision (per-request
    envelope, server/discover), ``legacy`` the 2025-11-25 initialize handshake."""
    import os

    import anyio
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from tests.conftest import synthral_exe

    asked: list[str] = []

    async def confirm(context, params):
        import mcp_types

        asked.append(params.message)
        return mcp_types.ElicitResult(action="accept", content={"confirm": True})

    async def session(target):
        async with Client(target, mode=mode, elicitation_callback=confirm) as client:
            listed = await client.list_tools()
            ok = await client.call_tool("mcpbin__whoami", {})
            missing = await client.call_tool("call_action", {"connector": "mcpother", "action": "ping"})
            removed = await client.call_tool("mcpbin__remove", {})
            return client.protocol_version, listed, ok, missing, removed

    args = ["mcp"]  # the default: connected connectors (mcpbin) and the meta tools
    srv = HttpServer(args[1:]) if transport == "http" else None
    try:
        target = srv.url if srv else StdioServerParameters(command=synthral_exe(), args=args, env=dict(os.environ))
        version, listed, ok, missing, removed = anyio.run(session, target)
    finally:
        if srv:
            srv.stop()
    assert version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert "mcpbin__echo_query" in [t.name for t in listed.tools]
    assert ok.is_error is False and ok.structured_content == {"authenticated": True, "token": "***"}
    assert missing.is_error is True and "synthral authorize mcpother" in missing.content[0].text
    # asked through elicitation: a server request (legacy), an InputRequiredResult (2026-07-28)
    assert asked == ["Mcpbin: Remove (mcpbin, connection 'default') can delete or overwrite data. Run it with {}?"]
    assert removed.is_error is False and removed.structured_content["url"].endswith("/delete")
