"""Token responses: turn what a token endpoint answered into a ``TokenSet``, following the
manifest's paths (``access_token_path``, ``scope_response_path``, ``from_token_response``).

What the provider says is checked where it enters: a lifetime (``expires_in``, ``expires_at``)
that is not a finite non-negative number of seconds is unknown (``None``), and one beyond ten
years is ten years (``seconds``); a ``from_token_response`` value must be a scalar matching the
manifest's ``pattern``/``enum`` for that setting, or the whole response is refused (``AuthError``,
exit 3) before anything is stored; a token that is not printable ASCII is refused too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..basics import redact
from ..basics.errors import AuthError, ProviderError, UsageError
from ..catalogue.manifest import Manifest
from ..catalogue.templates import check_config_value

MAX_LIFETIME = 10 * 365 * 86400.0  # ten years: longer is "does not expire" in practice


@dataclass
class TokenSet:
    """A parsed token response."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scopes: list[str] = field(default_factory=list)
    token_type: str | None = None
    config: dict[str, Any] = field(default_factory=dict)  # from_token_response values
    lifetime: float | None = None  # seconds the token was issued for (expires_in), when known


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


def seconds(value: Any, *, maximum: float = MAX_LIFETIME) -> float | None:
    """A provider's number of seconds (a number or a numeric string), at most ``maximum``;
    ``None`` for anything else (negative, NaN, ``true``, ``"soon"``). ``1e999`` is ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    if math.isnan(number) or number < 0:
        return None
    return min(number, maximum)


def sane_lifetimes(token: dict[str, Any]) -> dict[str, Any]:
    """``token`` with ``expires_in``/``expires_at`` made whole numbers in range, or removed when
    they are nonsense; the same object when there is nothing to change. (Authlib turns them into
    ``int`` itself and fails on ``1e999``, so its compliance hooks call this first.)"""
    fixed = dict(token)
    changed = False
    sane = {"expires_in": seconds(token.get("expires_in")), "expires_at": _epoch(token.get("expires_at"))}
    for key, value in sane.items():
        if key not in token:
            continue
        if value is None:
            del fixed[key]
            changed = True
        elif type(token[key]) is not int or token[key] != int(value):
            fixed[key] = int(value)
            changed = True
    return fixed if changed else token


def _epoch(value: Any) -> float | None:
    """An ``expires_at`` (Unix seconds): positive, at most ten years from now."""
    return seconds(value, maximum=time.time() + MAX_LIFETIME) or None


def _setting(manifest: Manifest, var: str, value: Any) -> Any:
    """A ``from_token_response`` value, checked like a ``--config`` value; refused with exit 3."""
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    problem = None
    if isinstance(value, (dict, list)):
        problem = "is not a single value"
    elif not str(value).isprintable() or len(str(value)) > 2048:
        problem = "is not one line of printable text"
    else:
        try:
            check_config_value(manifest, var, value if isinstance(value, str) else str(value))
        except UsageError as exc:
            problem = f"does not match the manifest ({exc.message})"
    if problem:
        raise AuthError(
            f"{manifest.slug}'s token endpoint named {var}={shown}, which {problem}; nothing was stored.",
            f"If {manifest.slug} really moved, the connector's manifest must allow it; otherwise run "
            f"`synthral authorize {manifest.slug}` again later.",
        )
    return value


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
    for value in (access, refresh):
        if isinstance(value, str) and not (value.isprintable() and value.isascii()):
            raise ProviderError(  # RFC 6749 tokens are printable ASCII (VSCHAR); a header could not carry more
                f"{manifest.slug}'s token endpoint answered with a token that is not printable ASCII "
                "text; nothing was stored.",
                "The provider's answer is broken or hostile; try again later.",
            )
    life = seconds(token.get("expires_in"))
    expires_at = time.time() + life if life is not None else _epoch(token.get("expires_at"))
    if life is None and expires_at is not None:
        life = max(0.0, expires_at - time.time())
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
                config[var] = _setting(manifest, var, value)
    return TokenSet(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=expires_at,
        scopes=scopes,
        token_type=token.get("token_type"),
        config=config,
        lifetime=life,
    )
