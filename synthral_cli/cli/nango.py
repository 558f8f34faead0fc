"""``synthral nango import|status``: the Nango backend (tokens held by Nango, not this machine)."""

from __future__ import annotations

import typer

from ._common import CONNECTION_OPTION, JSON_OPTION, complete_slug, runtime

app = typer.Typer(help="The Nango backend: check it, move local connections into it.", no_args_is_help=True)

SLUG = typer.Argument(..., help="Connector slug, e.g. slack.", autocompletion=complete_slug)


@app.command("import")
def import_(
    ctx: typer.Context, slug: str = SLUG, connection: str = CONNECTION_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Push a local connection's tokens to Nango and keep only a reference here.

    The tokens are sent with POST /connections (always with expires_at, so Nango keeps
    refreshing them) and then deleted from the local store: from now on invoke, token and
    refresh get them from Nango.

    Example: synthral nango import github --connection work
    """
    from ..auth import nango
    from . import ui

    rt = runtime(ctx)
    manifest = rt.catalogue.get(slug)
    conn = nango.import_local(rt.sy, manifest, connection)
    conn_id, key = nango.reference(conn)
    ui.err(
        f"✓ Imported {slug}/{connection} into Nango as {conn_id!r} (integration {key!r}); "
        "its tokens are no longer stored on this machine."
    )
    if as_json:
        ui.print_json(
            {
                "success": True,
                "connector_slug": slug,
                "connection": connection,
                "oauth_method": "nango",
                "nango_connection_id": conn_id,
                "provider_config_key": key,
            }
        )


@app.command("status")
def status(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show whether Nango is configured (NANGO_URL, NANGO_SECRET_KEY) and answers; the key is
    never printed. Exits 4 when Nango is unreachable and 3 when it refuses the key.

    Example: synthral nango status --json
    """
    from ..auth import nango_report
    from ..basics.settings import Settings
    from . import ui

    report = nango_report.status(Settings(runtime(ctx).env))
    error = report.pop("error", None)
    if as_json:
        ui.print_json(report)
    else:

        def yes_no(value: object) -> str:
            return "-" if value is None else ("yes" if value else "no")

        ui.panel(
            "Nango",
            [
                ("url", report["url"]),
                ("secret key", "set" if report["secret_key_set"] else "not set"),
                ("enabled", yes_no(report["enabled"])),
                ("reachable", yes_no(report["reachable"])),
                ("key accepted", yes_no(report["authenticated"])),
            ],
        )
        if report["message"] and error is None:
            ui.err(report["message"])
    if error is not None:
        ui.error(error.message, error.hint)
        raise typer.Exit(error.exit_code)
