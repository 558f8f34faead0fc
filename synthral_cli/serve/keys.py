"""API keys of ``synthral serve``: created once, stored as SHA-256 hashes only.

A key is ``syk_<id>_<secret>`` (``id``: 8 hex digits, ``secret``: 256 random bits). The file
``<config>/serve-keys.json`` (owner-only, written atomically) holds, per key, its id, name,
permissions, creation time and the hash of the whole key; the key itself is shown once, at
creation. A running server re-reads the file when it changes, so a revocation applies at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..basics.errors import StoreError, UsageError

KEYS_FILENAME = "serve-keys.json"
PREFIX = "syk_"
PERMISSIONS = (
    "connectors:read",
    "connections:read",
    "connections:write",
    "actions:execute",
    "workflows:execute",
)


@dataclass
class ApiKey:
    id: str
    name: str
    permissions: list[str]
    created_at: float
    hash: str = field(repr=False)

    def public(self) -> dict[str, Any]:
        """What ``keys list --json`` shows: never the hash."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at))
        return {"id": self.id, "name": self.name, "permissions": list(self.permissions), "created_at": stamp}


def keys_path(config_dir: Path) -> Path:
    return config_dir / KEYS_FILENAME


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_permissions(wanted: list[str]) -> list[str]:
    """``all`` expands to every permission; an unknown one is a usage error."""
    out: list[str] = []
    for p in wanted:
        for item in PERMISSIONS if p.strip() == "all" else [p.strip()]:
            if item not in PERMISSIONS:
                raise UsageError(
                    f"Unknown permission {item!r}.", f"Use one or more of: {', '.join(PERMISSIONS)} (or all)."
                )
            if item not in out:
                out.append(item)
    if not out:
        raise UsageError(
            "A key needs at least one permission.", f"Pass --permission with one of: {', '.join(PERMISSIONS)}."
        )
    return out


def _read(path: Path) -> list[ApiKey]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StoreError(
            f"Cannot read the API keys file {path}: {exc.strerror or exc}.", "Check its permissions."
        ) from None
    try:
        data = json.loads(text)
        return [
            ApiKey(
                str(k["id"]), str(k["name"]), [str(p) for p in k["permissions"]], float(k["created_at"]), str(k["hash"])
            )
            for k in data["keys"]
        ]
    except (ValueError, KeyError, TypeError):
        raise StoreError(
            f"The API keys file {path} is damaged.",
            "Move it away and create the keys again (synthral serve keys create).",
        ) from None


def _write(path: Path, keys: list[ApiKey]) -> None:
    """Atomically, owner-only: a temporary file beside it, fsync, replace."""
    from ..basics.settings import make_private_dirs

    make_private_dirs(path.parent)
    doc = {
        "keys": [
            {"id": k.id, "name": k.name, "permissions": k.permissions, "created_at": k.created_at, "hash": k.hash}
            for k in keys
        ]
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create(config_dir: Path, name: str, permissions: list[str]) -> tuple[ApiKey, str]:
    """A new key: ``(record, key)``. The key is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise UsageError("A key's name is 1 to 100 printable characters.", "Example: --name ci-deploy")
    perms = check_permissions(permissions)
    path = keys_path(config_dir)
    keys = _read(path)
    if any(k.name == name for k in keys):
        raise UsageError(f"There is already a key named {name!r}.", "Pick another --name, or revoke the old key first.")
    ident = secrets.token_hex(4)
    while any(k.id == ident for k in keys):
        ident = secrets.token_hex(4)
    key = f"{PREFIX}{ident}_{secrets.token_urlsafe(32)}"
    record = ApiKey(ident, name, perms, time.time(), _digest(key))
    _write(path, [*keys, record])
    return record, key


def list_keys(config_dir: Path) -> list[ApiKey]:
    return _read(keys_path(config_dir))


def revoke(config_dir: Path, id_or_name: str) -> ApiKey:
    path = keys_path(config_dir)
    keys = _read(path)
    found = [k for k in keys if id_or_name in (k.id, k.name)]
    if not found:
        raise UsageError(f"No API key {id_or_name!r}.", "See them with: synthral serve keys list")
    _write(path, [k for k in keys if k is not found[0]])
    return found[0]


class KeyRing:
    """The keys as a running server sees them: re-read when the file changes (a revoked key
    stops working without a restart); a key is checked in constant time against its hash."""

    def __init__(self, config_dir: Path) -> None:
        self.path = keys_path(config_dir)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: dict[str, ApiKey] = {}

    def _current(self) -> dict[str, ApiKey]:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._keys = {k.id: k for k in _read(self.path)} if stamp else {}
                self._stamp = stamp
            return self._keys

    def verify(self, key: str) -> ApiKey | None:
        """The key's record, or None for a wrong, revoked or malformed key."""
        keys = self._current()
        ident = key[len(PREFIX) : len(PREFIX) + 8] if key.startswith(PREFIX) else ""
        record = keys.get(ident)
        if record is None:
            hmac.compare_digest(_digest(key), _digest(""))  # the same work either way
            return None
        return record if hmac.compare_digest(_digest(key), record.hash) else None
