"""The authorization code grant with PKCE (S256): the loopback callback server, the browser
(or a pasted redirect URL or code), and the code exchange.

    build_authorization_request   the URL the person opens, with state and code challenge
    exchange_code                 code + verifier -> TokenSet
    authorization_code_flow       all of it, waiting on ``loopback.CallbackServer``
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..basics import redact
from ..basics.errors import AuthError
from ..catalogue.manifest import Manifest
from .grants import ClientApp, client_id_param, endpoint, join_scopes, oauth_client, rename_client_id, token_call
from .interaction import DEFAULT_TIMEOUT, Interaction
from .tokens import TokenSet, parse_token

if TYPE_CHECKING:  # the loopback server (and http.server) load only when a browser flow runs
    from .binding import Binding
    from .loopback import CallbackServer


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
    hex_challenge = verifier is not None and auth.get("pkce_challenge_encoding") == "hex"
    if hex_challenge:  # TikTok desktop: the SHA-256 of the verifier in lowercase hex, not base64url
        extra["code_challenge"] = hashlib.sha256(str(verifier).encode("ascii")).hexdigest()
        extra["code_challenge_method"] = "S256"
    scope_param = auth.get("scope_param", "scope")
    if scopes:
        extra[scope_param] = join_scopes(manifest, scopes)
    if scope_param != "scope":
        extra.setdefault("scope", None)
    with oauth_client(
        manifest, app, ca_bundle=ca_bundle, code_challenge_method="S256" if verifier else None
    ) as client:
        url, _ = client.create_authorization_url(
            endpoint(manifest, "authorization_url", config),
            state=state,
            code_verifier=None if hex_challenge else verifier,
            redirect_uri=redirect_uri,
            **extra,
        )
    name = client_id_param(manifest)
    if name != "client_id":
        parts = urlsplit(str(url))
        url = urlunsplit(parts._replace(query=rename_client_id(parts.query, name)))
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
    binding: Binding | None = None,
) -> TokenSet:
    redact.register(code)
    params: dict[str, Any] = dict(manifest.auth.get("token_params", {}))
    if request.code_verifier:
        params["code_verifier"] = request.code_verifier
    url = endpoint(manifest, "token_url", config)
    with oauth_client(manifest, app, ca_bundle=ca_bundle, binding=binding) as client:
        token = token_call(
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
    binding: Binding | None = None,
) -> TokenSet:
    """Run the whole code flow: loopback server, browser (or paste), code exchange."""
    from .loopback import CallbackServer

    auth = manifest.auth
    host = str(auth.get("redirect_host", "127.0.0.1"))
    path = str(auth.get("redirect_path", "/callback"))
    if port is None:
        port = int(auth.get("redirect_port", 0))
    state = secrets.token_urlsafe(32)  # 256 bits; the server needs it before the URL exists
    # The browser's page waits for the exchange (await_outcome): it says "Connected" only once the
    # token endpoint has answered, and the error in one sentence when it has not.
    with CallbackServer(state, host=host, port=port, path=path, await_outcome=True) as server:
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
        tokens = exchange_code(
            manifest, app, request, result.code, scopes=scopes, config=config, ca_bundle=ca_bundle, binding=binding
        )
        server.settle(True, f"Connected to {manifest.name}.")
    return tokens
