"""Helpers shared by command modules: the runtime, JSON flag, completion of slugs and actions."""

from __future__ import annotations

from typing import Any

import typer

JSON_OPTION = typer.Option(False, "--json", help="Print JSON for scripts instead of a table.")
CONNECTION_OPTION = typer.Option(
    "default", "--connection", "-c", metavar="NAME", help="Which account of this connector."
)


def runtime(ctx: typer.Context) -> Any:
    """The ``Runtime`` the root callback put on the context (created here for bare sub-apps)."""
    from .runtime import Runtime

    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = Runtime()
    return root.obj


def complete_slug(ctx: typer.Context, incomplete: str) -> list[str]:
    try:
        from ..api import Synthral

        return [s for s in Synthral().catalogue.slugs() if s.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        return []


def complete_action(ctx: typer.Context, incomplete: str) -> list[str]:
    slug = ctx.params.get("slug")
    if not slug:
        return []
    try:
        from ..api import Synthral

        manifest = Synthral().connector(slug)
        return [a.name for a in manifest.actions if a.name.startswith(incomplete)]
    except Exception:
        return []
