"""Verify one webhook delivery against a connector's ``webhooks`` definition.

``verify(spec, delivery, secret, now=...)`` checks the signature over the exact bytes received
(constant-time comparisons), the signed timestamp against the tolerance, then answers a handshake
(Slack's ``url_verification``, Zoom's ``endpoint.url_validation``, Discord's PING) or returns the
event: its type, id and parsed payload. It never raises for anything a sender can do; a secret
that cannot be a key raises ``UsageError`` (check it at start-up with ``check_secret``).

De-duplication by event id is the receiver's job; stale timestamps are refused here.
"""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

from . import schemes
from .schemes import Rejected

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Mapping

    from ..catalogue.webhooks import Handshake, WebhookSpec


@dataclass(frozen=True)
class Delivery:
    """What the receiver got, as the provider sent it."""

    method: str
    url: str  # the full public URL the provider called (Twilio, HubSpot and Square sign it)
    headers: Mapping[str, str]  # read case-insensitively
    body: bytes


@dataclass(frozen=True)
class Event:
    """One event of a delivery (a HubSpot delivery carries a batch of them)."""

    event_type: str | None
    event_id: str
    payload: Any


@dataclass(frozen=True)
class Verdict:
    """What to do with a delivery: emit an event, answer a handshake, or reject it."""

    kind: Literal["event", "handshake", "rejected"]
    status: int  # the HTTP status to answer with
    reason: str | None = None  # rejected: "bad signature", "stale timestamp", "missing header X" ...
    event_type: str | None = None
    event_id: str | None = None
    payload: Any = None  # the parsed body (JSON, or form fields for Twilio)
    response_body: bytes = b""  # handshakes: Slack's challenge, Zoom's url_validation, Discord's PONG
    response_headers: Mapping[str, str] = field(default_factory=dict)
    # kind == "event": every event in the delivery (one, or a batch's items); event_type and
    # event_id above are the first one's.
    events: tuple[Event, ...] = ()


def check_secret(spec: WebhookSpec, secret: str | bytes) -> None:
    """Raise ``UsageError`` now when ``secret`` cannot be this scheme's key."""
    schemes.key_bytes(spec, secret)


def verify(spec: WebhookSpec, delivery: Delivery, secret: str | bytes, *, now: float) -> Verdict:
    """The verdict on one delivery (see the module docstring)."""
    key = schemes.key_bytes(spec, secret)
    try:
        payload: Any = None
        if spec.handshake is not None and not spec.handshake.signed:
            payload = _payload_or_none(spec, delivery)
            if _is_handshake(spec.handshake, payload):
                return _handshake(spec, spec.handshake, payload, key)
        timestamp = _check_signature(spec, delivery, key)
        if payload is None:
            payload = schemes.parse_payload(spec, delivery.headers, delivery.body)
        _check_time(spec, timestamp, payload, now)
        if spec.handshake is not None and _is_handshake(spec.handshake, payload):
            return _handshake(spec, spec.handshake, payload, key)
        return _event(spec, delivery, payload)
    except Rejected as exc:
        return Verdict("rejected", exc.status, reason=exc.reason)


def _check_signature(spec: WebhookSpec, delivery: Delivery, key: bytes) -> str | None:
    """Check the signature; return the signed timestamp as sent (None when the scheme has none)."""
    value = schemes.header(delivery.headers, spec.signature_headers)
    if value is None:
        raise Rejected(f"missing header {spec.signature_headers[0]}")
    if spec.scheme == "token":
        if not hmac.compare_digest(value.encode(), key):
            raise Rejected("bad token")
        return None
    candidates, pairs = schemes.signatures(spec, value)
    timestamp = _timestamp(spec, delivery, pairs)
    query = dict(parse_qsl(schemes.url_query(delivery.url), keep_blank_values=True))
    hashed = spec.body_hash_param is not None and spec.body_hash_param in query
    if hashed:
        assert spec.body_hash_param is not None  # noqa: S101 - narrowed for mypy
        if not _hex_equal(schemes.body_sha256(delivery.body), query[spec.body_hash_param]):
            raise Rejected("bad signature (the body does not match its hash)")
    signs_form = "{form_sorted}" in spec.signed and not hashed
    if signs_form and delivery.body and not schemes.is_form(delivery.headers):
        # Only form fields (or a body hash in the URL) are signed: any other body would ride along unchecked.
        raise Rejected("the body is not covered by the signature (neither form fields nor a body hash)")
    form = schemes.form_sorted(schemes.form_fields(delivery.body)) if signs_form else ""
    uses_url = "{url" in spec.signed
    for url in schemes.url_variants(delivery.url) if uses_url else [delivery.url]:
        parts = {
            "body": delivery.body,
            "timestamp": (timestamp or "").encode(),
            "method": delivery.method.upper().encode(),
            "url": url.encode(),
            "form_sorted": form.encode(),
        }
        message = schemes.render(spec.signed, parts, delivery.headers)
        if spec.scheme == "ed25519":
            ok = schemes.ed25519_matches(key, message, candidates)
        else:
            ok = schemes.hmac_matches(spec.algorithm, key, message, candidates)
        if ok:
            return timestamp
    raise Rejected("bad signature")


def _hex_equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def _timestamp(spec: WebhookSpec, delivery: Delivery, pairs: Mapping[str, str]) -> str | None:
    ts = spec.timestamp
    if ts is None:
        return None
    if ts.header:
        value = schemes.header(delivery.headers, ts.header)
        if value is None:
            raise Rejected(f"missing header {ts.header[0]}")
        return value.strip()
    if ts.pair:
        if ts.pair not in pairs:
            raise Rejected(f"no {ts.pair}= timestamp in the signature header")
        return pairs[ts.pair]
    return None  # a payload path: read after the signature is checked (_check_time)


def _check_time(spec: WebhookSpec, sent: str | None, payload: Any, now: float) -> None:
    ts = spec.timestamp
    if ts is None:
        return
    raw: Any = sent
    if ts.path:
        raw = schemes.lookup(payload, ts.path)
        if raw is schemes._ABSENT:
            raise Rejected(f"no timestamp at {ts.path} in the payload")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(raw, bool) or not math.isfinite(value):
        raise Rejected("malformed timestamp")
    seconds = value / 1000 if ts.unit == "milliseconds" else value
    if ts.tolerance and abs(now - seconds) > ts.tolerance:
        raise Rejected("stale timestamp")


def _payload_or_none(spec: WebhookSpec, delivery: Delivery) -> Any:
    try:
        return schemes.parse_payload(spec, delivery.headers, delivery.body)
    except Rejected:
        return None


def _is_handshake(hs: Handshake, payload: Any) -> bool:
    value = schemes.lookup(payload, hs.path) if payload is not None else schemes._ABSENT
    return value is not schemes._ABSENT and value == hs.equals


def _handshake(spec: WebhookSpec, hs: Handshake, payload: Any, key: bytes) -> Verdict:
    def value(src: Any) -> Any:
        if src.hmac is not None:
            plain = schemes.lookup(payload, src.hmac)
            if not isinstance(plain, str):
                raise Rejected(f"the handshake has no {src.hmac}", 400)
            return schemes.hmac_hex(spec.algorithm, key, plain)
        found = schemes.resolve([src], {}, payload)
        if found is None:
            raise Rejected(f"the handshake has no {src.path or src.template}", 400)
        return found

    if isinstance(hs.respond, dict):
        body = json.dumps({k: value(v) for k, v in hs.respond.items()}, separators=(",", ":")).encode()
    else:
        found = value(hs.respond)
        body = (found if isinstance(found, str) else json.dumps(found)).encode()
    return Verdict(
        "handshake",
        hs.status,
        payload=payload,
        response_body=body,
        response_headers={"Content-Type": hs.content_type},
    )


def _event(spec: WebhookSpec, delivery: Delivery, payload: Any) -> Verdict:
    items = payload if spec.batch else [payload]
    if spec.batch and (not isinstance(payload, list) or not payload):
        raise Rejected("expected a JSON array of events", 400)
    fallback = "sha256:" + schemes.body_sha256(delivery.body)
    events = []
    for i, item in enumerate(items):
        etype = schemes.as_text(schemes.resolve(spec.event_type, delivery.headers, item))
        eid = schemes.as_text(schemes.resolve(spec.event_id, delivery.headers, item))
        events.append(Event(etype, eid or (fallback if not spec.batch else f"{fallback}#{i}"), item))
    first = events[0]
    return Verdict(
        "event", 200, event_type=first.event_type, event_id=first.event_id, payload=payload, events=tuple(events)
    )
