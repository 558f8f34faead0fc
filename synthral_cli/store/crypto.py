"""AES-256-GCM for the store's secrets, and the associated data that binds each ciphertext to its row.

Blob layout: ``b"\\x01" + nonce(12) + ciphertext+tag``; a random 96-bit nonce per ciphertext.

Associated data (AAD), two versions:

* v1 (stores written before AAD v2): ``connection\\0slug\\0name`` / ``app\\0slug``. It names the
  row, so a ciphertext copied into another row fails, but the readable columns beside it
  (``method``, ``config``, ``metadata``, ``origins``) could be edited without the key.
* v2: ``synthral-aad-v2\\0connection\\0`` + canonical JSON of ``[slug, name, method, scopes,
  expires_at, config, metadata, origins]`` (``app``: ``[slug, client_id]``): every column that
  decides where or how the secret is used. Edit one without the key and the row no longer opens.
  The AAD is computed from the decoded values, not from the stored text, so a backend may store
  the JSON as it likes as long as it gives back the same values.

Which version a store uses is sealed in its key check (``key_check_blob``): the plaintext names
the version, so only the key holder can move a store to v2, and once it is there a v1 row (an old
ciphertext put back) no longer opens. What no file can tell apart: the whole store replaced by a
copy from before its upgrade looks like an old store and is upgraded again.

``cryptography`` is imported inside functions: listing connections never needs it.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from .model import Connection

KEY_BYTES = 32
NONCE_BYTES = 12
BLOB_VERSION = b"\x01"
AAD_VERSION = 2  # what this synthral writes
KEY_CHECK_AAD = b"meta\0key_check"
_KEY_CHECK = {1: b"synthral store key check v1", 2: b"synthral store key check v2"}
_V2 = b"synthral-aad-v2\0"


class DecryptError(Exception):
    """A ciphertext did not authenticate under this key and associated data."""


def generate_key() -> bytes:
    return os.urandom(KEY_BYTES)


def aesgcm() -> type[AESGCM]:
    """cryptography's ``AESGCM``. ``ciphers.aead`` re-exports it from the Rust extension; taken
    from there, the classic cipher modules that package's ``__init__`` loads are not (~2 ms).
    The public path stays the fallback, should a release move it."""
    try:
        from cryptography.hazmat.bindings._rust import openssl

        cls: type[AESGCM] = openssl.aead.AESGCM
        return cls
    except (ImportError, AttributeError):  # pragma: no cover - a cryptography that moved it
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM as public

        return public


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return BLOB_VERSION + nonce + aesgcm()(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag

    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != BLOB_VERSION:
        raise DecryptError("not a synthral ciphertext")
    try:
        return aesgcm()(key).decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise DecryptError("authentication failed") from None


# -- associated data ----------------------------------------------------------------------------


def row_aad(kind: str, *parts: str) -> bytes:
    """v1 associated data naming a row: ``b"connection\\0slack\\0default"``."""
    return b"\0".join([kind.encode(), *(p.encode("utf-8") for p in parts)])


def canonical(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def connection_aad(conn: Connection, version: int) -> bytes:
    """The associated data of a connection's secrets (values as a backend gives them back)."""
    if version == 1:
        return row_aad("connection", conn.slug, conn.name)
    expires = None if conn.expires_at is None else float(conn.expires_at)
    bound = [conn.slug, conn.name, conn.method, conn.scopes, expires, conn.config, conn.metadata, conn.origins]
    return _V2 + b"connection\0" + canonical(bound)


def app_aad(slug: str, client_id: str, version: int) -> bytes:
    """The associated data of an OAuth app's client secret."""
    if version == 1:
        return row_aad("app", slug)
    return _V2 + b"app\0" + canonical([slug, client_id])


# -- the key check: proves a key opens the store and records the store's AAD version -------------


def key_check_blob(key: bytes, version: int = AAD_VERSION) -> bytes:
    return encrypt(key, _KEY_CHECK[version], KEY_CHECK_AAD)


def check_version(key: bytes, blob: bytes) -> int | None:
    """The AAD version a key check records, or ``None`` if ``key`` does not open it."""
    try:
        plain = decrypt(key, blob, KEY_CHECK_AAD)
    except DecryptError:
        return None
    for version, text in _KEY_CHECK.items():
        if plain == text:
            return version
    return None
