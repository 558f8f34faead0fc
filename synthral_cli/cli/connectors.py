"""``synthral connectors list|show|actions|validate|import-openapi`` and the aliases ``list`` and
``show``."""

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


@app.command("import-openapi")
def import_openapi(
    ctx: typer.Context,
    spec: str = typer.Argument(
        ..., help="An OpenAPI 3.x file (JSON or YAML), or a path inside an installed npm or Python package."
    ),
    operation: list[str] = typer.Option(
        [], "--operation", help="An operationId (or 'METHOD /path') to import; repeat it. Default: all."
    ),
    slug: str = typer.Option(None, "--slug", help="The connector's slug (default: from the title)."),
    category: str = typer.Option(None, "--category", help="Catalogue category (default: Development & Code)."),
    base_url: str = typer.Option(None, "--base-url", help="The API's address when the description has none."),
    output: Path = typer.Option(None, "--output", help="Write the manifest to this file instead of stdout."),
) -> None:
    """Turn operations of an OpenAPI 3.x description into a manifest skeleton that passes validate:
    auth from securitySchemes, base URL from servers, one action per operation with its parameters
    and body. What to review is printed to stderr.

    Example: synthral connectors import-openapi @octokit/openapi/generated/api.github.com.json
    --operation issues/create --operation repos/get --output ~/.config/synthral/manifests/gh.yaml
    """
    import re

    from ..basics.errors import ManifestError
    from ..catalogue.openapi_import import import_openapi as convert
    from ..catalogue.openapi_import import locate
    from ..catalogue.openapi_schema import read_document
    from ..catalogue.syntax import dump_yaml
    from ..catalogue.validation import validate_dict
    from . import ui

    if slug is None and output is not None and re.fullmatch(r"[a-z0-9][a-z0-9-]*", output.stem):
        slug = output.stem  # a user manifest's file is named after its slug
    path = locate(spec, Path.cwd())
    imported = convert(
        read_document(path), operation_ids=operation, slug=slug, category=category, base_url=base_url, source=spec
    )
    problems = validate_dict(imported.manifest)
    if problems:  # a gap in the converter: say so rather than write a manifest that will not load
        for p in problems:
            ui.err(p)
        raise ManifestError(
            f"The imported manifest has {len(problems)} problem(s) (named above).",
            "Leave out the operations they name (--operation), and please report it.",
        )
    m = imported.manifest
    text = dump_yaml(
        m,
        f"{m['name']}: imported from {spec} (OpenAPI, version {m['x-openapi']['version'] or '?'}) by\n"
        "synthral connectors import-openapi. Review auth, test_connection and the descriptions.",
    )
    for note in imported.notes:
        ui.err(f"note: {note}")
    if output is None:
        ui.echo(text.rstrip("\n"))
        return
    if output.stem != m["slug"]:
        ui.err(f"note: a manifest folder needs the file named {m['slug']}.yaml")
    _write_text(output, text)
    ui.err(f"{len(m['actions'])} action(s) written to {output}; check it: synthral connectors validate {output}")


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary file beside ``path`` and a rename: never half a manifest."""
    import os
    import tempfile

    from ..basics.errors import UsageError

    path = path.expanduser()
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"Cannot write {path}: {exc.strerror or exc}.", "Check that the folder exists.") from None


app.command("list")(list_connectors)
app.command("show")(show_connector)


def add_aliases(root: typer.Typer) -> None:
    """``synthral list`` and ``synthral show`` are the same commands."""
    root.command("list", help="Same as: synthral connectors list.")(list_connectors)
    root.command("show", help="Same as: synthral connectors show.")(show_connector)


__all__ = ["app", "add_aliases", "complete_action"]
