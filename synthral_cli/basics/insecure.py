"""Cleartext is refused unless asked for: the one decision for every place where a secret could
cross the network unencrypted (an ``http://`` ``NANGO_URL``, SMTP AUTH with ``security: none``,
PostgreSQL with ``sslmode`` disable/allow/prefer).

Loopback is decided from the name as written, never by resolving it (a lookup is already a
packet): ``localhost`` and ``*.localhost`` (RFC 6761), an address in 127.0.0.0/8 or ``::1``
(also IPv4-mapped). Anything else is "the network", and plain text to it is a ``UsageError``
(exit 2) before any connection is made, unless ``--allow-insecure`` / ``SYNTHRAL_ALLOW_INSECURE=1``
says the user wants it.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

from .errors import UsageError

HOW_TO_ALLOW = "--allow-insecure (SYNTHRAL_ALLOW_INSECURE=1)"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is this machine's
    loopback by its spelling alone."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def refuse_cleartext(what: str, host: str, *, allowed: bool, fix: str) -> None:
    """Raise ``UsageError`` when ``what`` (a sentence naming the secret and the host) would go
    unencrypted to ``host`` that is not loopback and the user did not allow it."""
    if allowed or is_loopback(host):
        return
    raise UsageError(
        f"{what} unencrypted; synthral refuses plain text to a host that is not this machine.",
        f"{fix}, or, on a network you trust, allow it with {HOW_TO_ALLOW}.",
    )



def refuse_cleartext_url(name: str, url: str, secret: str, *, allowed: bool, fix: str) -> None:
    """``refuse_cleartext`` for a URL setting ``name``: only ``http://`` is plain text."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "http":
        refuse_cleartext(f"{name} {url} would send {secret}", parts.hostname or "", allowed=allowed, fix=fix)


def libpq_remote_hosts(params: dict[str, Any]) -> list[str]:
    """The hosts libpq would reach over the network for these connection parameters (else
    ``PGHOST`` / ``PGHOSTADDR``): not a Unix socket, not loopback; a ``service`` with no host is
    counted as remote, since its file is not read here."""
    found: list[str] = []
    for key, env in (("host", "PGHOST"), ("hostaddr", "PGHOSTADDR")):
        value = params[key] if key in params else os.environ.get(env, "")
        found += [h.strip() for h in str(value).split(",") if h.strip()]
    if not found and (params.get("service") or os.environ.get("PGSERVICE")):
        return ["(the service's host)"]
    return [h for h in found if not h.startswith(("/", "@")) and not is_loopback(h)]
