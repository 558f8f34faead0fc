"""The OAuth app a connector authorizes with: ``SYNTHRAL_<SLUG>_CLIENT_ID/_SECRET`` or what
``synthral configure`` stored, and the origins its client secret may be sent to.

    app_credentials(sy, manifest)     -> ClientApp    the OAuth app (env or configure)
    app_binding(...)                  -> Binding      where the app's secret may go
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..basics import redact
from ..basics.errors import UsageError
from ..basics.settings import client_id_var, client_secret_var
from ..catalogue.manifest import Manifest
from . import grants
from .binding import Binding, bundled_manifest, check_settings, endpoint_origins

if TYPE_CHECKING:
    from .context import Context as Synthral




def app_credentials(
    sy: Synthral, manifest: Manifest, *, grant: str = "authorization_code"
) -> grants.ClientApp:
    """The OAuth app: ``SYNTHRAL_<SLUG>_CLIENT_ID/_SECRET`` win over ``synthral configure``."""
    slug = manifest.slug
    client_id = sy.settings.client_id(slug)
    secret = sy.settings.client_secret(slug)
    source = "environment"
    if client_id is None:
        stored = sy.store.get_app(slug)
        if stored is not None:
            client_id, secret, source = stored.client_id, stored.client_secret, "store"
    elif secret is None and _store_exists(sy):
        stored = sy.store.get_app(slug)
        if stored is not None and stored.client_id == client_id:
            secret = stored.client_secret
    need_secret = grants.needs_client_secret(manifest, grant)
    if client_id is None or (need_secret and not secret):
        missing = [client_id_var(slug)] if client_id is None else []
        if need_secret and not secret:
            missing.append(client_secret_var(slug))
        where = manifest.auth.get("console_url") or manifest.docs_url
        redirect = redirect_uri(manifest)
        secret_flag = " --client-secret-stdin" if need_secret else ""
        raise UsageError(
            f"{manifest.name} needs an OAuth app: set {' and '.join(missing)}.",
            f"Or store it: synthral configure {slug} --client-id ID{secret_flag}. "
            f"Create the app at {where}"
            + (f" with the redirect URI {redirect}." if grant == "authorization_code" else "."),
        )
    redact.register(secret)
    return grants.ClientApp(client_id, secret, source)


def redirect_uri(manifest: Manifest) -> str:
    """The redirect URI to register with the provider for ``synthral authorize`` (the loopback
    callback), e.g. ``http://127.0.0.1/callback (any port)``."""
    auth = manifest.auth
    host, path = auth.get("redirect_host", "127.0.0.1"), auth.get("redirect_path", "/callback")
    if auth.get("redirect_port"):
        return f"http://{host}:{auth['redirect_port']}{path}"
    return f"http://{host}{path} (any port)"


def app_binding(
    sy: Synthral, manifest: Manifest, app: grants.ClientApp, config: dict[str, Any], connection: str = "default"
) -> Binding:
    """Where the OAuth app's client secret may go while authorizing: the manifest's token (and
    device) endpoints. An app stored with ``synthral configure`` goes only where the bundled
    manifest of the slug, or a stored connection of it, vouches for: a user manifest that moves
    the token endpoint elsewhere does not receive it."""
    active = endpoint_origins(manifest, check_settings(manifest, config))
    slug = manifest.slug
    bundled = None if manifest.bundled or app.source != "store" or not app.client_secret else (
        bundled_manifest(sy, slug)
    )
    if bundled is None:
        return Binding.of(slug, connection, active, what="OAuth client secret")
    vouched = endpoint_origins(bundled, config)
    for conn in sy.store.list():
        if conn.slug == slug:
            vouched += conn.origins
    return Binding(
        slug,
        connection,
        tuple(dict.fromkeys(vouched)),
        what="OAuth client secret",
        reason=f"the app stored with `synthral configure {slug}` goes only to "
        + (", ".join(dict.fromkeys(vouched)) or "its bundled endpoints")
        + f", and the user manifest {manifest.source} moves the token endpoint",
        rebind=f"Remove that manifest, or give its app as {client_id_var(slug)} and {client_secret_var(slug)}.",
    )


def _store_exists(sy: Synthral) -> bool:
    from ..store.encrypted import Store

    return Store.exists(sy.settings)
