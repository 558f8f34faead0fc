"""``synthral connections list|remove|export|import``: the accounts kept in the encrypted store.

``list`` reads metadata only: it imports neither cryptography nor sqlite-utils and decrypts nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any

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


def _store(ctx: typer.Context) -> Any:
    return runtime(ctx).sy.store


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _health(ok: bool | None) -> str:
    return "untested" if ok is None else ("ok" if ok else "failed")


def _relative(ts: float | None, now: float) -> str:
    if ts is None:
        return "-"
    delta = int(ts - now)
    span = abs(delta)
    text = f"{span // 86400}d" if span >= 86400 else f"{span // 3600}h" if span >= 3600 else f"{span // 60}m"
    return f"in {text}" if delta > 0 else f"expired {text} ago"


def _env_only_rows(env: dict[str, str], stored_slugs: set[str], rt: Any) -> list[dict[str, Any]]:
    """``SYNTHRAL_<SLUG>_TOKEN`` variables for connectors that have no stored connection."""
    from ..settings import token_var

    wanted = {k for k, v in env.items() if v and k.startswith("SYNTHRAL_") and k.endswith("_TOKEN")}
    wanted -= {token_var(s) for s in stored_slugs}
    if not wanted:
        return []
    rows = []
    for slug in rt.catalogue.slugs():
        if token_var(slug) in wanted:
            rows.append(
                {
                    "connector_slug": slug,
                    "connection": "default",
                    "method": None,
                    "scopes": [],
                    "expires_at": None,
                    "health": "untested",
                    "last_tested_at": None,
                    "source": "environment",
                    "needs_reauth": False,
                }
            )
    return rows


@app.command("list")
def list_connections(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List stored connections: method, scopes, expiry, health and where the credential comes from.

    A SYNTHRAL_<SLUG>_TOKEN variable shadows the stored connection (source: environment).

    Example: synthral connections list --json
    """
    from ..settings import token_var

    rt = runtime(ctx)
    env = rt.env
    conns = rt.sy.store.list()
    rows: list[dict[str, Any]] = []
    for c in conns:
        source = "environment" if env.get(token_var(c.slug)) else ("nango" if c.method == "nango" else "store")
        rows.append(
            {
                "connector_slug": c.slug,
                "connection": c.name,
                "method": c.method,
                "scopes": c.scopes,
                "expires_at": _iso(c.expires_at),
                "health": _health(c.last_test_ok),
                "last_tested_at": _iso(c.last_test_at),
                "source": source,
                "needs_reauth": c.needs_reauth,
            }
        )
    rows += _env_only_rows(env, {c.slug for c in conns}, rt)
    rows.sort(key=lambda r: (r["connector_slug"], r["connection"]))
    from .. import ui

    if as_json:
        ui.print_json({"connections": rows, "total_count": len(rows)})
        return
    now = time.time()
    by_key = {(c.slug, c.name): c for c in conns}
    table_rows = []
    for r in rows:
        c = by_key.get((r["connector_slug"], r["connection"]))
        health = r["health"] + (" (re-authorize)" if r["needs_reauth"] else "")
        table_rows.append(
            (
                r["connector_slug"],
                r["connection"],
                r["method"] or "-",
                " ".join(r["scopes"]) or "-",
                _relative(c.expires_at if c else None, now),
                health,
                r["source"],
            )
        )
    ui.table(
        ["slug", "connection", "method", "scopes", "expires", "health", "source"],
        table_rows,
        title=f"{len(rows)} connections",
    )


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
    from .. import ui
    from ..errors import AuthError

    rt = runtime(ctx)
    store = rt.sy.store
    if revoke:
        conn = store.get(slug, connection)
        if conn is None:
            raise AuthError(f"no stored connection {slug}/{connection}.", "See `synthral connections list`.")
        from ..oauth.flows import revoke_token

        revoked = revoke_token(rt.sy, rt.catalogue.get(slug), conn)
        ui.err(f"Revoked the token of {slug}/{connection} at the provider." if revoked else
               f"{slug} has no revocation endpoint; the token was not revoked at the provider.")
    if not store.remove(slug, connection):
        raise AuthError(f"no stored connection {slug}/{connection} to remove.", "See `synthral connections list`.")
    ui.err(f"Removed {slug}/{connection}.")


# -- export / import ---------------------------------------------------------------------------


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def hidden_prompt(prompt: str) -> str:
    import getpass

    return getpass.getpass(prompt, stream=sys.stderr)


def _from_env(var: str, what: str, env: dict[str, str]) -> str:
    from ..errors import UsageError
    from ..redact import register

    value = env.get(var)
    if not value:
        raise UsageError(f"the environment variable {var} ({what}) is not set or empty.", f"Set {var}, then retry.")
    register(value)
    return value


def _read_passphrase(env: dict[str, str], var: str | None, *, confirm: bool, stdin_free: bool) -> str:
    """From ``--passphrase-env VAR``, else a hidden prompt on a terminal, else the first line of stdin."""
    from ..errors import UsageError
    from ..redact import register

    if var:
        return _from_env(var, "the bundle passphrase", env)
    if _stdin_is_terminal():
        phrase = hidden_prompt("Bundle passphrase: ")
        if confirm and hidden_prompt("Repeat the passphrase: ") != phrase:
            raise UsageError("the two passphrases differ.", "Run the command again.")
    elif stdin_free:
        phrase = sys.stdin.readline().rstrip("\r\n")
    else:
        raise UsageError(
            "no way to read the passphrase: stdin carries the bundle and is not a terminal.",
            "Pass --passphrase-env VAR naming a variable that holds it.",
        )
    if not phrase:
        raise UsageError("the passphrase is empty.", "Give a passphrase (at least 8 characters).")
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
    from .. import crypto, ui
    from ..store import export_payload

    rt = runtime(ctx)
    store = rt.sy.store
    payload = export_payload(store, slug, connection)
    phrase = _read_passphrase(rt.env, passphrase_env, confirm=True, stdin_free=True)
    ui.echo(crypto.seal_bundle(payload, phrase))
    ui.err(f"Exported {slug}/{connection}. Keep the bundle and its passphrase apart (e.g. two CI secrets).")


@app.command("import")
def import_(
    ctx: typer.Context,
    from_env: str = typer.Option(
        None, "--from-env", metavar="VAR", help="Read the bundle from this environment variable (default: stdin)."
    ),
    passphrase_env: str = PASSPHRASE_ENV,
    connection: str = typer.Option(None, "--connection", "-c", help="Store it under this connection name."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an existing connection of the same name."),
) -> None:
    """Import a bundle made by `synthral connections export`, from stdin or an environment variable.

    Example: synthral connections import --from-env GITHUB_BUNDLE --passphrase-env BUNDLE_PASSPHRASE
    """
    from .. import crypto, ui
    from ..errors import UsageError
    from ..store import check_name, import_payload

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
    phrase = _read_passphrase(rt.env, passphrase_env, confirm=False, stdin_free=bool(from_env))
    payload = crypto.open_bundle(bundle, phrase)
    stored, app_stored = import_payload(rt.sy.store, payload, name=connection, replace_existing=replace)
    extra = " and its OAuth app" if app_stored else ""
    ui.err(f"Imported {stored.slug}/{stored.name}{extra}.")
