"""Where the store key lives: found, created, saved for rotation, and checked before it is trusted.

Where the key comes from, in order:

1. ``SYNTHRAL_STORE_KEY``: 32 random bytes, base64 (URL-safe or standard alphabet, padding
   optional), e.g. ``openssl rand -base64 32``. Used as is; synthral never writes it anywhere.
2. The OS keyring (the ``keyring`` package), when a real backend answers. Every keyring call runs
   in a daemon thread and is abandoned after ``KEYRING_TIMEOUT`` seconds, so a locked or absent
   keyring (containers, CI, SSH sessions) never hangs synthral.
3. A key file ``<config>/store.key`` (mode 0600, created atomically without ever replacing an
   existing key). Falling back to it is recorded in ``KeyLocator.notices`` (the CLI says it once,
   as ``gh`` warns about insecure storage). A key file or symlink that is not the user's, is
   writable by others or dangles is refused (``basics.files.check_private``), and a new key that
   could not be saved and read back is an error before anything is encrypted under it.

A new key is created only for a store that has none yet (the store decides, under its write lock).
There is no plaintext fallback: without a key nothing secret is written.

``keyring`` is imported inside functions: listing connections never needs it.
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
from ..basics.files import check_private, fsync_dir, write_private_file
from .crypto import KEY_BYTES, generate_key

KEYRING_SERVICE = "synthral"
KEYRING_TIMEOUT = 3.0  # seconds for any one keyring call

Source = Literal["environment", "keyring", "file"]
T = TypeVar("T")

__all__ = ["KeyLocator", "KeySource", "Keyring", "decode_key", "encode_key", "generate_key"]


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


def read_key_file(path: Path) -> bytes | None:
    """The key in ``path``, ``None`` if there is no file; refuses a file or symlink it cannot trust."""
    check_private(path, "the store key file")
    try:
        text = path.read_text("ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read the store key file {path}: {exc}", "Check its owner and permissions.") from None
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)
    from ..basics.redact import register

    register(text.strip())
    return decode_key(text, f"the key file {path}")


def _save_key_file(path: Path, key: bytes, *, replace: bool) -> bool:
    """Write a key file durably; any failure is a ``StoreError`` naming the file."""
    check_private(path, "the store key file")
    try:
        return write_private_file(path, (encode_key(key) + "\n").encode(), replace=replace)
    except OSError as exc:
        raise StoreError(
            f"cannot save the store key in {path}: {exc.strerror or exc}; nothing was encrypted under it.",
            f"Make {path.parent} writable by you (and free space), or set SYNTHRAL_STORE_KEY "
            "(openssl rand -base64 32).",
        ) from None


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
        self.notices: list[str] = []  # for the user, once (the CLI prints them as warnings)

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
        order = (self.from_file, self.from_keyring) if hint != "keyring" else (self.from_keyring, self.from_file)
        for lookup in order:
            found = lookup()
            if found is not None:
                return found
        return None

    def create(self) -> KeySource:
        """A new key in the keyring if one works, else in the key file (never replacing one).

        The key is returned only once it is saved and reads back; the fallback to the key file is
        recorded in ``notices``.
        """
        from ..basics.redact import register

        key = generate_key()
        encoded = encode_key(key)
        register(encoded)
        if self.keyring.available():
            try:
                self.keyring.set(self.keyring_user, encoded)
                if self.keyring.get(self.keyring_user) == encoded:
                    return KeySource(key, "keyring", self.keyring_location())
                why = self.keyring.problem or f"the OS keyring ({self.keyring.name()}) did not keep the key"
            except KeyringUnavailable as exc:
                why = str(exc)
        else:
            why = self.keyring.problem or "no OS keyring backend is available"
        if not _save_key_file(self.key_file, key, replace=False):
            found = self.from_file()  # a key file appeared meanwhile: use that key, never replace it
            if found is not None:
                return found
        saved = self.from_file()
        if saved is None or saved.key != key:
            raise StoreError(
                f"the new store key could not be read back from {self.key_file}; nothing was encrypted under it.",
                f"Check {self.key_file} (rm it if it is a stray file), or set SYNTHRAL_STORE_KEY.",
            )
        self.notices.append(
            f"{why}: the store key was saved in the file {self.key_file}, readable by you only "
            "(set SYNTHRAL_STORE_KEY, or set up an OS keyring, to keep it off the disk)."
        )
        return saved

    # Rotation: the new key is saved as "pending" before the store commits, and promoted after,
    # so a crash in between leaves a key that opens the store (see ``pending``).

    def save_pending(self, current: KeySource, key: bytes) -> None:
        if current.source == "keyring":
            self.keyring.set(self.keyring_pending_user, encode_key(key))
        elif current.source == "file":
            _save_key_file(self.pending_file, key, replace=True)

    def pending(self, hint: str | None) -> KeySource | None:
        """A rotated key whose promotion was interrupted."""
        if hint == "keyring":
            raw = self.keyring.get(self.keyring_pending_user)
            return KeySource(decode_key(raw, "the OS keyring"), "keyring", self.keyring_location()) if raw else None
        key = read_key_file(self.pending_file)
        return KeySource(key, "file", str(self.key_file)) if key is not None else None

    def promote(self, ks: KeySource) -> None:
        if ks.source == "keyring":
            self.keyring.set(self.keyring_user, encode_key(ks.key))
            self.keyring.delete(self.keyring_pending_user)
        elif ks.source == "file":
            if self.pending_file.exists():
                os.replace(self.pending_file, self.key_file)
                fsync_dir(self.key_file.parent)
            else:
                _save_key_file(self.key_file, ks.key, replace=True)

    def discard_pending(self) -> None:
        if self.pending_file.exists():
            self.pending_file.unlink()
        if self.keyring._probed and self.keyring.available():
            self.keyring.delete(self.keyring_pending_user)
