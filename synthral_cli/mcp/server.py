"""The MCP server: the SDK's low-level ``Server`` (full control over each tool's inputSchema,
outputSchema and annotations) with ``tools/list`` and ``tools/call`` over a ``Toolbox``, the meta
tools, the destructive-call gate, and the stdio transport.

A destructive tool (``destructiveHint``) runs only when the server was started with
``--allow-destructive`` or the user confirms it through MCP elicitation (when the client
declares that capability); otherwise the call is an ``isError`` result saying how to allow it.
Provider calls run in worker threads, so one slow provider does not hold up other requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..basics.version import __version__
from . import confirm, meta
from .calls import Caller, error_result, from_exception, success_result
from .tools import Entry, Selection, Toolbox

if TYPE_CHECKING:
    from ..api import Synthral

INSTRUCTIONS = (
    "synthral runs actions of SaaS APIs (Slack, GitHub, Gmail, Stripe and ~100 more) with the user's "
    "own connections; tokens stay on this machine. Tools are named connector__action. search_actions "
    "finds actions that are not listed, describe_action gives their parameters, call_action runs them. "
    "An error naming `synthral authorize ...` is for the user to run."
)
WORKERS = 4  # provider calls at once


@dataclass
class ServerOptions:
    """Everything ``synthral mcp`` decides besides the transport."""

    selection: Selection = field(default_factory=Selection)
    allow_destructive: bool = False
    timeout: float = 30.0
    retries: int = 3


class SynthralTools:
    """The server's behaviour, independent of the SDK's plumbing (tests drive it directly)."""

    def __init__(self, sy: Synthral, options: ServerOptions | None = None) -> None:
        self.sy = sy
        self.options = options or ServerOptions()
        self.toolbox = Toolbox(sy, self.options.selection)
        self.caller = Caller(sy, timeout=self.options.timeout, retries=self.options.retries,
                             allow_files=self.options.selection.allow_files)
        self._limiter: Any = None

    def list_tools(self) -> list[dict[str, Any]]:
        mode = self.options.selection.tools
        tools = [] if mode == "meta" else [e.tool for e in self.toolbox.entries()]
        if mode != "actions":
            tools += meta.definitions()
        return sorted(tools, key=lambda t: str(t["name"]))

    async def _thread(self, fn: Any, *args: Any) -> Any:
        import anyio

        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(WORKERS)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None, ctx: Any = None) -> dict[str, Any]:
        """A CallToolResult dict. An unknown tool raises ``LookupError`` (a protocol error)."""
        args = dict(arguments or {})
        if self.options.selection.tools != "actions" and name in meta.NAMES:
            try:
                return await self._meta(name, args, ctx)
            except Exception as exc:  # noqa: BLE001 - a bad argument is the model's to fix
                return from_exception(exc)
        entry = self.toolbox.callable(name)
        if entry is None:
            raise LookupError(name)
        refusal = await self._confirm(entry, args, ctx)
        if refusal is not None:
            return refusal
        result: dict[str, Any] = await self._thread(self.caller.call_arguments, entry, args)
        return result

    async def _meta(self, name: str, args: dict[str, Any], ctx: Any) -> dict[str, Any]:
        from ..basics.errors import UsageError

        def text(key: str, required: bool = True) -> str | None:
            value = args.get(key)
            if value is None and not required:
                return None
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{name} needs {key} as text.", None)
            return value.strip()

        if name == meta.SEARCH:
            limit = args.get("limit", 10)
            if not isinstance(limit, int) or isinstance(limit, bool):
                raise UsageError("limit must be an integer from 1 to 50.", None)
            found = await self._thread(meta.search, self.toolbox, text("query"), text("connector", False), limit)
            return success_result(found)
        connector, action = str(text("connector")), str(text("action"))
        if name == meta.DESCRIBE:
            return success_result(await self._thread(meta.describe, self.toolbox, connector, action))
        entry = meta.resolve(self.toolbox, connector, action)
        params = args.get("params") or {}
        if not isinstance(params, dict):
            raise UsageError("params must be a JSON object of the action's parameters.", None)
        connection = text("connection", False) or "default"
        paginate = args.get("paginate") or False
        if not isinstance(paginate, bool):
            raise UsageError("paginate must be true or false.", None)
        refusal = await self._confirm(entry, params, ctx, connection)
        if refusal is not None:
            return refusal
        result: dict[str, Any] = await self._thread(self.caller.call, entry, params, connection, paginate)
        return result

    async def _confirm(
        self, entry: Entry, args: dict[str, Any], ctx: Any, connection: str | None = None
    ) -> dict[str, Any] | None:
        """``None`` to go ahead; otherwise what to return instead of running ``entry``: a refusal,
        or (2026-07-28) the ``InputRequiredResult`` asking the user."""
        if not entry.destructive or self.options.allow_destructive:
            return None
        if ctx is not None:
            params = getattr(ctx, "params", None) or {}
            answer = await confirm.ask(ctx, entry, args, connection or str(args.get("connection") or "default"),
                                       params.get("inputResponses"), params.get("requestState"))
            if answer == "accept":
                return None
            if isinstance(answer, dict):
                return answer
            if answer is not None:
                return error_result(
                    f"{entry.name} was not run: the user did not confirm it ({answer}).",
                    "Do not retry unless the user asks for it.",
                )
        return error_result(
            f"{entry.name} can delete or overwrite data, so this server did not run it.",
            "Start the server with `synthral mcp --allow-destructive`, or use an MCP client "
            "that asks the user to confirm (elicitation).",
        )

    def close(self) -> None:
        self.caller.close()


def build_server(tools: SynthralTools) -> Any:
    """The SDK's low-level ``Server`` for ``tools``."""
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError
    from mcp_types import INVALID_PARAMS

    # Dicts, not models: the runner validates them against the negotiated revision's schema and
    # drops what an older revision lacks. 2026-07-28 requires resultType, and ttlMs + cacheScope on
    # tools/list (0 and private: the list follows the connections, which change at any time).
    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return {"tools": tools.list_tools(), "ttlMs": 0, "cacheScope": "private", "resultType": "complete"}

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        try:
            result = await tools.call_tool(params.name, params.arguments, ctx)
        except LookupError:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {params.name}") from None
        return {"resultType": "complete", **result}

    return Server(
        "synthral",
        version=__version__,
        title="synthral",
        instructions=INSTRUCTIONS,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


def serve_stdio(sy: Synthral, options: ServerOptions) -> None:
    """Serve over stdin/stdout until the client closes stdin."""
    import anyio

    tools = SynthralTools(sy, options)
    server = build_server(tools)

    async def main() -> None:
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        tools.close()
