"""Webhook signatures made by the providers' own libraries are accepted; a wrong secret, one
changed byte, a stale timestamp and a missing header are rejected (synthral_cli/triggers/verify.py
over the bundled manifests' ``webhooks`` sections).

Stripe: PyPI ``stripe`` (WebhookSignature.generate_signature_header); GitHub: npm
``@octokit/webhooks-methods`` (sign, and verify of our own test vectors).
"""

from __future__ import annotations

import json
import time

from tests.webhooks_support import assert_rejected, check, flip, node

SECRET = "whsec_test_5f0c4f7e0d9a4c1b8e2f"


# --- Stripe ---------------------------------------------------------------------------------

STRIPE_BODY = json.dumps({"id": "evt_1Q2w3E", "object": "event", "type": "payment_intent.succeeded",
                          "data": {"object": {"id": "pi_123", "amount": 4200}}}).encode()


def _stripe_header(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    import stripe

    value = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)
    return {"stripe-signature": value, "Content-Type": "application/json"}


def test_stripe_accepts_the_sdks_signature():
    import stripe

    headers = _stripe_header(STRIPE_BODY)
    v = check("stripe", STRIPE_BODY, headers, SECRET)
    assert (v.kind, v.status, v.event_type, v.event_id) == ("event", 200, "payment_intent.succeeded", "evt_1Q2w3E")
    assert v.payload["data"]["object"]["amount"] == 4200
    assert [e.event_id for e in v.events] == ["evt_1Q2w3E"]
    # the SDK's own verifier agrees on the same delivery
    assert stripe.WebhookSignature.verify_header(STRIPE_BODY.decode(), headers["stripe-signature"], SECRET, 300)


def test_stripe_rolled_secret_sends_two_v1_signatures():
    import stripe

    t = int(time.time())
    old = stripe.WebhookSignature._compute_signature(f"{t}.{STRIPE_BODY.decode()}", "whsec_old")
    new = stripe.WebhookSignature.generate_signature_header(STRIPE_BODY.decode(), SECRET, timestamp=t)
    header = f"{new.split(',')[0]},v1={old},{new.split(',')[1]},v0=deadbeef"
    assert check("stripe", STRIPE_BODY, {"Stripe-Signature": header}, SECRET).kind == "event"
    assert check("stripe", STRIPE_BODY, {"Stripe-Signature": header}, "whsec_old").kind == "event"


def test_stripe_rejects_wrong_secret_changed_byte_stale_and_missing():
    headers = _stripe_header(STRIPE_BODY)
    assert_rejected(check("stripe", STRIPE_BODY, headers, "whsec_other"), "bad signature")
    assert_rejected(check("stripe", flip(STRIPE_BODY), headers, SECRET), "bad signature")
    stale = _stripe_header(STRIPE_BODY, timestamp=int(time.time()) - 301)
    assert_rejected(check("stripe", STRIPE_BODY, stale, SECRET), "stale timestamp")
    assert_rejected(check("stripe", STRIPE_BODY, {}, SECRET), "missing header Stripe-Signature")
    # a signature whose timestamp was changed no longer matches
    t = headers["stripe-signature"].split(",")[0]
    moved = headers["stripe-signature"].replace(t, f"t={int(t[2:]) + 1}")
    assert_rejected(check("stripe", STRIPE_BODY, {"Stripe-Signature": moved}, SECRET), "bad signature")
    assert_rejected(check("stripe", STRIPE_BODY, {"Stripe-Signature": "v1=ab"}, SECRET),
                    "no t= timestamp in the signature header")


def test_stripe_timestamp_within_tolerance_is_accepted_at_a_given_now():
    t = 1_700_000_000
    headers = _stripe_header(STRIPE_BODY, timestamp=t)
    assert check("stripe", STRIPE_BODY, headers, SECRET, now=t + 299).kind == "event"
    assert_rejected(check("stripe", STRIPE_BODY, headers, SECRET, now=t + 301), "stale timestamp")


# --- GitHub ---------------------------------------------------------------------------------

GITHUB_BODY = json.dumps({"action": "opened", "issue": {"number": 7, "title": "Hé ☃"}}, ensure_ascii=False).encode()
GITHUB_SECRET = "It's a Secret to Everybody"


def test_github_accepts_octokit_signatures():
    sig, ok = node(
        {"op": "octokit_sign", "secret": GITHUB_SECRET, "body": GITHUB_BODY.decode()},
        # GitHub's documented test vector, checked by octokit too
        {"op": "octokit_verify", "secret": GITHUB_SECRET, "body": "Hello, World!",
         "signature": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"},
    )
    assert ok is True and sig.startswith("sha256=")
    headers = {"X-Hub-Signature-256": sig, "X-GitHub-Event": "issues",
               "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958", "Content-Type": "application/json"}
    v = check("github", GITHUB_BODY, headers, GITHUB_SECRET)
    assert (v.kind, v.event_type, v.event_id) == ("event", "issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert v.payload["issue"]["title"] == "Hé ☃"
    vector = {"x-hub-signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}
    assert check("github", b"Hello, World!", vector, GITHUB_SECRET).kind == "rejected"  # not JSON: 400
    assert check("github", b"Hello, World!", vector, GITHUB_SECRET).status == 400


def test_github_form_encoded_delivery_carries_its_json_in_payload():
    from urllib.parse import urlencode

    form = urlencode({"payload": GITHUB_BODY.decode()}).encode()
    (sig,) = node({"op": "octokit_sign", "secret": GITHUB_SECRET, "body": form.decode()})
    headers = {"X-Hub-Signature-256": sig, "X-GitHub-Event": "issues", "X-GitHub-Delivery": "d2",
               "Content-Type": "application/x-www-form-urlencoded"}
    v = check("github", form, headers, GITHUB_SECRET)
    assert (v.kind, v.event_id, v.payload["issue"]["number"]) == ("event", "d2", 7)
    (sig,) = node({"op": "octokit_sign", "secret": GITHUB_SECRET, "body": "payload=%7Bnot+json"})
    assert_rejected(check("github", b"payload=%7Bnot+json", {**headers, "X-Hub-Signature-256": sig}, GITHUB_SECRET),
                    "the form field payload is not JSON", 400)


def test_github_rejects_wrong_secret_changed_byte_and_missing_header():
    (sig,) = node({"op": "octokit_sign", "secret": GITHUB_SECRET, "body": GITHUB_BODY.decode()})
    headers = {"X-Hub-Signature-256": sig, "X-GitHub-Event": "issues", "X-GitHub-Delivery": "d1"}
    assert_rejected(check("github", GITHUB_BODY, headers, "not it"), "bad signature")
    assert_rejected(check("github", flip(GITHUB_BODY), headers, GITHUB_SECRET), "bad signature")
    assert_rejected(check("github", GITHUB_BODY, {"X-GitHub-Event": "issues"}, GITHUB_SECRET),
                    "missing header X-Hub-Signature-256")
    sha1 = {"X-Hub-Signature-256": "sha1=" + sig[7:]}
    assert_rejected(check("github", GITHUB_BODY, sha1, GITHUB_SECRET),
                    "malformed signature header (expected 'sha256=' first)")
    assert_rejected(check("github", GITHUB_BODY, {"X-Hub-Signature-256": "sha256=zz"}, GITHUB_SECRET),
                    "no signature in the signature header")


# --- Slack ----------------------------------------------------------------------------------

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def _slack(body: bytes, secret: str = SLACK_SECRET, ts: int | str | None = None) -> dict[str, str]:
    from slack_sdk.signature import SignatureVerifier

    t = str(int(time.time()) if ts is None else ts)
    sig = SignatureVerifier(secret).generate_signature(timestamp=t, body=body)
    return {"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": t, "Content-Type": "application/json"}


def test_slack_event_and_slash_command_signed_by_slack_sdk():
    from slack_sdk.signature import SignatureVerifier

    body = json.dumps({"type": "event_callback", "event_id": "Ev08MFMKH6", "team_id": "T1",
                       "event": {"type": "app_mention", "text": "<@U1> hi"}}).encode()
    headers = _slack(body)
    assert SignatureVerifier(SLACK_SECRET).is_valid_request(body, headers)
    v = check("slack", body, headers, SLACK_SECRET)
    assert (v.kind, v.event_type, v.event_id) == ("event", "app_mention", "Ev08MFMKH6")
    form = b"token=x&team_id=T1&command=%2Fdeploy&text=prod+now&trigger_id=13345224609.738474920.8088930838d"
    headers = {**_slack(form), "Content-Type": "application/x-www-form-urlencoded"}
    v = check("slack", form, headers, SLACK_SECRET)
    assert (v.kind, v.event_type, v.event_id) == ("event", "/deploy", "13345224609.738474920.8088930838d")
    assert v.payload["text"] == "prod now"
    # interactivity: the JSON is in the form's payload field
    from urllib.parse import urlencode

    action = {"type": "block_actions", "trigger_id": "1234.5678.abcd", "actions": [{"action_id": "approve"}]}
    form = urlencode({"payload": json.dumps(action)}).encode()
    headers = {**_slack(form), "Content-Type": "application/x-www-form-urlencoded"}
    v = check("slack", form, headers, SLACK_SECRET)
    assert (v.kind, v.event_type, v.event_id) == ("event", "block_actions", "1234.5678.abcd")


def test_slack_url_verification_is_answered_only_when_signed():
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
                       "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}).encode()
    v = check("slack", body, _slack(body), SLACK_SECRET)
    assert (v.kind, v.status) == ("handshake", 200)
    assert json.loads(v.response_body) == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert v.response_headers == {"Content-Type": "application/json"}
    assert_rejected(check("slack", body, _slack(body, "wrong"), SLACK_SECRET), "bad signature")
    assert_rejected(check("slack", body, {}, SLACK_SECRET), "missing header X-Slack-Signature")


def test_slack_rejects_wrong_secret_changed_byte_stale_and_missing_timestamp():
    body = json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message"}}).encode()
    headers = _slack(body)
    assert_rejected(check("slack", body, _slack(body, "other-secret"), SLACK_SECRET), "bad signature")
    assert_rejected(check("slack", flip(body), headers, SLACK_SECRET), "bad signature")
    assert_rejected(check("slack", body, _slack(body, ts=int(time.time()) - 301), SLACK_SECRET), "stale timestamp")
    assert_rejected(check("slack", body, _slack(body, ts=int(time.time()) + 301), SLACK_SECRET), "stale timestamp")
    no_ts = {"X-Slack-Signature": headers["X-Slack-Signature"]}
    assert_rejected(check("slack", body, no_ts, SLACK_SECRET), "missing header X-Slack-Request-Timestamp")
    bad_ts = {**headers, "X-Slack-Request-Timestamp": "yesterday"}
    assert_rejected(check("slack", body, bad_ts, SLACK_SECRET), "bad signature")
    for odd in ("nan", "inf", "yesterday"):  # signed, but no time: refused, never taken as fresh
        assert_rejected(check("slack", body, _slack(body, ts=odd), SLACK_SECRET), "malformed timestamp")


# --- Shopify (no official verifier library in Python: signed as documented at
# https://shopify.dev/docs/apps/build/webhooks/verify-deliveries — base64 HMAC-SHA256 of the body) ---

SHOPIFY_SECRET = "shpss_0123456789abcdef0123456789abcdef"
SHOPIFY_BODY = json.dumps({"id": 820982911946154508, "email": "jon@example.com", "total_price": "199.00"}).encode()


def _shopify(body: bytes, secret: str = SHOPIFY_SECRET) -> dict[str, str]:
    import base64
    import hashlib
    import hmac

    sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {"X-Shopify-Hmac-Sha256": sig, "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5"}


def test_shopify_base64_signature():
    v = check("shopify", SHOPIFY_BODY, _shopify(SHOPIFY_BODY), SHOPIFY_SECRET)
    assert (v.kind, v.event_type, v.event_id) == ("event", "orders/create", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    headers = _shopify(SHOPIFY_BODY)
    del headers["X-Shopify-Webhook-Id"]
    assert check("shopify", SHOPIFY_BODY, headers, SHOPIFY_SECRET).event_id == "98880550-7158-44d4-b7cd-2c97c8a091b5"


def test_shopify_rejects_wrong_secret_changed_byte_missing_header_and_hex():
    assert_rejected(check("shopify", SHOPIFY_BODY, _shopify(SHOPIFY_BODY, "x"), SHOPIFY_SECRET), "bad signature")
    assert_rejected(check("shopify", flip(SHOPIFY_BODY), _shopify(SHOPIFY_BODY), SHOPIFY_SECRET), "bad signature")
    assert_rejected(check("shopify", SHOPIFY_BODY, {"X-Shopify-Topic": "orders/create"}, SHOPIFY_SECRET),
                    "missing header X-Shopify-Hmac-Sha256")
    import base64

    as_hex = base64.b64decode(_shopify(SHOPIFY_BODY)["X-Shopify-Hmac-Sha256"]).hex()
    assert_rejected(check("shopify", SHOPIFY_BODY, {"X-Shopify-Hmac-Sha256": as_hex}, SHOPIFY_SECRET),
                    "bad signature")  # hex is base64 text too, but not the same bytes
    assert_rejected(check("shopify", SHOPIFY_BODY, {"X-Shopify-Hmac-Sha256": "!!"}, SHOPIFY_SECRET),
                    "no signature in the signature header")


# --- Intercom (no official verifier library: signed as documented at
# https://developers.intercom.com/intercom-api-reference/v1.0/reference/signed-notifications) ---

INTERCOM_BODY = json.dumps({"type": "notification_event", "id": "notif_78c122d0-23ba-11e4-9464-79b01267cc2e",
                            "topic": "user.created", "app_id": "a86dr8yl",
                            "data": {"type": "notification_event_data", "item": {"type": "user"}}}).encode()


def _intercom(body: bytes, secret: str) -> dict[str, str]:
    import hashlib
    import hmac

    return {"X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def test_intercom_sha1_signature():
    v = check("intercom", INTERCOM_BODY, _intercom(INTERCOM_BODY, "client-secret"), "client-secret")
    assert (v.kind, v.event_type, v.event_id) == ("event", "user.created", "notif_78c122d0-23ba-11e4-9464-79b01267cc2e")
    assert_rejected(check("intercom", INTERCOM_BODY, _intercom(INTERCOM_BODY, "other"), "client-secret"),
                    "bad signature")
    assert_rejected(check("intercom", flip(INTERCOM_BODY), _intercom(INTERCOM_BODY, "client-secret"),
                          "client-secret"), "bad signature")
    assert_rejected(check("intercom", INTERCOM_BODY, {}, "client-secret"), "missing header X-Hub-Signature")
