"""Tool definitions from the manifests: names, schemas, annotations, which tools are offered, the
meta tools, and the export formats. In-process; the calls themselves are in test_mcp_server.py
and test_mcp_clients.py."""

# ruff: noqa: F811 - pytest fixtures imported from tests.mcp_support
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import pytest
from jsonschema import Draft202012Validator

from synthral_cli.api import Synthral
from synthral_cli.mcp import meta
from synthral_cli.mcp.export import export
from synthral_cli.mcp.server import ServerOptions, SynthralTools
from synthral_cli.mcp.tools import Selection, Toolbox, build_entry, tool_name
from tests.invoke_support import STORE_KEY, manifest, write_manifests
from tests.mcp_support import mcpbin  # noqa: F401


def sy() -> Synthral:
    return Synthral(env=dict(os.environ))


def listed(**selection) -> list[dict]:
    return SynthralTools(sy(), ServerOptions(selection=Selection(**selection))).list_tools()


def names(tools: list[dict]) -> list[str]:
    return [t["name"] for t in tools]


def test_names_are_slug_double_underscore_action_and_at_most_64_characters():
    assert tool_name("github", "list_repos") == "github__list_repos"
    assert tool_name("google-drive", "list_files") == "google-drive__list_files"
    long_a = tool_name("x" * 40, "a_very_long_action_name_that_goes_on_and_on")
    long_b = tool_name("x" * 40, "a_very_long_action_name_that_goes_on_and_on_too")
    assert len(long_a) == len(long_b) == 64 and long_a != long_b
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tool_name("odd.slug", "act ion"))


def test_every_bundled_action_is_a_valid_mcp_tool_with_a_unique_sorted_name(config_dir):
    import mcp_types

    tools = listed(everything=True, tools="actions")
    all_actions = sum(len(m.actions) for m in sy().catalogue)
    needs_files = 0
    for m in sy().catalogue:
        for a in m.actions:
            if isinstance(build_entry(m, a), str):
                needs_files += 1
    assert len(tools) == all_actions - needs_files > 500
    assert names(tools) == sorted(set(names(tools)))
    for tool in tools:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tool["name"]), tool["name"]
        mcp_types.Tool.model_validate(tool)  # the SDK's own model of the spec's Tool
        Draft202012Validator.check_schema(tool["inputSchema"])
        schema = tool["inputSchema"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert set(schema.get("required", [])) <= set(schema["properties"])
        assert tool["title"] and tool["description"]
        assert tool["annotations"]["openWorldHint"] is True
        assert not (tool["annotations"]["readOnlyHint"] and tool["annotations"]["destructiveHint"])


def test_annotations_follow_methods_and_the_manifest_marks(config_dir):
    by_name = {t["name"]: t["annotations"] for t in listed(everything=True, tools="actions", allow_files=True)}
    assert by_name["github__list_repos"]["readOnlyHint"] is True
    assert by_name["github__create_issue"] == {
        "readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": True}
    assert by_name["amazon-s3__delete_object"]["destructiveHint"] is True
    assert by_name["amazon-s3__delete_object"]["idempotentHint"] is True
    assert by_name["postgresql__query"]["destructiveHint"] is True  # marked: SQL can do anything
    assert by_name["postgresql__list_tables"]["readOnlyHint"] is True  # marked read_only
    assert by_name["smtp__send_email"]["destructiveHint"] is False  # sending adds; it is not a read
    assert by_name["smtp__send_email"]["readOnlyHint"] is False
    assert by_name["smtp__test_connection"]["readOnlyHint"] is True
    assert by_name["cal-com__cancel_booking"]["destructiveHint"] is True  # a POST marked destructive


def test_input_schema_carries_types_required_enums_defaults_and_descriptions(mcpbin):
    box = Toolbox(sy(), Selection())
    entry = box.entry("mcpbin", "echo_query")
    assert entry.tool["inputSchema"] == {
        "type": "object",
        "properties": {
            "q": {"type": "string", "description": "Search text."},
            "n": {"type": "integer", "description": "How many.", "default": 3},
            "flag": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}},
            "connection": {"type": "string", "description": "Which stored mcpbin account to use (default: default)."},
        },
        "required": ["q"],
        "additionalProperties": False,
    }
    assert entry.tool["outputSchema"]["required"] == ["args", "url"]
    assert entry.tool["title"] == "Mcpbin: Echo query"
    create = box.entry("mcpbin", "create").tool["inputSchema"]["properties"]
    assert create["meta"] == {"type": "object"} and create["labels"]["items"] == {"type": "string"}


def test_file_parameters_are_left_out_unless_files_are_allowed(mcpbin, config_dir):
    m = sy().connector("mcpbin")
    assert "local file" in build_entry(m, m.action("upload"))  # required file: not a tool at all
    allowed = build_entry(m, m.action("upload"), allow_files=True)
    assert allowed.tool["inputSchema"]["properties"]["file"]["type"] == "string"
    assert "paths of local files" in allowed.tool["inputSchema"]["properties"]["file"]["description"]
    smtp = sy().connector("smtp")
    props = build_entry(smtp, smtp.action("send_email")).tool["inputSchema"]["properties"]
    assert "attachments" not in props and "subject" in props  # items: {type: file} in the manifest
    with_files = build_entry(smtp, smtp.action("send_email"), allow_files=True).tool["inputSchema"]["properties"]
    assert with_files["attachments"]["items"] == {"type": "string"}
    assert "mcpbin__upload" not in names(listed(connectors=["mcpbin"]))
    assert "mcpbin__upload" in names(listed(connectors=["mcpbin"], allow_files=True))


def test_paginating_actions_take_paginate_and_have_no_output_schema(config_dir):
    box = Toolbox(sy(), Selection())
    tool = box.entry("github", "list_repos").tool
    assert tool["inputSchema"]["properties"]["paginate"]["type"] == "boolean"
    assert "outputSchema" not in tool
    assert "paginate" not in box.entry("github", "get_repo").tool["inputSchema"]["properties"]


def test_default_tools_are_the_connected_connectors_plus_the_meta_tools(mcpbin, monkeypatch):
    assert names(listed()) == sorted([
        "call_action", "describe_action", "search_actions",
        "mcpbin__archive", "mcpbin__create", "mcpbin__echo_query", "mcpbin__html", "mcpbin__remove",
        "mcpbin__status", "mcpbin__test_connection", "mcpbin__uuid_text", "mcpbin__whoami",
    ])
    monkeypatch.setenv("SYNTHRAL_MCPOTHER_TOKEN", "an-env-token-123")
    assert "mcpother__ping" in names(listed())
    assert names(listed(tools="meta")) == ["call_action", "describe_action", "search_actions"]
    assert "call_action" not in names(listed(tools="actions"))


def test_a_connection_needing_reauthorization_is_not_usable(mcpbin):
    from tests.invoke_support import put_connection

    put_connection("mcpbin", method="bearer", secrets={"token": "x" * 20}, needs_reauth=True)
    assert not any(n.startswith("mcpbin__") for n in names(listed()))


def test_connector_action_glob_read_only_and_all_narrow_or_widen(mcpbin):
    assert names(listed(connectors=["mcpother"], tools="actions")) == ["mcpother__ping", "mcpother__test_connection"]
    ro = names(listed(connectors=["mcpbin"], read_only=True, tools="actions"))
    assert ro == ["mcpbin__echo_query", "mcpbin__html", "mcpbin__status", "mcpbin__test_connection",
                  "mcpbin__uuid_text", "mcpbin__whoami"]
    assert names(listed(connectors=["mcpbin"], actions=["*echo*", "html"], tools="actions")) == [
        "mcpbin__echo_query", "mcpbin__html"]
    everything = names(listed(everything=True, tools="actions"))
    assert "slack__send_message" in everything and "mcpother__ping" in everything


def test_meta_tools_list_for_the_whole_catalogue_stays_under_4000_characters(config_dir):
    from synthral_cli.mcp.server import build_server  # noqa: F401 - the SDK imports cleanly

    tools = listed(everything=True, tools="meta")
    assert len(json.dumps({"tools": tools})) < 4000


def test_search_finds_actions_across_the_catalogue_and_respects_the_selection(mcpbin):
    box = Toolbox(sy(), Selection())
    found = meta.search(box, "send slack message")
    assert found["results"][0]["tool"] == "slack__send_message"
    assert found["results"][0]["connected"] is False
    assert meta.search(box, "echo query")["results"][0] == {
        "connector": "mcpbin", "action": "echo_query", "tool": "mcpbin__echo_query",
        "description": "Echo query parameters.", "read_only": True, "destructive": False, "connected": True}
    narrow = Toolbox(sy(), Selection(read_only=True))
    assert all(r["read_only"] for r in meta.search(narrow, "create delete send", limit=50)["results"])
    only = Toolbox(sy(), Selection(connectors=["mcpbin"]))
    assert {r["connector"] for r in meta.search(only, "message list")["results"]} <= {"mcpbin"}
    described = meta.describe(box, "slack", "send_message")
    assert described["tool"]["name"] == "slack__send_message" and described["authorize"] == "synthral authorize slack"
    assert "channel" in described["tool"]["inputSchema"]["properties"]


def test_export_formats(mcpbin):
    tools = listed(connectors=["mcpbin", "github", "slack"], tools="actions")
    mcp_defs, none = export(tools, "mcp")
    assert mcp_defs == tools and none == []
    anthropic, _ = export(tools, "anthropic")
    assert anthropic[0] == {"name": tools[0]["name"], "description": tools[0]["description"],
                            "input_schema": tools[0]["inputSchema"]}
    openai, skipped = export(tools, "openai")
    assert len(openai) + len(skipped) == len(tools)
    assert any(s.startswith("mcpbin__create: parameter 'meta' is a free-form object") for s in skipped)

    def check_strict(schema):
        assert "default" not in schema
        if schema.get("type") == "object" or "properties" in schema:
            assert schema["additionalProperties"] is False
            assert schema["required"] == list(schema["properties"])
            for sub in schema["properties"].values():
                check_strict(sub)
        if "items" in schema:
            check_strict(schema["items"])

    for fn in openai:
        assert fn["type"] == "function" and fn["function"]["strict"] is True
        check_strict(fn["function"]["parameters"])
    echo = next(f["function"] for f in openai if f["function"]["name"] == "mcpbin__echo_query")
    props = echo["parameters"]["properties"]
    assert props["q"] == {"type": "string", "description": "Search text."}
    assert props["n"] == {"type": ["integer", "null"], "description": "How many. Default: 3."}
    assert props["tags"]["type"] == ["array", "null"]
    assert props["tags"]["items"] == {"type": "string", "enum": ["a", "b", "c"]}


def test_cli_tools_export(cli, mcpbin):
    r = cli("tools", "export", "--format", "openai", "--connector", "mcpbin")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    assert "mcpbin__echo_query" in [f["function"]["name"] for f in got]
    assert "left out mcpbin__create: parameter 'meta' is a free-form object" in r.stderr
    r = cli("tools", "export", "--connector", "mcpbin", "--tools", "all")
    assert {"search_actions", "mcpbin__whoami"} <= set(names(json.loads(r.stdout)))
    bad = cli("tools", "export", "--format", "yaml")
    assert bad.exit_code == 2 and "--format 'yaml'" in bad.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--transport", "carrier-pigeon"], "is not stdio or http"),
        (["--port", "9000"], "are for --transport http"),
        (["--connector", "slak"], "Did you mean 'slack'"),
        (["--tools", "some"], "--tools 'some' is not one of"),
        (["--transport", "http", "--host", "0.0.0.0"], "would let other machines use your connections"),
        (["--transport", "http", "--host", "0.0.0.0", "--allow-remote"], "needs a bearer token"),
    ],
)
def test_mcp_usage_errors_exit_2_before_serving(cli, config_dir, args, message):
    r = cli("mcp", *args)
    assert r.exit_code == 2 and message in r.stderr and r.stdout == ""


def test_a_short_bearer_token_is_refused(cli, config_dir):
    r = cli("mcp", "--transport", "http", "--host", "0.0.0.0", "--allow-remote",
            env={"SYNTHRAL_MCP_BEARER_TOKEN": "q7Zx9w"})
    assert r.exit_code == 2 and "too short" in r.stderr and "q7Zx9w" not in r.stderr


def test_version_list_and_invoke_do_not_import_the_mcp_sdk(tmp_path, config_dir, monkeypatch):
    folder = write_manifests(tmp_path / "m", manifest("lazy", "https://lazy.example.com", []))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    probe = textwrap.dedent(
        """
        import json, sys
        from synthral_cli.cli.main import main
        for argv in (["--version"], ["connectors", "list", "--json"],
                     ["invoke", "lazy", "test_connection", "--dry-run", "--json"]):
            try:
                main(argv)
            except SystemExit as e:
                assert e.code in (0, None), (argv, e.code)
        sys.stderr.write(json.dumps(sorted(m for m, mod in sys.modules.items() if mod is not None)))
        """
    )
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=os.environ)
    assert p.returncode == 0, p.stderr
    loaded = {m.split(".")[0] for m in json.loads(p.stderr[p.stderr.index("["):])}
    assert not loaded & {"mcp", "mcp_types", "pydantic", "starlette", "uvicorn", "sse_starlette"}
    assert "synthral_cli" in loaded
