"""Re-sealing every secret of a store in one transaction: under a new key (``rotate_rows``) or
under the current associated-data version (``upgrade_aad``, for stores written before AAD v2).

Both work on a backend's rows with keys given by the caller (``encrypted.Store``, which holds the
write lock), and both finish by replacing the key check, which is what records the key and the
AAD version, so other processes see the old store or the new one. After an upgrade a row still
sealed with the old associated data (an old copy put back into the file) no longer opens: the key
check says v2, and it cannot be changed back without the key.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from ..basics.errors import StoreError
from . import crypto

if TYPE_CHECKING:
    from .backend import StoreBackend


def upgrade_aad(backend: StoreBackend, key: bytes) -> str:
    """Re-seal every v1 row under AAD v2 with the same key; returns the new key check text.

    A row that does not open under v1 was altered before (it fails today too) and is left as it
    is: it does not open under v2 either.
    """
    for listed in backend.list_rows():
        row = backend.get_row(listed.slug, listed.name)
        if row is None:
            continue
        conn, blob = row
        try:
            plain = crypto.decrypt(key, blob, crypto.connection_aad(conn, 1))
        except crypto.DecryptError:
            continue
        sealed = crypto.encrypt(key, plain, crypto.connection_aad(conn, crypto.AAD_VERSION))
        backend.put_row(conn, sealed, if_version=conn.version)
    for slug in backend.app_slugs():
        app_row = backend.get_app_row(slug)
        if app_row is None or app_row[1] is None:
            continue
        app, blob = app_row[0], app_row[1]
        try:
            plain = crypto.decrypt(key, blob, crypto.app_aad(slug, app.client_id, 1))
        except crypto.DecryptError:
            continue
        backend.put_app_row(app, crypto.encrypt(key, plain, crypto.app_aad(slug, app.client_id, crypto.AAD_VERSION)))
    text = base64.b64encode(crypto.key_check_blob(key, crypto.AAD_VERSION)).decode()
    backend.set_meta("key_check", text)
    return text


def rotate_rows(backend: StoreBackend, old_key: bytes, new_key: bytes) -> str:
    """Re-encrypt every secret from ``old_key`` to ``new_key``; returns the new key check text.

    Any secret that does not open is a ``StoreError`` (the caller's transaction rolls back).
    """
    current = backend.get_meta("key_check")
    if current is None or crypto.check_version(old_key, base64.b64decode(current)) != crypto.AAD_VERSION:
        raise StoreError(
            f"the key of {backend.location} changed while rotating (another rotate-key ran); nothing was changed here.",
            "Run `synthral store status` to see which key opens the store now.",
        )
    for listed in backend.list_rows():
        row = backend.get_row(listed.slug, listed.name)
        if row is None:
            continue
        conn, blob = row
        aad = crypto.connection_aad(conn, crypto.AAD_VERSION)
        plain = _open(old_key, blob, aad, f"connection {conn.slug}/{conn.name}", backend.location)
        backend.put_row(conn, crypto.encrypt(new_key, plain, aad), if_version=conn.version)
    for slug in backend.app_slugs():
        app_row = backend.get_app_row(slug)
        if app_row is None or app_row[1] is None:
            continue
        app, blob = app_row[0], app_row[1]
        aad = crypto.app_aad(slug, app.client_id, crypto.AAD_VERSION)
        plain = _open(old_key, blob, aad, f"the app credentials of {slug}", backend.location)
        backend.put_app_row(app, crypto.encrypt(new_key, plain, aad))
    text = base64.b64encode(crypto.key_check_blob(new_key)).decode()
    backend.set_meta("key_check", text)
    return text


def _open(key: bytes, blob: bytes, aad: bytes, what: str, location: str) -> bytes:
    try:
        return crypto.decrypt(key, blob, aad)
    except crypto.DecryptError:
        raise altered(what, location) from None


def altered(what: str, location: str) -> StoreError:
    return StoreError(
        f"the secrets of {what} in {location} do not open: the row was altered or copied from another "
        "row without the key (e.g. its settings, method or origins were edited).",
        "Remove it and authorize again (synthral connections remove ...).",
    )
