"""TLS trust, in one place: the system's CA store, or a private CA bundle given with
``--ca-bundle`` / ``SYNTHRAL_CA_BUNDLE``. Certificates are always verified."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import UsageError

if TYPE_CHECKING:
    import ssl


def context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """A verifying SSL context trusting ``ca_bundle`` (a PEM file) or, without one, the system."""
    import ssl

    if not ca_bundle:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"Cannot use the CA bundle {ca_bundle}: {exc}.",
            "Point --ca-bundle / SYNTHRAL_CA_BUNDLE at a PEM file.",
        ) from None


def verify(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """httpx's ``verify``: ``True`` (httpx's default trust) or a context for ``ca_bundle``. (A path
    string is deprecated in httpx 0.28, and a bad file would fail deep inside the client.)"""
    return context(ca_bundle) if ca_bundle else True
