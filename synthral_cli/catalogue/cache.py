"""The catalogue cache on disk: text files under ``<config>/cache/`` that only this install can
have written.

Each file starts with one line, ``synthral-cache-1 <mac>``, where ``mac`` is a keyed BLAKE2b of
the rest of the file under a random 256-bit key kept in ``<config>/cache.key`` (owner-only, and
outside the cache folder, so a cache folder restored from a CI cache or copied from elsewhere is
not trusted). A file whose MAC does not match, whatever else it says, is ignored and rebuilt from
the manifests; so is every file when the key is missing, unreadable or not private (a new key is
then made). BLAKE2 comes from ``_blake2``, which is much cheaper to import than ``hashlib`` (that
loads OpenSSL); checking the catalogue's index costs well under a millisecond.
"""

from __future__ import annotations

import os
import stat

from ..basics.settings import make_private_dirs

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from pathlib import Path

MAGIC = b"synthral-cache-1 "
KEY_BYTES = 32


def stamp(path: str) -> list[int] | None:
    """A file's modification time and size, for a cache key (a change within one clock tick
    still changes the size); None when it is not there."""
    try:
        st = os.stat(path or ".")
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _mac(key: bytes, payload: bytes | memoryview) -> bytes:
    try:
        from _blake2 import blake2b
    except ImportError:  # another Python implementation
        from hashlib import blake2b
    return blake2b(payload, key=key, digest_size=32).hexdigest().encode("ascii")


def _read_key(path: Path) -> bytes | None:
    """The key if the file is a private regular file of ours holding one, else ``None``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):
            return None
        data = os.read(fd, 2 * KEY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        key = bytes.fromhex(data.decode("ascii"))
    except ValueError:
        return None
    return key if len(key) == KEY_BYTES else None


class CacheFiles:
    """Reads and writes authenticated cache files; ``cache_dir`` holds them, ``key_path`` the key."""

    def __init__(self, cache_dir: Path, key_path: Path) -> None:
        self.cache_dir = cache_dir
        self.key_path = key_path
        self._key: bytes | None = None
        self._looked = False

    def key(self) -> bytes | None:
        if not self._looked:
            self._key = _read_key(self.key_path)
            self._looked = True
        return self._key

    def _new_key(self) -> bytes | None:
        """Make a key; a usable key another process made meanwhile wins over ours."""
        self._looked = False
        if self.key() is not None:
            return self._key
        try:
            make_private_dirs(self.key_path.parent)
            tmp = self.key_path.with_name(f".{self.key_path.name}.{os.getpid()}.{os.urandom(4).hex()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.fchmod(fd, 0o600)
                os.write(fd, os.urandom(KEY_BYTES).hex().encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                if os.path.lexists(self.key_path):  # there, but not usable (not private, damaged)
                    os.replace(tmp, self.key_path)
                else:
                    os.link(tmp, self.key_path)  # never over a key another process just made
            except FileExistsError:
                pass
            finally:
                if os.path.lexists(tmp):
                    os.unlink(tmp)
        except OSError:
            return None
        self._looked = False
        return self.key()

    def read(self, name: str) -> str | None:
        """The payload of ``name`` if this install wrote it, else ``None``."""
        found = self.read_raw(name)
        if found is None:
            return None
        data, start = found
        try:
            return str(memoryview(data)[start:], "utf-8")
        except UnicodeDecodeError:
            return None

    def read_raw(self, name: str) -> tuple[bytes, int] | None:
        """The file's bytes and where its payload starts, if this install wrote it, else ``None``.
        The payload is not copied out (a copy of a large file costs as much as its MAC)."""
        key = self.key()
        if key is None:
            return None
        try:
            with open(self.cache_dir / name, "rb") as f:
                data = f.read()
        except OSError:
            return None
        end = data.find(b"\n")
        if end < 0 or not data.startswith(MAGIC) or data[len(MAGIC) : end] != _mac(key, memoryview(data)[end + 1 :]):
            return None
        return data, end + 1

    def write(self, name: str, text: str | bytes) -> None:
        """Best effort: a cache that cannot be written is simply rebuilt next time."""
        import tempfile

        key = self.key() or self._new_key()
        if key is None:
            return
        payload = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        try:
            make_private_dirs(self.cache_dir)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + _mac(key, payload) + b"\n" + payload)
            os.replace(tmp, self.cache_dir / name)
        except OSError:
            pass
