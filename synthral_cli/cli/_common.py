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


def complete_param(ctx: typer.Context, incomplete: str) -> list[str]:
    """``-p`` of ``invoke SLUG ACTION``: the action's parameter names as ``name=`` (those not
    given yet, secret ones never), and after ``name=`` the values of an enum or a boolean."""
    slug, action = ctx.params.get("slug"), ctx.params.get("action")
    if not slug or not action:
        return []
    try:
        from ..api import Synthral

        act = Synthral().connector(slug).action(action)
    except Exception:  # completion must never print a traceback into the shell
        return []
    name, eq, value = incomplete.partition("=")
    if eq:
        param = act.parameter(name)
        if param is None:
            return []
        choices = param.enum or (["true", "false"] if param.type == "boolean" else [])
        return [f"{name}={c}" for c in map(str, choices) if c.startswith(value)]
    given = {str(p).partition("=")[0].partition(":")[0] for p in ctx.params.get("params") or []}
    return [
        f"{p.name}="
        for p in act.parameters
        if p.name.startswith(incomplete) and not p.secret and (p.name not in given or p.type == "array")
    ]
