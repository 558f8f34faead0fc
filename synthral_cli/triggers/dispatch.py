"""What happens to an accepted event: one NDJSON line on stdout (``Emit``) or a workflow run with
``{{trigger...}}`` (``RunFlow``), on one thread in the order events were accepted
(``Dispatcher``), and the outcome recorded in the spool (``done`` / ``failed``).

A handler that raises ``SynthralError`` (a failed workflow step) leaves the event ``failed`` in the
spool for ``synthral events replay``; an ``OSError`` while writing the line (stdout closed) stops
the dispatcher with the event still ``pending``, so the next start handles it again.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..basics.errors import SynthralError
from . import logs
from .spool import Event

_STOP = object()


class Handler(Protocol):
    def __call__(self, event: Event) -> None: ...


def event_line(event: Event) -> str:
    return json.dumps(event.line(), ensure_ascii=False, default=str)


class Emit:
    """Write each event as one NDJSON line through ``write`` (the CLI's stdout, flushed)."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def __call__(self, event: Event) -> None:
        self.write(event_line(event))


class RunFlow:
    """Run a workflow file per event; ``{{trigger.payload...}}`` and the rest of the event line
    (``trigger.event_type``, ``trigger.id``, ...) are available to its steps. The flow is read
    and checked once, when the handler is made, so a broken flow stops the command at start."""

    def __init__(
        self, sy: Any, flow: Path, inputs: dict[str, Any], *, retries: int = 3, timeout: float = 30.0
    ) -> None:
        from ..workflows.flow import check_flow, load_flow
        from ..workflows.run import SynthralRunner

        self.flow = load_flow(flow)
        self.inputs = inputs
        self.runner = SynthralRunner(sy, retries=retries, timeout=timeout)
        check_flow(self.flow, inputs, self.runner, triggered=True)

    def __call__(self, event: Event) -> None:
        from ..workflows.run import StepFailed, run_flow

        result = run_flow(self.flow, self.inputs, self.runner, trigger=event.line())
        failed = [s for s in result.steps if not s.success]
        if result.steps and not result.steps[-1].success:
            raise StepFailed(result.steps[-1])
        for step in failed:
            logs.warn("event %s: step %r failed (continue_on_error): %s", event.event_id, step.name, step.error)

    def close(self) -> None:
        self.runner.close()


class Dispatcher:
    """Hands events to ``handler`` one at a time, in order, and reports each outcome to
    ``settle(seq, status, error)``. ``on_stop`` is called once if the output went away."""

    def __init__(
        self,
        handler: Handler,
        settle: Callable[[int, str, str | None], None],
        *,
        on_stop: Callable[[BaseException], None] | None = None,
        describe: str = "workflow",
    ) -> None:
        self.handler = handler
        self.settle = settle
        self.on_stop = on_stop
        self.describe = describe
        self.handled = 0
        self.failed = 0
        self.stopped: BaseException | None = None
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="synthral-dispatch", daemon=True)
        self._thread.start()

    def submit(self, event: Event) -> None:
        self._queue.put(event)

    def close(self, timeout: float | None = None) -> None:
        """Handle what is queued, then stop (``timeout``: give up waiting; the rest stays pending)."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP or self.stopped is not None:
                return
            assert isinstance(item, Event)  # noqa: S101 - only events and the sentinel are queued
            self._handle(item)

    def _handle(self, event: Event) -> None:
        try:
            self.handler(event)
        except SynthralError as exc:
            self.failed += 1
            message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
            logs.warn(
                "event %s (%s) failed: %s; it stays in the spool: synthral events replay %s",
                event.event_id, event.event_type or "no type", message, event.seq,
            )
            self.settle(event.seq, "failed", message[:1000])
            return
        except OSError as exc:  # stdout closed: stop; the event stays pending for the next start
            self.stopped = exc
            if self.on_stop is not None:
                self.on_stop(exc)
            return
        except Exception as exc:  # a bug: keep the event (failed) and the listener
            self.failed += 1
            logs.log().error("event %s: unexpected error in the %s", event.event_id, self.describe, exc_info=exc)
            self.settle(event.seq, "failed", f"unexpected error: {type(exc).__name__}: {exc}"[:1000])
            return
        self.handled += 1
        self.settle(event.seq, "done", None)
