"""``synthral events replay``: hand stored events to a handler again (NDJSON or a workflow) and
record what became of them. A listener or watch that is running at the same time may hand a
``pending`` event on too: events are delivered at least once, never lost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..basics.errors import SynthralError, UsageError
from . import logs
from .dispatch import Handler
from .spool import Spool


@dataclass
class Replayed:
    done: int = 0
    failed: list[SynthralError] = field(default_factory=list)


def replay(
    spool_path: Path,
    handler: Handler,
    *,
    ids: Sequence[str] = (),
    connector: str | None = None,
    statuses: Sequence[str] = ("pending", "failed"),
) -> Replayed:
    """Replay the events named by ``ids`` (event id or seq, any status), or else every event in
    ``statuses`` (default: not handled yet, or failed), oldest first."""
    spool = Spool(spool_path)
    try:
        chosen = spool.select(ids=ids, connector=connector, statuses=("pending", "done", "failed") if ids else statuses)
        if ids:
            found = {e.event_id for e in chosen} | {str(e.seq) for e in chosen}
            missing = [i for i in ids if i not in found]
            if missing:
                raise UsageError(
                    f"no stored event {', '.join(repr(m) for m in missing)}.",
                    "See the stored events: synthral events list",
                )
        out = Replayed()
        for event in chosen:
            try:
                handler(event)
            except SynthralError as exc:
                message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
                logs.warn("event %s (seq %d) failed again: %s", event.event_id, event.seq, message)
                spool.settle([(event.seq, "failed", message[:1000])])
                out.failed.append(exc)
                continue
            spool.settle([(event.seq, "done", None)])
            out.done += 1
        return out
    finally:
        spool.close()
