"""Whatever a sender puts in a delivery, ``verify`` answers with a verdict and never raises:
random headers (the scheme's own header names among them, with structured and garbage values),
bodies and URLs against every bundled connector's webhook definition are rejected with 400 or
401 and a reason; correctly signed random bodies are accepted or, when not JSON, refused with 400."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from hypothesis import given
from hypothesis import strategies as st

from synthral_cli.catalogue.manifest import Manifest, bundled_dir
from synthral_cli.catalogue.validation import validate_file
from synthral_cli.triggers.verify import Delivery, verify
from tests.hardening_support import PROPERTY, Counter

SPECS = []
for _path in sorted(bundled_dir().glob("*.yaml")):
    _doc, _ = validate_file(_path)
    if _doc and _doc.get("webhooks"):
        SPECS.append(Manifest(_doc).webhooks)
NAMES = sorted({n for s in SPECS for n in (*s.signature_headers, *(s.timestamp.header if s.timestamp else ()),
                                           "Content-Type", "svix-id", "webhook-id")})
SECRETS = {"whsec": "whsec_" + "A" * 32, "hex": "00" * 32, "base64": "c2VjcmV0", "text": "s3cret"}

text = st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n\x00"), max_size=80)
pairs = st.tuples(st.lists(st.tuples(st.sampled_from(["t", "v1", "v0", "ts", "h1", ""]), text), max_size=4),
                  st.sampled_from([",", " ", ";"])).map(lambda x: x[1].join(f"{k}={v}" for k, v in x[0]))
values = st.one_of(text, pairs, st.just("application/x-www-form-urlencoded"), st.just("application/json"),
                   st.integers(min_value=-10**15, max_value=10**15).map(str), st.just("nan"),
                   st.binary(max_size=40).map(lambda b: "v1," + base64.b64encode(b).decode()))
headers = st.dictionaries(st.one_of(st.sampled_from(NAMES), text.filter(bool)), values, max_size=6)
bodies = st.one_of(st.binary(max_size=300), st.just(b"[]"), st.just(b'{"type": "url_verification"}'),
                   st.just(b'{"type": 1}'), st.just(b"payload=%7B%7D"), st.just(b'{"event":"endpoint.url_validation"}'))
urls = st.one_of(text, st.just("https://hooks.example.com/in?bodySHA256=00"), st.just("https://[::1"),
                 st.just("http://h:99999/x"))


def test_random_deliveries_get_a_verdict_never_an_exception():
    seen = Counter("webhooks.random_deliveries")

    @PROPERTY
    @given(st.sampled_from(SPECS), headers, bodies, urls, st.sampled_from(["POST", "GET", "put"]))
    def run(spec, hdrs, body, url, method):
        seen()
        secret = SECRETS[spec.secret_encoding]
        v = verify(spec, Delivery(method, url, hdrs, body), secret, now=time.time())
        assert v.kind == "rejected", (spec.slug, hdrs, body, v)
        assert v.status in (400, 401) and v.reason

    run()
    seen.done()


def test_a_signed_body_nested_too_deep_for_the_parser_is_refused_not_raised():
    github = next(s for s in SPECS if s.slug == "github")
    for body in (b"[" * 200_000, b"payload=" + b"%5B" * 200_000):
        sig = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
        ctype = "application/x-www-form-urlencoded" if body.startswith(b"payload") else "application/json"
        v = verify(github, Delivery("POST", "https://h/x", {"X-Hub-Signature-256": sig, "Content-Type": ctype},
                                    body), "k", now=0)
        assert (v.kind, v.status) == ("rejected", 400), v.reason


def test_signed_random_bodies_are_accepted_or_refused_as_not_json():
    seen = Counter("webhooks.signed_random_bodies")
    github = next(s for s in SPECS if s.slug == "github")

    @PROPERTY
    @given(st.one_of(st.binary(max_size=300), st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=8,
    ).map(lambda v: json.dumps(v).encode())))
    def run(body):
        seen()
        sig = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
        v = verify(github, Delivery("POST", "https://h/x", {"X-Hub-Signature-256": sig}, body), "k", now=0)
        if v.kind == "rejected":
            assert (v.status, v.reason) in {(400, "the body is not JSON"), (400, "the form body is not UTF-8")}
        else:
            assert v.kind == "event" and v.event_id.startswith("sha256:") and len(v.events) == 1

    run()
    seen.done()
