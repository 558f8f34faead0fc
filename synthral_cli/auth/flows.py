"""OAuth 2.0 grants, driven by a connector manifest's ``auth`` block.

    authorization_code_flow   code + PKCE (S256) through the loopback server, or a pasted URL
    device_flow               RFC 8628: user code shown, token endpoint polled
    client_credentials        the app's own token
    refresh                   refresh_token grant (raises InvalidGrant when the provider refuses)
    revoke                    RFC 7009 revocation

Token requests go through Authlib's ``OAuth2Client`` (httpx); the manifest picks the client
authentication method, extra parameters and where the token and scopes sit in the response.
Nothing here prints: what the user must see goes through an ``Interaction`` from the CLI.
"""

from __future__ import annotations

import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ..basics import redact, tls
from ..basics.errors import AuthError, NetworkError, ProviderError, UsageError
from ..catalogue.manifest import Manifest, render_url

if TYPE_CHECKING:  # the loopback server (and http.server) load only when a browser flow runs
    from .loopback import CallbackServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_TIMEOUT = 300.0
HTTP_TIMEOUT = 30.0


class InvalidGrant(AuthError):
    """The provider refused a refresh token (``invalid_grant``): re-authorization is needed."""


class Interaction(Protocol):
    """What a flow needs from the user's side; the CLI implements it with ``ui``."""

    def notice(self, text: str) -> None: ...

    def open_browser(self, url: str) -> bool: ...

    def waiting(self, message: str) -> AbstractContextManager[None]: ...

    def paste_lines(self) -> Iterator[str] | None: ...


class SilentInteraction:
    """For library use and tests: no browser, no paste, nothing shown."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def open_browser(self, url: str) -> bool:
        return False

    @contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        yield

    def paste_lines(self) -> Iterator[str] | None:
        return None


@dataclass
class ClientApp:
    """An OAuth app's credentials and where they came from (environment or store)."""

    client_id: str
    client_secret: str | None = None
    source: str = "environment"


@dataclass
class TokenSet:
    """A parsed token response."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scopes: list[str] = field(default_factory=list)
    token_type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # from_token_response values


# ---------------------------------------------------------------------------------------------
# Helpers


def _client_class() -> Any:
    # Authlib warns at import time that it prefers "httpx2"; that is its business, not ours.
    # authlib.deprecate installs an "always" filter when imported, so import it before ours.
    import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]
    return OAuth2Client


def _oauth_error_class() -> tuple[type[Exception], ...]:
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


def dig(data: Any, path: str) -> Any:
    """``dig({"a": {"b": 1}}, "a.b") == 1``; ``None`` when any step is missing."""
    node = data
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def parse_token(manifest: Manifest, token: Mapping[str, Any], requested: list[str]) -> TokenSet:
    """Turn a token response into a ``TokenSet`` following the manifest's paths."""
    auth = manifest.auth
    path = auth.get("access_token_path")
    access = dig(token, path) if path else token.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderError(
            f"{manifest.slug}'s token endpoint answered without an access token"
            + (f" at {path!r}" if path else "")
            + ".",
            "The provider may have changed its response; rerun with --debug and check the manifest.",
        )
    refresh = token.get("refresh_token")
    if path and "." in path:  # a nested token (Slack user tokens) has its refresh token beside it
        parent = dig(token, path.rsplit(".", 1)[0])
        if isinstance(parent, Mapping) and parent.get("refresh_token"):
            refresh = parent["refresh_token"]
    redact.register(access, refresh)
    expires_at: float | None = None
    expires_in = token.get("expires_in")
    if isinstance(expires_in, (int, float)) or (isinstance(expires_in, str) and expires_in.isdigit()):
        expires_at = time.time() + float(expires_in)
    elif isinstance(token.get("expires_at"), (int, float)):
        expires_at = float(token["expires_at"])
    raw_scope = dig(token, auth.get("scope_response_path", "scope"))
    if isinstance(raw_scope, list):
        scopes = [str(s) for s in raw_scope]
    elif isinstance(raw_scope, str):
        sep = auth.get("scope_separator", " ")
        scopes = [s for s in raw_scope.replace(sep, " ").split() if s]
    else:
        scopes = list(requested)  # RFC 6749 5.1: omitted means as requested
    config: dict[str, Any] = {}
    for var, spec in manifest.connection_config.items():
        src = spec.get("from_token_response")
        if src:
            value = dig(token, src)
            if value is not None:
                config[var] = value
    return TokenSet(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=expires_at,
        scopes=scopes,
        token_type=token.get("token_type"),
        config=config,
    )



@contextmanager
def _client(
    manifest: Manifest, app: ClientApp, *, ca_bundle: str | None = None, **kwargs: Any
) -> Iterator[Any]:
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
    with client:
        yield client


def _oauth_failure(manifest: Manifest, what: str, exc: BaseException) -> AuthError:
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


def _token_call(manifest: Manifest, what: str, call: Callable[[], Any]) -> Any:
    """Run an Authlib call, turning its errors into synthral's."""
    import httpx

    oauth_errors = _oauth_error_class()
    try:
        return call()
    except oauth_errors as exc:
        raise _oauth_failure(manifest, what, exc) from None
    except httpx.HTTPStatusError as exc:
        raise ProviderError(
            f"{manifest.slug}'s token endpoint answered HTTP {exc.response.status_code} to the {what}.",
            "Try again later; rerun with --debug for details.",
            status=exc.response.status_code,
        ) from None
    except httpx.HTTPError as exc:
        if "certificate verify failed" in str(exc).lower():
            host = urlsplit(str(exc.request.url)).netloc if _has_request(exc) else manifest.slug
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


# ---------------------------------------------------------------------------------------------
# Authorization code + PKCE


@dataclass
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str | None
    redirect_uri: str


def build_authorization_request(
    manifest: Manifest,
    app: ClientApp,
    *,
    redirect_uri: str,
    scopes: list[str],
    config: Mapping[str, Any],
    ca_bundle: str | None = None,
    state: str | None = None,
) -> AuthorizationRequest:
    auth = manifest.auth
    state = state or secrets.token_urlsafe(32)  # 256 bits
    verifier = secrets.token_urlsafe(64) if auth.get("pkce", True) else None
    extra: dict[str, Any] = dict(auth.get("authorization_params", {}))
    scope_param = auth.get("scope_param", "scope")
    if scopes:
        extra[scope_param] = join_scopes(manifest, scopes)
    if scope_param != "scope":
        extra.setdefault("scope", None)
    with _client(
        manifest, app, ca_bundle=ca_bundle, code_challenge_method="S256" if verifier else None
    ) as client:
        url, _ = client.create_authorization_url(
            endpoint(manifest, "authorization_url", config),
            state=state,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            **extra,
        )
    return AuthorizationRequest(str(url), state, verifier, redirect_uri)


def exchange_code(
    manifest: Manifest,
    app: ClientApp,
    request: AuthorizationRequest,
    code: str,
    *,
    scopes: list[str],
    config: Mapping[str, Any],
    ca_bundle: str | None = None,
) -> TokenSet:
    redact.register(code)
    params: dict[str, Any] = dict(manifest.auth.get("token_params", {}))
    if request.code_verifier:
        params["code_verifier"] = request.code_verifier
    url = endpoint(manifest, "token_url", config)
    with _client(manifest, app, ca_bundle=ca_bundle) as client:
        token = _token_call(
            manifest,
            "authorization code",
            lambda: client.fetch_token(
                url, grant_type="authorization_code", code=code, redirect_uri=request.redirect_uri, **params
            ),
        )
    return parse_token(manifest, dict(token), scopes)


def _read_pastes(server: CallbackServer, state: str, lines: Iterator[str], interaction: Interaction) -> None:
    """Feed pasted redirect URLs (or bare codes) to the server, checking the state."""
    from .loopback import CallbackResult, parse_callback, state_matches

    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if "code=" in line or "error=" in line or "://" in line:
            query = urlsplit(line).query if "?" in line else line.lstrip("?")
            result = parse_callback(query)
            if not state_matches(state, result.state):
                interaction.notice(
                    "That URL is not from this sign-in (its state does not match); paste the URL "
                    "your browser shows after you approve, or press Ctrl-C."
                )
                continue
            if not result.code and not result.error:
                interaction.notice("That URL carries neither a code nor an error; paste the whole URL.")
                continue
        else:
            result = CallbackResult(code=line, state=state)
        redact.register(result.code)
        server.offer(result)
        return


def authorization_code_flow(
    manifest: Manifest,
    app: ClientApp,
    *,
    interaction: Interaction,
    scopes: list[str],
    config: Mapping[str, Any],
    port: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    open_browser: bool = True,
    ca_bundle: str | None = None,
) -> TokenSet:
    """Run the whole code flow: loopback server, browser (or paste), code exchange."""
    from .loopback import CallbackServer

    auth = manifest.auth
    host = str(auth.get("redirect_host", "127.0.0.1"))
    path = str(auth.get("redirect_path", "/callback"))
    if port is None:
        port = int(auth.get("redirect_port", 0))
    state = secrets.token_urlsafe(32)  # 256 bits; the server needs it before the URL exists
    with CallbackServer(state, host=host, port=port, path=path) as server:
        request = build_authorization_request(
            manifest,
            app,
            redirect_uri=server.redirect_uri,
            scopes=scopes,
            config=config,
            ca_bundle=ca_bundle,
            state=state,
        )
        interaction.notice(f"Open this URL to authorize {manifest.name}:\n  {request.url}")
        opened = open_browser and interaction.open_browser(request.url)
        if open_browser and not opened:
            interaction.notice("(No browser could be opened; open the URL yourself.)")
        lines = interaction.paste_lines()
        if lines is not None:
            interaction.notice(
                "If the browser cannot reach this machine, paste the URL it ends on (or the code) here."
            )
            threading.Thread(
                target=_read_pastes, args=(server, state, lines, interaction), daemon=True
            ).start()
        with interaction.waiting(f"Waiting for the authorization of {manifest.name} in the browser..."):
            result = server.wait(timeout)
    if result is None:
        raise AuthError(
            f"Timed out after {timeout:g} s waiting for the authorization of {manifest.slug}.",
            f"Run `synthral authorize {manifest.slug}` again (--timeout SECS to wait longer, "
            "--no-browser to paste the URL).",
        )
    if result.error:
        desc = result.error_description or "no description"
        raise AuthError(
            f"{manifest.name} refused the authorization: {result.error} ({desc}).",
            f"Run `synthral authorize {manifest.slug}` again and approve the access.",
        )
    assert result.code is not None  # noqa: S101 - the server only accepts a code or an error
    return exchange_code(
        manifest, app, request, result.code, scopes=scopes, config=config, ca_bundle=ca_bundle
    )


# ---------------------------------------------------------------------------------------------
# Device authorization grant (RFC 8628)


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
) -> TokenSet:
    import httpx

    if not manifest.auth.get("device_authorization_url"):
        raise UsageError(
            f"{manifest.slug} does not offer the device flow (no auth.device_authorization_url).",
            f"Use: synthral authorize {manifest.slug} --no-browser (and paste the URL).",
        )
    data: dict[str, str] = {"client_id": app.client_id}
    if scopes:
        data[manifest.auth.get("scope_param", "scope")] = join_scopes(manifest, scopes)
    auth: Any = None
    if auth_method(manifest) == "client_secret_basic" and app.client_secret:
        auth = httpx.BasicAuth(app.client_id, app.client_secret)
    elif auth_method(manifest) == "client_secret_post" and app.client_secret:
        data["client_secret"] = app.client_secret
    url = endpoint(manifest, "device_authorization_url", config)
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT, verify=tls.verify(ca_bundle)) as http:
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
    interval = float(body.get("interval") or 5)
    expires_in = float(body.get("expires_in") or timeout)
    uri = body.get("verification_uri") or body.get("verification_url")
    complete = body.get("verification_uri_complete")
    interaction.notice(
        f"To authorize {manifest.name}, open {uri} and enter the code: {body.get('user_code')}"
    )
    if open_browser:
        interaction.open_browser(str(complete or uri))
    deadline = clock() + min(expires_in, timeout)
    params = dict(manifest.auth.get("token_params", {}))
    token_url = endpoint(manifest, "token_url", config)
    oauth_errors = _oauth_error_class()
    with interaction.waiting(f"Waiting for the approval of {manifest.name}..."):
        with _client(manifest, app, ca_bundle=ca_bundle) as client:
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
                    raise _oauth_failure(manifest, "device code", exc) from None
                except httpx.HTTPError as exc:
                    raise NetworkError(
                        f"Could not reach {manifest.slug}'s token endpoint: {exc}", None
                    ) from None
                return parse_token(manifest, dict(token), scopes)


# ---------------------------------------------------------------------------------------------
# Client credentials, refresh, revocation


def client_credentials(
    manifest: Manifest,
    app: ClientApp,
    *,
    scopes: list[str],
    config: Mapping[str, Any],
    ca_bundle: str | None = None,
) -> TokenSet:
    params: dict[str, Any] = dict(manifest.auth.get("token_params", {}))
    if scopes:
        params[manifest.auth.get("scope_param", "scope")] = join_scopes(manifest, scopes)
    url = endpoint(manifest, "token_url", config)
    with _client(manifest, app, ca_bundle=ca_bundle) as client:
        token = _token_call(
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
) -> TokenSet:
    """One refresh_token grant. ``InvalidGrant`` when the provider refuses the refresh token."""
    params: dict[str, Any] = dict(manifest.auth.get("refresh_params", {}))
    key = "refresh_url" if manifest.auth.get("refresh_url") else "token_url"
    url = endpoint(manifest, key, config)
    with _client(manifest, app, ca_bundle=ca_bundle) as client:
        token = _token_call(
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
) -> None:
    """RFC 7009: ask the provider to revoke ``token``. Raises ProviderError/NetworkError."""
    url = endpoint(manifest, "revocation_url", config or {})
    with _client(manifest, app, ca_bundle=ca_bundle) as client:
        resp = _token_call(
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
