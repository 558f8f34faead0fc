"""The store key and the AEAD that uses it.

Where the key comes from, in order:

1. ``SYNTHRAL_STORE_KEY``: 32 random bytes, base64 (URL-safe or standard alphabet, padding
   optional), e.g. ``openssl rand -base64 32``. Used as is; synthral never writes it anywhere.
2. The OS keyring (the ``keyring`` package), when a real backend answers. Every keyring call runs
   in a daemon thread and is abandoned after ``KEYRING_TIMEOUT`` seconds, so a locked or absent
   keyring (containers, CI, SSH sessions) never hangs synthral.
3. A key file ``<config>/store.key`` (mode 0600, created atomically without ever replacing an
   existing key).

A new key is created only for a store that has none yet (the store decides, under its write lock).
There is no plaintext fallback: without a key nothing secret is written.

Secrets are sealed with AES-256-GCM, a random 96-bit nonce per ciphertext, and associated data
naming the row (``connection\\0slug\\0name``), so a ciphertext copied into another row fails.
Blob layout: ``b"\\x01" + nonce(12) + ciphertext+tag``.

``cryptography`` and ``keyring`` are imported inside functions: listing connections needs neither.
"""

from __future__ import annotations

import base64
import binascii
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from ..basics import settings as _settings
from ..basics.errors import StoreError

KEY_BYTES = 32
NONCE_BYTES = 12
BLOB_VERSION = b"\x01"
KEYRING_SERVICE = "synthral"
KEYRING_TIMEOUT = 3.0  # seconds for any one keyring call

Source = Literal["environment", "keyring", "file"]
T = TypeVar("T")


class DecryptError(Exception):
    """A ciphertext did not authenticate under this key and associated data."""


# -- key encoding ---------------------------------------------------------------------------


def generate_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """base64url without padding: 43 characters."""
    return base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")


def decode_key(text: str, where: str) -> bytes:
    """Accept base64url or standard base64, with or without padding; must be 32 bytes."""
    raw = text.strip()
    try:
        padded = raw + "=" * (-len(raw) % 4)
        key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise StoreError(
            f"the store key in {where} is not valid: expected 32 bytes, base64-encoded (43-44 characters).",
            "Generate one with: openssl rand -base64 32",
        )
    return key


# -- AEAD -----------------------------------------------------------------------------------


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return BLOB_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != BLOB_VERSION:
        raise DecryptError("not a synthral ciphertext")
    try:
        return AESGCM(key).decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise DecryptError("authentication failed") from None


def row_aad(kind: str, *parts: str) -> bytes:
    """Associated data naming a row: ``b"connection\\0slack\\0default"``."""
    return b"\0".join([kind.encode(), *(p.encode("utf-8") for p in parts)])


# -- keyring, time-boxed --------------------------------------------------------------------


class KeyringUnavailable(Exception):
    pass


def _time_boxed(fn: Callable[[], T], timeout: float) -> T:
    """Run ``fn`` in a daemon thread; give up after ``timeout`` seconds (the thread is abandoned)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            box["error"] = exc

    t = threading.Thread(target=target, name="synthral-keyring", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise KeyringUnavailable(f"the OS keyring did not answer within {timeout:g} s")
    if "error" in box:
        raise KeyringUnavailable(f"the OS keyring failed: {type(box['error']).__name__}: {box['error']}")
    return box["value"]  # type: ignore[no-any-return]


def _usable_backend() -> Any:
    """The keyring backend if it is a real one, else ``None`` (fail, null, empty chainer)."""
    import keyring
    from keyring.backends import chainer, fail

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return None
    if type(backend).__module__.endswith("backends.null"):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


class Keyring:
    """The OS keyring, each call time-boxed; any failure means "not available"."""

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = KEYRING_TIMEOUT if timeout is None else timeout
        self._backend: Any = None
        self._probed = False
        self.problem: str | None = None

    def backend(self) -> Any:
        if not self._probed:
            self._probed = True
            try:
                self._backend = _time_boxed(_usable_backend, self.timeout)
                if self._backend is None:
                    self.problem = "no OS keyring backend is available"
            except KeyringUnavailable as exc:
                self.problem = str(exc)
        return self._backend

    def available(self) -> bool:
        return self.backend() is not None

    def name(self) -> str:
        b = self.backend()
        return f"{type(b).__module__}.{type(b).__name__}" if b is not None else "none"

    def get(self, user: str) -> str | None:
        b = self.backend()
        if b is None:
            return None
        try:
            value = _time_boxed(lambda: b.get_password(KEYRING_SERVICE, user), self.timeout)
        except KeyringUnavailable as exc:
            self.problem = str(exc)
            return None
        return None if value is None else str(value)

    def set(self, user: str, value: str) -> None:
        b = self.backend()
        if b is None:
            raise KeyringUnavailable(self.problem or "no OS keyring backend is available")
        _time_boxed(lambda: b.set_password(KEYRING_SERVICE, user, value), self.timeout)

    def delete(self, user: str) -> None:
        b = self.backend()
        if b is None:
            return
        try:
            _time_boxed(lambda: b.delete_password(KEYRING_SERVICE, user), self.timeout)
        except KeyringUnavailable:
            pass


# -- files ----------------------------------------------------------------------------------


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) with the last component 0700, whatever the umask."""
    if path.is_dir():
        return
    from ..basics.settings import make_private_dirs

    make_private_dirs(path.parent)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not path.is_dir():
            raise StoreError(
                f"{path} exists and is not a directory.", "Move it away or set SYNTHRAL_CONFIG_DIR."
            ) from None
        return
    os.chmod(path, 0o700)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes, *, replace: bool) -> bool:
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file, fsync, link/replace).

    With ``replace=False`` an existing file is never touched and ``False`` is returned.
    """
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return True


def read_key_file(path: Path) -> bytes | None:
    try:
        text = path.read_text("ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(
            f"cannot read the store key file {path}: {exc}", "Check its owner and permissions."
        ) from None
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)
    from ..basics.redact import register

    register(text.strip())
    return decode_key(text, f"the key file {path}")


# -- where the key lives --------------------------------------------------------------------


@dataclass
class KeySource:
    """A key and where it came from (``location`` is safe to print)."""

    key: bytes = field(repr=False)
    source: Source
    location: str

    def describe(self) -> str:
        if self.source == "environment":
            return f"the environment variable {self.location}"
        if self.source == "keyring":
            return f"the OS keyring ({self.location})"
        return f"the key file {self.location}"


class KeyLocator:
    """Finds, creates and replaces the store key for one config directory."""

    def __init__(self, settings: _settings.Settings, keyring: Keyring | None = None) -> None:
        self.settings = settings
        self.key_file = settings.paths.key_file
        self.pending_file = self.key_file.with_name(self.key_file.name + ".new")
        self.keyring = keyring or Keyring()
        # One entry per config directory, so two stores never share (and rotate) one key.
        self.keyring_user = f"store-key:{settings.paths.config_dir.expanduser().resolve()}"
        self.keyring_pending_user = self.keyring_user + ":new"

    def keyring_location(self) -> str:
        return f"service {KEYRING_SERVICE!r}, entry {self.keyring_user!r}"

    def from_environment(self) -> KeySource | None:
        raw = self.settings.env.get(_settings.STORE_KEY)
        if not raw:
            return None
        from ..basics.redact import register

        register(raw)
        return KeySource(decode_key(raw, _settings.STORE_KEY), "environment", _settings.STORE_KEY)

    def from_file(self) -> KeySource | None:
        key = read_key_file(self.key_file)
        return KeySource(key, "file", str(self.key_file)) if key is not None else None

    def from_keyring(self) -> KeySource | None:
        raw = self.keyring.get(self.keyring_user)
        if not raw:
            return None
        from ..basics.redact import register

        register(raw)
        return KeySource(decode_key(raw, "the OS keyring"), "keyring", self.keyring_location())

    def find(self, hint: str | None) -> KeySource | None:
        """The existing key: the environment first, then where the store says its key lives."""
        env = self.from_environment()
        if env is not None:
            return env
        order = (
            (self.from_file, self.from_keyring) if hint != "keyring" else (self.from_keyring, self.from_file)
        )
        for lookup in order:
            found = lookup()
            if found is not None:
                return found
        return None

    def create(self) -> KeySource:
        """A new key in the keyring if one works, else in the key file (never replacing one)."""
        from ..basics.redact import register

        key = generate_key()
        register(encode_key(key))
        if self.keyring.available():
            try:
                self.keyring.set(self.keyring_user, encode_key(key))
                if self.keyring.get(self.keyring_user) == encode_key(key):
                    return KeySource(key, "keyring", self.keyring_location())
            except KeyringUnavailable:
                pass
        if not write_private_file(self.key_file, (encode_key(key) + "\n").encode(), replace=False):
            found = self.from_file()
            if found is not None:
                return found
        return KeySource(key, "file", str(self.key_file))

    # Rotation: the new key is saved as "pending" before the store commits, and promoted after,
    # so a crash in between leaves a key that opens the store (see ``pending``).

    def save_pending(self, current: KeySource, key: bytes) -> None:
        if current.source == "keyring":
            self.keyring.set(self.keyring_pending_user, encode_key(key))
        elif current.source == "file":
            write_private_file(self.pending_file, (encode_key(key) + "\n").encode(), replace=True)

    def pending(self, hint: str | None) -> KeySource | None:
        """A rotated key whose promotion was interrupted."""
        if hint == "keyring":
            raw = self.keyring.get(self.keyring_pending_user)
            return (
                KeySource(decode_key(raw, "the OS keyring"), "keyring", self.keyring_location())
                if raw
                else None
            )
        key = read_key_file(self.pending_file)
        return KeySource(key, "file", str(self.key_file)) if key is not None else None

    def promote(self, ks: KeySource) -> None:
        if ks.source == "keyring":
            self.keyring.set(self.keyring_user, encode_key(ks.key))
            self.keyring.delete(self.keyring_pending_user)
        elif ks.source == "file":
            if self.pending_file.exists():
                os.replace(self.pending_file, self.key_file)
                _fsync_dir(self.key_file.parent)
            else:
                write_private_file(self.key_file, (encode_key(ks.key) + "\n").encode(), replace=True)

    def discard_pending(self) -> None:
        if self.pending_file.exists():
            self.pending_file.unlink()
        if self.keyring._probed and self.keyring.available():
            self.keyring.delete(self.keyring_pending_user)


# -- bundles: one connection moved to another machine under a passphrase --------------------

BUNDLE_PREFIX = "synthral-bundle-v1."
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1  # fixed by the v1 format
_SALT_BYTES = 16
MIN_PASSPHRASE = 8


def _bundle_key(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=KEY_BYTES, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(
        passphrase.encode()
    )


def seal_bundle(payload: bytes, passphrase: str) -> str:
    """``synthral-bundle-v1.`` + base64url(salt16 + nonce12 + AES-GCM(scrypt(passphrase), payload))."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(passphrase) < MIN_PASSPHRASE:
        from ..basics.errors import UsageError

        raise UsageError(
            f"the passphrase is too short (at least {MIN_PASSPHRASE} characters).",
            "Use a long random passphrase, e.g. openssl rand -base64 24.",
        )
    salt, nonce = os.urandom(_SALT_BYTES), os.urandom(NONCE_BYTES)
    sealed = AESGCM(_bundle_key(passphrase, salt)).encrypt(nonce, payload, BUNDLE_PREFIX.encode())
    return BUNDLE_PREFIX + base64.urlsafe_b64encode(salt + nonce + sealed).decode().rstrip("=")


def open_bundle(text: str, passphrase: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ..basics.errors import UsageError

    text = "".join(text.split())
    if not text.startswith(BUNDLE_PREFIX):
        other = text.split(".", 1)[0] if text.startswith("synthral-bundle-") else None
        raise UsageError(
            f"this is a {other} bundle, which this synthral cannot read."
            if other
            else "the input is not a synthral bundle.",
            "Pass the text printed by `synthral connections export` (it starts with synthral-bundle-v1.).",
        )
    body = text[len(BUNDLE_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) < _SALT_BYTES + NONCE_BYTES + 16:
        raise UsageError("the bundle is truncated or damaged.", "Copy the whole bundle again.")
    salt, nonce, sealed = (
        raw[:_SALT_BYTES],
        raw[_SALT_BYTES : _SALT_BYTES + NONCE_BYTES],
        raw[_SALT_BYTES + NONCE_BYTES :],
    )
    try:
        return AESGCM(_bundle_key(passphrase, salt)).decrypt(nonce, sealed, BUNDLE_PREFIX.encode())
    except InvalidTag:
        raise UsageError(
            "the passphrase does not open this bundle (or the bundle was altered).",
            "Use the passphrase given to `synthral connections export`.",
        ) from None
