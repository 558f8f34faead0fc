"""Renderings shared by the Typer commands and the fast entry path (no Typer here)."""

from __future__ import annotations

from typing import Any


def list_connectors(
    rt: Any,
    category: str | None = None,
    status: str | None = None,
    search: str | None = None,
    as_json: bool = False,
) -> None:
    from . import ui

    rt.catalogue  # noqa: B018 - loads it and reports broken user manifests on stderr
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
    )
