"""Token endpoint calls through Authlib's ``OAuth2Client`` (httpx): client credentials,
refresh and RFC 7009 revocation, and what the code and device flows share with them (the OAuth
app, the endpoint URLs, scopes, and turning Authlib's errors into synthral's).

    client_credentials   the app's own token
    refresh              refresh_token grant (raises InvalidGrant when the provider refuses)
    revoke               RFC 7009 revocation

The manifest picks the client authentication method, extra parameters and where the token and
scopes sit in the response (``tokens.parse_token``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..basics import tls
from ..basics.errors import AuthError, NetworkError, ProviderError, UsageError
from ..catalogue.manifest import Manifest
from ..catalogue.templates import render_url
from .tokens import TokenSet, parse_token, sane_lifetimes

if TYPE_CHECKING:
    from .binding import Binding

HTTP_TIMEOUT = 30.0


class InvalidGrant(AuthError):
    """The provider refused a refresh token (``invalid_grant``): re-authorization is needed."""


@dataclass
class ClientApp:
    """An OAuth app's credentials and where they came from (environment or store)."""

    client_id: str
    client_secret: str | None = None
    source: str = "environment"


def _client_class() -> Any:
    # Authlib warns at import time that it prefers "httpx2"; that is its business, not ours.
    # authlib.deprecate installs an "always" filter when imported, so import it before ours.
    import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
    return OAuth2Client


def http_error_classes() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """``(HTTPStatusError, HTTPError)`` classes of httpx and, when it is installed, of httpx2:
    Authlib builds its client on httpx2 when that package is present (the MCP SDK brings it)
    and on httpx otherwise, so its errors may come from either."""
    import httpx

    status: list[type[Exception]] = [httpx.HTTPStatusError]
    errors: list[type[Exception]] = [httpx.HTTPError]
    try:
        import httpx2
    except ImportError:
        pass
    else:
        status.append(httpx2.HTTPStatusError)
        errors.append(httpx2.HTTPError)
    return tuple(status), tuple(errors)


def oauth_error_classes() -> tuple[type[Exception], ...]:
    """Authlib's exception types for an OAuth error response."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]
        from authlib.oauth2.base import OAuth2Error  # type: ignore[import-untyped]
    return (OAuthError, OAuth2Error)


def auth_method(manifest: Manifest) -> str:
    return str(manifest.auth.get("token_auth_method", "client_secret_post"))


def needs_client_secret(manifest: Manifest, grant: str = "authorization_code") -> bool:
    return grant == "client_credentials" or auth_method(manifest) != "none"


def endpoint(manifest: Manifest, key: str, config: Mapping[str, Any]) -> str:
    url = manifest.auth.get(key)
    if not url:
        raise UsageError(f"{manifest.slug}'s manifest has no auth.{key}.", None)
    return render_url(str(url), dict(config), manifest)


def join_scopes(manifest: Manifest, scopes: list[str]) -> str:
    return str(manifest.auth.get("scope_separator", " ")).join(scopes)


def requested_scopes(manifest: Manifest, scopes: list[str] | None) -> list[str]:
    """``--scope`` values (each may hold several, split on spaces or commas) or the defaults."""
    if scopes:
        out: list[str] = []
        for s in scopes:
            out.extend(p for p in s.replace(",", " ").split() if p not in out)
        return out
    return list(manifest.auth.get("default_scopes", []))


@contextmanager
def oauth_client(
    manifest: Manifest,
    app: ClientApp,
    *,
    ca_bundle: str | None = None,
    binding: Binding | None = None,
    **kwargs: Any,
) -> Iterator[Any]:
    """An Authlib ``OAuth2Client`` authenticating as the manifest says; with ``binding``, every
    request it sends is checked against it first (token, refresh and revocation calls carry
    the client secret and the refresh token)."""
    method = auth_method(manifest)
    client = _client_class()(
        client_id=app.client_id,
        client_secret=app.client_secret if method != "none" else None,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
        timeout=HTTP_TIMEOUT,
        verify=tls.verify(ca_bundle),
        **kwargs,
    )
    for hook in ("access_token_response", "refresh_token_response"):
        client.register_compliance_hook(hook, _sane_token_response)
    name = client_id_param(manifest)
    if name != "client_id":  # TikTok's client_key: rename it in every token-endpoint request
        for known in ("client_secret_basic", "client_secret_post", "none"):
            client.register_client_auth_method((known, _renamed_client_id(known, name)))
    if binding is not None:
        hooks = client.event_hooks
        client.event_hooks = {"request": [*hooks["request"], binding.hook], "response": hooks["response"]}
    with client:
        yield client


def client_id_param(manifest: Manifest) -> str:
    """The name the provider gives the OAuth client id (``auth.client_id_param``)."""
    return str(manifest.auth.get("client_id_param", "client_id"))


def rename_client_id(text: str, name: str) -> str:
    """A query string or form body with its ``client_id`` sent as ``name`` instead."""
    from urllib.parse import parse_qsl, urlencode

    pairs = parse_qsl(text, keep_blank_values=True)
    return urlencode([(name if k == "client_id" else k, v) for k, v in pairs])


def _renamed_client_id(method: str, name: str) -> Callable[..., Any]:
    """Authlib's encoder for ``method``, with the client id renamed in the body and URL."""
    from urllib.parse import urlsplit, urlunsplit

    from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]

    encoder = ClientAuth.DEFAULT_AUTH_METHODS[method]

    def encode(client: Any, http_method: str, uri: str, headers: Any, body: Any) -> Any:
        uri, headers, body = encoder(client, http_method, uri, headers, body)
        body = rename_client_id(body or "", name)
        parts = urlsplit(uri)
        if "client_id=" in parts.query:
            uri = urlunsplit(parts._replace(query=rename_client_id(parts.query, name)))
        if "Content-Length" in headers:
            headers["Content-Length"] = str(len(body))
        return uri, headers, body

    return encode


def _sane_token_response(resp: Any) -> Any:
    """An Authlib compliance hook: a JSON token response with its lifetimes made sane
    (``tokens.sane_lifetimes``) before Authlib reads them; anything else as it came."""
    import json

    import httpx

    try:
        body = resp.json()
    except ValueError:
        return resp
    if not isinstance(body, dict) or sane_lifetimes(body) is body:
        return resp
    drop = {"content-length", "content-encoding", "transfer-encoding", "content-type"}
    return httpx.Response(
        resp.status_code,
        headers=[(k, v) for k, v in resp.headers.items() if k.lower() not in drop]
        + [("Content-Type", "application/json")],
        content=json.dumps(sane_lifetimes(body)).encode(),
        request=resp.request,
    )


def oauth_failure(manifest: Manifest, what: str, exc: BaseException) -> AuthError:
    """The synthral error for an OAuth error response (RFC 6749 section 5.2)."""
    code = getattr(exc, "error", None) or "error"
    desc = getattr(exc, "description", None)
    message = f"{manifest.slug} refused the {what}: {code}" + (f" ({desc})" if desc else "")
    if code == "invalid_grant":
        return InvalidGrant(message, f"Run `synthral authorize {manifest.slug}` to connect again.")
    if code in {"invalid_client", "unauthorized_client"}:
        return AuthError(
            message, f"Check the OAuth app credentials (synthral configure {manifest.slug} --client-id ...)."
        )
    return AuthError(message, f"Run `synthral authorize {manifest.slug}` to connect again.")


def _has_request(exc: Exception) -> bool:
    try:
        return exc.request is not None  # type: ignore[attr-defined]
    except RuntimeError:  # httpx raises when the error carries no request
        return False


def token_call(manifest: Manifest, what: str, call: Callable[[], Any]) -> Any:
    """Run an Authlib call, turning its errors into synthral's."""
    oauth_errors = oauth_error_classes()
    status_errors, http_errors = http_error_classes()
    try:
        return call()
    except oauth_errors as exc:
        raise oauth_failure(manifest, what, exc) from None
    except status_errors as exc:
        code = exc.response.status_code  # type: ignore[attr-defined]
        raise ProviderError(
            f"{manifest.slug}'s token endpoint answered HTTP {code} to the {what}.",
            "Try again later; rerun with --debug for details.",
            status=code,
        ) from None
    except http_errors as exc:
        if "certificate verify failed" in str(exc).lower():
            host = urlsplit(str(exc.request.url)).netloc if _has_request(exc) else manifest.slug  # type: ignore[attr-defined]
            raise NetworkError(
                f"The TLS certificate of {host} is not trusted ({manifest.slug} {what}).",
                "For a private CA or a TLS proxy set SYNTHRAL_CA_BUNDLE to its PEM file.",
            ) from None
        raise NetworkError(
            f"Could not reach {manifest.slug}'s token endpoint for the {what}: {exc}",
            "Check the network connection (and SYNTHRAL_CA_BUNDLE behind a TLS proxy), then retry.",
        ) from None
    except ValueError as exc:
        raise ProviderError(
            f"{manifest.slug}'s token endpoint gave an unreadable answer: {exc}", None
        ) from None


def client_credentials(
    manifest: Manifest,
    app: ClientApp,
    *,
    scopes: list[str],
    config: Mapping[str, Any],
    ca_bundle: str | None = None,
    binding: Binding | None = None,
) -> TokenSet:
    params: dict[str, Any] = dict(manifest.auth.get("token_params", {}))
    if scopes:
        params[manifest.auth.get("scope_param", "scope")] = join_scopes(manifest, scopes)
    url = endpoint(manifest, "token_url", config)
    with oauth_client(manifest, app, ca_bundle=ca_bundle, binding=binding) as client:
        token = token_call(
            manifest,
            "client credentials",
            lambda: client.fetch_token(url, grant_type="client_credentials", **params),
        )
    return parse_token(manifest, dict(token), scopes)


def refresh(
    manifest: Manifest,
    app: ClientApp,
    refresh_token: str,
    *,
    scopes: list[str],
    config: Mapping[str, Any],
    ca_bundle: str | None = None,
    binding: Binding | None = None,
) -> TokenSet:
    """One refresh_token grant. ``InvalidGrant`` when the provider refuses the refresh token."""
    params: dict[str, Any] = dict(manifest.auth.get("refresh_params", {}))
    key = "refresh_url" if manifest.auth.get("refresh_url") else "token_url"
    url = endpoint(manifest, key, config)
    with oauth_client(manifest, app, ca_bundle=ca_bundle, binding=binding) as client:
        token = token_call(
            manifest,
            "token refresh",
            lambda: client.refresh_token(url, refresh_token=refresh_token, **params),
        )
    token = dict(token)
    out = parse_token(manifest, token, scopes)
    if out.refresh_token is None:
        out.refresh_token = refresh_token  # not rotated: keep the one we have
    return out


def revoke(
    manifest: Manifest,
    app: ClientApp,
    token: str,
    *,
    token_type_hint: str | None = None,
    config: Mapping[str, Any] | None = None,
    ca_bundle: str | None = None,
    binding: Binding | None = None,
) -> None:
    """RFC 7009: ask the provider to revoke ``token``. Raises ProviderError/NetworkError."""
    url = endpoint(manifest, "revocation_url", config or {})
    with oauth_client(manifest, app, ca_bundle=ca_bundle, binding=binding) as client:
        resp = token_call(
            manifest,
            "revocation",
            lambda: client.revoke_token(url, token=token, token_type_hint=token_type_hint),
        )
    if resp.status_code >= 400:
        raise ProviderError(
            f"{manifest.slug} refused to revoke the token (HTTP {resp.status_code}).",
            "The token may already be invalid; revoke the app's access in the provider's settings.",
            status=resp.status_code,
        )
