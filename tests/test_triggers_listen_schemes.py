"""``synthral listen`` end to end for the other scheme families: deliveries signed by the
providers' own libraries (``slack_sdk``, PyNaCl for Discord's Ed25519, ``svix``, ``twilio``'s
RequestValidator, ``hubspot-api-client``) and sent by httpx to the listener subprocess:
handshakes answered and never emitted, events emitted once, forgeries refused."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.test_webhooks_verify import SLACK_SECRET, _slack
from tests.test_webhooks_verify_more import (
    HUBSPOT_BODY,
    HUBSPOT_SECRET,
    SVIX_SECRET,
    TWILIO_FORM,
    TWILIO_TOKEN,
    _discord,
    _discord_key,
    _hubspot,
    _svix,
    _twilio_form,
)
from tests.triggers_support import TriggerProcess
from tests.webhooks_support import flip


@pytest.fixture
def listener():
    procs: list[TriggerProcess] = []

    def start(slug: str, secret: str, *extra: str) -> tuple[TriggerProcess, str]:
        proc = TriggerProcess.start("listen", slug, "--port", "0", "--path", "/in", "--secret-stdin", *extra,
                                    stdin=secret + "\n")
        procs.append(proc)
        return proc, f"http://127.0.0.1:{proc.port()}/in"

    yield start
    for p in procs:
        p.stop()


def test_slack_url_verification_then_events(listener):
    proc, url = listener("slack", SLACK_SECRET)
    challenge = json.dumps({"token": "x", "type": "url_verification", "challenge": "3eZbrw1aBm2rZgRN"}).encode()
    event = json.dumps({"type": "event_callback", "event_id": "Ev08MFMKH6",
                        "event": {"type": "app_mention", "text": "hi"}}).encode()
    with httpx.Client(timeout=10) as client:
        r = client.post(url, content=challenge, headers=_slack(challenge))
        assert (r.status_code, r.json()) == (200, {"challenge": "3eZbrw1aBm2rZgRN"})
        assert client.post(url, content=challenge, headers=_slack(challenge, "wrong")).status_code == 401
        assert client.post(url, content=event, headers=_slack(event)).status_code == 200
        line = proc.event()
        assert (line["connector"], line["event_type"], line["id"]) == ("slack", "app_mention", "Ev08MFMKH6")
        assert client.post(url, content=flip(event), headers=_slack(event)).status_code == 401
        stale = _slack(event, ts=int(time.time()) - 400)
        assert client.post(url, content=event, headers=stale).json() == {"error": "stale timestamp"}
    proc.no_event(0.3)  # the handshake and the forgeries were not emitted


def test_discord_ping_and_interaction_with_ed25519(listener):
    public = _discord_key().verify_key.encode().hex()
    proc, url = listener("discord", public)
    ping = json.dumps({"id": "1", "application_id": "2", "type": 1, "version": 1}).encode()
    command = json.dumps({"id": "786008729715212338", "type": 2, "data": {"name": "blep"}}).encode()
    with httpx.Client(timeout=10) as client:
        r = client.post(url, content=ping, headers=_discord(ping))
        assert (r.status_code, r.json()) == (200, {"type": 1})
        assert client.post(url, content=command, headers=_discord(command)).status_code == 200
        line = proc.event()
        assert (line["event_type"], line["id"], line["payload"]["data"]) == (
            "interaction.2", "786008729715212338", {"name": "blep"})
        assert client.post(url, content=flip(command), headers=_discord(command)).status_code == 401
    proc.no_event(0.3)


def test_svix_signed_replicate(listener):
    proc, url = listener("replicate", SVIX_SECRET)
    body = json.dumps({"id": "ufawqhfynnddngldkgtslldrkq", "status": "succeeded"}).encode()
    headers = {**_svix(body), "Content-Type": "application/json"}
    with httpx.Client(timeout=10) as client:
        assert client.post(url, content=body, headers=headers).status_code == 200
        line = proc.event()
        assert (line["event_type"], line["id"]) == ("prediction.succeeded", "msg_p5jXN8AQM9LWM0D4loKWxJek")
        again = {**_svix(body), "Content-Type": "application/json"}  # the same message id, signed anew
        assert client.post(url, content=body, headers=again).json() == {"error": "replayed event id"}
        wrong = {**_svix(body, secret="whsec_" + "A" * 32), "Content-Type": "application/json"}
        assert client.post(url, content=body, headers=wrong).status_code == 401
    proc.no_event(0.3)


def test_twilio_signs_the_public_url(listener):
    """Behind a tunnel the listener sees 127.0.0.1; Twilio signed the public URL (--public-url)."""
    proc, url = listener("twilio", TWILIO_TOKEN, "--public-url", "https://hooks.example.com/twilio/sms")
    body, headers = _twilio_form()  # signed for https://hooks.example.com/twilio/sms?site=main
    with httpx.Client(timeout=10) as client:
        assert client.post(url + "?site=main", content=body, headers=headers).status_code == 200
        line = proc.event()
        assert line["payload"]["Body"] == dict(TWILIO_FORM)["Body"]
        assert line["event_type"] == "message.received"
        assert client.post(url + "?site=other", content=body, headers=headers).status_code == 401
    proc.no_event(0.3)


def test_hubspot_batch_emits_each_event(listener):
    hub_url = "https://hooks.example.com/hubspot?portal=62515"
    proc, url = listener("hubspot", HUBSPOT_SECRET, "--public-url", "https://hooks.example.com/hubspot")
    headers = {**_hubspot(HUBSPOT_BODY, url=hub_url), "Content-Type": "application/json"}
    with httpx.Client(timeout=10) as client:
        assert client.post(url + "?portal=62515", content=HUBSPOT_BODY, headers=headers).status_code == 200
        first, second = proc.event(), proc.event()
        assert [first["event_type"], second["event_type"]] == ["contact.creation", "contact.propertyChange"]
        assert first["payload"]["objectId"] == 123 and second["payload"]["propertyName"] == "email"
        fresh = {**_hubspot(HUBSPOT_BODY, url=hub_url), "Content-Type": "application/json"}
        assert client.post(url + "?portal=62515", content=HUBSPOT_BODY, headers=fresh).status_code == 401
    proc.no_event(0.3)
