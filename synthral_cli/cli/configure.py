"""``synthral configure SLUG --client-id ID [--client-secret-stdin]``: a connector's OAuth app."""

from __future__ import annotations

import sys

import typer

from ._common import complete_slug, runtime


def configure(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="Connector slug, e.g. github.", autocompletion=complete_slug),
    client_id: str = typer.Option(..., "--client-id", help="The OAuth client id of your app."),
    client_secret_stdin: bool = typer.Option(
        False,
        "--client-secret-stdin",
        help="Read the client secret from stdin (default: hidden prompt on a terminal).",
    ),
) -> None:
    """Store the OAuth app credentials of a connector (the client secret is encrypted).

    The secret is read from stdin with --client-secret-stdin, or from a hidden prompt on a
    terminal (leave it empty for a public client). SYNTHRAL_<SLUG>_CLIENT_ID/_CLIENT_SECRET win over it.

    Example: printf %s "$SECRET" | synthral configure github --client-id Iv1.abc --client-secret-stdin
    """
    from ..basics.errors import UsageError
    from ..basics.redact import register
    from . import ui

    rt = runtime(ctx)
    rt.catalogue.get(slug)  # an unknown slug is a usage error with suggestions
    if not client_id.strip():
        raise UsageError("the client id is empty.", "Pass --client-id with your OAuth app's client id.")
    secret: str | None = None
    if client_secret_stdin:
        secret = sys.stdin.read().strip("\r\n")
        if not secret:
            raise UsageError(
                "no client secret on stdin.", "Pipe the secret in, or drop --client-secret-stdin."
            )
    elif sys.stdin.isatty():
        secret = ui.hidden("Client secret (empty for a public client): ") or None
    if secret:
        register(secret)
    rt.sy.store.put_app(slug, client_id.strip(), secret)
    kind = "with its client secret (encrypted)" if secret else "without a client secret (public client)"
    ui.err(f"Saved the OAuth app of {slug} {kind}.")


def register_command(root: typer.Typer) -> None:
    root.command("configure")(configure)
