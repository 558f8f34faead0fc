"""Bundles: one connection (and its connector's OAuth app) moved to another machine under a
passphrase (``synthral connections export`` / ``import``).

The payload is JSON (``export_payload`` / ``import_payload``). Sealing, format v2:
``synthral-bundle-v2.`` + base64url(log2(N) r p (one byte each) + salt16 + nonce12 +
AES-256-GCM(scrypt(passphrase, salt, N, r, p), payload)), the prefix and the three parameter
bytes as associated data. New bundles use N = 2^17, r = 8, p = 1 and need a passphrase of at
least 12 characters. v1 bundles (``synthral-bundle-v1.``, N = 2^15 fixed) still open.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..basics.errors import UsageError
from .crypto import KEY_BYTES, NONCE_BYTES
from .model import Connection

if TYPE_CHECKING:
    from .encrypted import Store

BUNDLE_FORMAT = "synthral-connection"
BUNDLE_PREFIX = "synthral-bundle-v2."
_V1_PREFIX = "synthral-bundle-v1."
_V1_PARAMS = (15, 8, 1)  # fixed by the v1 format: N = 2^15
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 17, 8, 1
_MAX_LOG2_N, _MAX_MEMORY = 20, 2**30  # what a bundle may ask of this machine (1 GiB)
_SALT_BYTES = 16
MIN_PASSPHRASE = 12


def _bundle_key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=KEY_BYTES, n=2**log2_n, r=r, p=p).derive(passphrase.encode())


def seal_bundle(payload: bytes, passphrase: str) -> str:
    """The v2 bundle text of ``payload``; a passphrase under 12 characters is a usage error."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(passphrase) < MIN_PASSPHRASE:
        raise UsageError(
            f"the passphrase is too short ({len(passphrase)} characters; at least {MIN_PASSPHRASE}).",
            "Use a long random passphrase, e.g. openssl rand -base64 24.",
        )
    params = bytes([SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P])
    salt, nonce = os.urandom(_SALT_BYTES), os.urandom(NONCE_BYTES)
    key = _bundle_key(passphrase, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    sealed = AESGCM(key).encrypt(nonce, payload, BUNDLE_PREFIX.encode() + params)
    return BUNDLE_PREFIX + base64.urlsafe_b64encode(params + salt + nonce + sealed).decode().rstrip("=")


def open_bundle(text: str, passphrase: str) -> bytes:
    """The payload of a v1 or v2 bundle; any problem is a usage error saying what to do."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    text = "".join(text.split())
    prefix = next((p for p in (BUNDLE_PREFIX, _V1_PREFIX) if text.startswith(p)), None)
    if prefix is None:
        other = text.split(".", 1)[0] if text.startswith("synthral-bundle-") else None
        raise UsageError(
            f"this is a {other} bundle, which this synthral cannot read."
            if other
            else "the input is not a synthral bundle.",
            "Pass the text printed by `synthral connections export` (it starts with synthral-bundle-).",
        )
    body = text[len(prefix) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if prefix == _V1_PREFIX:
        (log2_n, r, p), params = _V1_PARAMS, b""
    else:
        params, raw = raw[:3], raw[3:]
        log2_n, r, p = params if len(params) == 3 else (0, 0, 0)
    if len(raw) < _SALT_BYTES + NONCE_BYTES + 16:
        raise UsageError("the bundle is truncated or damaged.", "Copy the whole bundle again.")
    if not (10 <= log2_n <= _MAX_LOG2_N and 1 <= r <= 32 and 1 <= p <= 16) or 128 * r * 2**log2_n > _MAX_MEMORY:
        raise UsageError(
            f"the bundle asks for scrypt parameters this synthral does not accept (N=2^{log2_n}, r={r}, p={p}).",
            "Export it again with this synthral version.",
        )
    salt, nonce = raw[:_SALT_BYTES], raw[_SALT_BYTES : _SALT_BYTES + NONCE_BYTES]
    sealed = raw[_SALT_BYTES + NONCE_BYTES :]
    try:
        key = _bundle_key(passphrase, salt, log2_n, r, p)
        return AESGCM(key).decrypt(nonce, sealed, prefix.encode() + params)
    except InvalidTag:
        raise UsageError(
            "the passphrase does not open this bundle (or the bundle was altered).",
            "Use the passphrase given to `synthral connections export`.",
        ) from None


# -- the payload inside a bundle ----------------------------------------------------------------


def export_payload(store: Store, slug: str, name: str = "default") -> bytes:
    """One connection (with its secrets) and the connector's OAuth app, as JSON bytes."""
    from ..basics.errors import AuthError

    conn = store.get(slug, name)
    if conn is None:
        raise AuthError(f"no stored connection {slug}/{name} to export.", "See `synthral connections list`.")
    app = store.get_app(slug)
    data = {
        "format": BUNDLE_FORMAT,
        "version": 1,
        "exported_at": time.time(),
        "connection": {
            "slug": conn.slug,
            "name": conn.name,
            "method": conn.method,
            "scopes": conn.scopes,
            "expires_at": conn.expires_at,
            "config": conn.config,
            "secrets": conn.secrets,
            "metadata": conn.metadata,
            "origins": conn.origins,
        },
        "app": None if app is None else {"client_id": app.client_id, "client_secret": app.client_secret},
    }
    return json.dumps(data).encode()


def import_payload(
    store: Store,
    payload: bytes,
    *,
    name: str | None = None,
    replace_existing: bool = False,
    check: Callable[[Connection], Connection] | None = None,
) -> tuple[Connection, bool]:
    """Store the connection of a bundle (as ``name`` if given); returns it and whether its OAuth app was
    stored too (only when none is configured here). ``check`` re-validates the connection (its
    settings and origins, against the manifest) before anything is stored; it may raise."""
    from ..basics.redact import register

    try:
        data = json.loads(payload)
        if data.get("format") != BUNDLE_FORMAT or data.get("version") != 1:
            raise ValueError("unknown format")
        c = data["connection"]
        secrets = {str(k): str(v) for k, v in dict(c["secrets"]).items()}
        expires_at = c.get("expires_at")
        if expires_at is not None and (isinstance(expires_at, bool) or not isinstance(expires_at, (int, float))):
            raise ValueError("expires_at")
        register(*secrets.values())
        conn = Connection(
            slug=str(c["slug"]),
            name=str(name or c["name"]),
            method=str(c["method"]),
            scopes=[str(s) for s in c.get("scopes") or []],
            expires_at=expires_at,
            config=dict(c.get("config") or {}),
            secrets=secrets,
            metadata=dict(c.get("metadata") or {}),
            origins=[str(o) for o in c.get("origins") or []],
        )
        app = data.get("app")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UsageError("the bundle's content is not a synthral connection.", "Export it again.") from None
    if check is not None:
        conn = check(conn)
    with store.locked():
        if store.get(conn.slug, conn.name) is not None and not replace_existing:
            raise UsageError(
                f"a connection {conn.slug}/{conn.name} already exists.",
                "Pass --replace to overwrite it, or --connection NAME to import it under another name.",
            )
        stored = store.put(conn)
        app_stored = False
        if app and app.get("client_id") and store.get_app(conn.slug) is None:
            store.put_app(conn.slug, str(app["client_id"]), app.get("client_secret"))
            app_stored = True
    return stored, app_stored
