"""Where a manifest sends things: the origin (``scheme://host[:port]``) of each of its URLs, and
what a user manifest changes when it replaces a bundled one (``ShadowInfo``).

Origins are compared, not whole URLs: a credential may go anywhere on a host it was authorized
for, and nowhere else. Here they are read from templates, placeholders kept
(``https://{subdomain}.zendesk.com``), to say what a user manifest changes; the origins a
connection is bound to, with its settings filled in, are ``auth/binding.py``'s.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Mapping
    from typing import Any

AUTH_URL_FIELDS = ("authorization_url", "token_url", "refresh_url", "revocation_url", "device_authorization_url")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DEFAULT_PORTS = {"https": "443", "http": "80"}


def url_fields(raw: Mapping[str, Any]) -> dict[str, str]:
    """Every URL of a manifest by field: ``base_url``, ``auth.token_url``, ``actions[x].base_url``..."""
    out: dict[str, str] = {}
    if isinstance(raw.get("base_url"), str):
        out["base_url"] = raw["base_url"]
    auth = raw.get("auth") or {}
    for key in AUTH_URL_FIELDS:
        if isinstance(auth.get(key), str):
            out[f"auth.{key}"] = auth[key]
    for action in raw.get("actions") or []:
        if isinstance(action, dict) and isinstance(action.get("base_url"), str):
            out[f"actions[{action.get('name')}].base_url"] = action["base_url"]
    return out


def origin(url: str) -> str:
    """``scheme://host[:port]``, lower-cased, without the scheme's default port; a template that
    starts with a placeholder (``{instance_url}/services``) is its own origin until filled in."""
    if url.startswith("{"):
        m = _PLACEHOLDER.match(url)
        return m.group(0) if m else url
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.lower()
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2].lower()
    host, colon, port = netloc.rpartition(":") if not netloc.endswith("]") else (netloc, "", "")
    if colon and port == _DEFAULT_PORTS.get(scheme.lower()):
        netloc = host
    return f"{scheme.lower()}://{netloc}"


def fill(template: str, config: Mapping[str, Any]) -> str:
    """``{var}`` placeholders filled from a connection's settings where it has them."""

    def sub(m: re.Match[str]) -> str:
        value = config.get(m.group(1))
        return str(value) if value not in (None, "") else m.group(0)

    return _PLACEHOLDER.sub(sub, template)


def origins(raw: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Field -> origin, with the connection's settings filled in when given."""
    return {k: origin(fill(v, config or {})) for k, v in url_fields(raw).items()}


class ShadowInfo:
    """A user manifest (``source``) that replaces the bundled manifest of ``slug``.

    ``bundled`` and ``user`` map each URL field to its origin template. ``changed`` lists the
    fields of the user manifest that point at an origin the bundled manifest never uses, with the
    bundled origin of the same field (``None`` when the bundled manifest has no such field).
    (A plain class: ``dataclasses`` costs the fast path ~10 ms of imports.)"""

    __slots__ = ("slug", "source", "bundled", "user")

    def __init__(self, slug: str, source: str, bundled: dict[str, str], user: dict[str, str]) -> None:
        self.slug = slug
        self.source = source
        self.bundled = bundled
        self.user = user

    def __repr__(self) -> str:
        return f"ShadowInfo({self.slug!r}, {self.source!r}, changed={self.changed!r})"

    @property
    def changed(self) -> dict[str, tuple[str | None, str]]:
        known = set(self.bundled.values())
        return {k: (self.bundled.get(k), v) for k, v in self.user.items() if v not in known}

    @property
    def auth_changed(self) -> bool:
        """True when an OAuth endpoint (where app secrets and refresh tokens go) moved."""
        return any(k.startswith("auth.") for k in self.changed)

    def describe_changes(self) -> str:
        return ", ".join(
            f"{k} -> {new}" + (f" (bundled: {old})" if old else "") for k, (old, new) in self.changed.items()
        )

    def notice(self) -> str:
        """One line for stderr, said once per command."""
        head = f"{self.slug} comes from {self.source}, which replaces the bundled {self.slug} connector"
        if not self.changed:
            return head + " (same hosts)."
        return (
            f"{head} and sends to other hosts: {self.describe_changes()}. Stored {self.slug} "
            "credentials and OAuth apps are not used with it until you authorize again."
        )
