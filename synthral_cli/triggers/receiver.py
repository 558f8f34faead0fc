"""The webhook receiver: a bare ASGI app (no framework: every delivery goes through the same few
steps, and a listener should keep up with a provider's bursts).

    one path (404 elsewhere), POST or GET (405 otherwise)
    body limit: a Content-Length over it, or a body that grows over it -> 413, never read further
    verify(spec, delivery, secret, now)  (verify.py)  -> handshake | rejected | event
      handshake -> the verifier's answer (Slack url_verification, Zoom url_validation, Discord PING)
      rejected  -> its status (401 for a bad or stale signature), counted, never emitted
      event     -> stored in the spool (committed, fsync'd) -> replay of a known id: 401, counted
                -> the 2xx only now, then handed to the dispatcher (NDJSON line or --run FLOW)

A delivery that cannot be stored is answered 503: not acknowledged, so the provider retries it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import logs
from .spool import Event, NewEvent
from .verify import Delivery, verify
from .writer import SpoolWriter

Send = Callable[[dict[str, Any]], Any]


class Headers(Mapping[str, str]):
    """Request headers with case-insensitive lookups (repeated headers joined with ``, ``)."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for k, v in raw:
            name, value = k.decode("latin-1"), v.decode("latin-1")
            low = name.lower()
            if low in self._items:
                value = f"{self._items[low][1]}, {value}"
            self._items[low] = (name, value)

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(low for low in self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Counts:
    """What the receiver did; ``listen`` reports it when it stops."""

    accepted: int = 0
    handshakes: int = 0
    replays: int = 0
    too_large: int = 0
    unavailable: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        parts = [f"accepted {self.accepted}", f"handshakes {self.handshakes}"]
        rejected = sum(self.rejected.values()) + self.replays + self.too_large
        detail = [f"{reason}: {n}" for reason, n in self.rejected.most_common()]
        detail += [f"replayed id: {self.replays}"] * bool(self.replays)
        detail += [f"body too large: {self.too_large}"] * bool(self.too_large)
        parts.append(f"rejected {rejected}" + (f" ({'; '.join(detail)})" if detail else ""))
        if self.unavailable:
            parts.append(f"not stored (503) {self.unavailable}")
        return ", ".join(parts)


@dataclass
class Receiver:
    """The ASGI app of one listener."""

    connector: str
    connection: str
    spec: Any
    secret: str | bytes
    path: str
    max_body: int
    writer: SpoolWriter
    submit: Callable[[Event], None]
    public_url: str | None = None
    clock: Callable[[], float] = time.time
    counts: Counts = field(default_factory=Counts)

    @property
    def stream(self) -> str:
        return f"{self.connector}:{self.connection}"

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Any], send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != self.path:
            await _reply(send, 404, {"error": "not found"})
            return
        method = scope["method"]
        if method not in ("POST", "GET"):
            await _reply(send, 405, {"error": "method not allowed"}, [(b"allow", b"POST, GET")])
            return
        headers = Headers(scope["headers"])
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return await self._too_large(scope, send)
        body = await self._body(receive)
        if body is None:
            return await self._too_large(scope, send)
        delivery = Delivery(method=method, url=self._url(scope, headers), headers=headers, body=body)
        verdict = verify(self.spec, delivery, self.secret, now=self.clock())
        if verdict.kind == "handshake":
            self.counts.handshakes += 1
            logs.say("answered a %s handshake", self.connector)
            await _send(send, verdict.status, verdict.response_body, _header_list(verdict.response_headers))
            return
        if verdict.kind != "event":
            reason = verdict.reason or "rejected"
            self.counts.rejected[reason] += 1
            logs.say("rejected a delivery from %s: %s (%d)", _client(scope), reason, verdict.status)
            await _reply(send, verdict.status, {"error": reason})
            return
        await self._accept(scope, send, verdict, body)

    async def _accept(self, scope: dict[str, Any], send: Send, verdict: Any, body: bytes) -> None:
        """Store every event of the delivery (one, or a batch's items) in one commit; answer 2xx
        only then. A delivery whose events are all known already is a replay (401)."""
        now = self.clock()
        found = verdict.events or (_Single(verdict.event_type, verdict.event_id, verdict.payload),)
        fallback = "sha256:" + hashlib.sha256(body).hexdigest()
        news = [
            NewEvent(self.stream, self.connector, self.connection, "webhook", str(ev.event_id or fallback),
                     ev.event_type, now, ev.payload)
            for ev in found
        ]
        try:
            seqs = await asyncio.gather(*(asyncio.wrap_future(self.writer.accept(new)) for new in news))
        except Exception as exc:  # not stored, so not acknowledged: the provider will retry
            self.counts.unavailable += 1
            logs.log().error("could not store an event (answered 503, the provider will retry): %s", exc)
            await _reply(send, 503, {"error": "the event could not be stored; retry later"})
            return
        accepted = [(new, seq) for new, seq in zip(news, seqs, strict=True) if seq is not None]
        self.counts.replays += len(news) - len(accepted)
        if not accepted:
            logs.say("rejected a delivery from %s: replayed event id %s (401)", _client(scope), news[0].event_id)
            await _reply(send, 401, {"error": "replayed event id"})
            return
        self.counts.accepted += len(accepted)
        await _send(send, verdict.status, verdict.response_body, _header_list(verdict.response_headers))
        for new, seq in accepted:
            self.submit(Event(**vars(new), seq=seq))

    async def _body(self, receive: Callable[[], Any]) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _too_large(self, scope: dict[str, Any], send: Send) -> None:
        self.counts.too_large += 1
        logs.say("rejected a delivery from %s: body over %d bytes (413)", _client(scope), self.max_body)
        await _reply(send, 413, {"error": f"body over {self.max_body} bytes"}, [(b"connection", b"close")])

    def _url(self, scope: dict[str, Any], headers: Mapping[str, str]) -> str:
        """The URL the provider called (what Twilio signs): ``--public-url`` behind a proxy or
        tunnel, else what the Host header says."""
        query = scope.get("query_string", b"").decode("latin-1")
        if self.public_url:
            base = self.public_url
        else:
            host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("127.0.0.1", 0))
            base = f"{scope.get('scheme', 'http')}://{host}{scope.get('raw_path', b'').decode('latin-1') or self.path}"
        return f"{base}?{query}" if query else base


@dataclass(frozen=True)
class _Single:
    event_type: str | None
    event_id: str | None
    payload: Any


def _client(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "?"


def _header_list(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def _reply(
    send: Send, status: int, data: dict[str, Any], extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    await _send(send, status, json.dumps(data).encode(), [(b"content-type", b"application/json"), *extra])


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    if body and not any(k == b"content-type" for k, _ in headers):
        headers = [*headers, (b"content-type", b"text/plain; charset=utf-8")]
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
