"""``synthral store status|rotate-key|copy``: where the encrypted store and its key are (which
backend, which key source); a new key; copying every connection to another store."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ._common import JSON_OPTION, runtime

app = typer.Typer(help="The encrypted store: status, key rotation, copying.", no_args_is_help=True)


def refuse_password_on_argv(url: str, option: str) -> str:
    """A store URL from the command line must not carry a password (argv is readable by every
    user of the machine, and lands in shell history): exit 2 naming where it goes instead."""
    from urllib.parse import urlsplit

    from ..basics.errors import UsageError

    try:
        password = urlsplit(url).password if "://" in url else None
    except ValueError:
        password = None
    if password or "password=" in url.lower():
        raise UsageError(
            f"{option} must not carry a password: the command line is visible to every user of this machine.",
            "Put the password in PGPASSWORD or ~/.pgpass (or the whole URL in SYNTHRAL_STORE_URL) "
            "and give the URL without it.",
        )
    return url


@app.command("status")
def status(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show where the store and its key are, the key source, schema version and counts (no secrets).

    Exits 5 when the key does not open the store.

    Example: synthral store status --json
    """
    from ..basics.errors import StoreError
    from ..store.encrypted import Store
    from ..store.report import store_status
    from . import ui

    store = Store.open(runtime(ctx).sy.settings, create=False)  # a status check creates nothing
    try:
        info: dict[str, Any] = store_status(store)
        problem: StoreError | None = None
        if not store.has_key():
            info["key_ok"] = None  # no secret stored yet: the key is created on first use
        else:
            try:
                ks = store.key_source()
                info["key_source"], info["key_location"] = ks.source, ks.location
                info["key_ok"] = True
            except StoreError as exc:
                info["key_ok"] = False
                problem = exc
    finally:
        store.close()
    if as_json:
        ui.print_json(info)
    else:
        key = {True: "opens the store", False: "does NOT open the store", None: "not created yet"}[
            info["key_ok"]
        ]
        ui.panel(
            "store",
            [
                ("backend", info["backend"]),
                ("store", info["store_path"] + ("" if store.created else " (not created yet)")),
                ("key source", info["key_source"] or "none yet (created on first use)"),
                ("key location", info["key_location"] or "-"),
                ("key", key),
                ("schema version", f"{info['schema_version']} ({', '.join(info['migrations'])})"),
                ("connections", info["connection_count"]),
                ("oauth apps", info["app_count"]),
            ],
        )
    if problem is not None:
        raise problem


@app.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    new_key_stdin: bool = typer.Option(
        False,
        "--new-key-stdin",
        help="Read the new key (32 bytes, base64) from stdin; required when the key comes from "
        "SYNTHRAL_STORE_KEY.",
    ),
) -> None:
    """Re-encrypt every secret under a new key, in one transaction, and save the key where the old one was.

    With SYNTHRAL_STORE_KEY, synthral cannot save the key: pipe in a key you generated and set the
    variable to it afterwards. Nothing secret is printed.

    Example: openssl rand -base64 32 | synthral store rotate-key --new-key-stdin
    """
    from ..basics.errors import UsageError
    from ..basics.redact import register
    from ..store.keys import decode_key
    from . import ui

    store = runtime(ctx).sy.store
    new_key = None
    if new_key_stdin:
        text = sys.stdin.readline().strip()
        if not text:
            raise UsageError(
                "no key on stdin.",
                "Pipe a key in, e.g. openssl rand -base64 32 | synthral store rotate-key --new-key-stdin",
            )
        register(text)
        new_key = decode_key(text, "stdin")
    ks = store.rotate_key(new_key)
    count = store.count()
    ui.err(f"Re-encrypted {count} connection(s) under a new key.")
    if ks.source == "environment":
        ui.err("The old key no longer opens the store: set SYNTHRAL_STORE_KEY to the new key you piped in.")
    else:
        ui.err(f"The new key is saved in {ks.describe()}.")


@app.command("copy")
def copy(
    ctx: typer.Context,
    to: str = typer.Option("", "--to", help="The destination: postgresql://USER@HOST:PORT/DB, or sqlite: (this "
                           "machine's file)."),
    from_: str = typer.Option("", "--from", help="The source instead: copy from it into the current store."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace rows the destination holds with different contents (else left alone)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Copy every connection and OAuth app between stores (SQLite and PostgreSQL), re-sealed in memory.

    The current store (SYNTHRAL_STORE_URL / --store-url, else this machine's file) is the source of
    --to and the destination of --from. Idempotent and resumable: run it again after a failure;
    rows already copied are left alone. Nothing is decrypted to disk; no password on the command
    line (use PGPASSWORD or ~/.pgpass).

    Example: PGPASSWORD=... synthral store copy --to postgresql://synthral@db.internal:5432/synthral
    """
    from ..basics.errors import UsageError
    from ..store.copy import copy_store
    from ..store.encrypted import Store
    from . import ui

    if bool(to) == bool(from_):
        raise UsageError("give exactly one of --to URL and --from URL.", "Example: synthral store copy --to sqlite:")
    other_url = refuse_password_on_argv(to or from_, "--to" if to else "--from")
    sy = runtime(ctx).sy
    current = sy.store
    other = Store.open(sy.settings, other_url)
    try:
        source, destination = (current, other) if to else (other, current)
        report = copy_store(source, destination, overwrite=overwrite)
    finally:
        other.close()
    if as_json:
        ui.print_json(report.as_dict(source.location, destination.location))
    ui.err(
        f"Copied {len(report.copied)}, unchanged {len(report.unchanged)}, left alone {len(report.differ)} "
        f"(from {source.location} to {destination.location})."
    )
    if report.differ:
        ui.warn(
            "the destination holds different contents for: " + ", ".join(report.differ)
            + " (maybe newer tokens); rerun with --overwrite to replace them."
        )
