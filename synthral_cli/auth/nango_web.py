"""Nango's hosted connect flow split in two for a web server: start a connect session (the link
the person opens) and, later, store the reference once Nango has the connection.

    begin_connect(sy, manifest, connection=...)          -> (connect_link, ticket)
    complete_connect(sy, manifest, ticket, connection=)  -> Connection | None (None: not yet)

``authorize`` in ``nango.py`` does the same in one call for the command line (it polls).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from .binding import connection_origins
from .nango import _checked, _ours, _reconnect, _stored_reference, _theirs, client, integration_key

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
    from ..basics.errors import SynthralError
    from ..store.model import Connection

    nango = client(sy.settings)
    key = str(ticket["key"])
    found = nango.find_connections(dict(ticket["tags"]))
    if not found:
        return None
    conn_id = str(found[0]["connection_id"])
    full = nango.get_connection(conn_id, key, reconnect=_reconnect(manifest.slug, connection))
    raw = (full.get("credentials") or {}).get("raw") or {}
    granted = str(raw.get("scope") or "").replace(",", " ").split()
    previous = _stored_reference(sy.store, manifest.slug, connection)
    settings = {**_ours(manifest, dict(full.get("connection_config") or {})), **dict(config or {})}
    stored = sy.store.put(
        Connection(
            slug=manifest.slug,
            name=connection,
            method="nango",
            scopes=granted or list(scopes or []),
            expires_at=None,
            config=dict(config or {}),
            secrets={},
            metadata={"nango_connection_id": conn_id, "provider_config_key": key},
            origins=connection_origins(manifest, _checked(manifest, settings)),
        )
    )
    if previous is not None and previous != (conn_id, key):
        try:
            nango.delete_connection(*previous)
        except SynthralError:  # the old one stays in Nango; the name points at the new one
            pass
    return stored
