"""``synthral watch`` as a subprocess against a local HTTP server whose list grows between
polls: only new items come out, a restart neither repeats nor skips, Retry-After is waited out,
and ``--run FLOW`` runs a workflow per item with {{trigger.payload...}}."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.invoke_support import Scripted, manifest, write_manifests
from tests.triggers_support import TriggerProcess

ENV = {"SYNTHRAL_FEED_TOKEN": "feed-token-123"}


class Feed:
    """A list that grows: GET /items -> {"data": [newest first]}; ``since`` filters n > since."""

    def __init__(self) -> None:
        self.items: list[dict[str, object]] = []
        self.lock = threading.Lock()
        self.server = Scripted()
        self.server.add("/items", (200, {}, self._answer))
        self.server.add("/hook", (200, {}, lambda path, body: {"ok": True}))

    def _answer(self, path: str, body: bytes) -> dict[str, object]:
        from urllib.parse import parse_qs, urlsplit

        since = parse_qs(urlsplit(path).query).get("since")
        with self.lock:
            items = [i for i in self.items if not since or int(str(i["n"])) > int(since[0])]
            return {"data": list(reversed(items))}

    def add(self, *keys: str) -> None:
        with self.lock:
            for key in keys:
                self.items.append({"key": key, "n": len(self.items) + 1, "title": f"item {key}"})


@pytest.fixture
def feed(config_dir):
    f = Feed()
    pagination = {"type": "none", "items_path": "data", "item_id_path": "key"}
    write_manifests(
        config_dir / "manifests",
        manifest("feed", f.server.url, [
            {"name": "list_items", "description": "items", "method": "GET", "path": "/items",
             "pagination": pagination,
             "parameters": [{"name": "since", "in": "query", "type": "integer"}]},
            {"name": "list_since", "description": "items after n", "method": "GET", "path": "/items",
             "pagination": {**pagination, "since_param": "since", "since_path": "n"},
             "parameters": [{"name": "since", "in": "query", "type": "integer"}]},
            {"name": "notify", "description": "post", "method": "POST", "path": "/hook",
             "parameters": [{"name": "title", "in": "body", "type": "string", "required": True}]},
        ]),
    )
    yield f
    f.server.close()


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_once_emits_only_new_items_and_keeps_its_position(feed, sh, config_dir):
    feed.add("a", "b")
    first = sh("watch", "feed", "list_items", "--once", env=ENV)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == ""  # the first poll records what exists
    assert "2 existing item(s) recorded" in first.stderr
    feed.add("c", "d")
    second = sh("watch", "feed", "list_items", "--once", env=ENV)
    assert second.exit_code == 0, second.stderr
    got = lines(second.stdout)
    assert [e["id"] for e in got] == ["d", "c"]  # the answer's order (newest first here)
    assert set(got[0]) == {"connector", "event_type", "id", "received_at", "payload"}
    assert got[0]["connector"] == "feed" and got[0]["event_type"] == "list_items"
    assert got[0]["payload"] == {"key": "d", "n": 4, "title": "item d"}
    assert sh("watch", "feed", "list_items", "--once", env=ENV).stdout == ""
    # the position is in the owner-only spool, not on the command line or in a world-readable file
    spool = config_dir / "triggers.db"
    assert spool.stat().st_mode & 0o777 == 0o600
    assert "feed-token-123" not in spool.read_bytes().decode("latin-1")


def test_include_existing_and_since_cursor(feed, sh):
    feed.add("a", "b")
    first = sh("watch", "feed", "list_since", "--once", "--include-existing", env=ENV)
    assert [e["id"] for e in lines(first.stdout)] == ["a", "b"]  # sorted by the since field
    feed.add("c")
    second = sh("watch", "feed", "list_since", "--once", env=ENV)
    assert [e["id"] for e in lines(second.stdout)] == ["c"]
    asked = [path for method, path, _, _ in feed.server.requests if path.startswith("/items")]
    assert asked[-1] == "/items?since=2"  # the newest n seen before that poll


def test_restart_neither_repeats_nor_skips(feed):
    feed.add("a")
    proc = TriggerProcess.start("watch", "feed", "list_items", "--interval", "1", env=ENV)
    try:
        proc.wait_stderr("existing item")
        feed.add("b")
        assert proc.event()["id"] == "b"
    finally:
        assert proc.stop() in (0, 130, -15)
    feed.add("c", "d")  # while nobody watches
    again = TriggerProcess.start("watch", "feed", "list_items", "--interval", "1", env=ENV)
    try:
        got = {again.event()["id"], again.event()["id"]}
        assert got == {"c", "d"}
        again.no_event(1.5)  # a, b are not repeated on later polls
        feed.add("e")
        assert again.event()["id"] == "e"
    finally:
        again.stop()


def test_retry_after_is_waited_out(feed, sh):
    feed.add("a")
    assert sh("watch", "feed", "list_items", "--once", env=ENV).exit_code == 0
    feed.add("b")
    limited = (429, {"Retry-After": "2"}, {"error": {"message": "slow down"}})
    feed.server.add("/items", limited, (200, {}, feed._answer))
    started = time.monotonic()
    proc = TriggerProcess.start("watch", "feed", "list_items", "--interval", "1", "--retries", "0", env=ENV)
    try:
        assert proc.event()["id"] == "b"
        assert time.monotonic() - started >= 2.0
        proc.wait_stderr(r"poll failed \(feed answered 429: slow down\); next try in 2 s")
    finally:
        proc.stop()


def test_once_reports_errors_with_their_exit_code(feed, sh):
    feed.server.add("/items", (500, {}, {"error": {"message": "boom"}}))
    r = sh("watch", "feed", "list_items", "--once", "--retries", "0", env=ENV)
    assert r.exit_code == 1
    assert "feed answered 500: boom" in r.stderr
    bad = sh("watch", "feed", "list_items", "--once", "--id-path", "nope", "--include-existing", env=ENV)
    assert bad.exit_code == 2 or bad.exit_code == 1


def test_run_flow_per_new_item(feed, sh, tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "steps:\n"
        "  - name: post\n"
        "    type: connector\n"
        "    config: {connectorType: feed, action: notify, title: 'new {{trigger.payload.title}}'}\n"
    )
    feed.add("a")
    assert sh("watch", "feed", "list_items", "--once", "--run", str(flow), env=ENV).exit_code == 0
    feed.add("b")
    r = sh("watch", "feed", "list_items", "--once", "--run", str(flow), env=ENV)
    assert r.exit_code == 0, r.stderr
    posted = [json.loads(body) for method, path, _, body in feed.server.requests if path == "/hook"]
    assert posted == [{"title": "new item b"}]
