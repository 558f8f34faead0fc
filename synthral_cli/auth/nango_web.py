"""Nango's hosted connect flow split in two for a web server: start a connect session (the link
the person opens) and, later, store the reference once Nango has the connection.

    begin_connect(sy, manifest, connection=...)          -> (connect_link, ticket)
    complete_connect(sy, manifest, ticket, connection=)  -> Connection | None (None: not yet)

``authorize`` in ``nango.py`` does the same in one call for the command line (it polls).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .nango import _theirs, client, integration_key, store_reference

if TYPE_CHECKING:
    from ..catalogue.manifest import Manifest
    from ..store.model import Connection
    from .context import Context as Synthral


def begin_connect(
    sy: Synthral,
    manifest: Manifest,
    *,
    connection: str = "default",
    scopes: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The connect link and the ticket (session tags and integration) to complete it with."""
    nango = client(sy.settings)
    key = integration_key(sy.settings, manifest)
    nango.require_integration(key)
    tags = {
        "synthral_request": secrets.token_hex(12),
        "synthral_connector": manifest.slug,
        "synthral_connection": connection,
    }
    defaults = _theirs(manifest, dict(config or {}))
    if scopes:
        defaults["oauth_scopes_override"] = ",".join(scopes)
    session = nango.create_connect_session(key, tags, connection_config=defaults)
    return str(session["connect_link"]), {"tags": tags, "key": key}


def complete_connect(
    sy: Synthral,
    manifest: Manifest,
    ticket: dict[str, Any],
    *,
    connection: str = "default",
    scopes: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> Connection | None:
    """Store the reference to the connection Nango made for ``ticket``; None while there is none."""
    nango = client(sy.settings)
    key = str(ticket["key"])
    found = nango.find_connections(dict(ticket["tags"]))
    if not found:
        return None
    conn_id = str(found[0]["connection_id"])
    # if the previous Nango connection cannot be deleted it stays there; the name points at the new one
    return store_reference(sy, manifest, nango, conn_id, key, connection, scopes, dict(config or {}))
