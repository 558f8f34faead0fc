"""Credentials: what a connector call authenticates with, and how it gets into the store.

    resolve(sy, manifest, connection)        -> Credential   env override, Nango or the store;
                                                              refreshes when < 60 s remain
    refresh_after_401(sy, manifest, cred)    -> Credential | None   one forced refresh
    refresh_connection(sy, manifest, name)   -> Connection   refresh under the store lock
    authorize_oauth(...) / store_static(...) -> Connection   put a new credential in the store
    revoke_connection(sy, manifest, conn)    -> bool         RFC 7009 where the manifest allows

Refreshing is done once across processes: under ``store.locked()`` the connection is read again
and refreshed only if it is still expiring (or still holds the token that was refused), so N
processes finding the same expired token make one refresh grant between them.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import redact
from .errors import AuthError, UsageError
from .manifest import Manifest
from .oauth import flows
from .settings import client_id_var, client_secret_var, token_var

if TYPE_CHECKING:
    from .core import Synthral
    from .store import Connection

EXPIRY_MARGIN = 60.0  # refresh when fewer seconds than this remain
OAUTH_METHODS = ("direct", "device", "client_credentials")
_ENV_SECRET_KEY = {"oauth2": "access_token", "bearer": "token", "api_key": "api_key"}
_DEFAULT_FIELDS: dict[str, list[dict[str, Any]]] = {
    "api_key": [{"name": "api_key", "label": "API key"}],
    "bearer": [{"name": "token", "label": "Token"}],
    "basic": [
        {"name": "username", "label": "Username", "secret": False},
        {"name": "password", "label": "Password"},
    ],
}


@dataclass
class Credential:
    """What the invoker applies to a request."""

    slug: str
    connection: str
    kind: str  # oauth2 | api_key | bearer | basic | custom | none
    secrets: dict[str, str]  # access_token | api_key | token | username/password | custom fields
    config: dict[str, Any]  # connection config (base_url variables)
    scopes: list[str] | None  # None = unknown (env override): skip the scope check
    source: str  # store | environment | nango

    def __repr__(self) -> str:
        return (
            f"Credential(slug={self.slug!r}, connection={self.connection!r}, kind={self.kind!r}, "
            f"secrets=<{len(self.secrets)} hidden>, source={self.source!r})"
        )


def _authorize_cmd(slug: str, name: str) -> str:
    return f"synthral authorize {slug}" + (f" --connection {name}" if name != "default" else "")


def _expiring(conn: Connection, margin: float = EXPIRY_MARGIN) -> bool:
    return conn.expires_at is not None and conn.expires_at - time.time() < margin


# ---------------------------------------------------------------------------------------------
# OAuth app credentials


def app_credentials(
    sy: Synthral, manifest: Manifest, *, grant: str = "authorization_code"
) -> flows.ClientApp:
    """The OAuth app: ``SYNTHRAL_<SLUG>_CLIENT_ID/_SECRET`` win over ``synthral configure``."""
    slug = manifest.slug
    client_id = sy.settings.client_id(slug)
    secret = sy.settings.client_secret(slug)
    source = "environment"
    if client_id is None:
        stored = sy.store.get_app(slug)
        if stored is not None:
            client_id, secret, source = stored.client_id, stored.client_secret, "store"
    elif secret is None and sy.paths.store.exists():
        stored = sy.store.get_app(slug)
        if stored is not None and stored.client_id == client_id:
            secret = stored.client_secret
    need_secret = flows.needs_client_secret(manifest, grant)
    if client_id is None or (need_secret and not secret):
        missing = [client_id_var(slug)] if client_id is None else []
        if need_secret and not secret:
            missing.append(client_secret_var(slug))
        where = manifest.auth.get("console_url") or manifest.docs_url
        auth = manifest.auth
        redirect = (
            f"http://{auth.get('redirect_host', '127.0.0.1')}:{auth['redirect_port']}"
            f"{auth.get('redirect_path', '/callback')}"
            if auth.get("redirect_port")
            else f"http://{auth.get('redirect_host', '127.0.0.1')}{auth.get('redirect_path', '/callback')}"
            " (any port)"
        )
        secret_flag = " --client-secret-stdin" if need_secret else ""
        raise UsageError(
            f"{manifest.name} needs an OAuth app: set {' and '.join(missing)}.",
            f"Or store it: synthral configure {slug} --client-id ID{secret_flag}. "
            f"Create the app at {where}"
            + (f" with the redirect URI {redirect}." if grant == "authorization_code" else "."),
        )
    redact.register(secret)
    return flows.ClientApp(client_id, secret, source)


# ---------------------------------------------------------------------------------------------
# Resolving


def _stored_config(sy: Synthral, slug: str, name: str) -> dict[str, Any]:
    """Best effort, for an env override: the config of a stored connection, if there is one."""
    from .errors import StoreError

    if not sy.paths.store.exists():
        return {}
    try:
        conn = sy.store.get(slug, name)
    except StoreError:
        return {}
    return dict(conn.config) if conn is not None else {}


def shadows_stored(sy: Synthral, slug: str, name: str = "default") -> bool:
    """True when ``SYNTHRAL_<SLUG>_TOKEN`` is set and a stored connection exists (say so)."""
    from .errors import StoreError

    if sy.settings.token_override(slug) is None or not sy.paths.store.exists():
        return False
    try:
        return sy.store.get(slug, name) is not None
    except StoreError:
        return False


def _from_environment(sy: Synthral, manifest: Manifest, name: str, value: str) -> Credential:
    redact.register(value)
    key = _ENV_SECRET_KEY.get(manifest.auth_type)
    if key is None:
        raise UsageError(
            f"{token_var(manifest.slug)} only works for OAuth, bearer and API-key connectors; "
            f"{manifest.slug} uses {manifest.auth_type} credentials.",
            f"Unset it and run: {_authorize_cmd(manifest.slug, name)} --with-token",
        )
    return Credential(
        slug=manifest.slug,
        connection=name,
        kind=manifest.auth_type,
        secrets={key: value},
        config=_stored_config(sy, manifest.slug, name),
        scopes=None,
        source="environment",
    )


def _to_credential(manifest: Manifest, conn: Connection, source: str = "store") -> Credential:
    kind = manifest.auth_type
    return Credential(
        slug=conn.slug,
        connection=conn.name,
        kind=kind,
        secrets=dict(conn.secrets),
        config=dict(conn.config),
        scopes=list(conn.scopes) if kind == "oauth2" else None,
        source=source,
    )


def _nango() -> Any:
    """The Nango backend (issue: Nango integration); absent until that module exists."""
    try:
        from .oauth import nango
    except ImportError:
        return None
    return nango


def resolve(sy: Synthral, manifest: Manifest, connection: str = "default") -> Credential:
    """The credential for ``(manifest.slug, connection)``; refreshes it when < 60 s remain."""
    slug = manifest.slug
    override = sy.settings.token_override(slug)
    if override is not None:
        return _from_environment(sy, manifest, connection, override)
    conn = sy.store.get(slug, connection)
    if conn is None:
        if manifest.auth_type == "none":
            return Credential(slug, connection, "none", {}, {}, None, "store")
        raise AuthError(
            f"No {slug} connection {connection!r} yet.",
            f"Run: {_authorize_cmd(slug, connection)} (or set {token_var(slug)}).",
        )
    if conn.needs_reauth:
        raise AuthError(
            f"The {slug} connection {connection!r} needs to be authorized again (its refresh was refused).",
            f"Run `{_authorize_cmd(slug, connection)}`.",
        )
    if conn.method == "nango":
        nango = _nango()
        if nango is None:
            raise AuthError(
                f"The {slug} connection {connection!r} is managed by Nango, "
                "which this synthral cannot reach.",
                f"Run `{_authorize_cmd(slug, connection)} --method direct` to connect without Nango.",
            )
        return nango.credential(sy, manifest, conn)  # type: ignore[no-any-return]
    if manifest.auth_type == "oauth2" and _expiring(conn):
        conn = refresh_connection(sy, manifest, connection)
    try:
        sy.store.touch(slug, connection)
    except Exception:  # noqa: BLE001, S110 - last_used_at is a courtesy, never a failure
        pass
    return _to_credential(manifest, conn)


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
    return _to_credential(manifest, fresh)


# ---------------------------------------------------------------------------------------------
# Refreshing


def renewable(manifest: Manifest, conn: Connection) -> bool:
    return bool(conn.secrets.get("refresh_token")) or conn.method == "client_credentials"


def _renew(sy: Synthral, manifest: Manifest, conn: Connection) -> flows.TokenSet:
    ca = sy.settings.ca_bundle
    if conn.method == "client_credentials" and not conn.secrets.get("refresh_token"):
        app = app_credentials(sy, manifest, grant="client_credentials")
        return flows.client_credentials(
            manifest, app, scopes=list(conn.scopes), config=conn.config, ca_bundle=ca
        )
    refresh_token = conn.secrets.get("refresh_token")
    if not refresh_token:
        raise AuthError(
            f"The {conn.slug} token of {conn.name!r} has expired and the provider gave no refresh token.",
            f"Run `{_authorize_cmd(conn.slug, conn.name)}`.",
        )
    app = app_credentials(sy, manifest)
    return flows.refresh(
        manifest, app, refresh_token, scopes=list(conn.scopes), config=conn.config, ca_bundle=ca
    )


def _with_tokens(conn: Connection, tokens: flows.TokenSet) -> Connection:
    secrets = dict(conn.secrets)
    secrets["access_token"] = tokens.access_token
    if tokens.refresh_token:
        secrets["refresh_token"] = tokens.refresh_token
    metadata = dict(conn.metadata)
    if tokens.token_type:
        metadata["token_type"] = tokens.token_type
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
    """Refresh under the store lock, once across processes.

    Under the lock the connection is read again; it is refreshed only if it is still expiring
    (or, with ``force``, still holds ``stale_access_token`` when one is given). A rotated refresh
    token replaces the old one in the same transaction. ``invalid_grant`` marks the connection as
    needing re-authorization, unless a newer version was stored meanwhile, and raises AuthError.
    """
    slug = manifest.slug
    store = sy.store
    refused: tuple[AuthError, int] | None = None
    with store.locked():
        conn = store.get(slug, connection)
        if conn is None:
            raise AuthError(
                f"No {slug} connection {connection!r} yet.", f"Run: {_authorize_cmd(slug, connection)}"
            )
        if stale_access_token is not None and conn.secrets.get("access_token") != stale_access_token:
            return conn  # another process refreshed it already
        if not force and not _expiring(conn):
            return conn
        try:
            tokens = _renew(sy, manifest, conn)
        except flows.InvalidGrant as exc:
            refused = (exc, conn.version)
        else:
            return store.put(_with_tokens(conn, tokens))
    error, version = refused
    store.mark_needs_reauth(slug, connection, if_version=version)
    raise AuthError(error.message, f"Run `{_authorize_cmd(slug, connection)}` to connect again.")


# ---------------------------------------------------------------------------------------------
# Authorizing


def choose_method(sy: Synthral, manifest: Manifest, requested: str = "auto") -> str:
    """``auto|direct|nango|device`` -> ``direct|device|client_credentials|nango``."""
    auth = manifest.auth
    grants = list(auth.get("grant_types", ["authorization_code"]))
    cc_only = "client_credentials" in grants and not {"authorization_code", "device_code"} & set(grants)
    if requested == "nango":
        if not sy.settings.nango_enabled:
            raise UsageError(
                "Nango is not configured.",
                "Set NANGO_SECRET_KEY (and NANGO_URL for a self-hosted Nango), or use --method direct.",
            )
        if not manifest.nango.get("enabled"):
            raise UsageError(f"{manifest.slug} is not available through Nango.", "Use --method direct.")
        return "nango"
    if requested == "device":
        if not auth.get("device_authorization_url"):
            raise UsageError(
                f"{manifest.slug} does not offer the device flow.",
                f"Use: synthral authorize {manifest.slug} --no-browser (and paste the URL).",
            )
        return "device"
    if requested == "direct":
        return "client_credentials" if cc_only else "direct"
    if requested != "auto":
        raise UsageError(f"Unknown --method {requested!r}.", "Use one of: auto, direct, nango, device.")
    if sy.settings.nango_enabled and manifest.nango.get("enabled") and _nango() is not None:
        return "nango"
    if cc_only:
        return "client_credentials"
    if not auth.get("authorization_url") and auth.get("device_authorization_url"):
        return "device"
    return "direct"


def _auto_note(sy: Synthral, manifest: Manifest) -> str | None:
    """Why ``--method auto`` did not choose Nango, when Nango was a possibility."""
    from .settings import NANGO_ENABLED, NANGO_SECRET_KEY

    if manifest.nango.get("enabled") and not sy.settings.nango_enabled:
        why = (
            f"{NANGO_ENABLED} is false"
            if sy.settings.nango_secret_key
            else f"Nango is not configured ({NANGO_SECRET_KEY} is not set)"
        )
        return f"{why}: using direct OAuth for {manifest.slug}."
    if sy.settings.nango_enabled and not manifest.nango.get("enabled"):
        return f"{manifest.slug} is not available through Nango: using direct OAuth."
    return None


def authorize_oauth(
    sy: Synthral,
    manifest: Manifest,
    *,
    connection: str = "default",
    method: str = "auto",
    scopes: list[str] | None = None,
    config: dict[str, Any] | None = None,
    interaction: flows.Interaction | None = None,
    port: int | None = None,
    timeout: float = flows.DEFAULT_TIMEOUT,
    open_browser: bool = True,
    fields: dict[str, str] | None = None,
) -> Connection:
    """Run the OAuth flow the manifest and ``method`` call for and store the connection.
    ``fields``: the manifest's extra ``auth.fields`` (Etsy's app key), stored with the tokens."""
    from .store import Connection, check_name

    check_name(connection, "connection name")
    interaction = interaction or flows.SilentInteraction()
    config = dict(config or {})
    chosen = choose_method(sy, manifest, method)
    if method == "auto" and chosen != "nango":
        note = _auto_note(sy, manifest)
        if note:
            interaction.notice(note)
    wanted = flows.requested_scopes(manifest, scopes)
    ca = sy.settings.ca_bundle
    if chosen == "nango":  # stores only a reference; the scopes are those asked for, if any
        return _nango().authorize(  # type: ignore[no-any-return]
            sy,
            manifest,
            connection=connection,
            scopes=list(scopes or []),
            config=config,
            interaction=interaction,
            timeout=timeout,
            open_browser=open_browser,
        )
    grant = "client_credentials" if chosen == "client_credentials" else "authorization_code"
    app = app_credentials(sy, manifest, grant=grant)
    if chosen == "client_credentials":
        tokens = flows.client_credentials(manifest, app, scopes=wanted, config=config, ca_bundle=ca)
    elif chosen == "device":
        tokens = flows.device_flow(
            manifest,
            app,
            interaction=interaction,
            scopes=wanted,
            config=config,
            timeout=timeout,
            open_browser=open_browser,
            ca_bundle=ca,
        )
    else:
        tokens = flows.authorization_code_flow(
            manifest,
            app,
            interaction=interaction,
            scopes=wanted,
            config=config,
            port=port,
            timeout=timeout,
            open_browser=open_browser,
            ca_bundle=ca,
        )
    extra_secrets, extra_config = split_fields(manifest, fields or {})
    conn = _with_tokens(
        Connection(
            slug=manifest.slug,
            name=connection,
            method=chosen,
            config={**extra_config, **config},
            secrets=extra_secrets,
            scopes=[],
        ),
        tokens,
    )
    conn.metadata["client_id"] = app.client_id
    if tokens.refresh_token is None:
        conn.secrets.pop("refresh_token", None)
    return _replace_stored(sy, conn)


def _replace_stored(sy: Synthral, conn: Connection) -> Connection:
    """Store a new authorization over any old one (``put`` keeps its creation time)."""
    return sy.store.put(conn)


def credential_fields(manifest: Manifest) -> list[dict[str, Any]]:
    """The fields asked at authorization: the manifest's, or the auth type's defaults."""
    fields = manifest.auth.get("fields")
    if fields:
        return [dict(f) for f in fields]
    return [dict(f) for f in _DEFAULT_FIELDS.get(manifest.auth_type, [])]


def split_fields(manifest: Manifest, values: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """``(secrets, config)``: fields declared ``secret: false`` (SMTP host, region) are connection
    settings, stored unencrypted and never masked; the rest are secrets. A basic username stays
    with its password (the pair is the credential, e.g. for ``nango import``)."""
    public = {f["name"] for f in credential_fields(manifest) if f.get("secret", True) is False}
    if manifest.auth_type == "basic":
        public.discard("username")
    secrets = {k: v for k, v in values.items() if k not in public}
    config = {k: v for k, v in values.items() if k in public}
    return secrets, config


def askable_config(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """Connection-config variables the user supplies (not those filled from the token response)."""
    return {k: v for k, v in manifest.connection_config.items() if not v.get("from_token_response")}


def store_static(
    sy: Synthral,
    manifest: Manifest,
    *,
    connection: str = "default",
    secrets: dict[str, str],
    config: dict[str, Any] | None = None,
) -> Connection:
    """Store API-key, bearer, basic, custom (or, for oauth2, a given access token) credentials."""
    from .store import Connection, check_name

    check_name(connection, "connection name")
    secrets, settings = split_fields(manifest, secrets)
    for value in secrets.values():
        redact.register(value)
    kind = manifest.auth_type
    method = {"oauth2": "direct", "none": "custom"}.get(kind, kind)
    conn = Connection(
        slug=manifest.slug,
        name=connection,
        method=method,
        scopes=[],
        config={**settings, **(config or {})},
        secrets=secrets,
        metadata={"provided": "with-token"} if kind == "oauth2" else {},
    )
    return _replace_stored(sy, conn)


def revoke_connection(sy: Synthral, manifest: Manifest, conn: Connection) -> bool:
    """Revoke the connection's token at the provider (RFC 7009); False when there is no endpoint.

    The refresh token is revoked when there is one (RFC 7009 2.1: that ends its access tokens
    too), otherwise the access token.
    """
    if manifest.auth_type != "oauth2" or not manifest.auth.get("revocation_url") or conn.method == "nango":
        return False
    token = conn.secrets.get("refresh_token") or conn.secrets.get("access_token")
    if not token:
        return False
    hint = "refresh_token" if conn.secrets.get("refresh_token") else "access_token"
    grant = "client_credentials" if conn.method == "client_credentials" else "authorization_code"
    app = app_credentials(sy, manifest, grant=grant)
    flows.revoke(
        manifest, app, token, token_type_hint=hint, config=conn.config, ca_bundle=sy.settings.ca_bundle
    )
    return True
