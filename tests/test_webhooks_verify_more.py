"""Webhook verification, continued: Twilio (``twilio`` RequestValidator), Square (``squareup``
WebhooksHelper), HubSpot (``hubspot-api-client`` Signature), Discord (PyNaCl signing, checked by
npm ``discord-interactions``), Svix-signed Replicate (``svix``), Linear (checked by ``@linear/sdk``),
Paddle Billing (``paddle-python-sdk``),
Zoom and Calendly (no official library: signed as their documentation says, URL beside each)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

from tests.webhooks_support import assert_rejected, check, flip, node

# --- Twilio ---------------------------------------------------------------------------------

TWILIO_TOKEN = "12345abcdef12345abcdef12345abcd"
TWILIO_URL = "https://hooks.example.com/twilio/sms?site=main"
TWILIO_FORM = [("MessageSid", "SM1f0e8ae6ade43cb3c0ce4525424e404f"), ("SmsStatus", "received"),
               ("From", "+14158675310"), ("To", "+18005551212"), ("Body", "Hello & goodbye ☃"),
               ("MediaUrl0", "https://api.twilio.com/x.jpg"), ("NumMedia", "1")]


def _twilio_form(token: str = TWILIO_TOKEN, url: str = TWILIO_URL) -> tuple[bytes, dict[str, str]]:
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    params = dict(TWILIO_FORM)
    sig = RequestValidator(token).compute_signature(url, params)
    return urlencode(TWILIO_FORM).encode(), {"X-Twilio-Signature": sig,
                                              "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def test_twilio_form_signed_by_twilios_validator():
    from twilio.request_validator import RequestValidator

    body, headers = _twilio_form()
    assert RequestValidator(TWILIO_TOKEN).validate(TWILIO_URL, dict(TWILIO_FORM), headers["X-Twilio-Signature"])
    v = check("twilio", body, headers, TWILIO_TOKEN, url=TWILIO_URL)
    assert (v.kind, v.event_type) == ("event", "message.received")
    assert v.event_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f:received"
    assert v.payload["Body"] == "Hello & goodbye ☃"
    # Twilio signs with or without the port; the receiver may see either
    _, with_port = _twilio_form(url="https://hooks.example.com:443/twilio/sms?site=main")
    assert check("twilio", body, with_port, TWILIO_TOKEN, url=TWILIO_URL).kind == "event"
    v = check("twilio", body, {**headers, "I-Twilio-Idempotency-Token": "c0ffee"}, TWILIO_TOKEN, url=TWILIO_URL)
    assert v.event_id == "c0ffee"


def test_twilio_json_body_with_bodysha256():
    from twilio.request_validator import RequestValidator

    body = json.dumps({"CallSid": "CA123", "CallStatus": "completed"}).encode()
    validator = RequestValidator(TWILIO_TOKEN)
    url = f"https://hooks.example.com/twilio/status?bodySHA256={validator.compute_hash(body.decode())}"
    sig = validator.compute_signature(url, {})
    assert validator.validate(url, body.decode(), sig)
    headers = {"X-Twilio-Signature": sig, "Content-Type": "application/json"}
    v = check("twilio", body, headers, TWILIO_TOKEN, url=url)
    assert (v.kind, v.event_type, v.event_id) == ("event", "call.completed", "CA123:completed")
    assert_rejected(check("twilio", flip(body), headers, TWILIO_TOKEN, url=url),
                    "bad signature (the body does not match its hash)")
    # the same signed URL without its body hash would sign no body at all: refused
    bare = "https://hooks.example.com/twilio/status"
    no_hash = {"X-Twilio-Signature": validator.compute_signature(bare, {}), "Content-Type": "application/json"}
    assert_rejected(check("twilio", body, no_hash, TWILIO_TOKEN, url=bare),
                    "the body is not covered by the signature (neither form fields nor a body hash)")


def test_twilio_rejects_wrong_token_changed_byte_other_url_and_missing_header():
    body, headers = _twilio_form()
    assert_rejected(check("twilio", body, _twilio_form(token="0" * 32)[1], TWILIO_TOKEN, url=TWILIO_URL),
                    "bad signature")
    assert_rejected(check("twilio", body.replace(b"Hello", b"Jello"), headers, TWILIO_TOKEN, url=TWILIO_URL),
                    "bad signature")
    assert_rejected(check("twilio", body, headers, TWILIO_TOKEN, url=TWILIO_URL.replace("main", "other")),
                    "bad signature")
    assert_rejected(check("twilio", body, {"Content-Type": "application/x-www-form-urlencoded"}, TWILIO_TOKEN,
                          url=TWILIO_URL), "missing header X-Twilio-Signature")


# --- Square ---------------------------------------------------------------------------------

SQUARE_URL = "https://hooks.example.com/square"
SQUARE_KEY = "asdf1234-square-signature-key"
SQUARE_BODY = json.dumps({"merchant_id": "6SSW7HV8K2ST5", "type": "payment.updated",
                          "event_id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124",
                          "data": {"type": "payment", "id": "KkAkhdMs"}}).encode()


def _square(body: bytes, key: str = SQUARE_KEY, url: str = SQUARE_URL) -> dict[str, str]:
    """Signed as https://developer.squareup.com/docs/webhooks/step3validate says; the SDK's own
    WebhooksHelper (verify-only) must accept it before synthral sees it."""
    from square.utils.webhooks_helper import verify_signature

    sig = base64.b64encode(hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()).decode()
    assert verify_signature(request_body=body.decode(), signature_header=sig, signature_key=key,
                            notification_url=url)
    return {"x-square-hmacsha256-signature": sig}


def test_square_signature_over_url_and_body():
    v = check("square", SQUARE_BODY, _square(SQUARE_BODY), SQUARE_KEY, url=SQUARE_URL)
    assert (v.kind, v.event_type, v.event_id) == ("event", "payment.updated", "13b867cf-db3d-4b1c-90b6-2f32a9d78124")
    assert_rejected(check("square", SQUARE_BODY, _square(SQUARE_BODY, key="other"), SQUARE_KEY, url=SQUARE_URL),
                    "bad signature")
    assert_rejected(check("square", flip(SQUARE_BODY), _square(SQUARE_BODY), SQUARE_KEY, url=SQUARE_URL),
                    "bad signature")
    assert_rejected(check("square", SQUARE_BODY, _square(SQUARE_BODY), SQUARE_KEY, url=SQUARE_URL + "/x"),
                    "bad signature")
    assert_rejected(check("square", SQUARE_BODY, {}, SQUARE_KEY, url=SQUARE_URL),
                    "missing header x-square-hmacsha256-signature")


# --- HubSpot --------------------------------------------------------------------------------

HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
HUBSPOT_URL = "https://hooks.example.com/hubspot?portal=62515"
HUBSPOT_BODY = json.dumps([
    {"eventId": 100, "subscriptionType": "contact.creation", "objectId": 123, "portalId": 62515},
    {"eventId": 101, "subscriptionType": "contact.propertyChange", "objectId": 123, "propertyName": "email"},
]).encode()


def _hubspot(body: bytes, secret: str = HUBSPOT_SECRET, ms: int | None = None, url: str = HUBSPOT_URL):
    from hubspot.utils.signature import Signature

    ts = str(int(time.time() * 1000) if ms is None else ms)
    sig = Signature.get_signature(secret, body.decode(), "v3", http_uri=url, http_method="POST", timestamp=ts)
    return {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ts}


def test_hubspot_v3_batch_signed_by_hubspot_client():
    from hubspot.utils.signature import Signature

    headers = _hubspot(HUBSPOT_BODY)
    assert Signature.is_valid(headers["X-HubSpot-Signature-v3"], HUBSPOT_SECRET, HUBSPOT_BODY.decode(),
                              http_uri=HUBSPOT_URL, signature_version="v3",
                              timestamp=headers["X-HubSpot-Request-Timestamp"])
    v = check("hubspot", HUBSPOT_BODY, headers, HUBSPOT_SECRET, url=HUBSPOT_URL)
    assert v.kind == "event" and (v.event_type, v.event_id) == ("contact.creation", "100")
    assert [(e.event_type, e.event_id) for e in v.events] == [("contact.creation", "100"),
                                                              ("contact.propertyChange", "101")]
    assert v.events[1].payload["propertyName"] == "email"
    # HubSpot decodes some escapes in the URI before signing; a receiver sees them encoded
    decoded = _hubspot(HUBSPOT_BODY, url="https://hooks.example.com/hubspot?portal=62515&cb=a:b")
    enc = "https://hooks.example.com/hubspot?portal=62515&cb=a%3Ab"
    assert check("hubspot", HUBSPOT_BODY, decoded, HUBSPOT_SECRET, url=enc).kind == "event"


def test_hubspot_rejects_wrong_secret_changed_byte_method_stale_and_missing():
    headers = _hubspot(HUBSPOT_BODY)
    assert_rejected(check("hubspot", HUBSPOT_BODY, _hubspot(HUBSPOT_BODY, "x"), HUBSPOT_SECRET, url=HUBSPOT_URL),
                    "bad signature")
    assert_rejected(check("hubspot", flip(HUBSPOT_BODY), headers, HUBSPOT_SECRET, url=HUBSPOT_URL), "bad signature")
    assert_rejected(check("hubspot", HUBSPOT_BODY, headers, HUBSPOT_SECRET, url=HUBSPOT_URL, method="PUT"),
                    "bad signature")
    stale = _hubspot(HUBSPOT_BODY, ms=int((time.time() - 301) * 1000))
    assert_rejected(check("hubspot", HUBSPOT_BODY, stale, HUBSPOT_SECRET, url=HUBSPOT_URL), "stale timestamp")
    assert_rejected(check("hubspot", HUBSPOT_BODY, {"X-HubSpot-Signature-v3": headers["X-HubSpot-Signature-v3"]},
                          HUBSPOT_SECRET, url=HUBSPOT_URL), "missing header X-HubSpot-Request-Timestamp")
    obj = json.dumps({"eventId": 1}).encode()
    assert_rejected(check("hubspot", obj, _hubspot(obj), HUBSPOT_SECRET, url=HUBSPOT_URL),
                    "expected a JSON array of events", 400)


# --- Discord --------------------------------------------------------------------------------


def _discord_key():
    from nacl.signing import SigningKey

    return SigningKey(bytes(range(32)))


def _discord(body: bytes, ts: int | None = None, key=None) -> dict[str, str]:
    t = str(int(time.time()) if ts is None else ts)
    sig = (key or _discord_key()).sign(t.encode() + body).signature.hex()
    return {"X-Signature-Ed25519": sig, "X-Signature-Timestamp": t, "Content-Type": "application/json"}


def test_discord_ping_and_command_signed_with_ed25519():
    public = _discord_key().verify_key.encode().hex()
    ping = json.dumps({"id": "1", "application_id": "2", "type": 1, "version": 1}).encode()
    command = json.dumps({"id": "786008729715212338", "type": 2, "data": {"name": "blep"}}).encode()
    hp, hc = _discord(ping), _discord(command)
    # Discord's own library agrees on both
    assert node(*[{"op": "discord_verify", "body": b.decode(), "signature": h["X-Signature-Ed25519"],
                   "timestamp": h["X-Signature-Timestamp"], "public_key": public}
                  for b, h in ((ping, hp), (command, hc))]) == [True, True]
    v = check("discord", ping, hp, public)
    assert (v.kind, v.status, json.loads(v.response_body)) == ("handshake", 200, {"type": 1})
    v = check("discord", command, hc, public)
    assert (v.kind, v.event_type, v.event_id) == ("event", "interaction.2", "786008729715212338")


def test_discord_rejects_other_key_changed_byte_stale_missing_and_unsigned_ping():
    from nacl.signing import SigningKey

    public = _discord_key().verify_key.encode().hex()
    ping = json.dumps({"type": 1}).encode()
    assert_rejected(check("discord", ping, _discord(ping, key=SigningKey(b"\x01" * 32)), public), "bad signature")
    assert_rejected(check("discord", flip(ping, 2), _discord(ping), public), "bad signature")
    assert_rejected(check("discord", ping, _discord(ping, ts=int(time.time()) - 301), public), "stale timestamp")
    assert_rejected(check("discord", ping, {"X-Signature-Timestamp": "1"}, public),
                    "missing header X-Signature-Ed25519")
    assert node({"op": "discord_verify", "body": flip(ping, 2).decode(), "timestamp": _discord(ping)[
        "X-Signature-Timestamp"], "signature": _discord(ping)["X-Signature-Ed25519"], "public_key": public}) == [False]


# --- Zoom (no official verifier library: https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events) ---

ZOOM_SECRET = "zoom-secret-token-abc"


def _zoom(body: bytes, secret: str = ZOOM_SECRET, ts: int | None = None) -> dict[str, str]:
    t = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(secret.encode(), f"v0:{t}:".encode() + body, hashlib.sha256).hexdigest()
    return {"x-zm-signature": f"v0={mac}", "x-zm-request-timestamp": t}


def test_zoom_event_and_url_validation():
    body = json.dumps({"event": "meeting.started", "event_ts": 1626230691572,
                       "payload": {"account_id": "AAAAAABBBB", "object": {"id": "1234567890"}}}).encode()
    v = check("zoom", body, _zoom(body), ZOOM_SECRET)
    assert (v.kind, v.event_type) == ("event", "meeting.started")
    assert v.event_id == "sha256:" + hashlib.sha256(body).hexdigest()
    challenge = json.dumps({"payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}, "event_ts": 1654503849680,
                            "event": "endpoint.url_validation"}).encode()
    v = check("zoom", challenge, _zoom(challenge), ZOOM_SECRET)
    expected = hmac.new(ZOOM_SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert (v.kind, json.loads(v.response_body)) == (
        "handshake", {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected})
    # an unsigned validation request is not answered: that would let anyone obtain HMACs of their choice
    assert_rejected(check("zoom", challenge, {}, ZOOM_SECRET), "missing header x-zm-signature")


def test_zoom_rejects_wrong_secret_changed_byte_and_stale():
    body = json.dumps({"event": "meeting.ended", "payload": {}}).encode()
    assert_rejected(check("zoom", body, _zoom(body, "other"), ZOOM_SECRET), "bad signature")
    assert_rejected(check("zoom", flip(body), _zoom(body), ZOOM_SECRET), "bad signature")
    assert_rejected(check("zoom", body, _zoom(body, ts=int(time.time()) - 400), ZOOM_SECRET), "stale timestamp")


# --- Svix (Replicate) -----------------------------------------------------------------------

SVIX_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _svix(body: bytes, msg_id: str = "msg_p5jXN8AQM9LWM0D4loKWxJek", secret: str = SVIX_SECRET,
          when: float | None = None, prefix: str = "webhook") -> dict[str, str]:
    from svix.webhooks import Webhook

    ts = datetime.fromtimestamp(int(time.time() if when is None else when), tz=UTC)
    sig = Webhook(secret).sign(msg_id, ts, body.decode())
    return {f"{prefix}-id": msg_id, f"{prefix}-timestamp": str(int(ts.timestamp())), f"{prefix}-signature": sig}


def test_svix_signed_by_svix_with_both_header_names():
    from svix.webhooks import Webhook

    body = json.dumps({"id": "ufawqhfynnddngldkgtslldrkq", "status": "succeeded", "output": ["x"]}).encode()
    for prefix in ("webhook", "svix"):
        headers = _svix(body, prefix=prefix)
        Webhook(SVIX_SECRET).verify(body, headers)  # raises when svix itself disagrees
        v = check("replicate", body, headers, SVIX_SECRET)
        assert (v.kind, v.event_type, v.event_id) == ("event", "prediction.succeeded", "msg_p5jXN8AQM9LWM0D4loKWxJek")
    # a rolled secret: two signatures, one valid
    other = _svix(body, secret="whsec_" + base64.b64encode(b"another key 1234").decode())
    headers = _svix(body)
    headers["webhook-signature"] = other["webhook-signature"] + " " + headers["webhook-signature"]
    assert check("replicate", body, headers, SVIX_SECRET).kind == "event"


def test_svix_rejects_wrong_secret_changed_byte_other_id_stale_and_missing():
    body = json.dumps({"id": "p1", "status": "starting"}).encode()
    wrong = "whsec_" + base64.b64encode(b"not the secret!!").decode()
    assert_rejected(check("replicate", body, _svix(body, secret=wrong), SVIX_SECRET), "bad signature")
    assert_rejected(check("replicate", flip(body), _svix(body), SVIX_SECRET), "bad signature")
    moved = {**_svix(body), "webhook-id": "msg_other"}
    assert_rejected(check("replicate", body, moved, SVIX_SECRET), "bad signature")
    assert_rejected(check("replicate", body, _svix(body, when=time.time() - 301), SVIX_SECRET), "stale timestamp")
    assert_rejected(check("replicate", body, _svix(body, when=time.time() + 301), SVIX_SECRET), "stale timestamp")
    no_id = {k: v for k, v in _svix(body).items() if k != "webhook-id"}
    assert_rejected(check("replicate", body, no_id, SVIX_SECRET), "missing header webhook-id")


# --- Linear (signed as https://linear.app/developers/webhooks#securing-webhooks says; @linear/sdk's
# LinearWebhookClient must accept it) ---

LINEAR_SECRET = "lin_wh_0123456789abcdef"


def _linear(ms: int | None = None, secret: str = LINEAR_SECRET) -> tuple[bytes, dict[str, str]]:
    ts = int(time.time() * 1000) if ms is None else ms
    body = json.dumps({"action": "create", "type": "Issue", "data": {"id": "iss_1", "title": "Bug"},
                       "webhookTimestamp": ts, "webhookId": "wh_1"}).encode()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Linear-Signature": sig, "Linear-Delivery": "234d1a4e-b617-4388-90fe-adc3633d6b72",
                  "Linear-Event": "Issue"}


def test_linear_signature_and_body_timestamp():
    body, headers = _linear()
    stale_body, stale_headers = _linear(ms=int((time.time() - 61) * 1000))
    ok, stale = node({"op": "linear_verify", "secret": LINEAR_SECRET, "body": body.decode(),
                      "signature": headers["Linear-Signature"]},
                     {"op": "linear_verify", "secret": LINEAR_SECRET, "body": stale_body.decode(),
                      "signature": stale_headers["Linear-Signature"]})
    assert (ok, stale) == (True, "Invalid webhook timestamp")  # Linear's own client
    v = check("linear", body, headers, LINEAR_SECRET)
    assert (v.kind, v.event_type, v.event_id) == ("event", "Issue.create", "234d1a4e-b617-4388-90fe-adc3633d6b72")
    assert_rejected(check("linear", stale_body, stale_headers, LINEAR_SECRET), "stale timestamp")


def test_linear_rejects_wrong_secret_changed_byte_missing_header_and_timestamp():
    body, headers = _linear()
    assert_rejected(check("linear", body, _linear(secret="x")[1], LINEAR_SECRET), "bad signature")
    assert_rejected(check("linear", flip(body), headers, LINEAR_SECRET), "bad signature")
    assert_rejected(check("linear", body, {"Linear-Event": "Issue"}, LINEAR_SECRET), "missing header Linear-Signature")
    no_ts = json.dumps({"action": "create", "type": "Issue"}).encode()
    sig = hmac.new(LINEAR_SECRET.encode(), no_ts, hashlib.sha256).hexdigest()
    assert_rejected(check("linear", no_ts, {"Linear-Signature": sig}, LINEAR_SECRET),
                    "no timestamp at webhookTimestamp in the payload")


# --- Calendly (no official verifier library:
# https://developer.calendly.com/api-docs/overview/webhooks/webhook-signatures) ---

CALENDLY_KEY = "calendly-signing-key-123"
CALENDLY_BODY = json.dumps({"created_at": "2026-12-05T01:00:00.000000Z", "event": "invitee.created",
                            "payload": {"uri": "https://api.calendly.com/scheduled_events/AAA/invitees/BBB",
                                        "email": "ann@example.com"}}).encode()


def _calendly(body: bytes, key: str = CALENDLY_KEY, ts: int | None = None) -> dict[str, str]:
    t = str(int(time.time()) if ts is None else ts)
    sig = hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Calendly-Webhook-Signature": f"t={t},v1={sig}"}


def test_calendly_signature():
    v = check("calendly", CALENDLY_BODY, _calendly(CALENDLY_BODY), CALENDLY_KEY)
    assert (v.kind, v.event_type, v.event_id) == (
        "event", "invitee.created", "invitee.created:https://api.calendly.com/scheduled_events/AAA/invitees/BBB")
    assert_rejected(check("calendly", CALENDLY_BODY, _calendly(CALENDLY_BODY, "x"), CALENDLY_KEY), "bad signature")
    assert_rejected(check("calendly", flip(CALENDLY_BODY), _calendly(CALENDLY_BODY), CALENDLY_KEY), "bad signature")
    assert_rejected(check("calendly", CALENDLY_BODY, _calendly(CALENDLY_BODY, ts=int(time.time()) - 181),
                          CALENDLY_KEY), "stale timestamp")
    assert_rejected(check("calendly", CALENDLY_BODY, {}, CALENDLY_KEY), "missing header Calendly-Webhook-Signature")


# --- Paddle Billing (``paddle-python-sdk``: PaddleSignature.calculate_hmac signs, Verifier checks) ---

PADDLE_KEY = "pdl_ntfset_01gkpjp8bkm3tm53kdgkx6sms7_6h3qd3uFSi9YCD3OLYAShQI90XTI5vEI"
PADDLE_BODY = json.dumps({"event_id": "evt_01hv8wptq8987qeep44cyrewp9", "event_type": "transaction.completed",
                          "occurred_at": "2026-12-05T01:00:00.000Z",
                          "notification_id": "ntf_01hv8wptv9g4cx0d1bqd8m2wyg", "data": {"id": "txn_1"}}).encode()


def _paddle(body: bytes, key: str = PADDLE_KEY, ts: int | None = None) -> dict[str, str]:
    from paddle_billing.Notifications.PaddleSignature import PaddleSignature

    t = int(time.time()) if ts is None else ts
    h1 = PaddleSignature.calculate_hmac(key, f"{t}:".encode() + body).hexdigest()
    return {"Paddle-Signature": f"ts={t};h1={h1}"}


def test_paddle_signed_and_checked_by_paddles_sdk():
    from paddle_billing.Notifications import Secret, Verifier

    class Request:  # what Verifier reads: headers and body
        def __init__(self, headers: dict[str, str], body: bytes) -> None:
            self.headers, self.body = headers, body

    headers = _paddle(PADDLE_BODY)
    assert Verifier().verify(Request(headers, PADDLE_BODY), Secret(PADDLE_KEY))
    v = check("paddle", PADDLE_BODY, headers, PADDLE_KEY)
    assert (v.kind, v.event_type, v.event_id) == ("event", "transaction.completed", "ntf_01hv8wptv9g4cx0d1bqd8m2wyg")
    stale = _paddle(PADDLE_BODY, ts=int(time.time()) - 6)
    assert not Verifier().verify(Request(stale, PADDLE_BODY), Secret(PADDLE_KEY))
    assert_rejected(check("paddle", PADDLE_BODY, stale, PADDLE_KEY), "stale timestamp")
    assert_rejected(check("paddle", PADDLE_BODY, _paddle(PADDLE_BODY, "pdl_other"), PADDLE_KEY), "bad signature")
    assert_rejected(check("paddle", flip(PADDLE_BODY), headers, PADDLE_KEY), "bad signature")
    assert_rejected(check("paddle", PADDLE_BODY, {}, PADDLE_KEY), "missing header Paddle-Signature")
    rolled = f"{headers['Paddle-Signature']};h1={'0' * 64}"
    assert check("paddle", PADDLE_BODY, {"Paddle-Signature": rolled}, PADDLE_KEY).kind == "event"


# --- GitLab (a shared token, no signature; as documented at
# https://docs.gitlab.com/ee/user/project/integrations/webhooks.html#validate-payloads-by-using-a-secret-token) ---


def test_gitlab_token():
    body = json.dumps({"object_kind": "merge_request", "object_attributes": {"iid": 1, "action": "open"}}).encode()
    headers = {"X-Gitlab-Token": "glwh-secret", "X-Gitlab-Event": "Merge Request Hook",
               "Idempotency-Key": "f5c4b9a1-7e3a-4c1a-9d6e-2b0a7c2e1d11"}
    v = check("gitlab", body, headers, "glwh-secret")
    assert (v.kind, v.event_type, v.event_id) == ("event", "merge_request.open", "f5c4b9a1-7e3a-4c1a-9d6e-2b0a7c2e1d11")
    push = json.dumps({"object_kind": "push", "ref": "refs/heads/main"}).encode()
    v = check("gitlab", push, {"X-Gitlab-Token": "glwh-secret"}, "glwh-secret")
    assert (v.event_type, v.event_id) == ("push", "sha256:" + hashlib.sha256(push).hexdigest())
    assert_rejected(check("gitlab", body, {**headers, "X-Gitlab-Token": "glwh-secreT"}, "glwh-secret"), "bad token")
    assert_rejected(check("gitlab", body, {**headers, "X-Gitlab-Token": ""}, "glwh-secret"), "bad token")
    assert_rejected(check("gitlab", body, {"X-Gitlab-Event": "Push Hook"}, "glwh-secret"),
                    "missing header X-Gitlab-Token")
