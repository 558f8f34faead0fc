"""The device authorization grant (RFC 8628): ask for a user code, show it (and open the
verification page when asked), then poll the token endpoint as the provider's interval says.

The device endpoint's answer is checked before anything is shown or opened: the verification
URI must be https (or http to loopback), else the flow stops (exit 3) without printing it; a
``verification_uri_complete`` that is not is ignored; ``interval`` and ``expires_in`` are
clamped (``tokens.seconds``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..basics import redact, tls
from ..basics.errors import AuthError, NetworkError, UsageError
from ..basics.insecure import is_loopback
from ..catalogue.manifest import Manifest
from .grants import (
    HTTP_TIMEOUT,
    ClientApp,
    auth_method,
    client_id_param,
    endpoint,
    http_error_classes,
    join_scopes,
    oauth_client,
    oauth_error_classes,
    oauth_failure,
)
from .interaction import DEFAULT_TIMEOUT, Interaction
from .tokens import TokenSet, parse_token, seconds

if TYPE_CHECKING:
    from .binding import Binding

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
MAX_INTERVAL = 60.0


def web_address(value: Any) -> str | None:
    """``value`` when it is an https URL (or http to loopback) with a host, one printable line;
    ``None`` for anything else (``javascript:``, ``file:``, ``data:``, plain http elsewhere)."""
    if not isinstance(value, str) or not value.isprintable() or " " in value:
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if host and (scheme == "https" or (scheme == "http" and is_loopback(host))):
        return value
    return None


def device_flow(
    manifest: Manifest,
    app: ClientApp,
    *,
    interaction: Interaction,
    scopes: list[str],
    config: Mapping[str, Any],
    timeout: float = DEFAULT_TIMEOUT,
    open_browser: bool = False,
    ca_bundle: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    binding: Binding | None = None,
) -> TokenSet:
    import httpx

    if not manifest.auth.get("device_authorization_url"):
        raise UsageError(
            f"{manifest.slug} does not offer the device flow (no auth.device_authorization_url).",
            f"Use: synthral authorize {manifest.slug} --no-browser (and paste the URL).",
        )
    data: dict[str, str] = {client_id_param(manifest): app.client_id}
    if scopes:
        data[manifest.auth.get("scope_param", "scope")] = join_scopes(manifest, scopes)
    auth: Any = None
    if auth_method(manifest) == "client_secret_basic" and app.client_secret:
        auth = httpx.BasicAuth(app.client_id, app.client_secret)
    elif auth_method(manifest) == "client_secret_post" and app.client_secret:
        data["client_secret"] = app.client_secret
    url = endpoint(manifest, "device_authorization_url", config)
    try:
        hooks = {"request": [binding.hook]} if binding is not None else None
        with httpx.Client(timeout=HTTP_TIMEOUT, verify=tls.verify(ca_bundle), event_hooks=hooks) as http:
            resp = http.post(url, data=data, auth=auth, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise NetworkError(
            f"Could not reach {manifest.slug}'s device endpoint: {exc}", "Check the network."
        ) from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code >= 400 or not isinstance(body, dict) or "device_code" not in body:
        err = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        raise AuthError(
            f"{manifest.slug} refused to start the device flow (HTTP {resp.status_code}"
            + (f": {err}" if err else "")
            + ").",
            "Check that the OAuth app allows the device flow, or use the browser flow.",
        )
    device_code = str(body["device_code"])
    redact.register(device_code)
    interval = max(1.0, seconds(body.get("interval"), maximum=MAX_INTERVAL) or 5.0)
    expires_in = seconds(body.get("expires_in"), maximum=timeout) or timeout
    uri = web_address(body.get("verification_uri") or body.get("verification_url"))
    if uri is None:
        raise AuthError(
            f"{manifest.slug}'s device endpoint gave a verification address that is not an https:// "
            "URL; it was not opened or shown.",
            f"Use the browser flow: synthral authorize {manifest.slug} --method direct",
        )
    complete = web_address(body.get("verification_uri_complete"))
    interaction.notice(
        f"To authorize {manifest.name}, open {uri} and enter the code: {body.get('user_code')}"
    )
    if open_browser:
        interaction.open_browser(str(complete or uri))
    deadline = clock() + min(expires_in, timeout)
    params = dict(manifest.auth.get("token_params", {}))
    token_url = endpoint(manifest, "token_url", config)
    oauth_errors = oauth_error_classes()
    with interaction.waiting(f"Waiting for the approval of {manifest.name}..."):
        with oauth_client(manifest, app, ca_bundle=ca_bundle, binding=binding) as client:
            while True:
                if clock() + interval > deadline:
                    raise AuthError(
                        f"The device code for {manifest.slug} expired before it was approved.",
                        f"Run `synthral authorize {manifest.slug} --method device` again.",
                    )
                sleep(interval)
                try:
                    token = client.fetch_token(
                        token_url, grant_type=DEVICE_GRANT, device_code=device_code, **params
                    )
                except oauth_errors as exc:
                    code = getattr(exc, "error", "")
                    if code == "authorization_pending":
                        continue
                    if code == "slow_down":
                        interval += 5
                        continue
                    if code == "expired_token":
                        raise AuthError(
                            f"The device code for {manifest.slug} expired before it was approved.",
                            f"Run `synthral authorize {manifest.slug} --method device` again.",
                        ) from None
                    if code == "access_denied":
                        raise AuthError(
                            f"{manifest.name} refused the authorization: access_denied "
                            f"({getattr(exc, 'description', None) or 'the user declined'}).",
                            f"Run `synthral authorize {manifest.slug} --method device` again and approve.",
                        ) from None
                    raise oauth_failure(manifest, "device code", exc) from None
                except http_error_classes()[1] as exc:
                    raise NetworkError(
                        f"Could not reach {manifest.slug}'s token endpoint: {exc}", None
                    ) from None
                return parse_token(manifest, dict(token), scopes)
