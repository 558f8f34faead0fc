"""The ``webhooks`` section of a manifest: ``synthral connectors validate`` names the file and the
field of every problem in it, and a provider of an existing family is a manifest change only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthral_cli.catalogue.manifest import Manifest, bundled_dir
from synthral_cli.triggers.verify import Delivery, verify


def _copy_stripe(folder: Path, slug: str, webhooks: Any) -> Path:
    doc = yaml.safe_load((bundled_dir() / "stripe.yaml").read_text())
    doc["slug"] = slug
    if webhooks is None:
        doc.pop("webhooks")
    else:
        doc["webhooks"] = webhooks
    path = folder / f"{slug}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


GOOD = {
    "scheme": "hmac",
    "docs_url": "https://docs.example.com/webhooks",
    "secret": "listener",
    "signature": {"header": "X-Sig", "prefix": "sha256="},
    "event_type": "type",
    "event_id": "id",
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"scheme": "rsa"}, "webhooks.scheme: 'rsa' is not one of ['hmac', 'ed25519', 'token']"),
        ({"scheme": "token", "signed": "{body}"},
         "webhooks.signed: a token scheme signs nothing (the header is the secret)"),
        ({"signature": {"prefix": "x"}}, "webhooks.signature: 'header' is a required property"),
        ({"signature": {"header": "X-Sig", "formt": "pairs"}},
         "webhooks.signature: unknown field 'formt'. Did you mean 'format'?"),
        ({"docs_url": "http://docs.example.com"}, "webhooks.docs_url: 'http://docs.example.com' does not match"),
        ({"algorithm": "md5"}, "webhooks.algorithm: 'md5' is not one of ['sha1', 'sha256', 'sha512']"),
        ({"timestamp": {"header": "X-T", "tolerance": -1}}, "webhooks.timestamp.tolerance: -1 is less than"),
        ({"secret": {"credential": "signing_secret"}},
         "webhooks.secret.credential: 'signing_secret' is not a credential field of this connector "
         "(its fields: api_key); use secret: listener for a per-listener secret"),
        ({"signed": "{timestamp}.{body}"},
         "webhooks.timestamp: the signed template uses {timestamp}, so say where it comes from"),
        ({"signed": "{bdy}"}, "webhooks.signed: {bdy} is not one of"),
        ({"signed": "{header}"}, "webhooks.signed: {header} — write {header:Name}"),
        ({"timestamp": {"header": "X-T", "pair": "t"}}, "webhooks.timestamp: give exactly one of header, pair or path"),
        ({"timestamp": {"pair": "t"}}, "webhooks.timestamp.pair: only with signature.format: pairs"),
        ({"event_id": "data[.id"}, "webhooks.event_id: cannot read the path"),
        ({"event_type": [{"header": "X-Type"}, {"hmac": "x"}]},
         "webhooks.event_type[1].hmac: only handshake responses compute an HMAC"),
        ({"event_id": {"header": "A", "path": "b"}}, "webhooks.event_id:"),
        ({"handshake": {"when": {"path": "type"}, "respond": "challenge"}},
         "webhooks.handshake.when: 'equals' is a required property"),
    ],
)
def test_validate_names_file_and_field(cli, tmp_path, change, expected):
    path = _copy_stripe(tmp_path, "zz-hooks", {**GOOD, **change})
    r = cli("connectors", "validate", str(path))
    assert r.exit_code == 2, r.stderr
    assert f"{path}: {expected}" in r.stderr


def test_validate_requires_the_core_fields(cli, tmp_path):
    path = _copy_stripe(tmp_path, "zz-hooks", {"scheme": "hmac"})
    r = cli("connectors", "validate", str(path))
    assert r.exit_code == 2
    for name in ("docs_url", "signature", "event_type", "event_id"):
        assert f"{path}: webhooks: '{name}' is a required property" in r.stderr


def test_a_manifest_without_webhooks_has_none(tmp_path):
    from synthral_cli.catalogue.validation import validate_file

    doc, problems = validate_file(_copy_stripe(tmp_path, "zz-plain", None))
    assert problems == [] and doc is not None
    assert Manifest(doc).webhooks is None


def test_a_new_provider_of_an_existing_family_is_a_manifest_change(tmp_path):
    """An invented provider: base64 HMAC-SHA512 over '<method> <url>\\n<ts>\\n<body>', timestamp in
    milliseconds in its own header, event type from two payload fields, id from a header."""
    from synthral_cli.catalogue.validation import validate_file

    hooks = {
        "scheme": "hmac",
        "docs_url": "https://docs.example.com/webhooks",
        "algorithm": "sha512",
        "encoding": "base64",
        "secret_encoding": "base64",
        "signature": {"header": ["X-Acme-Signature", "X-Legacy-Signature"], "prefix": "acme1 "},
        "timestamp": {"header": "X-Acme-Time", "unit": "milliseconds", "tolerance": 60},
        "signed": "{method} {url}\n{timestamp}\n{body}",
        "event_type": {"template": "{object}.{verb}"},
        "event_id": [{"header": "X-Acme-Delivery"}, {"path": "id"}],
    }
    doc, problems = validate_file(_copy_stripe(tmp_path, "zz-acme", hooks))
    assert problems == [] and doc is not None
    spec = Manifest(doc).webhooks
    assert spec is not None
    key = b"\x00\x01binary key\xff"
    body = json.dumps({"object": "invoice", "verb": "paid", "id": 99}).encode()
    ms = str(int(time.time() * 1000))
    url = "https://hooks.example.com/acme?x=1"
    mac = hmac.new(key, b"POST " + url.encode() + b"\n" + ms.encode() + b"\n" + body, hashlib.sha512).digest()
    headers = {"x-legacy-signature": "acme1 " + base64.b64encode(mac).decode(), "X-Acme-Time": ms}
    v = verify(spec, Delivery("POST", url, headers, body), base64.b64encode(key).decode(), now=time.time())
    assert (v.kind, v.event_type, v.event_id) == ("event", "invoice.paid", "99")
    v = verify(spec, Delivery("POST", url, {**headers, "X-Acme-Delivery": "d-1"}, body),
               base64.b64encode(key).decode(), now=time.time())
    assert v.event_id == "d-1"
    v = verify(spec, Delivery("PUT", url, headers, body), base64.b64encode(key).decode(), now=time.time())
    assert (v.kind, v.reason) == ("rejected", "bad signature")
    v = verify(spec, Delivery("POST", url, headers, body), base64.b64encode(key).decode(), now=time.time() + 61)
    assert (v.kind, v.reason) == ("rejected", "stale timestamp")


def test_a_secret_that_cannot_be_a_key_is_a_usage_error(tmp_path):
    from synthral_cli.basics.errors import UsageError
    from synthral_cli.catalogue.validation import validate_file
    from synthral_cli.triggers.verify import check_secret

    doc, _ = validate_file(_copy_stripe(tmp_path, "zz-b64", {**GOOD, "secret_encoding": "base64"}))
    spec = Manifest(doc).webhooks
    with pytest.raises(UsageError, match="not base64 text"):
        check_secret(spec, "not base64!")
    with pytest.raises(UsageError, match="is empty"):
        check_secret(spec, "")


def test_every_scheme_the_issue_names_is_declared_by_a_bundled_connector():
    from synthral_cli.catalogue.validation import validate_file

    declared = {}
    for path in sorted(bundled_dir().glob("*.yaml")):
        doc, problems = validate_file(path)
        assert problems == []
        hooks = Manifest(doc).webhooks
        if hooks is not None:
            declared[hooks.slug] = hooks
            assert hooks.docs_url.startswith("https://") and hooks.docs_url in path.read_text()
    assert set(declared) >= {"stripe", "slack", "github", "shopify", "twilio", "discord", "zoom", "hubspot",
                             "square", "intercom", "linear", "calendly", "replicate"}
    svix = {s for s, h in declared.items() if h.secret_encoding == "whsec"}
    assert svix == {"replicate"}
    assert declared["discord"].scheme == "ed25519"
    assert {s for s, h in declared.items() if h.handshake} == {"slack", "zoom", "discord"}
