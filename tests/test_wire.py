"""Wire formats no local server can check: the exact request ``--dry-run --json`` prints for the
catalogue's documented seed actions (bundled manifests, env-override credentials)."""

from __future__ import annotations

import base64
import email
import json
from email import policy

import pytest

UA = "synthral/0.1.0"


@pytest.fixture(autouse=True)
def tokens(monkeypatch):
    for slug, value in {
        "SLACK": "xoxb-wire-1",
        "STRIPE": "sk_test_wire1",
        "DISCORD": "bot-wire-1",
        "GMAIL": "ya29.wire-1",
        "HTTP": "http-wire-1",
    }.items():
        monkeypatch.setenv(f"SYNTHRAL_{slug}_TOKEN", value)


def wire(cli, *args):
    r = cli("invoke", *args, "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    assert "wire-1" not in r.stdout
    return json.loads(r.stdout)


def json_headers(auth="Bearer ***", **extra):
    return {
        "User-Agent": UA,
        "Accept": "application/json",
        **extra,
        "Authorization": auth,
        "Content-Type": "application/json",
    }


def test_slack_send_message(cli):
    assert wire(
        cli,
        "slack",
        "send_message",
        "-p",
        "channel=C0123",
        "-p",
        "text=deploy done",
        "-p",
        'blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}]',
        "-p",
        "thread_ts=1712.0001",
        "-p",
        "unfurl_links=false",
    ) == {
        "method": "POST",
        "url": "https://slack.com/api/chat.postMessage",
        "headers": json_headers(),
        "body": {
            "channel": "C0123",
            "text": "deploy done",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}],
            "thread_ts": "1712.0001",
            "unfurl_links": False,
        },
    }


def test_slack_update_message(cli):
    assert wire(
        cli, "slack", "update_message", "-p", "channel=C0123", "-p", "ts=1712.0001", "-p", "text=edited"
    ) == {
        "method": "POST",
        "url": "https://slack.com/api/chat.update",
        "headers": json_headers(),
        "body": {"channel": "C0123", "ts": "1712.0001", "text": "edited"},
    }


def test_slack_add_reaction(cli):
    assert wire(
        cli,
        "slack",
        "add_reaction",
        "-p",
        "channel=C0123",
        "-p",
        "timestamp=1712.0001",
        "-p",
        "name=thumbsup",
    ) == {
        "method": "POST",
        "url": "https://slack.com/api/reactions.add",
        "headers": json_headers(),
        "body": {"channel": "C0123", "timestamp": "1712.0001", "name": "thumbsup"},
    }


def form_headers():
    return {
        "User-Agent": UA,
        "Accept": "application/json",
        "Stripe-Version": "2025-03-31.basil",
        "Authorization": "Bearer ***",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def test_stripe_create_customer_with_metadata(cli):
    assert wire(
        cli,
        "stripe",
        "create_customer",
        "-p",
        "email=jenny@example.com",
        "-p",
        "name=Jenny Rosen",
        "-p",
        'metadata={"userId": "42", "plan": "pro"}',
        "-p",
        'address={"line1": "1 Main St", "country": "US"}',
    ) == {
        "method": "POST",
        "url": "https://api.stripe.com/v1/customers",
        "headers": form_headers(),
        "body": "email=jenny%40example.com&name=Jenny+Rosen&address[line1]=1+Main+St&address[country]=US"
        "&metadata[userId]=42&metadata[plan]=pro",
    }


def test_stripe_create_invoice(cli):
    assert wire(
        cli,
        "stripe",
        "create_invoice",
        "-p",
        "customer=cus_123",
        "-p",
        "collection_method=send_invoice",
        "-p",
        "days_until_due=30",
        "-p",
        "auto_advance=false",
    ) == {
        "method": "POST",
        "url": "https://api.stripe.com/v1/invoices",
        "headers": form_headers(),
        "body": "customer=cus_123&auto_advance=false&collection_method=send_invoice&days_until_due=30",
    }


def test_stripe_create_invoice_item(cli):
    assert wire(
        cli,
        "stripe",
        "create_invoice_item",
        "-p",
        "customer=cus_123",
        "-p",
        "price=price_9",
        "-p",
        "quantity=2",
        "-p",
        "invoice=in_7",
    ) == {
        "method": "POST",
        "url": "https://api.stripe.com/v1/invoiceitems",
        "headers": form_headers(),
        "body": "customer=cus_123&pricing[price]=price_9&quantity=2&invoice=in_7",
    }
    assert (
        wire(
            cli,
            "stripe",
            "create_invoice_item",
            "-p",
            "customer=cus_123",
            "-p",
            "amount=1500",
            "-p",
            "currency=usd",
        )["body"]
        == "customer=cus_123&amount=1500&currency=usd"
    )


def test_stripe_create_payment_intent(cli):
    assert wire(
        cli,
        "stripe",
        "create_payment_intent",
        "-p",
        "amount=1099",
        "-p",
        "currency=usd",
        "-p",
        "payment_method_types=card",
        "-p",
        'automatic_payment_methods={"enabled": true}',
        "-p",
        'metadata={"order": "6735"}',
    ) == {
        "method": "POST",
        "url": "https://api.stripe.com/v1/payment_intents",
        "headers": form_headers(),
        "body": "amount=1099&currency=usd&payment_method_types[0]=card"
        "&automatic_payment_methods[enabled]=true"
        "&metadata[order]=6735",
    }


def test_discord_send_message(cli):
    ua = "DiscordBot (https://synthral.dev, 1.0.0)"
    assert wire(
        cli,
        "discord",
        "send_message",
        "-p",
        "channel_id=1100",
        "-p",
        "content=hello",
        "-p",
        'allowed_mentions={"parse": []}',
    ) == {
        "method": "POST",
        "url": "https://discord.com/api/v10/channels/1100/messages",
        "headers": {
            "User-Agent": ua,
            "Accept": "application/json",
            "Authorization": "Bot ***",
            "Content-Type": "application/json",
        },
        "body": {"content": "hello", "allowed_mentions": {"parse": []}},
    }


def test_discord_send_webhook_sends_no_credentials_and_masks_the_token(cli, monkeypatch):
    # the webhook token is a secret parameter: from SYNTHRAL_DISCORD_WEBHOOK_TOKEN, never -p (issue 14)
    monkeypatch.setenv("SYNTHRAL_DISCORD_WEBHOOK_TOKEN", "whk-secret-77")
    assert wire(
        cli,
        "discord",
        "send_webhook",
        "-p",
        "webhook_id=1200",
        "-p",
        "content=hi",
        "-p",
        "wait=true",
    ) == {
        "method": "POST",
        "url": "https://discord.com/api/v10/webhooks/1200/***?wait=true",
        "headers": {
            "User-Agent": "DiscordBot (https://synthral.dev, 1.0.0)",
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
        "body": {"content": "hi"},
    }


def test_gmail_send_email(cli, tmp_path):
    att = tmp_path / "notes.txt"
    att.write_text("see attached\n")
    req = wire(
        cli,
        "gmail",
        "send_email",
        "-p",
        "to=ann@example.com, bob@example.com",
        "-p",
        "cc=cat@example.com",
        "-p",
        "bcc=dan@example.com",
        "-p",
        "subject=Quarterly numbers",
        "-p",
        "text=Plain",
        "-p",
        "html=<b>Rich</b>",
        "-p",
        f"attachments={att}",
        "-p",
        "thread_id=18c0ffee",
    )
    assert req["method"] == "POST"
    assert req["url"] == "https://gmail.googleapis.com/gmail/v1/users/me/messages/send"
    assert req["headers"] == json_headers()
    assert set(req["body"]) == {"raw", "threadId"} and req["body"]["threadId"] == "18c0ffee"
    raw = req["body"]["raw"]
    assert "=" not in raw.rstrip("=") and "+" not in raw and "/" not in raw  # base64url
    msg = email.message_from_bytes(base64.urlsafe_b64decode(raw), policy=policy.default)
    assert msg["To"] == "ann@example.com, bob@example.com" and msg["Cc"] == "cat@example.com"
    assert msg["Bcc"] == "dan@example.com" and msg["Subject"] == "Quarterly numbers"
    assert msg.get_body(("plain",)).get_content().strip() == "Plain"
    assert msg.get_body(("html",)).get_content().strip() == "<b>Rich</b>"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["notes.txt"]
    again = wire(
        cli,
        "gmail",
        "send_email",
        "-p",
        "to=ann@example.com, bob@example.com",
        "-p",
        "cc=cat@example.com",
        "-p",
        "bcc=dan@example.com",
        "-p",
        "subject=Quarterly numbers",
        "-p",
        "text=Plain",
        "-p",
        "html=<b>Rich</b>",
        "-p",
        f"attachments={att}",
        "-p",
        "thread_id=18c0ffee",
    )
    assert again == req  # reproducible: fixed MIME boundaries, no Date/Message-ID


def test_http_request(cli, monkeypatch):
    from tests.invoke_support import STORE_KEY, put_connection

    monkeypatch.delenv("SYNTHRAL_HTTP_TOKEN")  # a custom connector: its credential lives in the store
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("http", method="custom", config={"scheme": "bearer", "host": "api.example.com"},
                   secrets={"token": "http-wire-1"}, origins=["https://api.example.com"])  # as authorize binds it
    assert wire(
        cli,
        "http",
        "request",
        "-p",
        "method=POST",
        "-p",
        "url=https://api.example.com/v2/things",
        "-p",
        'headers={"X-Req": "1"}',
        "-p",
        'params={"dry": true, "tags": ["a", "b"]}',
        "-p",
        'body={"name": "x"}',
    ) == {
        "method": "POST",
        "url": "https://api.example.com/v2/things?dry=true&tags=a&tags=b",
        "headers": {
            "User-Agent": UA,
            "Accept": "*/*",
            "Content-Type": "application/json",
            "X-Req": "1",
            "Authorization": "Bearer ***",
        },
        "body": {"name": "x"},
    }
