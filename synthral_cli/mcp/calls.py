"""One tool call through the same core as ``synthral invoke`` (``actions.invoke.run``: parameter
checks, credential resolution from the store, the environment or Nango, proactive and on-401
refresh, the scope check, retries, pagination), answered as an MCP ``CallToolResult``:

    success        structuredContent = the provider's parsed body ({"result": body} when the
                   body is not a JSON object), plus a text rendering of it
    SynthralError  isError: true, text = what happened + what to do next (the provider's
                   message, or the exact ``synthral authorize ...`` to run)
    anything else  isError: true, one line naming a bug; never an exception to the transport

Every string that leaves here went through ``basics.redact``. Calls run in worker threads: each
thread has its own ``Synthral`` (a store is used by one thread); the HTTP client is shared.
Without ``--allow-files`` a call runs under ``wire.encoders.without_local_files``: whatever
parameter names a file, nothing is read from this machine's disk.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import TYPE_CHECKING, Any

from ..basics import redact
from ..basics.errors import SynthralError, UsageError
from .schema import CONNECTION, PAGINATE

if TYPE_CHECKING:
    from ..api import Synthral
    from .tools import Entry

log = logging.getLogger("synthral.mcp")
PROVIDER_BODY_LIMIT = 4000  # characters of a provider's error body shown after its message


def scrub(value: Any) -> Any:
    """``value`` with every registered secret (and credential-shaped text) masked."""
    if isinstance(value, str):
        return redact.redact(value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k) if isinstance(k, str) else k: scrub(v) for k, v in value.items()}
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def error_result(message: str, hint: str | None = None, body: Any = None) -> dict[str, Any]:
    """An ``isError`` result: the message, the hint on its own line, then the provider's body."""
    text = redact.redact(message) + (f"\n{redact.redact(hint)}" if hint else "")
    content = [{"type": "text", "text": text}]
    if isinstance(body, (dict, list)) and body:  # a text body is already in the message
        shown = _text(scrub(body))
        if len(shown) > PROVIDER_BODY_LIMIT:
            shown = shown[:PROVIDER_BODY_LIMIT] + " ..."
        content.append({"type": "text", "text": f"The provider answered: {shown}"})
    return {"content": content, "isError": True}


def from_exception(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, SynthralError):
        return error_result(exc.message, mcp_hint(exc.hint), getattr(exc, "result", None))
    log.error("unexpected error in a tool call: %s: %s", type(exc).__name__, exc,
              exc_info=log.isEnabledFor(logging.DEBUG))
    return error_result(
        f"unexpected error: {type(exc).__name__}: {exc}",
        "This is a bug in synthral; run the server with --debug to log its traceback, and report it.",
    )


def success_result(body: Any, *, wrapped: bool = False, note: str | None = None) -> dict[str, Any]:
    """The provider's parsed body as structuredContent and as text (a string body stays text)."""
    body = scrub(body)
    structured = body if isinstance(body, dict) and not wrapped else {"result": body}
    content = [{"type": "text", "text": _text(body)}]
    if note:
        content.append({"type": "text", "text": note})
    return {"content": content, "structuredContent": structured, "isError": False}


def outcome_result(entry: Entry, outcome: Any) -> dict[str, Any]:
    if outcome.binary:
        shape = outcome.to_dict()["result"]  # {"content_type", "size", "base64"}
        result = success_result(shape, wrapped=entry.wrapped)
        result["content"] = [{"type": "text", "text": f"{shape['content_type'] or 'binary data'}, "
                              f"{shape['size']} bytes (base64 in structuredContent)"}]
        return result
    note = None
    if outcome.truncated:
        note = f"Stopped after {outcome.pages} pages (the connector's max_pages); more results exist."
    return success_result(outcome.result, wrapped=entry.wrapped, note=note)


def split_arguments(entry: Entry, arguments: dict[str, Any]) -> tuple[dict[str, Any], str, bool]:
    """The action's parameters, the connection and paginate from a tool's arguments."""
    params: dict[str, Any] = {}
    connection, paginate = "default", False
    for key, value in arguments.items():
        control = entry.controls.get(key)
        if control == CONNECTION and value is not None:
            if not isinstance(value, str) or not value.strip():
                raise UsageError("connection must be the name of a stored connection, e.g. default.", None)
            connection = value
        elif control == PAGINATE and value is not None:
            if not isinstance(value, bool):
                raise UsageError("paginate must be true or false.", None)
            paginate = value
        elif control is None:
            params[key] = value
    return params, connection, paginate


def check_params(entry: Entry, params: dict[str, Any]) -> None:
    """Unknown and missing parameters, named the way an MCP client sees them (the core checks
    types and enums after this, and fills defaults)."""
    files = [k for k in params if k in entry.excluded]
    if files:
        raise UsageError(
            f"The parameter {files[0]!r} reads local files, which this server does not accept.",
            "Start it with: synthral mcp --allow-files",
        )
    schema = entry.tool["inputSchema"]
    known = [k for k in schema["properties"] if k not in entry.controls]
    unknown = [k for k in params if k not in schema["properties"] or k in entry.controls]
    if unknown:
        raise UsageError(
            f"{entry.name} has no parameter {', '.join(repr(k) for k in unknown)}.",
            f"Its parameters: {', '.join(known) or '(none)'}.",
        )
    missing = [k for k in schema.get("required", []) if params.get(k) is None]
    if missing:
        raise UsageError(f"{entry.name} needs {', '.join(repr(k) for k in missing)}.",
                         "Add them to the arguments (see the tool's inputSchema).")


_CLI_HINT = re.compile(r"(^|\s)-p\s|--data\b")
_LIST_ACTIONS = re.compile(r"synthral connectors actions ([a-z0-9-]+)")


def mcp_hint(hint: str | None) -> str | None:
    """The core's hints speak to a shell user (``-p name=...``); an MCP client has none."""
    if hint and _CLI_HINT.search(hint):
        return "Fix the arguments as the tool's inputSchema describes."
    if hint:
        return _LIST_ACTIONS.sub(r"describe_action (connector \1)", hint)
    return hint


class Caller:
    """Runs tool calls (in whatever thread calls ``call``) through the invoke core."""

    def __init__(self, sy: Synthral, *, timeout: float = 30.0, retries: int = 3, allow_files: bool = False) -> None:
        self.sy = sy
        self.timeout = timeout
        self.retries = retries
        self.allow_files = allow_files
        self._local = threading.local()
        self._lock = threading.Lock()
        self._client: Any = None

    def _context(self) -> Synthral:
        ctx = getattr(self._local, "sy", None)
        if ctx is None:
            ctx = self._local.sy = self.sy.sibling()
        return ctx

    def _http(self) -> Any:
        with self._lock:
            if self._client is None:
                from ..wire.http import new_client

                self._client = new_client(self.timeout, self.sy.settings.ca_bundle)
            return self._client

    def call(
        self,
        entry: Entry,
        params: dict[str, Any],
        connection: str = "default",
        paginate: bool = False,
    ) -> dict[str, Any]:
        """Run ``entry`` with ``params``: a CallToolResult dict, never an exception."""
        from contextlib import nullcontext

        from ..wire.encoders import without_local_files

        try:
            from ..actions.invoke import Options, run

            check_params(entry, params)
            ctx = self._context()
            manifest = ctx.connector(entry.slug)
            options = Options(connection=connection, paginate=paginate, retries=self.retries,
                              timeout=self.timeout)
            if manifest.transport == "http":
                options.client = self._http()
            # no file is read unless --allow-files, whatever parameter names one
            with nullcontext() if self.allow_files else without_local_files():
                outcome = run(ctx, manifest, manifest.action(entry.action), params, options)
            return outcome_result(entry, outcome)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an isError result
            return from_exception(exc)

    def call_arguments(self, entry: Entry, arguments: dict[str, Any]) -> dict[str, Any]:
        """A call by tool name: the arguments hold parameters and the controls."""
        try:
            params, connection, paginate = split_arguments(entry, arguments)
        except SynthralError as exc:
            return from_exception(exc)
        return self.call(entry, params, connection, paginate)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
