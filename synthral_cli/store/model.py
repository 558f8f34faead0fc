"""What the store keeps: ``Connection`` (one account of one connector), ``AppCredentials`` (an
OAuth app from ``synthral configure``), the rule for slugs and connection names, and the fast
decoder of the JSON columns every backend stores them in."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..basics.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,127}$")

METHODS = ("direct", "device", "client_credentials", "nango", "api_key", "bearer", "basic", "custom")


@dataclass
class Connection:
    """One stored account of one connector. ``secrets`` is ``{}`` in ``Store.list()``."""

    slug: str
    name: str = "default"
    method: str = "direct"
    scopes: list[str] = field(default_factory=list)
    expires_at: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None
    updated_at: float | None = None
    last_used_at: float | None = None
    last_test_ok: bool | None = None
    last_test_at: float | None = None
    last_test_message: str | None = None
    needs_reauth: bool = False
    version: int = 0
    # the origins (scheme://host[:port]) its credential may be sent to, recorded when it was made
    origins: list[str] = field(default_factory=list)

    def __repr__(self) -> str:  # never show secret values, even in a traceback
        return (
            f"Connection(slug={self.slug!r}, name={self.name!r}, method={self.method!r}, "
            f"secrets=<{len(self.secrets)} hidden>, version={self.version})"
        )


@dataclass
class AppCredentials:
    """An OAuth app registered by the user (``synthral configure``)."""

    slug: str
    client_id: str
    client_secret: str | None = None
    updated_at: float | None = None

    def __repr__(self) -> str:
        secret = "<hidden>" if self.client_secret else None
        return f"AppCredentials(slug={self.slug!r}, client_id={self.client_id!r}, client_secret={secret})"


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise UsageError(
            f"invalid {what} {value!r}.",
            "Use letters, digits and . _ @ + : - (starting with a letter or digit, at most 128 characters).",
        )
    return value


# The C scanner: json.loads minus ~3 us of Python wrapper per call (10,000 rows in `connections list`).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def json_column(text: str | None, empty: Any) -> Any:
    """A JSON column's value; ``empty`` (``[]`` or ``{}``) gives the type for an empty one."""
    if not text or text == "[]" or text == "{}":
        return type(empty)()
    return _scan(text, 0)[0]


# The connection row's metadata columns, in this order, on every backend (the secret comes after).
CONNECTION_COLUMNS = (
    "slug, name, method, scopes, expires_at, config, metadata, created_at, updated_at, last_used_at, "
    "last_test_ok, last_test_at, last_test_message, needs_reauth, version, origins"
)


def connection_from_row(r: tuple[Any, ...]) -> Connection:
    """Columns in ``CONNECTION_COLUMNS`` order; positional arguments follow the dataclass field order."""
    return Connection(
        r[0],
        r[1],
        r[2],
        json_column(r[3], []),
        r[4],
        json_column(r[5], {}),
        {},
        json_column(r[6], {}),
        r[7],
        r[8],
        r[9],
        None if r[10] is None else bool(r[10]),
        r[11],
        r[12],
        bool(r[13]),
        r[14],
        json_column(r[15], []),
    )


def connection_to_row(c: Connection) -> tuple[Any, ...]:
    """The inverse of ``connection_from_row``: ``c``'s values in ``CONNECTION_COLUMNS`` order, as
    every backend stores them (JSON text, 1/0 for booleans); ``secrets`` is not among them."""
    return (
        c.slug,
        c.name,
        c.method,
        json.dumps(list(c.scopes)),
        c.expires_at,
        json.dumps(c.config),
        json.dumps(c.metadata),
        c.created_at,
        c.updated_at,
        c.last_used_at,
        None if c.last_test_ok is None else int(c.last_test_ok),
        c.last_test_at,
        c.last_test_message,
        int(c.needs_reauth),
        c.version,
        json.dumps(list(c.origins)),
    )
