"""What Nango holds, as reports: ``connections list`` rows merged with Nango's connections, and
``nango status`` (configured? reachable? key accepted?).

    merge_rows(settings, store, rows, ...)      -> rows, note
    status(settings)                            -> dict
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..basics.errors import AuthError, SynthralError, UsageError
from ..basics.settings import NANGO_SECRET_KEY, Settings, nango_integration_var
from .nango import client

if TYPE_CHECKING:
    from ..store.encrypted import Store




def merge_rows(
    settings: Settings,
    store: Store,
    rows: list[dict[str, Any]],
    summaries: Callable[[], list[dict[str, Any]]],
) -> tuple[list[dict[str, Any]], str | None]:
    """``connections list`` rows plus Nango's connections (``GET /connections``).

    Local references get ``nango_connection_id`` and Nango's view of their health (``failed``
    and ``needs_reauth`` when Nango reports an auth error, ``missing`` when Nango no longer has
    the connection). Nango connections with no local reference become rows of their own: the
    connector from the tag ``synthral_connector`` or the integration, the name from the tag
    ``synthral_connection`` or the Nango connection id. Returns ``(rows, note)``; the note says
    why Nango could not be listed (the local rows are still shown).
    """
    for row in rows:
        row["nango_connection_id"] = None
    try:
        remote = client(settings).list_connections()
    except SynthralError as exc:
        return rows, f"Nango's connections are not shown: {exc.message}"
    refs = {(c.slug, c.name): c.metadata for c in store.list() if c.method == "nango"}
    by_id = {(str(r.get("connection_id")), str(r.get("provider_config_key"))): r for r in remote}
    for row in rows:
        meta = refs.get((row["connector_slug"], row["connection"]))
        if meta is None:
            continue
        ident = (str(meta.get("nango_connection_id")), str(meta.get("provider_config_key")))
        row["nango_connection_id"] = ident[0]
        found = by_id.pop(ident, None)
        if found is None:
            row["health"] = "missing"
        elif any(isinstance(e, dict) and e.get("type") == "auth" for e in found.get("errors") or []):
            row["health"], row["needs_reauth"] = "failed", True
    if by_id:
        slug_of: dict[str, str] = {}
        for m in summaries():
            key = settings.env.get(nango_integration_var(m["slug"])) or m.get("nango_provider_key")
            if m.get("nango_enabled") and key:
                slug_of.setdefault(str(key), m["slug"])
        for (conn_id, key), r in by_id.items():
            tags = r.get("tags") or {}
            failed = any(isinstance(e, dict) and e.get("type") == "auth" for e in r.get("errors") or [])
            rows.append(
                {
                    "connector_slug": tags.get("synthral_connector") or slug_of.get(key, key),
                    "connection": tags.get("synthral_connection") or conn_id,
                    "method": "nango",
                    "scopes": [],
                    "expires_at": None,
                    "health": "failed" if failed else "untested",
                    "last_tested_at": None,
                    "source": "nango",
                    "needs_reauth": failed,
                    "nango_connection_id": conn_id,
                }
            )
        rows.sort(key=lambda r: (r["connector_slug"], r["connection"]))
    return rows, None


def status(settings: Settings) -> dict[str, Any]:
    """Whether Nango is configured and answers; never includes the key.

    ``error`` is the ``SynthralError`` that the probe raised (not part of the JSON).
    """
    out: dict[str, Any] = {
        "configured": settings.nango_secret_key is not None,
        "enabled": settings.nango_enabled,
        "url": settings.nango_url,
        "secret_key_set": settings.nango_secret_key is not None,
        "reachable": None,
        "authenticated": None,
        "message": None,
    }
    if not out["configured"]:
        out["message"] = f"{NANGO_SECRET_KEY} is not set: authorize uses direct OAuth."
        return out
    from ..basics.errors import NetworkError
    from .nango_client import NotNango

    try:
        nango = client(settings)
    except UsageError as exc:  # e.g. plain http to another host: refused before any request
        out.update(message=exc.message, error=exc)
        return out
    try:
        nango.probe()
    except NotNango as exc:  # something answers there, but it is not Nango: no verdict on the key
        out.update(reachable=True, message=exc.message, error=exc)
    except NetworkError as exc:
        out.update(reachable=False, message=exc.message, error=exc)
    except AuthError as exc:
        out.update(reachable=True, authenticated=False, message=exc.message, error=exc)
    except SynthralError as exc:
        out.update(reachable=True, message=exc.message, error=exc)
    else:
        out.update(reachable=True, authenticated=True)
        if not settings.nango_enabled:
            out["message"] = "NANGO_ENABLED is false: --method auto uses direct OAuth."
    return out
