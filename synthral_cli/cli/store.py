"""``synthral store status|rotate-key``: where the encrypted store and its key are; a new key."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ._common import JSON_OPTION, runtime

app = typer.Typer(help="The encrypted store: status and key rotation.", no_args_is_help=True)


@app.command("status")
def status(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Show where the store and its key are, the key source, schema version and counts (no secrets).

    Exits 5 when the key does not open the store.

    Example: synthral store status --json
    """
    from ..basics.errors import StoreError
    from ..store.encrypted import Store
    from . import ui

    store = Store.open(runtime(ctx).sy.settings, create=False)  # a status check creates nothing
    info: dict[str, Any] = store.status()
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
    if as_json:
        ui.print_json(info)
    else:
        key = {True: "opens the store", False: "does NOT open the store", None: "not created yet"}[
            info["key_ok"]
        ]
        ui.panel(
            "store",
            [
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
