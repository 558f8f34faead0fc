"""Token responses: turn what a token endpoint answered into a ``TokenSet``, following the
manifest's paths (``access_token_path``, ``scope_response_path``, ``from_token_response``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..basics import redact
from ..basics.errors import ProviderError
from ..catalogue.manifest import Manifest


@dataclass
class TokenSet:
    """A parsed token response."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scopes: list[str] = field(default_factory=list)
    token_type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # from_token_response values


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
