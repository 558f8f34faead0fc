"""Issue 9.4 — transport security.

A server whose certificate comes from a private CA (trustme) is refused with a clear error and
exit 4 — for ``invoke`` and for the OAuth token endpoint (refresh and client-credentials
authorization) — and trusted through the documented ``--ca-bundle`` / ``SYNTHRAL_CA_BUNDLE``.
The validator rejects non-HTTPS OAuth and API URLs (every URL field), except plain http to a
loopback address. Also proven elsewhere: tests/test_invoke_http.py::test_ca_bundle_for_a_private_ca
(httpbin_secure), tests/test_transports_smtp.py::test_untrusted_certificate_exits_4 (SMTP TLS),
tests/test_invoke_schemes.py::test_http_connector_refuses_credentials_over_plain_http_and_needs_a_host
(no credential is sent over plain http to a non-loopback host).
"""

from __future__ import annotations

import copy
import json
import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthral_cli.catalogue.validation import validate_dict
from tests.hardening_support import PROPERTY, TLSPeer, tally
from tests.invoke_support import STORE_KEY, get_connection, manifest, put_connection, write_manifests


@pytest.fixture
def tls(tmp_path, monkeypatch):
    peer = TLSPeer(
        tmp_path,
        {
            "/get": (200, {"user": "me"}),
            "/token": (200, {"access_token": "fresh-access-tls", "token_type": "Bearer", "expires_in": 3600}),
        },
    )
    auth = {
        "type": "oauth2",
        "authorization_url": f"{peer.url}/authorize",
        "token_url": f"{peer.url}/token",
        "grant_types": ["authorization_code", "refresh_token"],
    }
    cc = {"type": "oauth2", "token_url": f"{peer.url}/token", "grant_types": ["client_credentials"]}
    folder = write_manifests(
        tmp_path / "m",
        manifest("tlsapi", peer.url, []),
        manifest("tlsoauth", peer.url, [], auth=auth),
        manifest("tlscc", peer.url, [], auth=cc),
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    monkeypatch.setenv("SYNTHRAL_TLSAPI_TOKEN", "tls-api-token-1")
    for slug in ("TLSOAUTH", "TLSCC"):
        monkeypatch.setenv(f"SYNTHRAL_{slug}_CLIENT_ID", "cid")
        monkeypatch.setenv(f"SYNTHRAL_{slug}_CLIENT_SECRET", "tls-client-secret-1")
    yield peer
    peer.close()


def test_invoke_refuses_an_untrusted_certificate_and_trusts_the_ca_bundle(cli, tls, monkeypatch):
    r = cli("invoke", "tlsapi", "test_connection")
    assert r.exit_code == 4, r.stderr
    assert "The TLS certificate of 127.0.0.1" in r.stderr and "is not trusted" in r.stderr
    assert "--ca-bundle FILE" in r.stderr and "SYNTHRAL_CA_BUNDLE" in r.stderr
    assert tls.requests == []  # nothing was sent over the untrusted connection
    r = cli("invoke", "tlsapi", "test_connection", "--ca-bundle", tls.ca_file, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"] == {"user": "me"}
    monkeypatch.setenv("SYNTHRAL_CA_BUNDLE", tls.ca_file)
    assert cli("request", "tlsapi", "GET", "/get").exit_code == 0
    assert cli("test", "tlsapi").exit_code == 0
    tally("transport: untrusted certificate (invoke)", faults=1)


def test_token_refresh_refuses_an_untrusted_certificate_and_keeps_the_connection(cli, tls, monkeypatch):
    put_connection(
        "tlsoauth",
        method="direct",
        expires_at=time.time() - 10,
        secrets={"access_token": "old-access-tls", "refresh_token": "refresh-tls-1"},
    )
    before = get_connection("tlsoauth")
    r = cli("refresh", "tlsoauth")
    assert r.exit_code == 4, r.stderr
    assert "The TLS certificate of 127.0.0.1:" in r.stderr and "is not trusted" in r.stderr
    assert "SYNTHRAL_CA_BUNDLE" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 2
    assert tls.requests == []
    after = get_connection("tlsoauth")
    assert (after.version, after.secrets, after.expires_at) == (before.version, before.secrets, before.expires_at)
    assert not after.needs_reauth
    # the same through invoke's proactive refresh: exit 4, nothing stored
    assert cli("invoke", "tlsoauth", "test_connection").exit_code == 4
    assert get_connection("tlsoauth").version == before.version
    monkeypatch.setenv("SYNTHRAL_CA_BUNDLE", str(tls.ca_file) + ".missing")
    r = cli("refresh", "tlsoauth")
    assert r.exit_code == 2 and "Cannot use the CA bundle" in r.stderr, r.stderr
    monkeypatch.setenv("SYNTHRAL_CA_BUNDLE", tls.ca_file)
    r = cli("refresh", "tlsoauth", "--json")
    assert r.exit_code == 0, r.stderr
    assert get_connection("tlsoauth").secrets["access_token"] == "fresh-access-tls"
    tally("transport: untrusted certificate (token endpoint)", faults=2)


def test_client_credentials_authorization_honours_the_ca_bundle(cli, tls, monkeypatch):
    r = cli("authorize", "tlscc")
    assert r.exit_code == 4 and "not trusted" in r.stderr, r.stderr
    assert get_connection("tlscc") is None
    monkeypatch.setenv("SYNTHRAL_CA_BUNDLE", tls.ca_file)
    r = cli("authorize", "tlscc", "--json")
    assert r.exit_code == 0, r.stderr
    assert get_connection("tlscc").secrets["access_token"] == "fresh-access-tls"
    tally("transport: untrusted certificate (client credentials)", faults=1)


# ---------------------------------------------------------------------------------------------
# The validator: HTTPS only, except loopback


URL_FIELDS = [
    ("base_url",),
    ("actions", 0, "base_url"),
    ("auth", "authorization_url"),
    ("auth", "token_url"),
    ("auth", "refresh_url"),
    ("auth", "revocation_url"),
    ("auth", "device_authorization_url"),
]
REJECTED = [
    "http://api.example.com",
    "http://api.example.com/v1",
    "HTTP://api.example.com",
    "ftp://api.example.com",
    "ws://api.example.com",
    "javascript:alert(1)",
    "//api.example.com/v1",
    "api.example.com/v1",
    "http://localhost.evil.example/",
    "http://127.0.0.1.evil.example/",
    "http://127.0.0.1@evil.example/",
    "http://localhost:80@evil.example/",
    "http://[::2]/",
    "http://10.0.0.1/",
    "http://0.0.0.0/",
    " https://api.example.com",
    "http:/\\/evil.example",
]
ACCEPTED = [
    "https://api.example.com/v1",
    "http://127.0.0.1:8080/api",
    "http://localhost:3000",
    "http://[::1]:9000/x",
    "http://127.0.0.1",
]


def _base() -> dict:
    doc = manifest(
        "urls",
        "https://api.example.com",
        [],
        auth={
            "type": "oauth2",
            "authorization_url": "https://auth.example.com/authorize",
            "token_url": "https://auth.example.com/token",
            "refresh_url": "https://auth.example.com/refresh",
            "revocation_url": "https://auth.example.com/revoke",
            "device_authorization_url": "https://auth.example.com/device",
            "grant_types": ["authorization_code", "refresh_token", "device_code"],
        },
    )
    assert validate_dict(doc) == []
    return doc


def _with(doc: dict, field: tuple, url: str) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    for part in field[:-1]:
        node = node[part]
    node[field[-1]] = url
    return doc


@pytest.mark.parametrize("field", URL_FIELDS, ids=lambda f: ".".join(map(str, f)))
def test_every_url_field_must_be_https_or_loopback(field):
    base = _base()
    where = "actions[test_connection].base_url" if field[0] == "actions" else ".".join(field)
    for url in REJECTED:
        problems = validate_dict(_with(base, field, url))
        assert any(p.startswith(where) and "https://" in p for p in problems), (url, problems)
    for url in ACCEPTED:
        assert validate_dict(_with(base, field, url)) == [], url
    tally("transport: URL fields must be https", inputs=len(REJECTED) + len(ACCEPTED))


def _loopback_or_https(url: str) -> bool:
    if url.startswith("https://"):
        return True
    try:
        u = httpx.URL(url)
    except Exception:  # noqa: BLE001 - unparseable is not safe
        return False
    host = u.host
    return url.startswith("https://") or (
        u.scheme == "http" and (host in {"localhost", "::1"} or host.startswith("127."))
    )


HOSTS = st.sampled_from(
    ["api.example.com", "localhost", "127.0.0.1", "[::1]", "127.0.0.1.evil.example", "localhost.evil", "10.0.0.1"]
)
URLS = st.one_of(
    st.tuples(
        st.sampled_from(["https://", "http://", "HTTP://", "ftp://", "//", "", "https:", "http:/"]),
        st.sampled_from(["", "user@", "127.0.0.1@", "localhost:1@"]),
        HOSTS,
        st.sampled_from(["", ":8080", ":0", ":99999", ":x"]),
        st.sampled_from(["", "/", "/v1", "@evil.example/", "\\@evil.example", "?q=1", "#f", ".evil.example/"]),
    ).map("".join),
    st.text(max_size=40),
)


@pytest.mark.xdist_group("transport-url-property")  # one worker runs it and the count check after it
@PROPERTY
@given(field=st.sampled_from(URL_FIELDS), url=URLS)
def test_the_validator_never_accepts_a_plain_http_url_to_another_host(field, url):
    problems = validate_dict(_with(_base(), field, url))
    if not problems:
        assert _loopback_or_https(url), url
    COUNT.append(1)


COUNT: list[int] = []


@pytest.mark.xdist_group("transport-url-property")
def test_zz_property_count_recorded():
    """Runs after the property above (file order): it ran its examples."""
    assert len(COUNT) >= 100
    tally("transport: URL property", inputs=len(COUNT))
