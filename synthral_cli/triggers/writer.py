"""Group commit for a listener: one thread owns the spool and commits, in one transaction (one
fsync), every event that arrived while the previous commit was on its way to the disk.

An fsync costs milliseconds, so committing each delivery on its own would cap a listener at a few
hundred deliveries per second; committing whatever is queued keeps every delivery durable before
its 2xx and lets concurrent deliveries share the fsync. ``settle`` marks (what became of an event)
ride along with the next commit: losing one to a crash means the event is handled again
(at-least-once), never lost.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from .spool import NewEvent, Spool

_STOP = object()
PRUNE_EVERY = 60.0  # seconds between forgetting done events older than the de-duplication window


class SpoolWriter:
    """``accept(event)`` returns a future of its seq (``None`` for a replay), resolved once the
    event is committed; ``settle(seq, status, error)`` is recorded with the next commit."""

    def __init__(self, path: Path, *, window: float) -> None:
        self.window = window
        self.spool = Spool(path)  # opened here so a problem is raised to the caller, not the thread
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="synthral-spool", daemon=True)
        self.commits = 0
        self._pruned = time.monotonic()
        self._thread.start()

    def accept(self, event: NewEvent) -> Future[int | None]:
        future: Future[int | None] = Future()
        self._queue.put((event, future))
        return future

    def settle(self, seq: int, status: str, error: str | None = None) -> None:
        self._queue.put((seq, status, error))

    def close(self) -> None:
        """Commit what is queued, then stop."""
        self._queue.put(_STOP)
        self._thread.join()
        self.spool.close()

    def _run(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            events: list[NewEvent] = []
            futures: list[Future[int | None]] = []
            marks: list[tuple[int, str, str | None]] = []
            for item in items:
                if item is _STOP:
                    stop = True
                elif isinstance(item, tuple) and len(item) == 2:
                    events.append(item[0])
                    futures.append(item[1])
                elif isinstance(item, tuple):
                    marks.append(item)
            if events or marks:
                self._commit(events, futures, marks)

    def _commit(
        self,
        events: Sequence[NewEvent],
        futures: Sequence[Future[int | None]],
        marks: list[tuple[int, str, str | None]],
    ) -> None:
        try:
            seqs = self.spool.write_batch(events, marks, window=self.window)
        except Exception as exc:  # every waiting delivery gets the error (and answers 503)
            for future in futures:
                future.set_exception(exc)
            return
        self.commits += 1
        for future, seq in zip(futures, seqs, strict=True):
            future.set_result(seq)
        if time.monotonic() - self._pruned > PRUNE_EVERY:  # the id memory stays within the window
            self._pruned = time.monotonic()
            try:
                self.spool.prune(window=self.window)
            except Exception:  # noqa: S110 - pruning is housekeeping; the next commit tries again
                pass
