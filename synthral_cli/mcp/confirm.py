"""Asking the user before a destructive tool runs, through MCP elicitation (form mode, one
boolean): a server-to-client ``elicitation/create`` request on the initialize-handshake
revisions, or, on 2026-07-28, an ``InputRequiredResult`` that the client answers by retrying the
call with the user's response. The retry must carry the same call: its ``requestState`` is an HMAC
(per server process) of the tool, the arguments and the connection.

``ask`` answers ``"accept"`` (the user confirmed), ``"decline"``/``"cancel"``, ``None`` (this
client cannot be asked), or the ``InputRequiredResult`` dict to return as the call's result.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any

from .calls import scrub

if TYPE_CHECKING:
    from .tools import Entry

KEY = "synthral_confirm"  # the input request's key in inputRequests / inputResponses
_SECRET = secrets.token_bytes(32)
SCHEMA = {
    "type": "object",
    "properties": {"confirm": {"type": "boolean", "title": "Run it", "description": "Yes, run this action."}},
    "required": ["confirm"],
}


def can_elicit(ctx: Any) -> bool:
    """The client declared form-mode elicitation (an empty capability means form mode)."""
    caps = getattr(ctx.session, "client_capabilities", None)
    elicitation = getattr(caps, "elicitation", None)
    if elicitation is None:
        return False
    return getattr(elicitation, "form", None) is not None or getattr(elicitation, "url", None) is None


def question(entry: Entry, args: dict[str, Any], connection: str) -> str:
    shown = json.dumps(scrub(args), ensure_ascii=False, default=str)
    if len(shown) > 600:
        shown = shown[:600] + " ..."
    return (
        f"{entry.tool['title']} ({entry.slug}, connection {connection!r}) can delete or overwrite data. "
        f"Run it with {shown}?"
    )


def fingerprint(entry: Entry, args: dict[str, Any], connection: str) -> str:
    text = json.dumps([entry.name, args, connection], sort_keys=True, ensure_ascii=False, default=str)
    return hmac.new(_SECRET, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def _decision(answer: Any) -> str:
    """``accept`` only for an accepted form whose ``confirm`` is true."""
    action = answer.get("action") if isinstance(answer, dict) else getattr(answer, "action", None)
    content = answer.get("content") if isinstance(answer, dict) else getattr(answer, "content", None)
    if action != "accept":
        return str(action or "cancel")
    return "accept" if isinstance(content, dict) and content.get("confirm") is True else "decline"


async def ask(
    ctx: Any, entry: Entry, args: dict[str, Any], connection: str, responses: Any = None, state: str | None = None
) -> str | dict[str, Any] | None:
    if not can_elicit(ctx):
        return None
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    message = question(entry, args, connection)
    if getattr(ctx, "protocol_version", None) in MODERN_PROTOCOL_VERSIONS:
        expected = fingerprint(entry, args, connection)
        answer = (responses or {}).get(KEY)
        if answer is not None and state is not None and hmac.compare_digest(state, expected):
            return _decision(answer)
        import mcp_types

        request = mcp_types.ElicitRequest(
            params=mcp_types.ElicitRequestFormParams(message=message, requested_schema=SCHEMA)
        ).model_dump(by_alias=True, mode="json", exclude_none=True)
        return {"resultType": "input_required", "inputRequests": {KEY: request}, "requestState": expected}
    try:
        result = await ctx.session.elicit_form(message, SCHEMA, related_request_id=ctx.request_id)
    except Exception:  # noqa: BLE001 - no back channel, or the client failed: it could not be asked
        return None
    return _decision(result)
