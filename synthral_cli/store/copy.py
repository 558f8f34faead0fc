"""Copying every connection and OAuth app from one store to another (``synthral store copy``):
SQLite to PostgreSQL and back, or between two PostgreSQL stores.

Each row is opened with the source's key and sealed again with the destination's, in memory:
no plaintext is written anywhere but into the destination's ciphertext. Each row is its own
transaction (compare-and-swap on the destination's version), so a failure midway leaves the
destination consistent, every row old or new, and running the copy again finishes it: a row the
destination already holds unchanged is left alone (idempotent). A row the destination holds with
different contents is *not* overwritten unless asked (``overwrite``): it may be a newer, rotated
token that the copy would destroy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..basics.errors import UsageError

if TYPE_CHECKING:
    from .encrypted import Store
    from .model import Connection

_COMPARED = ("method", "scopes", "expires_at", "config", "secrets", "metadata", "origins", "needs_reauth")


@dataclass
class CopyReport:
    copied: list[str] = field(default_factory=list)  # "slug/name", or "app:slug"
    unchanged: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)  # left alone (``overwrite`` replaces them)

    def as_dict(self, source: str, destination: str) -> dict[str, object]:
        return {
            "from": source,
            "to": destination,
            "copied": self.copied,
            "unchanged": self.unchanged,
            "differ": self.differ,
        }


def _same(a: Connection, b: Connection) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in _COMPARED)


def copy_store(source: Store, destination: Store, *, overwrite: bool = False) -> CopyReport:
    """Copy every connection and app of ``source`` into ``destination`` (module docstring)."""
    if source.location == destination.location:
        raise UsageError(
            f"the source and the destination are the same store ({source.location}).",
            "Name the other store: synthral store copy --to postgresql://... (or --from ...).",
        )
    report = CopyReport()
    for listed in source.list():
        conn = source.get(listed.slug, listed.name)
        if conn is None:  # removed meanwhile
            continue
        label = f"{conn.slug}/{conn.name}"
        with destination.locked(conn.slug, conn.name):
            there = destination.get(conn.slug, conn.name)
            if there is not None and _same(conn, there):
                report.unchanged.append(label)
                continue
            if there is not None and not overwrite:
                report.differ.append(label)
                continue
            destination.put(replace(conn, version=0), if_version=there.version if there else 0)
        report.copied.append(label)
    for slug in source.backend.app_slugs():
        app = source.get_app(slug)
        if app is None:
            continue
        label = f"app:{slug}"
        with destination.locked():
            there_app = destination.get_app(slug)
            if there_app is not None and (there_app.client_id, there_app.client_secret) == (
                app.client_id,
                app.client_secret,
            ):
                report.unchanged.append(label)
                continue
            if there_app is not None and not overwrite:
                report.differ.append(label)
                continue
            destination.put_app(slug, app.client_id, app.client_secret)
        report.copied.append(label)
    return report
