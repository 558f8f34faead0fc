"""The resolved credential a connector call authenticates with (what the wire layer injects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Credential:
    """What the invoker applies to a request."""

    slug: str
    connection: str
    kind: str  # oauth2 | api_key | bearer | basic | custom | none
    secrets: dict[str, str]  # access_token | api_key | token | username/password | custom fields
    config: dict[str, Any]  # connection config (base_url variables)
    scopes: list[str] | None  # None = unknown (env override): skip the scope check
    source: str  # store | environment | nango | placeholder
    # the origins this credential may be sent to (``binding.credential_binding`` checks them)
    origins: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (
            f"Credential(slug={self.slug!r}, connection={self.connection!r}, kind={self.kind!r}, "
            f"secrets=<{len(self.secrets)} hidden>, source={self.source!r})"
        )


def authorize_cmd(slug: str, name: str) -> str:
    """The command that (re)authorizes ``slug``'s connection ``name``, for hints."""
    return f"synthral authorize {slug}" + (f" --connection {name}" if name != "default" else "")
