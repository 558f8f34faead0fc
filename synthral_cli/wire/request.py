"""The request on the wire: how to send (``Options``) and exactly what is sent (``PreparedRequest``).

``PreparedRequest`` is what a dry run prints and what the transports send: method, URL, headers
in a stable order and the body bytes, with every secret it carries listed for masking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..basics import redact
from ..basics.errors import UsageError
from ..basics.version import __version__

if TYPE_CHECKING:
    from ..auth.binding import Binding
    from ..auth.credential import Credential
    from ..catalogue.manifest import Manifest

USER_AGENT = f"synthral/{__version__}"
SECRET_FIELDS = {
    "access_token",
    "refresh_token",
    "token",
    "api_key",
    "password",
    "secret_access_key",
    "session_token",
    "client_secret",
    "dsn",
}


def credential_fields(manifest: Manifest, cred: Credential | None) -> dict[str, Any]:
    """A credential's config and secrets as one mapping; an env override's one value also fills
    the manifest's secret fields (``SYNTHRAL_DISCORD_TOKEN`` is the ``bot_token`` that
    ``auth.inject`` names)."""
    if cred is None:
        return {}
    fields: dict[str, Any] = {**cred.config, **cred.secrets}
    if cred.source == "environment" and len(cred.secrets) == 1 and cred.kind != "oauth2":
        # (an oauth2 connector's fields are extra ones, e.g. Etsy's app key, never the token)
        value = next(iter(cred.secrets.values()))
        for f in manifest.auth.get("fields", []):
            if f.get("secret", True):
                fields.setdefault(f["name"], value)
    return fields


def secret_values(manifest: Manifest, fields: dict[str, Any]) -> list[str]:
    """The values of ``fields`` that are secrets (known secret names, or the manifest's fields
    not declared ``secret: false``)."""
    names = SECRET_FIELDS | {f["name"] for f in manifest.auth.get("fields", []) if f.get("secret", True)}
    return [str(v) for k, v in fields.items() if k in names and v]


@dataclass
class Options:
    """How to send: everything the command line can change besides the parameters."""

    connection: str = "default"
    dry_run: bool = False
    paginate: bool = False
    retries: int = 3
    timeout: float = 30.0
    ca_bundle: str | None = None
    allow_insecure: bool | None = None  # plain text to a non-loopback host (basics.insecure)
    on_wait: Callable[[float, str], None] | None = None  # progress while backing off
    backoff_base: float = 0.5
    sleep: Callable[[float], None] | None = None
    via_nango_proxy: bool = False  # send through Nango's /proxy (issue 7; oauth/nango.py)
    client: Any = None  # an httpx.Client to reuse across calls (workflows); not closed here
    binding: Binding | None = None  # SMTP/PostgreSQL: where the credential may go (builtin.py sets it)




@dataclass
class PreparedRequest:
    """The exact request: method, URL, headers in a stable order, body bytes as sent."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    content: bytes | None = None
    display_body: Any = None
    masked: list[str] = field(default_factory=list)
    timeout: float | None = None
    note: str | None = None
    binding: Binding | None = None  # where the credential it carries may go (auth/binding.py)

    def _mask(self, text: str) -> str:
        """The credential where it is placed and the whole secret anywhere else, never a short
        secret inside other text (``redact.pattern``)."""
        values = {s for s in self.masked if s} | {quote(s, safe="") for s in self.masked if s}
        return redact.redact(redact.mask(text, values))

    def to_dict(self) -> dict[str, Any]:
        """The ``--dry-run --json`` shape; secrets masked."""
        body = self.display_body
        if isinstance(body, str):
            body = self._mask(body)
        elif body is not None:
            body = json.loads(self._mask(json.dumps(body, ensure_ascii=False)))
        return {
            "method": self.method,
            "url": self._mask(self.url),
            "headers": {k: self._mask(v) for k, v in self.headers},
            "body": body,
        }

    def render(self) -> str:
        d = self.to_dict()
        lines = [f"{d['method']} {d['url']}", *(f"{k}: {v}" for k, v in d["headers"].items())]
        if self.content is not None:
            lines += ["", self._mask(_display(self.content))]
        elif d["body"] is not None:
            lines += [
                "",
                d["body"] if isinstance(d["body"], str) else json.dumps(d["body"], ensure_ascii=False),
            ]
        return "\n".join(lines)


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _check_header(name: str, value: str) -> str:
    """Refuse what could inject or break a header; the value is never echoed (it may be a secret)."""
    if not _TOKEN.fullmatch(name):
        raise UsageError(f"{name!r} is not a valid header name.", "Use letters, digits and - (e.g. X-Request-Id).")
    if any(c in value for c in "\r\n\0"):
        raise UsageError(f"Header {name!r} may not contain line breaks.", "Remove CR/LF from the value.")
    if not value.isascii() or any(c < " " and c != "\t" or c == "\x7f" for c in value):
        raise UsageError(
            f"Header {name!r} holds non-ASCII or control characters, which HTTP headers cannot carry.",
            "Pass plain ASCII text (encode the value if the API expects it, e.g. JSON with \\u escapes).",
        )
    return value


def _display(content: bytes) -> str:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(content)} bytes of binary data>"
    return text if "\0" not in text else f"<{len(content)} bytes of binary data>"


