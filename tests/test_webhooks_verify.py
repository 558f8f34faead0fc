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
