"""``synthral connections list|remove|export|import``: the accounts kept in the encrypted store.

``list`` reads metadata only: it imports neither cryptography nor sqlite-utils and decrypts nothing.
"""

from __future__ import annotations

import sys

import typer

from ._common import CONNECTION_OPTION, JSON_OPTION, complete_slug, runtime

app = typer.Typer(help="Stored connections: list, remove, export to CI, import.", no_args_is_help=True)

SLUG = typer.Argument(..., help="Connector slug, e.g. slack.", autocompletion=complete_slug)
PASSPHRASE_ENV = typer.Option(
    None,
    "--passphrase-env",
    metavar="VAR",
    help="Read the bundle passphrase from this environment variable (default: hidden prompt, or stdin).",
)


@app.command("list")
def list_connections(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List stored connections: method, scopes, expiry, health and where the credential comes from.

    A SYNTHRAL_<SLUG>_TOKEN variable shadows the stored connection (source: environment).

    Example: synthral connections list --json
    """
    from .views import list_connections as render

    render(runtime(ctx), as_json)


@app.command("remove")
def remove(
    ctx: typer.Context,
    slug: str = SLUG,
    connection: str = CONNECTION_OPTION,
    revoke: bool = typer.Option(
        False, "--revoke", help="Also revoke the token at the provider (where it has a revocation endpoint)."
    ),
) -> None:
    """Remove a stored connection (its tokens are deleted from the store).

    Example: synthral connections remove slack --connection work
    """
    from ..basics.errors import AuthError
    from . import ui

    rt = runtime(ctx)
    store = rt.sy.store
    from ..auth.nango import forget

    deleted = forget(rt.sy, slug, connection)  # a Nango reference: delete it in Nango first
    if deleted is not None:
        ui.err(
            f"Deleted the Nango connection of {slug}/{connection}."
            if deleted
            else f"Nango no longer had the connection of {slug}/{connection}."
        )
    if revoke and deleted is None:
        conn = store.get(slug, connection)
        if conn is None:
            raise AuthError(f"no stored connection {slug}/{connection}.", "See `synthral connections list`.")
        from ..auth.authorize import revoke_connection

        revoked = revoke_connection(rt.sy, rt.catalogue.get(slug), conn)
        ui.err(
            f"Revoked the token of {slug}/{connection} at the provider."
            if revoked
            else f"{slug} has no revocation endpoint; the token was not revoked at the provider."
        )
    if not store.remove(slug, connection):
        raise AuthError(
            f"no stored connection {slug}/{connection} to remove.", "See `synthral connections list`."
        )
    ui.err(f"Removed {slug}/{connection}.")


# -- export / import ---------------------------------------------------------------------------


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _from_env(var: str, what: str, env: dict[str, str]) -> str:
    from ..basics.errors import UsageError
    from ..basics.redact import register

    value = env.get(var)
    if not value:
        raise UsageError(
            f"the environment variable {var} ({what}) is not set or empty.", f"Set {var}, then retry."
        )
    register(value)
    return value


def _read_passphrase(env: dict[str, str], var: str | None, *, confirm: bool, stdin_free: bool) -> str:
    """From ``--passphrase-env VAR``, else a hidden prompt on a terminal, else the first line of stdin."""
    from ..basics.errors import UsageError
    from ..basics.redact import register
    from . import ui

    if var:
        return _from_env(var, "the bundle passphrase", env)
    if _stdin_is_terminal():
        phrase = ui.hidden("Bundle passphrase: ")
        if confirm and ui.hidden("Repeat the passphrase: ") != phrase:
            raise UsageError("the two passphrases differ.", "Run the command again.")
    elif stdin_free:
        phrase = sys.stdin.readline().rstrip("\r\n")
    else:
        raise UsageError(
            "no way to read the passphrase: stdin carries the bundle and is not a terminal.",
            "Pass --passphrase-env VAR naming a variable that holds it.",
        )
    if not phrase:
        raise UsageError("the passphrase is empty.", "Give a passphrase (at least 12 characters).")
    register(phrase)
    return phrase


@app.command("export")
def export(
    ctx: typer.Context,
    slug: str = SLUG,
    connection: str = CONNECTION_OPTION,
    passphrase_env: str = PASSPHRASE_ENV,
) -> None:
    """Write one connection (and the connector's OAuth app) as a passphrase-encrypted bundle to stdout.

    The passphrase comes from --passphrase-env VAR, a hidden prompt, or the first line of stdin;
    never from the command line. Import the bundle with `synthral connections import`.

    Example: synthral connections export github --passphrase-env BUNDLE_PASSPHRASE > github.bundle
    """
    from ..store.bundle import export_payload, seal_bundle
    from . import ui

    rt = runtime(ctx)
    store = rt.sy.store
    payload = export_payload(store, slug, connection)
    phrase = _read_passphrase(rt.env, passphrase_env, confirm=True, stdin_free=True)
    ui.echo(seal_bundle(payload, phrase))
    ui.err(f"Exported {slug}/{connection}. Keep the bundle and its passphrase apart (e.g. two CI secrets).")


@app.command("import")
def import_(
    ctx: typer.Context,
    from_env: str = typer.Option(
        None,
        "--from-env",
        metavar="VAR",
        help="Read the bundle from this environment variable (default: stdin).",
    ),
    passphrase_env: str = PASSPHRASE_ENV,
    connection: str = typer.Option(None, "--connection", "-c", help="Store it under this connection name."),
    replace: bool = typer.Option(
        False, "--replace", help="Overwrite an existing connection of the same name."
    ),
) -> None:
    """Import a bundle made by `synthral connections export`, from stdin or an environment variable.

    The connection's settings are checked against the connector's manifest and its credential is
    bound to the origins they give, as when it is authorized here.

    Example: synthral connections import --from-env GITHUB_BUNDLE --passphrase-env BUNDLE_PASSPHRASE
    """
    from ..basics.errors import UsageError
    from ..store.bundle import import_payload, open_bundle
    from ..store.model import check_name
    from . import ui

    rt = runtime(ctx)
    if connection is not None:
        check_name(connection, "connection name")
    if from_env:
        bundle = _from_env(from_env, "the bundle", rt.env)
    else:
        if _stdin_is_terminal():
            ui.err("Paste the bundle, then press Enter:")
            bundle = sys.stdin.readline()
        else:
            bundle = sys.stdin.read()
        if not bundle.strip():
            raise UsageError("no bundle on stdin.", "Pipe the bundle in, or pass --from-env VAR.")
    from ..auth.authorize import bind_imported

    phrase = _read_passphrase(rt.env, passphrase_env, confirm=False, stdin_free=bool(from_env))
    payload = open_bundle(bundle, phrase)
    stored, app_stored = import_payload(
        rt.sy.store,
        payload,
        name=connection,
        replace_existing=replace,
        check=lambda conn: bind_imported(rt.catalogue.get(conn.slug), conn),  # settings, origins
    )
    extra = " and its OAuth app" if app_stored else ""
    ui.err(f"Imported {stored.slug}/{stored.name}{extra}.")
