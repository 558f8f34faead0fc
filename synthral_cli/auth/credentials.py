"""Credentials: resolving what a connector call authenticates with, and refreshing it.

    resolve(sy, manifest, connection)        -> Credential   env override, Nango or the store;
                                                              refreshes when little time remains
                                                              (``margin``: 60 s, less for short tokens);
                                                              SYNTHRAL_<SLUG>_<SETTING> win
    refresh_after_401(sy, manifest, cred)    -> Credential | None   one forced refresh
    refresh_connection(sy, manifest, name)   -> Connection   refresh under the store lock
    refresh_now(sy, manifest, name)          -> (method, expires_at)   ``synthral refresh``
    check_shadowing(sy, manifest, conn)      -> None         refuses a connection a user manifest
                                                              would send elsewhere (issue 14)

Putting new credentials in the store is ``authorize.py``; the OAuth app is ``apps.py``.

Refreshing is done once across processes and machines, the same way on every backend: under
``store.locked(slug, name)`` (SQLite: the file's write lock; PostgreSQL: that connection's
advisory lock) the connection is read again and refreshed only if it is still expiring (or still
holds the token that was refused), and the new tokens are written with compare-and-swap on the
version that was read, so N processes finding the same expired token make one refresh grant
between them and a refresh that lost its lock never overwrites a newer token. ``invalid_grant``
marks the connection for re-authorization only if its version is still the one that was refused;
if another process stored a newer token meanwhile, that token is used instead. When the store is
lost after the provider answered (a PostgreSQL restart), the new tokens are written once it is
back, with the same compare-and-swap, for up to ``SAVE_RETRY`` seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import TYPE_CHECKING, Any

from ..basics.errors import AuthError, UsageError
from ..basics.settings import client_id_var, client_secret_var, token_var
from ..catalogue.manifest import Manifest
from .apps import app_credentials
from .binding import (
    Binding,
    bound_origins,
    connection_origins,
)
from .credential import Credential, authorize_cmd
from .envcreds import env_settings, from_environment
from .expiry import LIFETIME_KEY
from .expiry import expiring as _expiring
from .tokens import TokenSet

TOUCH_EVERY = 60.0  # seconds: last_used_at to the minute (a write and sync per call would cost loops)

if TYPE_CHECKING:
    from ..store.model import Connection
    from .context import Context as Synthral

SAVE_RETRY = 10.0  # seconds to keep trying to store tokens the provider issued when the store was lost
OAUTH_METHODS = ("direct", "device", "client_credentials")


# ---------------------------------------------------------------------------------------------
# Which manifest a stored connection may be used with


def check_shadowing(sy: Synthral, manifest: Manifest, conn: Connection) -> None:
    """Refuse (exit 3), before anything is sent, a stored connection when ``manifest`` is a user
    manifest that replaces the bundled one and would send it to an origin it is not bound to (its
    recorded ``origins``, or for an older row the bundled manifest's). The same origins are
    enforced on every request (``binding.py``); this says it first, in the manifest's terms."""
    info = manifest.shadowing
    if info is None or not info.changed:
        return
    reference = bound_origins(sy, manifest, conn)
    new = [o for o in connection_origins(manifest, {**conn.config, **conn.secrets}) if o not in reference]
    if not new:
        return
    slug, name = manifest.slug, conn.name
    app = (
        f" (with its own app in {client_id_var(slug)}/{client_secret_var(slug)})"
        if info.auth_changed and manifest.auth_type == "oauth2"
        else ""
    )
    raise AuthError(
        f"Refusing to send the {slug} credentials to {', '.join(new)}: the user manifest {info.source} "
        f"replaces the bundled {slug} connector, and the {name!r} connection is bound to "
        f"{', '.join(reference) or 'no origin'}.",
        f"If you trust that manifest, authorize under it{app}: {authorize_cmd(slug, name)}; "
        f"otherwise remove {info.source}.",
    )


# ---------------------------------------------------------------------------------------------
# Resolving


def _to_credential(
    manifest: Manifest, conn: Connection, source: str = "store", *, sy: Synthral | None = None
) -> Credential:
    """``sy`` fills in the origins of a connection stored before binding (see ``bound_origins``)."""
    kind = manifest.auth_type
    return Credential(
        slug=conn.slug,
        connection=conn.name,
        kind=kind,
        secrets=dict(conn.secrets),
        config=dict(conn.config),
        scopes=list(conn.scopes) if kind == "oauth2" else None,
        source=source,
        origins=bound_origins(sy, manifest, conn) if sy is not None else list(conn.origins),
    )


def _nango() -> Any:
    """The Nango backend (issue: Nango integration); absent until that module exists."""
    try:
        from . import nango
    except ImportError:
        return None
    return nango


def resolve(sy: Synthral, manifest: Manifest, connection: str = "default") -> Credential:
    """The credential for ``(manifest.slug, connection)``; refreshes it when little time remains.
    Settings from the environment (``SYNTHRAL_<SLUG>_<SETTING>``) win over stored ones."""
    cred = _resolve(sy, manifest, connection)
    if cred.source != "environment":  # an env token's credential has them already
        found = env_settings(sy, manifest)
        if found:
            cred = dataclasses.replace(cred, config={**cred.config, **found})
    return cred


def _resolve(sy: Synthral, manifest: Manifest, connection: str) -> Credential:
    slug = manifest.slug
    override = sy.settings.token_override(slug)
    if override is not None:
        return from_environment(sy, manifest, connection, override)
    conn = sy.store.get(slug, connection)
    if conn is None:
        if manifest.auth_type == "none":
            return Credential(slug, connection, "none", {}, {}, None, "store")
        raise AuthError(
            f"No {slug} connection {connection!r} yet.",
            f"Run: {authorize_cmd(slug, connection)} (or set {token_var(slug)}).",
        )
    check_shadowing(sy, manifest, conn)
    if conn.needs_reauth:
        raise AuthError(
            f"The {slug} connection {connection!r} needs to be authorized again (its refresh was refused).",
            f"Run `{authorize_cmd(slug, connection)}`.",
        )
    if conn.method == "nango":
        nango = _nango()
        if nango is None:
            raise AuthError(
                f"The {slug} connection {connection!r} is managed by Nango, "
                "which this synthral cannot reach.",
                f"Run `{authorize_cmd(slug, connection)} --method direct` to connect without Nango.",
            )
        return nango.credential(sy, manifest, conn)  # type: ignore[no-any-return]
    if manifest.auth_type == "oauth2" and _expiring(conn):
        conn = refresh_connection(sy, manifest, connection)
    if conn.last_used_at is None or abs(time.time() - conn.last_used_at) >= TOUCH_EVERY:
        with contextlib.suppress(Exception):  # last_used_at is a courtesy, never a failure
            sy.store.touch(slug, connection)
    return _to_credential(manifest, conn, sy=sy)


def refresh_after_401(sy: Synthral, manifest: Manifest, credential: Credential) -> Credential | None:
    """The provider refused ``credential``: refresh once. ``None`` when that is impossible."""
    if credential.source == "nango":
        nango = _nango()
        return None if nango is None else nango.refresh_after_401(sy, manifest, credential)
    if credential.source != "store" or credential.kind != "oauth2":
        return None
    stale = credential.secrets.get("access_token")
    conn = sy.store.get(credential.slug, credential.connection)
    if conn is None or not renewable(manifest, conn):
        return None
    fresh = refresh_connection(sy, manifest, credential.connection, force=True, stale_access_token=stale)
    if fresh.secrets.get("access_token") == stale:
        return None
    return _to_credential(manifest, fresh, sy=sy)


# ---------------------------------------------------------------------------------------------
# Refreshing


def renewable(manifest: Manifest, conn: Connection) -> bool:
    return bool(conn.secrets.get("refresh_token")) or conn.method == "client_credentials"


def _renew(sy: Synthral, manifest: Manifest, conn: Connection) -> TokenSet:
    """A new token from the token endpoint, which must be one the connection is bound to (the
    request carries the refresh token and the app's client secret)."""
    from . import grants  # Authlib, httpx and TLS: only when a token is renewed
    ca = sy.settings.ca_bundle
    origins = bound_origins(sy, manifest, conn)
    if conn.method == "client_credentials" and not conn.secrets.get("refresh_token"):
        app = app_credentials(sy, manifest, grant="client_credentials")
        binding = Binding.of(conn.slug, conn.name, origins, what="OAuth client secret")
        return grants.client_credentials(
            manifest, app, scopes=list(conn.scopes), config=conn.config, ca_bundle=ca, binding=binding
        )
    refresh_token = conn.secrets.get("refresh_token")
    if not refresh_token:
        raise AuthError(
            f"The {conn.slug} token of {conn.name!r} has expired and the provider gave no refresh token.",
            f"Run `{authorize_cmd(conn.slug, conn.name)}`.",
        )
    app = app_credentials(sy, manifest)
    binding = Binding.of(conn.slug, conn.name, origins, what="refresh token")
    return grants.refresh(
        manifest, app, refresh_token, scopes=list(conn.scopes), config=conn.config, ca_bundle=ca, binding=binding
    )


def _with_tokens(conn: Connection, tokens: TokenSet) -> Connection:
    secrets = dict(conn.secrets)
    secrets["access_token"] = tokens.access_token
    if tokens.refresh_token:
        secrets["refresh_token"] = tokens.refresh_token
    metadata = dict(conn.metadata)
    if tokens.token_type:
        metadata["token_type"] = tokens.token_type
    if tokens.lifetime is not None:
        metadata[LIFETIME_KEY] = round(tokens.lifetime, 3)
    else:
        metadata.pop(LIFETIME_KEY, None)
    return dataclasses.replace(
        conn,
        secrets=secrets,
        expires_at=tokens.expires_at,
        scopes=tokens.scopes or list(conn.scopes),
        config={**conn.config, **tokens.config},
        metadata=metadata,
        needs_reauth=False,
    )


def refresh_connection(
    sy: Synthral,
    manifest: Manifest,
    connection: str = "default",
    *,
    force: bool = False,
    stale_access_token: str | None = None,
) -> Connection:
    """Refresh under the connection's lock, once across processes and machines.

    Under the lock the connection is read again; it is refreshed only if it is still expiring
    (or, with ``force``, still holds ``stale_access_token`` when one is given). A rotated refresh
    token replaces the old one in the same transaction, written only if the version read under
    the lock is still the stored one. ``invalid_grant`` marks the connection as needing
    re-authorization, unless a newer version was stored meanwhile (then that one is returned),
    and raises AuthError.
    """
    from ..basics.errors import NetworkError
    from ..store.encrypted import StaleWrite

    slug = manifest.slug
    store = sy.store
    refused: tuple[AuthError, int] | None = None
    issued: tuple[Connection, int] | None = None  # tokens the provider gave, not yet stored
    try:
        with store.locked(slug, connection):
            conn = store.get(slug, connection)
            if conn is None:
                raise AuthError(
                    f"No {slug} connection {connection!r} yet.", f"Run: {authorize_cmd(slug, connection)}"
                )
            check_shadowing(sy, manifest, conn)
            if stale_access_token is not None and conn.secrets.get("access_token") != stale_access_token:
                return conn  # another process refreshed it already
            if not force and not _expiring(conn):
                return conn
            from .grants import InvalidGrant
            try:
                tokens = _renew(sy, manifest, conn)
            except InvalidGrant as exc:
                refused = (exc, conn.version)
            else:
                if not conn.origins:  # stored before binding: record what it was checked against
                    conn = dataclasses.replace(conn, origins=bound_origins(sy, manifest, conn))
                issued = (_with_tokens(conn, tokens), conn.version)
                return store.put(issued[0], if_version=issued[1])
    except StaleWrite:
        return _newer(sy, slug, connection)
    except NetworkError:
        if issued is None:
            raise
        return _save_issued(sy, issued[0], issued[1])
    assert refused is not None  # noqa: S101 - every other path returned or raised
    error, version = refused
    if not store.mark_needs_reauth(slug, connection, if_version=version):
        newer = store.get(slug, connection)  # another process refreshed meanwhile: its token is good
        if newer is not None and not newer.needs_reauth:
            return newer
    raise AuthError(error.message, f"Run `{authorize_cmd(slug, connection)}` to connect again.")


def _save_issued(sy: Synthral, conn: Connection, version: int) -> Connection:
    """The store went away after the provider issued new tokens (a rotated refresh token would
    be lost with them): write them once it is back, only over the version they replace."""
    from ..basics.errors import NetworkError
    from ..store.encrypted import StaleWrite

    deadline = time.monotonic() + SAVE_RETRY
    while True:
        time.sleep(0.5)
        try:
            return sy.store.put(conn, if_version=version)
        except StaleWrite:
            return _newer(sy, conn.slug, conn.name)
        except NetworkError:
            if time.monotonic() > deadline:
                raise


def _newer(sy: Synthral, slug: str, name: str) -> Connection:
    """The connection another process stored while ours was being refreshed."""
    conn = sy.store.get(slug, name)
    if conn is None:
        raise AuthError(f"The {slug} connection {name!r} was removed meanwhile.", f"Run: {authorize_cmd(slug, name)}")
    return conn


def refresh_now(sy: Synthral, manifest: Manifest, connection: str = "default") -> tuple[str, float | None]:
    """Refresh a stored connection's token now (``synthral refresh``, ``POST .../refresh``):
    ``(method, expires_at)``. Nango refreshes its own; nothing is stored here for those."""
    slug = manifest.slug
    if manifest.auth_type != "oauth2":
        raise UsageError(f"{slug} uses {manifest.auth_type} credentials, which do not expire.", None)
    conn = sy.store.get(slug, connection)
    if conn is None:
        raise AuthError(f"No {slug} connection {connection!r} yet.", f"Run: {authorize_cmd(slug, connection)}")
    if conn.method == "nango":
        nango = _nango()
        if nango is None:
            raise AuthError(f"The {slug} connection {connection!r} is managed by Nango, which is unavailable.", None)
        return conn.method, nango.refresh(sy, manifest, conn).expires_at
    if not renewable(manifest, conn):
        raise AuthError(
            f"{slug}/{connection} has no refresh token, so it cannot be refreshed.",
            f"Run `synthral authorize {slug}` when it expires.",
        )
    conn = refresh_connection(sy, manifest, connection, force=True)
    return conn.method, conn.expires_at
