"""The spool: every accepted trigger event, on disk, before anyone is told it was accepted.

``<config>/triggers.db`` is an owner-only SQLite file (0600 in a 0700 directory) in WAL mode with
``synchronous=FULL``: a committed event survives a crash of the process or of the machine. It holds

    events      one row per accepted event: where it came from (``stream``: ``SLUG:CONNECTION`` for
                ``listen``, ``watch:KEY`` for ``watch``), the provider's event id, its type, when it
                arrived, the payload (JSON), and what became of it: ``pending`` (not handled yet),
                ``done`` (emitted or its workflow succeeded), ``failed`` (its workflow failed)
    watches     the position of each ``synthral watch`` (ids seen, the newest cursor value)

An event id is remembered for the de-duplication window (``accept(window=...)``): a second event
with the same id in the same stream is a replay and is not stored again. ``done`` events older
than the window are pruned; ``pending`` and ``failed`` ones stay until they are handled
(``synthral events replay``). The events of one ``watch`` poll and its new position are committed
in one transaction, so a restart neither repeats nor skips an item.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..basics.errors import StoreError, UsageError
from ..basics.files import check_private, ensure_private_dir

STATUSES = ("pending", "done", "failed")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    connector TEXT NOT NULL,
    connection TEXT NOT NULL,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT,
    received_at REAL NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    handled_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_stream_id ON events (stream, event_id);
CREATE INDEX IF NOT EXISTS events_status ON events (status, seq);
CREATE TABLE IF NOT EXISTS watches (
    key TEXT PRIMARY KEY,
    position TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


def iso(ts: float) -> str:
    """``2026-12-05T01:02:03.456Z``: the ``received_at`` of an event line."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


@dataclass
class NewEvent:
    """An event that passed verification (or a new item of a watch), not yet stored."""

    stream: str
    connector: str
    connection: str
    source: str  # webhook | watch
    event_id: str
    event_type: str | None
    received_at: float
    payload: Any


@dataclass
class Event(NewEvent):
    """A stored event."""

    seq: int = 0
    status: str = "pending"
    attempts: int = 0
    error: str | None = None
    handled_at: float | None = None

    def line(self) -> dict[str, Any]:
        """The contract's NDJSON line of ``listen`` and ``watch``."""
        return {
            "connector": self.connector,
            "event_type": self.event_type,
            "id": self.event_id,
            "received_at": iso(self.received_at),
            "payload": self.payload,
        }

    def row(self) -> dict[str, Any]:
        """``events list --json``: the line without the payload, and what became of it."""
        out = self.line()
        del out["payload"]
        out.update(
            seq=self.seq,
            connection=self.connection,
            source=self.source,
            status=self.status,
            attempts=self.attempts,
            error=self.error,
            handled_at=iso(self.handled_at) if self.handled_at else None,
        )
        return out


_COLUMNS = (
    "stream, connector, connection, source, event_id, event_type, received_at, payload, "
    "seq, status, attempts, error, handled_at"
)


def _event(row: tuple[Any, ...]) -> Event:
    return Event(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]),
        seq=row[8], status=row[9], attempts=row[10], error=row[11], handled_at=row[12],
    )


class Spool:
    """One connection to the spool file; use it from one thread (``writer.SpoolWriter`` owns one
    for a listener). Raises ``StoreError`` (exit 5) when the file cannot be used."""

    def __init__(self, path: Path) -> None:
        self.path = path
        check_private(path.parent, "the config directory")
        ensure_private_dir(path.parent)
        for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            check_private(name, "the trigger spool")
        try:
            if not path.exists():  # created 0600 before SQLite opens it, whatever the umask
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
            self.db = sqlite3.connect(path, isolation_level=None, timeout=30.0, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the trigger spool {path}: {exc}.",
                "Check the disk and the file's owner and mode (600), or move the file away.",
            ) from None
        for name in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if name.exists():
                os.chmod(name, 0o600)

    def close(self) -> None:
        self.db.close()

    def _write(self, work: Any) -> Any:
        """Run ``work(db)`` in one immediate transaction, committed (fsync) before returning."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                out = work(self.db)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
            return out
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot write to the trigger spool {self.path}: {exc}.",
                "Check the disk (space, permissions); events that were not written were not acknowledged.",
            ) from None

    # -- events -------------------------------------------------------------------------------

    def accept(self, events: Sequence[NewEvent], *, window: float, now: float | None = None) -> list[int | None]:
        """Store ``events`` in one transaction; the seq of each, or ``None`` for a replay (an id
        already in its stream: pending, failed, or done less than ``window`` seconds ago)."""
        return list(self._write(lambda db: self._insert(db, events, window, now)))

    def _insert(
        self, db: sqlite3.Connection, events: Iterable[NewEvent], window: float, now: float | None
    ) -> list[int | None]:
        cutoff = (time.time() if now is None else now) - window
        out: list[int | None] = []
        for ev in events:
            found = db.execute(
                "SELECT seq, status, received_at FROM events WHERE stream = ? AND event_id = ?",
                (ev.stream, ev.event_id),
            ).fetchone()
            if found is not None:
                if found[1] != "done" or found[2] >= cutoff:
                    out.append(None)
                    continue
                db.execute("DELETE FROM events WHERE seq = ?", (found[0],))
            cur = db.execute(
                "INSERT INTO events (stream, connector, connection, source, event_id, event_type, received_at, "
                "payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ev.stream, ev.connector, ev.connection, ev.source, ev.event_id, ev.event_type, ev.received_at,
                 json.dumps(ev.payload, ensure_ascii=False, separators=(",", ":"))),
            )
            out.append(cur.lastrowid)
        return out

    def settle(self, marks: Sequence[tuple[int, str, str | None]], *, now: float | None = None) -> None:
        """Record what became of events: ``(seq, "done" | "failed", error)``."""
        when = time.time() if now is None else now
        self._write(lambda db: self._settle(db, marks, when))

    @staticmethod
    def _settle(db: sqlite3.Connection, marks: Iterable[tuple[int, str, str | None]], when: float) -> None:
        db.executemany(
            "UPDATE events SET status = ?, error = ?, attempts = attempts + 1, handled_at = ? WHERE seq = ?",
            [(status, error, when, seq) for seq, status, error in marks],
        )

    def write_batch(
        self,
        events: Sequence[NewEvent],
        marks: Sequence[tuple[int, str, str | None]],
        *,
        window: float,
        now: float | None = None,
    ) -> list[int | None]:
        """``accept`` and ``settle`` in one transaction (one fsync): the group commit of a listener."""
        when = time.time() if now is None else now

        def work(db: sqlite3.Connection) -> list[int | None]:
            if marks:
                self._settle(db, marks, when)
            return self._insert(db, events, window, when) if events else []

        return list(self._write(work))

    def prune(self, *, window: float, now: float | None = None) -> int:
        """Forget ``done`` events older than the window; pending and failed ones always stay."""
        cutoff = (time.time() if now is None else now) - window
        return int(self._write(
            lambda db: db.execute("DELETE FROM events WHERE status = 'done' AND received_at < ?", (cutoff,)).rowcount
        ))

    def select(
        self,
        *,
        statuses: Sequence[str] = STATUSES,
        stream: str | None = None,
        connector: str | None = None,
        ids: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[Event]:
        """Stored events, oldest first. ``ids`` matches the provider's event id or the seq."""
        for status in statuses:
            if status not in STATUSES:
                raise UsageError(f"unknown event status {status!r}.", f"Use one of: {', '.join(STATUSES)}.")
        sql = f"SELECT {_COLUMNS} FROM events WHERE status IN ({','.join('?' * len(statuses))})"  # noqa: S608
        args: list[Any] = list(statuses)
        if stream is not None:
            sql += " AND stream = ?"
            args.append(stream)
        if connector is not None:
            sql += " AND connector = ?"
            args.append(connector)
        if ids:
            marks = ",".join("?" * len(ids))
            sql += f" AND (event_id IN ({marks}) OR CAST(seq AS TEXT) IN ({marks}))"
            args += list(ids) + list(ids)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        try:
            return [_event(r) for r in self.db.execute(sql, args).fetchall()]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the trigger spool {self.path}: {exc}.", "Check the file.") from None

    # -- watch positions ----------------------------------------------------------------------

    def position(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT position FROM watches WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def advance(
        self, key: str, position: dict[str, Any], events: Sequence[NewEvent], *, window: float
    ) -> list[int | None]:
        """Store a poll's new items and the watch's new position together (one transaction)."""

        def work(db: sqlite3.Connection) -> list[int | None]:
            seqs = self._insert(db, events, window, None)
            db.execute(
                "INSERT INTO watches (key, position, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
                (key, json.dumps(position, separators=(",", ":")), time.time()),
            )
            return seqs

        return list(self._write(work))
