"""What the server remembers between requests, in memory and with an expiry: OAuth flows waiting
for their callback (state + PKCE verifier), browser sessions of the catalogue page, and workflow
executions. Nothing here is written to disk; a restart forgets it all."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

PENDING_TTL = 600.0  # an authorization must come back within 10 minutes
SESSION_TTL = 12 * 3600.0
MAX_PENDING = 1000
MAX_EXECUTIONS = 500


@dataclass
class Pending:
    """One authorization waiting for the provider's redirect."""

    slug: str
    connection: str
    method: str  # direct | nango
    scopes: list[str]
    config: dict[str, Any]
    request: Any = None  # codeflow.AuthorizationRequest (direct)
    nango: dict[str, Any] = field(default_factory=dict)  # tags and integration (nango)
    return_to: str | None = None  # the page to go back to (the catalogue page's Connect button)
    expires: float = 0.0


class PendingFlows:
    """State -> Pending. A state is taken once; lookups compare every state in constant time."""

    def __init__(self, ttl: float = PENDING_TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Pending] = OrderedDict()

    def add(self, state: str, pending: Pending) -> None:
        pending.expires = time.monotonic() + self.ttl
        with self._lock:
            self._expire()
            while len(self._items) >= MAX_PENDING:
                self._items.popitem(last=False)
            self._items[state] = pending

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, v in self._items.items() if v.expires <= now]:
            del self._items[key]

    def _find(self, state: str) -> str | None:
        wanted = state.encode("utf-8", "surrogateescape")
        found = None
        for key in self._items:  # no early exit: the time does not depend on where it matched
            if hmac.compare_digest(key.encode(), wanted):
                found = key
        return found

    def take(self, state: str) -> Pending | None:
        """The flow of ``state``, removed: a second callback with it finds nothing."""
        with self._lock:
            self._expire()
            key = self._find(state)
            return None if key is None else self._items.pop(key)

    def peek(self, state: str) -> Pending | None:
        with self._lock:
            self._expire()
            key = self._find(state)
            return None if key is None else self._items[key]


@dataclass
class Session:
    csrf: str
    expires: float


class Sessions:
    """Browser sessions of the catalogue page, started by the one-time login link."""

    def __init__(self, login_token: str, ttl: float = SESSION_TTL) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._login: str | None = login_token
        self._items: dict[str, Session] = {}

    def login(self, token: str) -> str | None:
        """A new session id for the login token, which works once; None otherwise."""
        with self._lock:
            if self._login is None or not hmac.compare_digest(self._login.encode(), token.encode("utf-8", "replace")):
                return None
            self._login = None
            sid = secrets.token_urlsafe(32)
            self._items[sid] = Session(secrets.token_urlsafe(24), time.monotonic() + self.ttl)
            return sid

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            now = time.monotonic()
            for key in [k for k, v in self._items.items() if v.expires <= now]:
                del self._items[key]
            found = None
            for key, value in self._items.items():
                if hmac.compare_digest(key.encode(), sid.encode("utf-8", "replace")):
                    found = value
            return found

    def end(self, sid: str) -> None:
        with self._lock:
            self._items.pop(sid, None)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


@dataclass
class StepRecord:
    name: str
    type: str
    status: str = "running"  # running | succeeded | failed
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: Any = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "started_at": _iso(self.started),
            "finished_at": _iso(self.finished),
            "duration_ms": None if self.finished is None else round((self.finished - self.started) * 1000, 1),
            "result": self.result,
            "error": self.error,
        }


@dataclass
class Execution:
    id: str
    owner: str  # the API key that started it: only that key can read it
    status: str = "running"  # running | succeeded | failed
    started: float = field(default_factory=time.time)
    finished: float | None = None
    steps: list[StepRecord] = field(default_factory=list)
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution_id": self.id,
            "status": self.status,
            "started_at": _iso(self.started),
            "finished_at": _iso(self.finished),
            "duration_ms": None if self.finished is None else round((self.finished - self.started) * 1000, 1),
            "steps": [s.to_dict() for s in list(self.steps)],
            "error": self.error,
        }


class Executions:
    """The most recent workflow executions (older ones are forgotten)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Execution] = OrderedDict()

    def new(self, owner: str) -> Execution:
        ex = Execution("ex_" + secrets.token_hex(12), owner)
        with self._lock:
            while len(self._items) >= MAX_EXECUTIONS:
                self._items.popitem(last=False)
            self._items[ex.id] = ex
        return ex

    def get(self, ident: str, owner: str) -> Execution | None:
        with self._lock:
            ex = self._items.get(ident)
        return ex if ex is not None and ex.owner == owner else None
