"""The three meta tools, which keep a large catalogue out of a model's context: ``search_actions``
(words -> matching tools, one line each, across the whole catalogue), ``describe_action`` (-> the
full tool definition) and ``call_action`` (run any action the selection admits). Their answers
are plain dicts; ``server.py`` turns them into MCP results and runs ``call_action`` like a tool.
"""

from __future__ import annotations

import re
from typing import Any

from ..basics.errors import UsageError
from .tools import Entry, Toolbox, usable_connectors

SEARCH, DESCRIBE, CALL = "search_actions", "describe_action", "call_action"
NAMES = (CALL, DESCRIBE, SEARCH)
_READ = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}
_WHICH = {
    "connector": {"type": "string", "description": "Connector slug, e.g. github."},
    "action": {"type": "string", "description": "Action name, e.g. list_repos."},
}


def definitions() -> list[dict[str, Any]]:
    """The meta tools' MCP definitions, sorted by name (kept short: they are always listed)."""
    return [
        {
            "name": CALL,
            "title": "Call an action",
            "description": "Run a connector action found with search_actions, with its parameters. "
            "Missing connections, provider errors and refusals come back as errors that say what to do.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    **_WHICH,
                    "params": {"type": "object", "description": "The action's parameters (see describe_action)."},
                    "connection": {"type": "string", "description": "Which stored account (default: default)."},
                    "paginate": {"type": "boolean", "description": "Follow every page and merge the items."},
                },
                "required": ["connector", "action"],
                "additionalProperties": False,
            },
            "annotations": {"destructiveHint": True, "openWorldHint": True},
        },
        {
            "name": DESCRIBE,
            "title": "Describe an action",
            "description": "The full definition of one connector action: its input schema, annotations "
            "and whether a connection exists for it.",
            "inputSchema": {
                "type": "object",
                "properties": dict(_WHICH),
                "required": ["connector", "action"],
                "additionalProperties": False,
            },
            "annotations": dict(_READ),
        },
        {
            "name": SEARCH,
            "title": "Search actions",
            "description": "Search every SaaS action synthral can run (Slack, GitHub, Gmail, Stripe, ...) "
            "by words; returns connector, action and a one-line description of the best matches.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Words, e.g. 'send slack message'."},
                    "connector": {"type": "string", "description": "Only this connector."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                },
                "required": ["query"],
                "additionalProperties": False,
            },
            "annotations": dict(_READ),
        },
    ]


def _words(text: str) -> list[str]:
    out = []
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        out.append(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


def _one_line(text: str, limit: int = 120) -> str:
    line = " ".join(text.split())
    cut = re.split(r"(?<=[.;])\s", line, maxsplit=1)[0]
    return cut if len(cut) <= limit else cut[: limit - 3].rstrip() + "..."


def search(box: Toolbox, query: str, connector: str | None = None, limit: int = 10) -> dict[str, Any]:
    """Rank the admitted actions by how many query words they hold, and where: connector and action
    names weigh more than descriptions."""
    words = _words(query)
    if not words:
        raise UsageError("search_actions needs words to look for.", "Example: query='create github issue'.")
    if connector is not None and connector not in box.sy.catalogue:
        box.sy.connector(connector)  # the unknown-connector error, with suggestions
    slugs = [connector] if connector else box.sy.catalogue.slugs()
    scored = []
    for slug in slugs:
        manifest = box.sy.connector(slug)
        head = set(_words(f"{slug} {manifest.name}"))
        category = set(_words(manifest.category))
        for entry in box.connector_entries(slug):  # admitted: --connector/--action/--read-only bound it
            name = set(_words(entry.action))
            text = set(_words(entry.tool["description"]))
            hits, score = 0, 0.0
            for w in words:
                got = 3.0 * (w in head) + 3.0 * (w in name) + 1.0 * (w in text) + 0.5 * (w in category)
                if not got:  # a prefix ("repo" finds "repository")
                    got = 0.5 * any(t.startswith(w) for t in head | name | text) if len(w) > 2 else 0.0
                hits += got > 0
                score += got
            if hits:
                scored.append((-hits, -score, entry.name, entry))
    scored.sort(key=lambda t: t[:3])
    connected = usable_connectors(box.sy)
    results = [
        {
            "connector": e.slug,
            "action": e.action,
            "tool": e.name,
            "description": _one_line(e.tool["description"]),
            "read_only": e.read_only,
            "destructive": e.destructive,
            "connected": e.slug in connected,
        }
        for *_, e in scored[: max(1, min(int(limit), 50))]
    ]
    return {"results": results, "total": len(scored)}


def resolve(box: Toolbox, connector: str, action: str) -> Entry:
    """The admitted tool for ``connector``/``action``; otherwise a usage error saying why."""
    manifest = box.sy.connector(connector)
    manifest.action(action)  # unknown action: error with suggestions
    got = box.entry(connector, action)
    if isinstance(got, str):
        raise UsageError(f"{connector} {action} is not available here: {got}.", None)
    if not box.selection.admits(got):
        raise UsageError(
            f"{connector} {action} is outside what this server exposes "
            "(its --connector, --action or --read-only options).",
            "Use search_actions to find the actions that are available.",
        )
    return got


def describe(box: Toolbox, connector: str, action: str) -> dict[str, Any]:
    entry = resolve(box, connector, action)
    connected = connector in usable_connectors(box.sy)
    out: dict[str, Any] = {"connector": connector, "action": action, "connected": connected, "tool": entry.tool}
    if entry.excluded:
        out["excluded_parameters"] = entry.excluded
    if not connected and box.sy.connector(connector).auth_type != "none":
        out["authorize"] = f"synthral authorize {connector}"
    return out
