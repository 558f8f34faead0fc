"""``synthral connectors list|show|actions|validate`` and the aliases ``list`` and ``show``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, complete_action, complete_slug, runtime

app = typer.Typer(help="Browse and validate the connector catalogue.", no_args_is_help=True)

SLUG = typer.Argument(..., help="Connector slug, e.g. slack.", autocompletion=complete_slug)


def list_connectors(
    ctx: typer.Context,
    category: list[str] = typer.Option(
        None,
        "--category",
        metavar="CATEGORY",
        help="Filter by category (case-insensitive; a word of it works, e.g. crm). Repeat for several.",
    ),
    status: str = typer.Option(
        None, "--status", metavar="STATUS", help="Filter by status: alpha, beta, stable, deprecated."
    ),
    search: str = typer.Option(None, "--search", metavar="TEXT", help="Text to find in slug, name or description."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List the connectors in the catalogue (bundled and user manifests).

    Example: synthral connectors list --category "crm & sales" --json
    """
    from .views import list_connectors as render

    render(runtime(ctx), category=category, status=status, search=search, as_json=as_json)


def show_connector(ctx: typer.Context, slug: str = SLUG, as_json: bool = JSON_OPTION) -> None:
    """Show one connector: auth, endpoints, Nango key and actions with their parameters.

    Example: synthral connectors show slack
    """
    from . import ui

    rt = runtime(ctx)
    manifest = rt.catalogue.get(slug)
    data = manifest.to_dict()
    if as_json:
        ui.print_json(data)
        return
    auth = data["auth"]
    lines: list[tuple[str, Any]] = [
        ("name", data["name"]),
        ("category", data["category"]),
        ("status", f"{data['status']} (version {data['latest_version']})"),
        ("description", data["description"]),
        ("docs", data["docs_url"]),
        ("base url", data["base_url"] or f"({data['transport']})"),
        ("auth", auth["type"]),
    ]
    for key in ("authorization_url", "token_url", "device_authorization_url", "revocation_url"):
        if key in auth:
            lines.append((key.replace("_", " "), auth[key]))
    if auth["type"] == "oauth2" and "authorization_url" in auth:
        from ..auth.apps import redirect_uri

        lines.append(("redirect uri", f"{redirect_uri(manifest)}: register it in your OAuth app"))
    if auth.get("default_scopes"):
        lines.append(("default scopes", " ".join(auth["default_scopes"])))
    for field in auth.get("fields", []):
        lines.append(("credential", f"{field['name']}{' (secret)' if field.get('secret', True) else ''}"))
    for var, spec in data["connection_config"].items():
        lines.append(("setting", f"{var}: {spec.get('description', '')}"))
    nango = data["nango"]
    lines.append(("nango", nango.get("provider_key") if nango.get("enabled") else "not available"))
    lines.append(("source", data["source"]))
    ui.panel(f"{data['slug']}", lines)
    _render_actions(manifest)


def _render_actions(manifest: Any) -> None:
    from .views import actions as render

    render(manifest)


@app.command("actions")
def actions(ctx: typer.Context, slug: str = SLUG, as_json: bool = JSON_OPTION) -> None:
    """List the actions of one connector: where each goes and its parameters (type, required,
    allowed values, default, description).

    Example: synthral connectors actions stripe --json
    """
    from . import ui

    manifest = runtime(ctx).catalogue.get(slug)
    if as_json:
        ui.print_json({"connector_slug": slug, "actions": [a.to_dict() for a in manifest.actions]})
        return
    _render_actions(manifest)


@app.command("validate")
def validate(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Manifest files or folders of them."),
) -> None:
    """Validate manifest files against the schema; every problem is named as file: field: message.

    Example: synthral connectors validate ~/.config/synthral/manifests/
    """
    from ..basics.errors import ManifestError
    from . import ui

    count, problems = runtime(ctx).sy.validate(paths)
    if problems:
        for p in problems:
            ui.err(p)
        missing = [str(p) for p in paths if not p.exists()]
        found = len(problems) - len(missing)
        if found == 0:
            valid = f" ({_plural(count, 'manifest')} valid)" if count else ""
            raise ManifestError(
                f"{_plural(len(missing), 'path')} not found: {', '.join(missing)}{valid}.",
                "Pass manifest files (.yaml) or folders that hold them.",
            )
        gone = f"; {_plural(len(missing), 'path')} not found" if missing else ""
        raise ManifestError(
            f"{_plural(found, 'problem')} in {_plural(count, 'file')}{gone}.",
            "Fix the fields named above; the schema is synthral_cli/catalogue/schema/manifest-v1.json.",
        )
    ui.err(f"{_plural(count, 'manifest')} valid.")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


app.command("list")(list_connectors)
app.command("show")(show_connector)


def add_aliases(root: typer.Typer) -> None:
    """``synthral list`` and ``synthral show`` are the same commands."""
    root.command("list", help="Same as: synthral connectors list.")(list_connectors)
    root.command("show", help="Same as: synthral connectors show.")(show_connector)


__all__ = ["app", "add_aliases", "complete_action"]
