"""``synthral mcp`` (an MCP server: connector actions as tools) and ``synthral tools export`` (the
same definitions for other agent frameworks). Thin: options in, ``synthral_cli.mcp`` does the rest;
the MCP SDK is imported only when a server starts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from ._common import complete_slug, runtime

CONNECTOR_OPTION = typer.Option(
    None, "--connector", help="Expose this connector's actions (repeatable).", autocompletion=complete_slug
)
ACTION_OPTION = typer.Option(
    None, "--action", help="Only actions whose tool or action name matches this glob, e.g. 'github__list_*'."
)
READ_ONLY_OPTION = typer.Option(False, "--read-only", help="Only actions that read (GET/HEAD or marked read_only).")
ALL_OPTION = typer.Option(False, "--all", help="Every connector in the catalogue, connected or not.")
FILES_OPTION = typer.Option(
    False, "--allow-files", help="Offer parameters that read local files (taken as paths on this machine)."
)

tools_app = typer.Typer(help="Tool definitions for AI agent frameworks.", no_args_is_help=True)


def _selection(connector: list[str] | None, action: list[str] | None, read_only: bool, everything: bool,
               allow_files: bool, tools: str) -> Any:
    from ..mcp.tools import Selection

    return Selection(connectors=list(connector or []), actions=list(action or []), read_only=read_only,
                     everything=everything, allow_files=allow_files, tools=tools)


def _token(rt: Any, token_stdin: bool) -> str | None:
    from ..basics import redact
    from ..basics.errors import UsageError

    token: str | None = rt.sy.settings.mcp_bearer_token
    if token_stdin:
        if sys.stdin.isatty():
            raise UsageError("--token-stdin reads the bearer token from stdin.",
                             "Pipe it in: printf %s \"$TOKEN\" | synthral mcp --transport http --token-stdin")
        token = sys.stdin.readline().strip() or None
        if token is None:
            raise UsageError("--token-stdin read no token.", "Pipe one line holding the token into stdin.")
    redact.register(token)
    return token


def mcp(
    ctx: typer.Context,
    transport: str = typer.Option("stdio", "--transport", help="stdio (the client starts synthral) or http."),
    host: str = typer.Option(None, "--host", help="http: the address to bind (default 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=0, max=65535, help="http: the port (default 8765; 0 = any)."),
    connector: list[str] = CONNECTOR_OPTION,
    action: list[str] = ACTION_OPTION,
    read_only: bool = READ_ONLY_OPTION,
    everything: bool = ALL_OPTION,
    tools: str = typer.Option("all", "--tools", help="all (actions + meta tools), actions, or meta (3 tools)."),
    allow_destructive: bool = typer.Option(
        False, "--allow-destructive", help="Run destructive tools without asking the user first."
    ),
    allow_files: bool = FILES_OPTION,
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="http: allow a non-loopback --host (needs a bearer token)."
    ),
    token_stdin: bool = typer.Option(
        False, "--token-stdin", help="http: read the bearer token clients must send from stdin."
    ),
) -> None:
    """Serve connector actions as MCP tools to an AI agent; tokens never leave this machine.

    By default: the actions of every connector with a connection (or SYNTHRAL_<SLUG>_TOKEN), plus
    search_actions, describe_action and call_action for the whole catalogue. Destructive tools run
    only with --allow-destructive or after the user confirms in the client.

    Example: synthral mcp --connector github --read-only
    """
    from ..basics.errors import UsageError
    from ..mcp.server import ServerOptions
    from . import ui

    rt = runtime(ctx)
    if transport not in ("stdio", "http"):
        raise UsageError(f"--transport {transport!r} is not stdio or http.", "Use --transport stdio or http.")
    if transport == "stdio" and (host is not None or port is not None or allow_remote or token_stdin):
        raise UsageError("--host, --port, --allow-remote and --token-stdin are for --transport http.",
                         "Add --transport http, or drop them for stdio.")
    rt.catalogue  # noqa: B018 - report broken user manifests once, on stderr
    selection = _selection(connector, action, read_only, everything, allow_files, tools)
    selection.check(rt.sy)
    options = ServerOptions(selection=selection, allow_destructive=allow_destructive)
    if transport == "stdio":
        from ..mcp.server import serve_stdio

        if ui.is_terminal(sys.stdin):
            ui.err("synthral mcp speaks MCP on stdin/stdout: configure it in an MCP client (README: Agents). "
                   "Ctrl-D stops.")
        with _warnings_on_stderr(rt.debug):
            serve_stdio(rt.sy, options)
        return
    from ..mcp.http import check_bind, serve_http

    host = host or "127.0.0.1"
    token = _token(rt, token_stdin)
    check_bind(host, allow_remote, token)
    with _warnings_on_stderr(rt.debug):
        serve_http(rt.sy, options, host=host, port=8765 if port is None else port, token=token,
                   allow_remote=allow_remote,
                   on_ready=lambda url: ui.err(f"synthral mcp: Streamable HTTP on {url} (Ctrl-C stops)"))


@contextmanager
def _warnings_on_stderr(debug: bool) -> Iterator[None]:
    """While serving, library warnings reach stderr redacted (``--debug`` already logs everything)."""
    import logging

    from ..basics.logs import RedactingStderrHandler

    root = logging.getLogger()
    if debug or any(isinstance(h, RedactingStderrHandler) for h in root.handlers):
        yield
        return
    handler = RedactingStderrHandler(level=logging.WARNING)
    handler.setFormatter(logging.Formatter("synthral mcp: %(name)s: %(message)s"))
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


@tools_app.command("export")
def export(
    ctx: typer.Context,
    fmt: str = typer.Option("mcp", "--format", help="mcp, openai (strict mode) or anthropic."),
    connector: list[str] = CONNECTOR_OPTION,
    action: list[str] = ACTION_OPTION,
    read_only: bool = READ_ONLY_OPTION,
    everything: bool = ALL_OPTION,
    tools: str = typer.Option("actions", "--tools", help="actions (default), all (with the meta tools) or meta."),
    allow_files: bool = FILES_OPTION,
) -> None:
    """Print the tool definitions synthral mcp would list, as a JSON array, for agent frameworks
    that take JSON Schema function definitions. Tools OpenAI's strict mode cannot express are
    left out, each with its reason on stderr.

    Example: synthral tools export --format openai --connector github > tools.json
    """
    from ..basics.errors import UsageError
    from ..mcp.export import FORMATS, export
    from ..mcp.server import ServerOptions, SynthralTools
    from . import ui

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}.", None)
    rt = runtime(ctx)
    rt.catalogue  # noqa: B018 - report broken user manifests once, on stderr
    selection = _selection(connector, action, read_only, everything, allow_files, tools)
    selection.check(rt.sy)
    definitions, skipped = export(SynthralTools(rt.sy, ServerOptions(selection=selection)).list_tools(), fmt)
    for why in skipped:
        ui.warn(f"left out {why}")
    ui.print_json(definitions)


def register(root: typer.Typer) -> None:
    root.command("mcp")(mcp)
    root.add_typer(tools_app, name="tools")
