"""Authorizing: run the OAuth flow a manifest and ``--method`` call for, or take a static
credential, and put the new connection in the store; revoke one at the provider.

    choose_method(sy, manifest, requested)     -> direct | device | client_credentials | nango
    authorize_oauth(...) / store_static(...)   -> Connection
    begin_web_authorization / complete_web_authorization   the code flow split for a web server
    remove_connection(sy, slug, name, revoke)  -> what was done (Nango, provider, store)
    revoke_connection(sy, manifest, conn)      -> bool   RFC 7009 where the manifest allows
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..basics import redact
from ..basics.errors import UsageError
from ..catalogue.manifest import Manifest
from . import codeflow, device, grants
from .apps import app_binding, app_credentials
from .binding import Binding, bound_origins, check_settings, connection_origins
from .credentials import _nango, _with_tokens, check_shadowing
from .interaction import DEFAULT_TIMEOUT, Interaction, SilentInteraction

if TYPE_CHECKING:
    from ..store.model import Connection
    from .context import Context as Synthral
    from .tokens import TokenSet

_DEFAULT_FIELDS: dict[str, list[dict[str, Any]]] = {
    "api_key": [{"name": "api_key", "label": "API key"}],
    "bearer": [{"name": "token", "label": "Token"}],
    "basic": [
        {"name": "username", "label": "Username", "secret": False},
        {"name": "password", "label": "Password"},
    ],
}


def choose_method(sy: Synthral, manifest: Manifest, requested: str = "auto") -> str:
    """``auto|direct|nango|device`` -> ``direct|device|client_credentials|nango``."""
    auth = manifest.auth
    grant_types = list(auth.get("grant_types", ["authorization_code"]))
    cc_only = "client_credentials" in grant_types and not {"authorization_code", "device_code"} & set(grant_types)
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
    """Why ``--method auto`` did not choose Nango, when Nango was asked for (a ``NANGO_*``
    variable is set) and not used."""
    from ..basics.settings import NANGO_ENABLED, NANGO_SECRET_KEY, NANGO_URL

    if not any(sy.settings.env.get(v) for v in (NANGO_URL, NANGO_SECRET_KEY, NANGO_ENABLED)):
        return None  # nobody asked for Nango: nothing to explain
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
    interaction: Interaction | None = None,
    port: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    open_browser: bool = True,
    fields: dict[str, str] | None = None,
) -> Connection:
    """Run the OAuth flow the manifest and ``method`` call for and store the connection.
    ``fields``: the manifest's extra ``auth.fields`` (Etsy's app key), stored with the tokens."""
    from ..store.model import check_name

    check_name(connection, "connection name")
    interaction = interaction or SilentInteraction()
    config = dict(config or {})
    chosen = choose_method(sy, manifest, method)
    if method == "auto" and chosen != "nango":
        note = _auto_note(sy, manifest)
        if note:
            interaction.notice(note)
    wanted = grants.requested_scopes(manifest, scopes)
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
    binding = app_binding(sy, manifest, app, config, connection)
    for key in ("token_url", "device_authorization_url" if chosen == "device" else ""):
        if key and manifest.auth.get(key):  # say it now, before the browser opens
            binding.check(grants.endpoint(manifest, key, config))
    if chosen == "client_credentials":
        tokens = grants.client_credentials(
            manifest, app, scopes=wanted, config=config, ca_bundle=ca, binding=binding
        )
    elif chosen == "device":
        tokens = device.device_flow(
            manifest,
            app,
            interaction=interaction,
            scopes=wanted,
            config=config,
            timeout=timeout,
            open_browser=open_browser,
            ca_bundle=ca,
            binding=binding,
        )
    else:
        tokens = codeflow.authorization_code_flow(
            manifest,
            app,
            interaction=interaction,
            scopes=wanted,
            config=config,
            port=port,
            timeout=timeout,
            open_browser=open_browser,
            ca_bundle=ca,
            binding=binding,
        )
    return store_tokens(sy, manifest, tokens, app, connection=connection, method=chosen, config=config, fields=fields)


def store_tokens(
    sy: Synthral,
    manifest: Manifest,
    tokens: TokenSet,
    app: grants.ClientApp,
    *,
    connection: str,
    method: str,
    config: dict[str, Any],
    fields: dict[str, str] | None = None,
) -> Connection:
    """Store the tokens of a finished grant as ``slug/connection`` (over any older one)."""
    from ..store.model import Connection

    extra_secrets, extra_config = split_fields(manifest, fields or {})
    conn = _with_tokens(
        Connection(
            slug=manifest.slug,
            name=connection,
            method=method,
            config={**extra_config, **config},
            secrets=extra_secrets,
            scopes=[],
        ),
        tokens,
    )
    conn.metadata["client_id"] = app.client_id
    if tokens.refresh_token is None:
        conn.secrets.pop("refresh_token", None)
    conn.origins = connection_origins(manifest, {**check_settings(manifest, conn.config), **conn.secrets})
    return _replace_stored(sy, conn)


def begin_web_authorization(
    sy: Synthral,
    manifest: Manifest,
    *,
    redirect_uri: str,
    scopes: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[codeflow.AuthorizationRequest, list[str]]:
    """The first half of the code flow for a web server (``POST .../authorize``): the
    authorization URL with a fresh state and PKCE verifier, which the caller keeps until the
    provider redirects to ``redirect_uri``. Returns the request and the scopes asked for."""
    if manifest.auth_type != "oauth2" or not manifest.auth.get("authorization_url"):
        raise UsageError(
            f"{manifest.slug} has no browser sign-in ({manifest.auth_type} credentials).",
            "Store its credentials instead (POST /api/v1/connections, or synthral authorize --with-token).",
        )
    wanted = grants.requested_scopes(manifest, scopes)
    app = app_credentials(sy, manifest)
    request = codeflow.build_authorization_request(
        manifest, app, redirect_uri=redirect_uri, scopes=wanted, config=check_settings(manifest, config or {}),
        ca_bundle=sy.settings.ca_bundle,
    )
    redact.register(request.code_verifier)
    return request, wanted


def complete_web_authorization(
    sy: Synthral,
    manifest: Manifest,
    request: codeflow.AuthorizationRequest,
    code: str,
    *,
    connection: str,
    scopes: list[str],
    config: dict[str, Any] | None = None,
) -> Connection:
    """The second half: exchange ``code`` (with the kept PKCE verifier) and store the connection."""
    app = app_credentials(sy, manifest)
    config = dict(config or {})
    binding = app_binding(sy, manifest, app, config, connection)
    tokens = codeflow.exchange_code(
        manifest, app, request, code, scopes=scopes, config=config, ca_bundle=sy.settings.ca_bundle,
        binding=binding,
    )
    return store_tokens(sy, manifest, tokens, app, connection=connection, method="direct", config=config)


def grant_client_credentials(
    sy: Synthral,
    manifest: Manifest,
    *,
    connection: str = "default",
    scopes: list[str] | None = None,
    config: dict[str, Any] | None = None,
) -> Connection:
    """Connect an app-only (client credentials) connector: no browser involved."""
    app = app_credentials(sy, manifest, grant="client_credentials")
    config = dict(config or {})
    wanted = grants.requested_scopes(manifest, scopes)
    binding = app_binding(sy, manifest, app, config, connection)
    tokens = grants.client_credentials(
        manifest, app, scopes=wanted, config=config, ca_bundle=sy.settings.ca_bundle, binding=binding
    )
    return store_tokens(
        sy, manifest, tokens, app, connection=connection, method="client_credentials", config=config
    )


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
    from ..store.model import Connection, check_name

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
    conn.origins = connection_origins(manifest, {**check_settings(manifest, conn.config), **conn.secrets})
    return _replace_stored(sy, conn)


def bind_imported(manifest: Manifest, conn: Connection) -> Connection:
    """A connection from an export bundle, checked like a new authorization before it is stored:
    its settings against the manifest's patterns (exit 2), its origins computed again from them
    here, and kept only where they agree with the origins it was exported with (if recorded)."""
    import dataclasses

    try:
        check_settings(manifest, conn.config)
    except UsageError as exc:
        raise UsageError(
            f"The bundle's {conn.slug} setting is refused: {exc.message}",
            f"Export the connection again from a correct one, or authorize here: synthral authorize {conn.slug}",
        ) from None
    origins = connection_origins(manifest, {**conn.config, **conn.secrets})
    if conn.origins:
        origins = [o for o in origins if o in conn.origins]
    return dataclasses.replace(conn, origins=origins)


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
    check_shadowing(sy, manifest, conn)
    hint = "refresh_token" if conn.secrets.get("refresh_token") else "access_token"
    grant = "client_credentials" if conn.method == "client_credentials" else "authorization_code"
    app = app_credentials(sy, manifest, grant=grant)
    binding = Binding.of(conn.slug, conn.name, bound_origins(sy, manifest, conn), what=hint.replace("_", " "))
    grants.revoke(
        manifest,
        app,
        token,
        token_type_hint=hint,
        config=conn.config,
        ca_bundle=sy.settings.ca_bundle,
        binding=binding,
    )
    return True


def remove_connection(
    sy: Synthral, slug: str, name: str = "default", *, revoke: bool = False, manifest: Manifest | None = None
) -> dict[str, Any]:
    """Delete a stored connection: in Nango first when it is a Nango reference, at the provider
    too with ``revoke`` (RFC 7009, where ``manifest`` has an endpoint), then from the store.
    Returns ``{"nango_deleted": bool | None, "revoked": bool | None}``; AuthError when absent."""
    from ..basics.errors import AuthError
    from .nango import forget

    deleted = forget(sy, slug, name)  # None: not a Nango reference
    revoked: bool | None = None
    if revoke and deleted is None and manifest is not None:
        conn = sy.store.get(slug, name)
        if conn is None:
            raise AuthError(f"no stored connection {slug}/{name}.", "See `synthral connections list`.")
        revoked = revoke_connection(sy, manifest, conn)
    if not sy.store.remove(slug, name):
        raise AuthError(f"no stored connection {slug}/{name} to remove.", "See `synthral connections list`.")
    return {"nango_deleted": deleted, "revoked": revoked}
