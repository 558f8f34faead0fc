"""``synthral listen`` as a real subprocess on a free port; deliveries signed by the providers'
own libraries (PyPI ``stripe``, npm ``@octokit/webhooks-methods``) and sent by httpx: valid,
wrong secret, one byte changed, stale, replayed id, oversized body; the spool; SIGKILL and
restart; ``--run FLOW``; ``events list/replay``."""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import httpx
import pytest

from tests.invoke_support import Scripted, manifest, write_manifests
from tests.triggers_support import TriggerProcess
from tests.webhooks_support import flip, node

SECRET = "whsec_test_listen_5b1f0c"


def stripe_body(event_id: str, kind: str = "payment_intent.succeeded", pad: int = 0) -> bytes:
    data = {"id": event_id, "object": "event", "type": kind, "data": {"object": {"id": "pi_1", "amount": 1099}}}
    if pad:
        data["pad"] = "x" * pad
    return json.dumps(data).encode()


def stripe_headers(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    import stripe

    value = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)
    return {"Stripe-Signature": value, "Content-Type": "application/json"}


@pytest.fixture
def stripe_listener():
    procs: list[TriggerProcess] = []

    def start(*extra: str, secret: str = SECRET) -> tuple[TriggerProcess, str]:
        proc = TriggerProcess.start("listen", "stripe", "--port", "0", "--secret-stdin", *extra, stdin=secret + "\n")
        procs.append(proc)
        return proc, f"http://127.0.0.1:{proc.port()}/"

    yield start
    for p in procs:
        p.stop()


def test_stripe_deliveries_verified_deduplicated_and_spooled(stripe_listener, config_dir, cli):
    proc, url = stripe_listener("--max-body", "4096")
    with httpx.Client(timeout=10) as client:
        body = stripe_body("evt_ok_1")
        r = client.post(url, content=body, headers=stripe_headers(body))
        assert r.status_code == 200
        line = proc.event()
        assert set(line) == {"connector", "event_type", "id", "received_at", "payload"}
        assert (line["connector"], line["event_type"], line["id"]) == ("stripe", "payment_intent.succeeded", "evt_ok_1")
        assert line["payload"] == json.loads(body)
        assert line["received_at"].endswith("Z")

        def refused(body: bytes, headers: dict[str, str], status: int = 401) -> str:
            r = client.post(url, content=body, headers=headers)
            assert r.status_code == status, r.text
            return str(r.json()["error"])

        other = stripe_body("evt_bad_1")
        assert refused(other, stripe_headers(other, "whsec_wrong")) == "bad signature"
        assert refused(flip(other), stripe_headers(other)) == "bad signature"
        assert refused(other, stripe_headers(other, timestamp=int(time.time()) - 600)) == "stale timestamp"
        assert refused(other, {"Content-Type": "application/json"}) == "missing header Stripe-Signature"
        # the same event again, freshly signed (a replay of its id) and byte for byte
        assert refused(body, stripe_headers(body)) == "replayed event id"
        assert refused(body, dict(r.request.headers)) == "replayed event id"
        big = stripe_body("evt_big", pad=5000)
        assert refused(big, stripe_headers(big), 413).startswith("body over 4096 bytes")
        assert client.post(url + "elsewhere", content=body, headers=stripe_headers(body)).status_code == 404
        assert client.put(url, content=body, headers=stripe_headers(body)).status_code == 405
        proc.no_event(0.5)  # nothing of that was emitted
    assert proc.stop() == 0
    assert "stopped: accepted 1, handshakes 0, rejected 7 (bad signature: 2; " in "\n".join(proc.stderr)
    assert SECRET not in "\n".join(proc.stderr)
    spool = config_dir / "triggers.db"
    assert spool.stat().st_mode & 0o777 == 0o600 and config_dir.stat().st_mode & 0o777 == 0o700
    r = cli("events", "list", "--json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)["events"]
    assert [(e["id"], e["status"], e["source"]) for e in rows] == [("evt_ok_1", "done", "webhook")]


def test_github_signature_from_octokit(config_dir):
    proc = TriggerProcess.start("listen", "github", "--port", "0", "--path", "/gh", "--secret-stdin",
                                stdin="gh-secret\n")
    try:
        url = f"http://127.0.0.1:{proc.port()}/gh"
        body = json.dumps({"action": "opened", "issue": {"number": 7}}).encode()
        [sig] = node({"op": "octokit_sign", "secret": "gh-secret", "body": body.decode()})
        headers = {"X-Hub-Signature-256": sig, "X-GitHub-Event": "issues", "Content-Type": "application/json",
                   "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
        with httpx.Client(timeout=10) as client:
            assert client.post(url, content=body, headers=headers).status_code == 200
            line = proc.event()
            assert (line["event_type"], line["id"]) == ("issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            assert line["payload"]["issue"]["number"] == 7
            # GitHub's redelivery is byte-identical: answered as a replay, not emitted twice
            assert client.post(url, content=body, headers=headers).status_code == 401
            [wrong] = node({"op": "octokit_sign", "secret": "not-it", "body": body.decode()})
            assert client.post(url, content=body, headers={**headers, "X-Hub-Signature-256": wrong}).status_code == 401
        proc.no_event(0.3)
    finally:
        proc.stop()


def test_sigkill_between_acceptance_and_handling_loses_nothing(stripe_listener, config_dir, tmp_path, cli):
    """The workflow of an accepted event hangs; the listener is SIGKILLed; on restart the event
    is handled (here: emitted as NDJSON) — it was in the spool before the 2xx."""
    import threading

    release = threading.Event()
    slow = Scripted()
    slow.add("/slow", (200, {}, lambda path, body: release.wait(30) and {"ok": True}))
    write_manifests(config_dir / "manifests", manifest("sink", slow.url, [
        {"name": "post", "description": "slow", "method": "POST", "path": "/slow", "auth": False,
         "parameters": [{"name": "amount", "in": "body", "type": "integer", "required": True}]},
    ], auth={"type": "none"}))
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "steps:\n  - name: sink\n    type: connector\n"
        "    config: {connectorType: sink, action: post, amount: '{{trigger.payload.data.object.amount}}'}\n"
    )
    try:
        proc, url = stripe_listener("--run", str(flow))
        body = stripe_body("evt_kill_1")
        with httpx.Client(timeout=10) as client:
            assert client.post(url, content=body, headers=stripe_headers(body)).status_code == 200
        deadline = time.time() + 10
        while not any(p == "/slow" for _, p, _, _ in slow.requests) and time.time() < deadline:
            time.sleep(0.05)
        assert json.loads(slow.requests[-1][3]) == {"amount": 1099}  # {{trigger.payload...}}, typed
        proc.stop(signal.SIGKILL)
        rows = json.loads(cli("events", "list", "--json").stdout)["events"]
        assert [(e["id"], e["status"]) for e in rows] == [("evt_kill_1", "pending")]
        release.set()
        again, _ = stripe_listener()
        line = again.event()
        assert (line["id"], line["payload"]["data"]["object"]["amount"]) == ("evt_kill_1", 1099)
        again.wait_stderr(r"handling 1 event\(s\) accepted earlier")
    finally:
        release.set()
        slow.close()


def test_failed_workflow_stays_for_replay(stripe_listener, config_dir, tmp_path, cli, sh):
    broken = Scripted()
    broken.add("/hook", (500, {}, {"error": {"message": "down"}}), (200, {}, {"ok": True}))
    write_manifests(config_dir / "manifests", manifest("sink", broken.url, [
        {"name": "post", "description": "hook", "method": "POST", "path": "/hook", "auth": False,
         "parameters": [{"name": "id", "in": "body", "type": "string", "required": True}]},
    ], auth={"type": "none"}))
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps({"steps": [{"name": "tell", "type": "connector", "config": {
        "connectorType": "sink", "action": "post", "id": "{{trigger.id}}"}}]}))
    try:
        proc, url = stripe_listener("--run", str(flow))
        body = stripe_body("evt_fail_1")
        with httpx.Client(timeout=10) as client:
            assert client.post(url, content=body, headers=stripe_headers(body)).status_code == 200
        proc.wait_stderr(r"event evt_fail_1 \(payment_intent.succeeded\) failed: step 'tell' failed: sink answered 500")
        proc.stop()
        rows = json.loads(cli("events", "list", "--json", "--status", "failed").stdout)["events"]
        assert [(e["id"], e["attempts"]) for e in rows] == [("evt_fail_1", 1)]
        assert "sink answered 500" in rows[0]["error"]
        r = sh("events", "replay", "--run", str(flow))
        assert r.exit_code == 0, r.stderr
        assert "replayed 1 event(s): 1 done, 0 failed." in r.stderr
        assert json.loads([b for _, p, _, b in broken.requests if p == "/hook"][-1]) == {"id": "evt_fail_1"}
        assert json.loads(cli("events", "list", "--json", "--status", "failed").stdout)["events"] == []
        # replay by id (any status) to stdout
        r = sh("events", "replay", "evt_fail_1")
        assert json.loads(r.stdout)["id"] == "evt_fail_1"
        assert sh("events", "replay", "evt_nope").exit_code == 2
    finally:
        broken.close()


def test_refusals_at_start(sh, config_dir):
    r = sh("listen", "stripe", "--port", "0")
    assert r.exit_code == 2 and "needs the webhook signing secret" in r.stderr
    assert "SYNTHRAL_STRIPE_WEBHOOK_SECRET" in r.stderr
    r = sh("listen", "stripe", "--host", "0.0.0.0", "--secret-stdin", input="x\n")
    assert r.exit_code == 2 and "--allow-remote" in r.stderr
    r = sh("listen", "stripe", "--host", "0.0.0.0", "--allow-remote", "--secret-stdin", input="x\n")
    assert r.exit_code == 2 and "without TLS" in r.stderr
    r = sh("listen", "openai", "--secret-stdin", input="x\n")
    assert r.exit_code == 2 and "declares no webhooks" in r.stderr


def test_spool_survives_as_a_sqlite_file_with_owner_only_modes(config_dir):
    from synthral_cli.triggers.spool import NewEvent, Spool

    spool = Spool(config_dir / "triggers.db")
    ev = NewEvent("s:default", "s", "default", "webhook", "e1", "t", time.time(), {"a": 1})
    assert spool.accept([ev, ev], window=60) == [1, None]
    spool.settle([(1, "done", None)])
    assert spool.accept([ev], window=0, now=time.time() + 1) == [2]  # outside the window: new again
    spool.close()
    db = sqlite3.connect(config_dir / "triggers.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    for name in ("triggers.db", "triggers.db-wal"):
        path = config_dir / name
        if path.exists():
            assert path.stat().st_mode & 0o777 == 0o600


def test_trigger_references_need_a_trigger(cli, tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text("steps:\n  - name: get\n    type: http_request\n"
                    "    config: {url: 'https://example.com/{{trigger.payload.id}}'}\n")
    r = cli("run", str(flow), "--check")
    assert r.exit_code == 2
    assert "reads the event that started the run, and this run has none" in r.stderr
    flow.write_text("steps:\n  - name: trigger\n    type: http_request\n    config: {url: 'https://example.com'}\n")
    r = cli("run", str(flow), "--check")
    assert r.exit_code == 2 and "'trigger' is reserved" in r.stderr
    r = cli("listen", "stripe", "--dedupe-window", "soon", "--secret-stdin", input="whsec_x\n")
    assert r.exit_code == 2 and "'soon' is not a duration" in r.stderr
