"""Renderings shared by the Typer commands and the fast entry path (no Typer here)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any



def list_connectors(
    rt: Any,
    category: str | list[str] | None = None,
    status: str | None = None,
    search: str | None = None,
    as_json: bool = False,
) -> None:
    from . import ui

    catalogue = rt.catalogue  # loads it and reports broken user manifests on stderr
    if as_json and not (category or status or search) and not ui.is_terminal():
        # The whole catalogue, piped: the rendered summaries, joined and cached as they are
        # written (what print_json would write; see catalogue.loading.Catalogue.listing).
        body, count = catalogue.listing()
        ui.echo_json_parts('{"connectors": [', body, '], "total_count": ' + str(count) + "}")
        return
    found = rt.sy.connectors(category=category, status=status, search=search)
    if as_json:
        ui.print_json({"connectors": found, "total_count": len(found)})
        return
    ui.table(
        ["slug", "name", "category", "auth", "status", "nango"],
        [
            (c["slug"], c["name"], c["category"], c["auth_type"], c["status"], "yes" if c["nango_enabled"] else "")
            for c in found
        ],
        title=f"{len(found)} connectors",
        identifiers=(0, 3, 4),
    )


def _relative(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    delta = int(ts - now)
    span = abs(delta)
    text = f"{span // 86400}d" if span >= 86400 else f"{span // 3600}h" if span >= 3600 else f"{span // 60}m"
    return f"in {text}" if delta > 0 else f"expired {text} ago"


def list_connections(rt: Any, as_json: bool = False) -> None:
    """``connections list``: metadata only, no cryptography, no sqlite-utils."""
    from ..basics.settings import Settings
    from ..store.encrypted import Store
    from ..store.report import connection_rows, iso_times
    from . import ui

    settings = Settings(rt.env)
    store = Store.open(settings, create=False)  # listing creates nothing on disk
    try:
        rows = connection_rows(store, rt.env, lambda: rt.catalogue.slugs())
        if settings.nango_secret_key:  # issue 7: merge the connections Nango holds
            from ..auth.nango_report import merge_rows

            rows, note = merge_rows(settings, store, rows, lambda: rt.catalogue.summaries())
            if note:
                ui.warn(note)
    finally:
        store.close()
    if as_json:
        ui.print_json({"connections": iso_times(rows), "total_count": len(rows)})
        return
    import time

    now = time.time()
    ui.table(
        ["slug", "connection", "method", "scopes", "expires", "health", "source"],
        [
            (
                r["connector_slug"],
                r["connection"],
                r["method"] or "-",
                " ".join(r["scopes"]) or "-",
                _relative(r["expires_at"], now),
                r["health"] + (" (re-authorize)" if r["needs_reauth"] else ""),
                r["source"],
            )
            for r in rows
        ],
        title=f"{len(rows)} connections",
        identifiers=(0, 1, 2),
    )
    if not rows:
        ui.err("No connections yet. Connect one with: synthral authorize SLUG (slugs: synthral connectors list)")


def _request_line(action: Any) -> str:
    """``POST https://upload.box.com/api/2.0/files/content``: where the action goes, its own
    base URL included; a transport's operation (``smtp send``) otherwise."""
    if action.path:
        return f"{action.method} {action.base_url}{action.path}"
    return str(action.raw.get("transport_op", action.raw.get("transport", "")))


def _kind(p: Any) -> str:
    return ", ".join([p.type, *(["required"] if p.required else []), *(["secret"] if p.secret else [])])


def _details(p: Any) -> str:
    import json

    text = p.description.rstrip()
    if text and not text.endswith((".", "!", "?", ")")):
        text += "."
    parts = [text] if text else []
    if p.enum:
        parts.append("One of: " + ", ".join(v if isinstance(v, str) else json.dumps(v) for v in p.enum) + ".")
    if p.default is not None:
        default = p.default if isinstance(p.default, str) else json.dumps(p.default)
        parts.append(f"Default: {default}.")
    return " ".join(parts)


def actions(manifest: Any) -> None:
    """The actions of a connector as ``gh help`` shows flags: each with where it goes, what it
    does and its parameters (type, required, enum, default, description)."""
    from . import ui

    n = len(manifest.actions)
    ui.blocks(
        f"{n} action{'s' if n != 1 else ''} (synthral invoke {manifest.slug} ACTION -p NAME=VALUE ...)",
        [
            (a.name, _request_line(a), a.description, [(p.name, _kind(p), _details(p)) for p in a.parameters])
            for a in manifest.actions
        ],
    )


def action_names(manifest: Any) -> list[str]:
    """One line per action (name, then its description), for a message on stderr."""
    width = max((len(a.name) for a in manifest.actions), default=0)
    return [f"{a.name.ljust(width)}  {a.description}".rstrip() for a in manifest.actions]
