"""Tool calls in-process (``SynthralTools``, the server minus the SDK's transport) against real
peers: httpbin with a stored bearer token, and the local Authlib authorization server for
refreshes. Every result is checked for the secrets it must not carry."""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver / tests.mcp_support
from __future__ import annotations

import json
import os

import anyio
import pytest
from jsonschema import Draft202012Validator

from synthral_cli.api import Synthral
from synthral_cli.mcp.server import ServerOptions, SynthralTools
from synthral_cli.mcp.tools import Selection
from tests.authserver import oauth_server, provider  # noqa: F401
from tests.invoke_support import Scripted, manifest, write_manifests
from tests.mcp_support import TOKEN, mcpbin, texts  # noqa: F401


def server(**options) -> SynthralTools:
    selection = options.pop("selection", Selection())
    return SynthralTools(Synthral(env=dict(os.environ)), ServerOptions(selection=selection, **options))


def call(tools: SynthralTools, name: str, arguments: dict | None = None, ctx=None) -> dict:
    try:
        return anyio.run(tools.call_tool, name, arguments or {}, ctx)
    finally:
        tools.close()


def no_secret(result: dict, *secrets: str) -> None:
    text = json.dumps(result)
    for s in (TOKEN, *secrets):
        assert s not in text


def test_success_returns_the_parsed_body_as_structured_content_and_text(mcpbin):
    tools = server()
    result = call(tools, "mcpbin__echo_query", {"q": "héllo", "flag": True, "tags": ["a", "c"]})
    assert result["isError"] is False
    args = result["structuredContent"]["args"]
    assert args == {"q": "héllo", "n": "3", "flag": "true", "tags": ["a", "c"]}  # typed, default applied
    Draft202012Validator(tools.toolbox.entry("mcpbin", "echo_query").tool["outputSchema"]).validate(
        result["structuredContent"])
    assert json.loads(texts(result)) == result["structuredContent"]


def test_a_body_that_is_not_an_object_is_wrapped_and_text_stays_text(mcpbin):
    result = call(server(), "mcpbin__html")
    assert result["isError"] is False
    assert result["structuredContent"]["result"].lstrip().startswith("<!DOCTYPE html>")
    assert texts(result) == result["structuredContent"]["result"]


def test_a_provider_echoing_the_token_gets_it_masked(mcpbin):
    result = call(server(), "mcpbin__whoami")
    assert result["isError"] is False
    assert result["structuredContent"] == {"authenticated": True, "token": "***"}
    no_secret(result)


def test_bodies_and_typed_parameters_reach_the_provider(mcpbin):
    result = call(server(), "mcpbin__create", {"title": "t", "meta": {"k": [1, 2]}, "labels": ["x"]})
    assert result["isError"] is False
    assert result["structuredContent"]["json"] == {"title": "t", "meta": {"k": [1, 2]}, "labels": ["x"]}
    assert result["structuredContent"]["headers"]["Authorization"] == "Bearer ***"
    no_secret(result)


def test_a_provider_error_is_an_error_result_with_the_providers_message(mcpbin):
    result = call(server(), "mcpbin__status", {"code": 418})
    assert result["isError"] is True and "structuredContent" not in result
    assert texts(result).startswith("mcpbin answered 418:")
    assert "teapot" in texts(result)


def test_a_json_error_body_follows_the_message(tmp_path, monkeypatch):
    peer = Scripted()
    try:
        peer.add("/things", (422, {}, {"error": {"message": "title is too long", "field": "title"}}))
        folder = write_manifests(tmp_path / "m", manifest("mcperr", peer.url, [
            {"name": "make", "description": "Make.", "method": "POST", "path": "/things"}]))
        monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
        monkeypatch.setenv("SYNTHRAL_MCPERR_TOKEN", "scripted-token-0042")
        result = call(server(), "mcperr__make")
    finally:
        peer.close()
    assert result["isError"] is True
    assert [c["text"] for c in result["content"]] == [
        "mcperr answered 422: title is too long\nCheck the parameters: describe_action (connector mcperr)",
        'The provider answered: {"error": {"message": "title is too long", "field": "title"}}',
    ]


def test_a_missing_connection_names_the_authorize_command(mcpbin):
    result = call(server(selection=Selection(connectors=["mcpother"])), "mcpother__ping")
    assert result == {
        "content": [{"type": "text", "text": "No mcpother connection 'default' yet.\n"
                     "Run: synthral authorize mcpother (or set SYNTHRAL_MCPOTHER_TOKEN)."}],
        "isError": True,
    }
    named = call(server(), "mcpbin__whoami", {"connection": "work"})
    assert "synthral authorize mcpbin --connection work" in texts(named)


def test_an_environment_token_is_used(mcpbin, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_MCPOTHER_TOKEN", "env-token-for-mcpother-42")
    result = call(server(), "mcpother__ping")
    assert result["isError"] is False
    assert result["structuredContent"]["headers"]["Authorization"] == "Bearer ***"
    no_secret(result, "env-token-for-mcpother-42")


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({}, "mcpbin__echo_query needs 'q'."),
        ({"q": "x", "colour": "red"}, "mcpbin__echo_query has no parameter 'colour'."),
        ({"q": "x", "n": "many"}, "Parameter 'n' must be an integer, got 'many'."),
        ({"q": "x", "tags": ["z"]}, "Parameter 'tags' must be one of a, b, c; got 'z'."),
        ({"q": "x", "connection": 7}, "connection must be the name of a stored connection"),
    ],
)
def test_bad_arguments_are_error_results_the_model_can_fix(mcpbin, arguments, message):
    result = call(server(), "mcpbin__echo_query", arguments)
    assert result["isError"] is True and texts(result).startswith(message)
    assert "-p " not in texts(result)  # no command-line hints for an MCP client


def test_unknown_and_unlisted_tools_are_protocol_errors(mcpbin):
    with pytest.raises(LookupError):
        call(server(), "mcpbin__nope")
    with pytest.raises(LookupError):
        call(server(selection=Selection(read_only=True)), "mcpbin__create", {"title": "x"})
    with pytest.raises(LookupError):
        call(server(selection=Selection(tools="meta")), "mcpbin__whoami")


def test_local_file_parameters_are_refused_unless_allowed(mcpbin, tmp_path):
    secret_file = tmp_path / "id_rsa"
    secret_file.write_text("PRIVATE KEY MATERIAL")
    with pytest.raises(LookupError):  # a required file parameter: the tool is not offered
        call(server(), "mcpbin__upload", {"file": str(secret_file)})
    got = call(server(), "call_action", {"connector": "mcpbin", "action": "upload",
                                         "params": {"file": str(secret_file)}})
    assert got["isError"] is True and "--allow-files" in texts(got)
    allowed = call(server(selection=Selection(allow_files=True)), "mcpbin__upload", {"file": str(secret_file)})
    assert allowed["isError"] is False
    assert allowed["structuredContent"]["files"] == {"file": "PRIVATE KEY MATERIAL"}


def test_destructive_tools_are_refused_unless_allowed(mcpbin):
    for name in ("mcpbin__remove", "mcpbin__archive"):
        refused = call(server(), name)
        assert refused["isError"] is True
        assert texts(refused).startswith(f"{name} can delete or overwrite data, so this server did not run it.")
        assert "--allow-destructive" in texts(refused)
        ran = call(server(allow_destructive=True), name)
        assert ran["isError"] is False, texts(ran)
    via_meta = call(server(), "call_action", {"connector": "mcpbin", "action": "remove"})
    assert via_meta["isError"] is True and "--allow-destructive" in texts(via_meta)


def test_meta_tools_search_describe_and_call(mcpbin):
    found = call(server(), "search_actions", {"query": "echo"})
    assert found["structuredContent"]["results"][0]["tool"] == "mcpbin__echo_query"
    described = call(server(), "describe_action", {"connector": "mcpbin", "action": "echo_query"})
    assert described["structuredContent"]["tool"]["inputSchema"]["required"] == ["q"]
    assert described["structuredContent"]["connected"] is True
    ran = call(server(), "call_action", {"connector": "mcpbin", "action": "echo_query", "params": {"q": "z"}})
    assert ran["structuredContent"]["args"]["q"] == "z"
    missing = call(server(), "call_action", {"connector": "slack", "action": "send_message",
                                             "params": {"channel": "C1", "text": "hi"}})
    assert missing["isError"] is True and "synthral authorize slack" in texts(missing)
    bad = call(server(), "call_action", {"connector": "slak", "action": "x"})
    assert bad["isError"] is True and "Did you mean 'slack'" in texts(bad)
    outside = call(server(selection=Selection(read_only=True)), "call_action",
                   {"connector": "mcpbin", "action": "create", "params": {"title": "x"}})
    assert outside["isError"] is True and "outside what this server exposes" in texts(outside)
    no_words = call(server(), "search_actions", {"query": "  "})
    assert no_words["isError"] is True


def test_a_bug_is_an_error_result_not_a_crash(mcpbin, monkeypatch):
    import synthral_cli.actions.invoke as invoke_module

    def broken(*args, **kwargs):  # an internal fault no peer can produce
        raise RuntimeError(f"boom {TOKEN}")

    monkeypatch.setattr(invoke_module, "run", broken)
    result = call(server(), "mcpbin__whoami")
    assert result["isError"] is True
    assert texts(result).startswith("unexpected error: RuntimeError: boom ***")
    no_secret(result)


def test_an_expired_token_is_refreshed_during_the_call(provider):
    provider.seed(expires_in=-10)
    result = call(server(), "testprov__test_connection")
    assert result["isError"] is False, texts(result)
    assert result["structuredContent"]["client_id"] == provider.client_id
    assert provider.server.count("refresh_token", provider.client_id) == 1
    no_secret(result, provider.stored().secrets["access_token"], provider.stored().secrets["refresh_token"])


def test_a_token_the_provider_ends_early_is_refreshed_on_401(provider):
    provider.seed(expires_in=3600)
    provider.server.expire_access_tokens()
    result = call(server(), "testprov__test_connection")
    assert result["isError"] is False, texts(result)
    assert provider.server.count("refresh_token", provider.client_id) == 1


def test_a_refused_refresh_says_to_authorize_again(provider):
    provider.seed(expires_in=-10)
    provider.server.revoke_all()
    result = call(server(), "testprov__test_connection")
    assert result["isError"] is True and "synthral authorize testprov" in texts(result)


def test_a_2026_confirmation_holds_only_for_the_call_it_was_asked_for(mcpbin):
    """On 2026-07-28 the client retries the call with the user's answer; the answer must come
    back with the requestState of that same call (tool, arguments, connection)."""
    from types import SimpleNamespace

    import mcp_types

    caps = mcp_types.ClientCapabilities(elicitation=mcp_types.ElicitationCapability())

    def ctx(params=None):
        return SimpleNamespace(session=SimpleNamespace(client_capabilities=caps), protocol_version="2026-07-28",
                               params=params or {}, request_id=1)

    tools = server()
    try:
        first = anyio.run(tools.call_tool, "mcpbin__create", {"title": "x"}, ctx())
        assert first["isError"] is False  # not destructive: no question
        asked = anyio.run(tools.call_tool, "mcpbin__archive", {}, ctx())
        assert asked["resultType"] == "input_required"
        request = asked["inputRequests"]["synthral_confirm"]
        assert request["method"] == "elicitation/create" and "Archive" in request["params"]["message"]
        yes = {"synthral_confirm": {"action": "accept", "content": {"confirm": True}}}
        forged = anyio.run(tools.call_tool, "mcpbin__archive", {},
                           ctx({"inputResponses": yes, "requestState": "0" * 64}))
        assert forged["resultType"] == "input_required"  # asked again
        other = anyio.run(tools.call_tool, "mcpbin__archive", {"connection": "other"},
                          ctx({"inputResponses": yes, "requestState": asked["requestState"]}))
        assert other["resultType"] == "input_required"  # another call: asked again
        no = {"synthral_confirm": {"action": "accept", "content": {"confirm": False}}}
        declined = anyio.run(tools.call_tool, "mcpbin__archive", {},
                             ctx({"inputResponses": no, "requestState": asked["requestState"]}))
        assert declined["isError"] is True and "did not confirm" in texts(declined)
        ran = anyio.run(tools.call_tool, "mcpbin__archive", {},
                        ctx({"inputResponses": yes, "requestState": asked["requestState"]}))
        assert ran["isError"] is False and ran["structuredContent"]["url"].endswith("/anything/archive")
    finally:
        tools.close()


def test_paginate_follows_the_pages_and_merges_the_items(tmp_path, monkeypatch):
    peer = Scripted()
    try:
        peer.add("/things", (200, {}, {"items": [1, 2], "next": "c2"}), (200, {}, {"items": [3], "next": None}))
        folder = write_manifests(tmp_path / "m", manifest("mcppages", peer.url, [
            {"name": "list_things", "description": "List things.", "method": "GET", "path": "/things",
             "parameters": [{"name": "cursor", "in": "query", "type": "string"}],
             "pagination": {"type": "cursor", "items_path": "items", "next_cursor_path": "next",
                            "cursor_param": "cursor"}}]))
        monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
        monkeypatch.setenv("SYNTHRAL_MCPPAGES_TOKEN", "scripted-token-0043")
        tools = server()
        schema = tools.toolbox.entry("mcppages", "list_things").tool["inputSchema"]
        assert schema["properties"]["paginate"]["type"] == "boolean"
        merged = call(tools, "mcppages__list_things", {"paginate": True})
        assert merged["structuredContent"] == {"result": [1, 2, 3]}
        assert [r[1] for r in peer.requests] == ["/things", "/things?cursor=c2"]
    finally:
        peer.close()


def test_without_allow_files_no_file_is_read_even_past_the_schema(mcpbin, tmp_path):
    """Second line: a file parameter that got past the tool's schema is still not read."""
    from synthral_cli.mcp.calls import Caller
    from synthral_cli.mcp.tools import build_entry

    secret_file = tmp_path / "id_rsa"
    secret_file.write_text("PRIVATE KEY MATERIAL")
    sy = Synthral(env=dict(os.environ))
    m = sy.connector("mcpbin")
    entry = build_entry(m, m.action("upload"), allow_files=True)
    caller = Caller(sy, allow_files=False)
    try:
        result = caller.call(entry, {"file": str(secret_file)})
    finally:
        caller.close()
    assert result["isError"] is True and "does not read files from its own disk" in texts(result)
    assert "PRIVATE KEY" not in json.dumps(result)
