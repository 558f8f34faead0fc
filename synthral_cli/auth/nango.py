"""The Nango backend: Nango authorizes, holds and refreshes the tokens; synthral keeps a reference.

    authorize(sy, manifest, connection=...)     -> Connection   connect session, browser, polling
    credential(sy, manifest, conn)              -> Credential   GET /connections/{id} (cached)
    refresh(sy, manifest, conn)                 -> NangoCredential  force_refresh=true
    refresh_after_401(sy, manifest, credential) -> Credential | None  one forced refresh
    forget(sy, slug, name)                      -> bool | None  DELETE the Nango connection
    import_local(sy, manifest, name)            -> Connection   POST /connections, then reference

What Nango holds, for ``connections list`` and ``nango status``, is in ``nango_report.py``.

What is stored locally for a Nango connection is only a reference: a store ``Connection`` with
``method="nango"``, ``secrets == {}``, ``expires_at=None`` and ``metadata`` holding
``nango_connection_id`` and ``provider_config_key`` (plus its scopes and non-secret config).
No token is ever at rest on this machine; each process fetches it from Nango (cached in memory
for at most the token's life and never more than 5 minutes).

The integration is the manifest's ``nango.provider_key``, or ``SYNTHRAL_<SLUG>_NANGO_INTEGRATION``
when the team named its Nango integration differently.
"""

from __future__ import annotations

import dataclasses
import secrets as _secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..basics.errors import AuthError, ProviderError, SynthralError, UsageError
from ..basics.insecure import refuse_cleartext_url
from ..basics.settings import NANGO_SECRET_KEY, NANGO_URL, Settings, nango_integration_var
from .binding import bound_origins, connection_origins
from .nango_client import NangoClient, NangoCredential, import_credentials, parse_credentials

if TYPE_CHECKING:
    from ..catalogue.manifest import Manifest
    from ..store.encrypted import Connection, Store
    from .context import Context as Synthral
    from .credential import Credential
    from .interaction import Interaction

POLL_INTERVAL = 2.0
_CLIENTS: dict[tuple[str, str, str | None], NangoClient] = {}


# ---------------------------------------------------------------------------------------------
# Configuration


def client(settings: Settings) -> NangoClient:
    """One client per (URL, key) and process, so credentials are cached across calls."""
    key = settings.nango_secret_key
    if not key:
        raise UsageError(
            "Nango is not configured.",
            f"Set {NANGO_SECRET_KEY} (and {NANGO_URL} for a self-hosted Nango), or use --method direct.",
        )
    url = settings.nango_url
    carried = "the Nango secret key and every token"
    refuse_cleartext_url(NANGO_URL, url, carried, allowed=settings.allow_insecure, fix=f"Use an https:// {NANGO_URL}")
    ident = (url, key, settings.ca_bundle)
    found = _CLIENTS.get(ident)
    if found is None:
        from ..basics import tls

        found = _CLIENTS[ident] = NangoClient(url, key, verify=tls.verify(settings.ca_bundle))
    return found


def integration_key(settings: Settings, manifest: Manifest) -> str:
    """``SYNTHRAL_<SLUG>_NANGO_INTEGRATION``, else the manifest's ``nango.provider_key``."""
    var = nango_integration_var(manifest.slug)
    key = settings.env.get(var) or manifest.nango.get("provider_key")
    if not key:
        raise UsageError(
            f"{manifest.slug} names no Nango integration.",
            f"Set {var} to the unique key of its integration in Nango.",
        )
    return str(key)


def _reconnect(slug: str, name: str) -> str:
    return (
        f"synthral authorize {slug}"
        + (f" --connection {name}" if name != "default" else "")
        + (" --method nango")
    )


def reference(conn: Connection) -> tuple[str, str]:
    """``(nango_connection_id, provider_config_key)`` of a stored Nango reference."""
    meta = conn.metadata
    conn_id, key = meta.get("nango_connection_id"), meta.get("provider_config_key")
    if not conn_id or not key:
        raise AuthError(
            f"The {conn.slug} connection {conn.name!r} is marked as Nango's but names no Nango connection.",
            f"Connect it again: {_reconnect(conn.slug, conn.name)}",
        )
    return str(conn_id), str(key)


def _config_map(manifest: Manifest) -> dict[str, str]:
    """Nango's connection_config name -> ours (``nango.connection_config`` in the manifest)."""
    return {str(k): str(v) for k, v in (manifest.nango.get("connection_config") or {}).items()}


def _ours(manifest: Manifest, nango_config: dict[str, Any]) -> dict[str, Any]:
    names = _config_map(manifest)
    return {names.get(k, k): v for k, v in nango_config.items() if isinstance(v, (str, int, float, bool))}


def _theirs(manifest: Manifest, config: dict[str, Any]) -> dict[str, Any]:
    back = {v: k for k, v in _config_map(manifest).items()}
    return {back.get(k, k): v for k, v in config.items()}


# ---------------------------------------------------------------------------------------------
# Authorizing


def authorize(
    sy: Synthral,
    manifest: Manifest,
    *,
    connection: str = "default",
    scopes: list[str] | None = None,
    config: dict[str, Any] | None = None,
    interaction: Interaction,
    timeout: float = 300.0,
    open_browser: bool = True,
    poll_interval: float = POLL_INTERVAL,
) -> Connection:
    """Connect through Nango's hosted flow and store the reference (no token).

    ``scopes``: only those asked for on the command line (``oauth_scopes_override``); without
    them the integration's scopes in Nango apply.
    """

    nango = client(sy.settings)
    key = integration_key(sy.settings, manifest)
    nango.require_integration(key)
    tags = {
        "synthral_request": _secrets.token_hex(12),
        "synthral_connector": manifest.slug,
        "synthral_connection": connection,
    }
    config = dict(config or {})
    defaults = _theirs(manifest, config)
    if scopes:
        defaults["oauth_scopes_override"] = ",".join(scopes)  # Nango keeps scopes comma-separated
    session = nango.create_connect_session(key, tags, connection_config=defaults)
    link = str(session["connect_link"])
    show = getattr(interaction, "show_link", interaction.notice)  # the link must not be redacted
    show(f"Open this link to connect {manifest.name} through Nango:\n  {link}")
    if open_browser and not interaction.open_browser(link):
        interaction.notice("(No browser could be opened; open the link yourself.)")
    with interaction.waiting(f"Waiting for {manifest.name} to be connected in Nango..."):
        found = nango.wait_for_connection(tags, timeout=timeout, interval=poll_interval)
    conn_id = str(found["connection_id"])
    def kept(old: str, why: str) -> None:
        interaction.notice(f"The previous Nango connection {old!r} was kept: {why}")

    return store_reference(sy, manifest, nango, conn_id, key, connection, scopes, config, on_kept=kept)


def store_reference(
    sy: Synthral,
    manifest: Manifest,
    nango: NangoClient,
    conn_id: str,
    key: str,
    connection: str,
    scopes: list[str] | None,
    config: dict[str, Any],
    *,
    on_kept: Callable[[str, str], None] | None = None,
) -> Connection:
    """Store the reference to Nango's connection ``conn_id`` under ``slug/connection``, bound to
    the manifest's origins, and delete the Nango connection the name pointed at before (if it
    cannot be deleted, ``on_kept(old id, why)`` is told; the name points at the new one either way)."""
    from ..store.model import Connection

    full = nango.get_connection(conn_id, key, reconnect=_reconnect(manifest.slug, connection))
    raw = (full.get("credentials") or {}).get("raw") or {}
    granted = str(raw.get("scope") or "").replace(",", " ").split()
    previous = _stored_reference(sy.store, manifest.slug, connection)
    settings = {**_ours(manifest, dict(full.get("connection_config") or {})), **config}
    stored = sy.store.put(
        Connection(
            slug=manifest.slug,
            name=connection,
            method="nango",
            scopes=granted or list(scopes or []),
            expires_at=None,
            config=dict(config),
            secrets={},
            metadata={"nango_connection_id": conn_id, "provider_config_key": key},
            origins=connection_origins(manifest, _checked(manifest, settings)),
        )
    )
    if previous is not None and previous != (conn_id, key):
        try:
            nango.delete_connection(*previous)
        except SynthralError as exc:
            if on_kept is not None:
                on_kept(previous[0], exc.message)
    return stored


def _stored_reference(store: Store, slug: str, name: str) -> tuple[str, str] | None:
    """The Nango reference stored under ``slug/name`` (metadata only, nothing decrypted)."""
    for conn in store.list():
        if conn.slug == slug and conn.name == name and conn.method == "nango":
            meta = conn.metadata
            if meta.get("nango_connection_id") and meta.get("provider_config_key"):
                return str(meta["nango_connection_id"]), str(meta["provider_config_key"])
    return None


# ---------------------------------------------------------------------------------------------
# Using Nango's tokens


def _checked(manifest: Manifest, config: dict[str, Any]) -> dict[str, Any]:
    """Settings that came from Nango, checked against the manifest's patterns like any other."""
    from ..catalogue.templates import check_config_value

    for name, value in config.items():
        if name in manifest.connection_config and isinstance(value, str):
            check_config_value(manifest, name, value)
    return config


def _credential(
    manifest: Manifest, conn: Connection, got: NangoCredential, source: str = "nango"
) -> Credential:
    from .credential import Credential

    kind = manifest.auth_type
    have = got.secrets
    token = have.get("access_token") or have.get("api_key")
    if kind == "oauth2" and have.get("access_token"):
        secrets = {"access_token": have["access_token"]}
    elif kind == "bearer" and token:
        secrets = {"token": token}
    elif kind == "api_key" and token:
        secrets = {"api_key": token}
    elif kind == "basic" and have.get("username"):
        secrets = {"username": have["username"], "password": have.get("password", "")}
    else:
        raise ProviderError(
            f"Nango holds {got.raw_type} credentials for {conn.slug}, which uses {kind} credentials.",
            f"Check the Nango integration, or connect again: {_reconnect(conn.slug, conn.name)}",
        )
    return Credential(
        slug=conn.slug,
        connection=conn.name,
        kind=kind,
        secrets=secrets,
        config={**_ours(manifest, got.config), **conn.config},
        scopes=list(conn.scopes) if kind == "oauth2" and conn.scopes else None,
        source=source,
        origins=list(conn.origins),
    )


def credential(sy: Synthral, manifest: Manifest, conn: Connection) -> Credential:
    """The current credential from Nango (``GET /connections/{id}``, cached in memory)."""
    conn_id, key = reference(conn)
    full = client(sy.settings).get_connection(conn_id, key, reconnect=_reconnect(conn.slug, conn.name))
    cred = _credential(manifest, conn, parse_credentials(full))
    cred.origins = bound_origins(sy, manifest, conn)
    try:
        sy.store.touch(conn.slug, conn.name)
    except Exception:  # noqa: BLE001, S110 - last_used_at is a courtesy, never a failure
        pass
    return cred


def refresh(sy: Synthral, manifest: Manifest, conn: Connection) -> NangoCredential:
    """Ask Nango to refresh now (``force_refresh=true``); 424 or a lost grant -> AuthError."""
    conn_id, key = reference(conn)
    full = client(sy.settings).get_connection(
        conn_id, key, force_refresh=True, reconnect=_reconnect(conn.slug, conn.name)
    )
    return parse_credentials(full)


def refresh_after_401(sy: Synthral, manifest: Manifest, credential: Credential) -> Credential | None:
    """The provider refused Nango's token: have Nango refresh once. None if that changed nothing."""
    conn = sy.store.get(credential.slug, credential.connection)
    if conn is None or conn.method != "nango":
        return None
    fresh = _credential(manifest, conn, refresh(sy, manifest, conn))
    if fresh.secrets == credential.secrets:
        return None
    fresh.origins = bound_origins(sy, manifest, conn)
    return fresh


def forget(sy: Synthral, slug: str, name: str) -> bool | None:
    """Delete the Nango connection behind ``slug/name``: None when it is not a Nango reference,
    False when Nango no longer had it. A failure (unreachable, refused) raises: the local
    reference is then kept, so nothing is orphaned in Nango."""
    ref = _stored_reference(sy.store, slug, name)
    if ref is None:
        return None
    return client(sy.settings).delete_connection(*ref)


# ---------------------------------------------------------------------------------------------
# Importing a local connection


def import_local(sy: Synthral, manifest: Manifest, name: str = "default") -> Connection:
    """Push a local connection's credentials to Nango, then keep only a reference locally.

    The local tokens are deleted (replaced by the reference in one write): two holders of one
    rotating refresh token would invalidate each other, and the point of Nango is that no token
    is at rest on this machine. ``expires_at`` is always sent so Nango keeps refreshing.
    """
    from ..store.model import check_name

    check_name(name, "connection name")
    slug = manifest.slug
    conn = sy.store.get(slug, name)
    flag = f" --connection {name}" if name != "default" else ""
    if conn is None:
        raise AuthError(f"No {slug} connection {name!r} to import.", f"Run: synthral authorize {slug}{flag}")
    if conn.method == "nango":
        raise UsageError(f"{slug}/{name} is already a Nango connection.", "Nothing to import.")
    creds = import_credentials(manifest.auth_type, conn.secrets, conn.expires_at)
    nango = client(sy.settings)
    key = integration_key(sy.settings, manifest)
    nango.require_integration(key)
    conn_id = f"synthral-{slug}-{name}-{_secrets.token_hex(4)}"
    nango.import_connection(
        key,
        conn_id,
        creds,
        connection_config=_theirs(manifest, conn.config),
        tags={"synthral_connector": slug, "synthral_connection": name},
    )
    return sy.store.put(
        dataclasses.replace(
            conn,
            method="nango",
            secrets={},
            expires_at=None,
            metadata={"nango_connection_id": conn_id, "provider_config_key": key},
            needs_reauth=False,
        )
    )
