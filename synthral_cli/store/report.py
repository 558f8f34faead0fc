"""The ``connections list`` report: data only, shared by the Typer command and the fast path.

It reads metadata through ``StoreBackend.report_rows`` and decrypts nothing, so it needs neither
the key nor ``cryptography``; 10,000 connections must list in well under 150 ms (bench/).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .model import json_column

if TYPE_CHECKING:
    from .encrypted import Store


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def connection_rows(
    store: Store, env: Mapping[str, str], catalogue_slugs: Callable[[], Iterable[str]]
) -> list[dict[str, Any]]:
    """The ``connections list --json`` rows: stored connections plus ``SYNTHRAL_<SLUG>_TOKEN``
    variables (``source``: environment | nango | store). Reads metadata only, decrypts nothing.

    ``expires_at`` and ``last_tested_at`` are unix seconds here; ``iso_times`` turns them into
    ISO 8601 UTC for JSON. ``catalogue_slugs`` is called only when a token variable names no
    stored connector.
    """
    from ..basics.settings import token_var

    env_vars = {k for k, v in env.items() if v and k.startswith("SYNTHRAL_") and k.endswith("_TOKEN")}
    var_of: dict[str, str] = {}
    health = {1: "ok", 0: "failed", None: "unreachable"}  # never tested: "untested"
    rows: list[dict[str, Any]] = []
    scope_lists: dict[Any, list[str]] = {}  # the same few scope lists, parsed once each
    for slug, name, method, scopes, expires_at, ok, tested, reauth in store.backend.report_rows():
        var = var_of.get(slug)
        if var is None:
            var = var_of[slug] = token_var(slug)
        parsed = scope_lists.get(scopes)
        if parsed is None:
            parsed = scope_lists[scopes] = json_column(scopes, [])
        rows.append(
            {
                "connector_slug": slug,
                "connection": name,
                "method": method,
                "scopes": list(parsed),
                "expires_at": expires_at,
                "health": "untested" if tested is None else health[ok],
                "last_tested_at": tested,
                "source": "environment" if var in env_vars else ("nango" if method == "nango" else "store"),
                "needs_reauth": bool(reauth),
            }
        )
    unmatched = env_vars - set(var_of.values())
    if unmatched:
        extra: list[dict[str, Any]] = [
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
            for slug in catalogue_slugs()
            if token_var(slug) in unmatched
        ]
        if extra:
            rows = sorted(rows + extra, key=lambda r: (r["connector_slug"], r["connection"]))
    return rows


def iso_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``connection_rows`` output with its times as ISO 8601 UTC strings (the JSON shape)."""
    for r in rows:
        for k in ("expires_at", "last_tested_at"):
            if r[k] is not None:
                r[k] = _iso(r[k])
    return rows


def store_status(store: Store) -> dict[str, Any]:
    """``store status``: where things are; no secrets and no decryption (the key is not loaded)."""
    from ..basics.settings import STORE_KEY

    hint = store.backend.get_meta("key_source")
    if store.settings.env.get(STORE_KEY):
        source, location = "environment", STORE_KEY
    elif hint == "keyring":
        source, location = "keyring", store.locator.keyring_location()
    elif hint == "file":
        source, location = "file", str(store.locator.key_file)
    else:
        source, location = None, None
    return {
        "backend": store.backend_name,
        "store_path": store.location,
        "key_source": source,
        "key_location": location,
        "key_file": str(store.locator.key_file),
        "schema_version": store.schema_version,
        "migrations": store.migrations(),
        "connection_count": store.backend.count(),
        "app_count": store.backend.app_count(),
    }
