"""``synthral watch``: a polling trigger. Run a list action every ``interval`` seconds and hand on
only the items not seen before.

Where the items are and what identifies one come from the action's ``pagination`` block
(``items_path``; ``item_id_path``, default ``id``; optionally ``since_param`` + ``since_path``:
the request parameter that asks for newer items and the item field whose newest value is passed
there), or from the command line. The position (the ids seen, the newest ``since`` value) lives
in the spool (``spool.watches``) and is committed in one transaction with the new items
themselves, which are then handled from the spool like webhook events: a restart neither repeats
nor skips an item, and an item whose workflow failed stays for ``synthral events replay``.

The first poll of a new watch records what is there without handing it on (``include_existing``
hands it on). Errors back off (``interval`` doubling, up to ``MAX_BACKOFF``) and a provider's
``Retry-After`` is waited out; usage, authorization and store errors stop the watch at once.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..basics.errors import NetworkError, ProviderError, UsageError
from . import logs
from .dispatch import Handler
from .spool import NewEvent, Spool

MAX_BACKOFF = 900.0
MAX_SEEN = 5000
WINDOW = 30 * 24 * 3600.0  # how long a handled item's id stays in the spool


@dataclass
class WatchOptions:
    connection: str = "default"
    interval: float = 60.0
    once: bool = False
    include_existing: bool = False
    paginate: bool = False
    items_path: str | None = None
    id_path: str | None = None
    since_param: str | None = None
    since_path: str | None = None
    retries: int = 3
    timeout: float = 30.0


@dataclass
class Paths:
    items: str
    item_id: str
    since_param: str | None
    since: str | None


def paths(action: Any, manifest: Any, options: WatchOptions) -> Paths:
    spec = dict(action.raw.get("pagination") or manifest.raw.get("pagination") or {})
    items = options.items_path if options.items_path is not None else str(spec.get("items_path", ""))
    since_param = options.since_param or spec.get("since_param")
    since = options.since_path or spec.get("since_path")
    if bool(since_param) != bool(since):
        raise UsageError(
            "a since parameter and a since path go together.",
            "Pass both, e.g. --since-param since --since-path updated_at (or neither).",
        )
    return Paths("" if options.paginate else items, options.id_path or str(spec.get("item_id_path", "id")),
                 since_param, since)


def watch_key(slug: str, action: str, params: dict[str, Any], connection: str) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{slug}:{connection}:{action}:{digest}"


@dataclass
class Watcher:
    """One watch: ``poll()`` once, or ``run()`` until stopped (or once)."""

    sy: Any
    slug: str
    action: str
    params: dict[str, Any]
    options: WatchOptions
    handler: Handler
    spool_path: Path
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], float] = time.time
    polls: int = 0
    emitted: int = 0
    failed: int = 0
    _paths: Paths | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return watch_key(self.slug, self.action, self.params, self.options.connection)

    @property
    def stream(self) -> str:
        return f"watch:{self.key}"

    def prepare(self) -> Paths:
        if self._paths is None:
            manifest = self.sy.connector(self.slug)
            action = manifest.action(self.action)
            self._paths = paths(action, manifest, self.options)
            if self._paths.since_param and self._paths.since_param not in {p.name for p in action.parameters}:
                raise UsageError(
                    f"{self.slug} {self.action} has no parameter {self._paths.since_param!r} to ask for newer items.",
                    f"See: synthral connectors actions {self.slug}",
                )
        return self._paths

    def poll(self) -> int:
        """Fetch, store what is new with the new position, hand it on; the number of new items."""
        found = self.prepare()
        spool = Spool(self.spool_path)
        try:
            self._drain(spool)  # what an earlier run stored but did not get to hand on
            position = spool.position(self.key)
            params = dict(self.params)
            if found.since_param and position and position.get("since") is not None:
                params[found.since_param] = position["since"]
            items = self._fetch(params, found)
            self.polls += 1
            seen = list(position.get("seen", [])) if position else []
            known = set(seen)
            now = self.clock()
            fresh: list[NewEvent] = []
            ids: list[str] = []
            for item in items:
                item_id = _item_id(item, found.item_id)
                ids.append(item_id)
                if item_id in known:
                    continue
                known.add(item_id)
                fresh.append(NewEvent(self.stream, self.slug, self.options.connection, "watch", item_id,
                                      self.action, now, item))
            since_path = found.since
            if since_path:
                fresh.sort(key=lambda ev: _sortable(_get(ev.payload, since_path)))
            baseline = position is None and not self.options.include_existing
            since = position.get("since") if position else None
            for item in items:
                value = _get(item, found.since) if found.since else None
                if value is not None and (since is None or _sortable(value) > _sortable(since)):
                    since = value
            new_position = {"seen": list(dict.fromkeys(ids + seen))[:MAX_SEEN], "since": since}
            spool.advance(self.key, new_position, [] if baseline else fresh, window=WINDOW)
            if baseline:
                logs.say("first poll: %d existing item(s) recorded; new ones from now on", len(items))
                return 0
            self._drain(spool)
            return len(fresh)
        finally:
            spool.close()

    def _fetch(self, params: dict[str, Any], found: Paths) -> list[Any]:
        from ..actions.invoke import Options, Outcome, invoke
        from ..wire.http import get_path

        options = Options(connection=self.options.connection, paginate=self.options.paginate,
                          retries=self.options.retries, timeout=self.options.timeout)
        out = invoke(self.sy, self.slug, self.action, params, options)
        assert isinstance(out, Outcome)  # noqa: S101 - not a dry run
        items = get_path(out.result, found.items)
        if not isinstance(items, list):
            where = f"at {found.items!r}" if found.items else "at the top"
            raise UsageError(
                f"{self.slug} {self.action} answered without a list of items {where}.",
                "Name where the list is: --items-path data.items (or pagination.items_path in the manifest).",
            )
        return items

    def _drain(self, spool: Spool) -> None:
        for event in spool.select(statuses=("pending",), stream=self.stream):
            if self.stop.is_set():
                return  # the rest stays pending for the next start
            try:
                self.handler(event)
            except Exception as exc:
                from ..basics.errors import SynthralError

                if not isinstance(exc, SynthralError):
                    raise  # stdout closed or a bug: the event stays pending
                self.failed += 1
                message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
                logs.warn("item %s failed: %s; it stays in the spool: synthral events replay %s",
                          event.event_id, message, event.seq)
                spool.settle([(event.seq, "failed", message[:1000])])
                continue
            self.emitted += 1
            spool.settle([(event.seq, "done", None)])

    def run(self) -> None:
        """Poll every ``interval`` seconds until SIGTERM or Ctrl-C (which stop it between two
        items, never in the middle of handing one on; a second one stops it at once); ``once``:
        one poll, errors raised."""
        self.prepare()
        if self.options.once:
            self.poll()
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logs.say("stopped after %d poll(s): %d item(s) handed on, %d failed", self.polls, self.emitted, self.failed)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()

    def _loop(self) -> None:
        failures = 0
        while not self.stop.is_set():
            try:
                self.poll()
                failures = 0
                wait = self.options.interval
            except (NetworkError, ProviderError) as exc:
                failures += 1
                wait = min(MAX_BACKOFF, max(self.options.interval, 1.0) * 2 ** min(failures, 10))
                wait = max(wait, self.options.interval)
                hinted = exc.retry_after if isinstance(exc, ProviderError) else None
                if hinted is not None:
                    wait = max(hinted, 1.0)
                logs.warn("poll failed (%s); next try in %.0f s", exc.message, wait)
            self.stop.wait(wait)


def _item_id(item: Any, path: str) -> str:
    value = _get(item, path)
    if value is None or isinstance(value, (dict, list)):
        raise UsageError(
            f"an item has no id at {path!r}: {json.dumps(item, default=str)[:200]}",
            "Name the field that identifies an item: --id-path number (or pagination.item_id_path).",
        )
    return str(value)


def _get(item: Any, path: str) -> Any:
    from ..wire.http import get_path

    return get_path(item, path)


def _sortable(value: Any) -> tuple[int, float, str]:
    """Numbers by value, everything else as text (ISO 8601 times sort as text)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))
