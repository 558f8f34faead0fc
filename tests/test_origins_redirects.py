"""Issue 14, redirects and pagination: a credential never follows a redirect or a next-page link
to another origin, whatever header carries it. Two servers on different loopback addresses (the
API on 127.0.0.1, the thief on 127.0.0.2 or another port); the thief's own log must show that
nothing arrived, not even a connection. TLS (trustme) for the https -> http downgrade."""

from __future__ import annotations

import json

import pytest

from tests.invoke_support import STORE_KEY
from tests.origin_support import Certs, Peer, user_manifest

SECRET = "sekrit-origin-4f1c9e77"

# slug -> (auth block, what `authorize --with-token` reads, header or query name that carries it)
KINDS = {
    "xkey": ({"type": "api_key", "inject": [{"in": "header", "name": "x-api-key", "value": "{api_key}"}]},
             SECRET, "x-api-key"),
    "shop": ({"type": "oauth2", "authorization_url": "https://shop.example.com/oauth/authorize",
              "token_url": "https://shop.example.com/oauth/token", "token_header": "X-Shopify-Access-Token",
              "token_prefix": ""}, SECRET, "X-Shopify-Access-Token"),
    "xauth": ({"type": "custom", "fields": [{"name": "token"}],
               "inject": [{"in": "header", "name": "X-Auth-Token", "value": "{token}"}]}, SECRET, "X-Auth-Token"),
    "circle": ({"type": "api_key", "fields": [{"name": "token"}],
                "inject": [{"in": "header", "name": "Circle-Token", "value": "{token}"}]}, SECRET, "Circle-Token"),
    "qkey": ({"type": "api_key", "inject": [{"in": "query", "name": "key", "value": "{api_key}"}]}, SECRET, "key"),
    "basicauth": ({"type": "basic"}, f"username=ann\npassword={SECRET}", "Authorization"),
    "bear": ({"type": "bearer"}, SECRET, "Authorization"),
}


@pytest.fixture
def api():
    peer = Peer("127.0.0.1")
    yield peer
    peer.close()


@pytest.fixture
def thief():
    peer = Peer("127.0.0.2")
    peer.routes["/steal"] = (200, {}, {"stolen": True})
    yield peer
    peer.close()


@pytest.fixture
def connect(cli, tmp_path, monkeypatch):
    """``connect(slug, base_url)``: a user manifest and a connection authorized for it."""
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    folder = tmp_path / "manifests"
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))

    def run(slug: str, base_url: str) -> None:
        auth, given, _ = KINDS[slug]
        user_manifest(folder, slug, base_url, auth)
        r = cli("authorize", slug, "--with-token", input=given + "\n")
        assert r.exit_code == 0, r.stderr

    return run


def carried(request: tuple[str, str, dict[str, str], bytes], slug: str) -> bool:
    _, path, headers, _ = request
    return SECRET in path or any(SECRET in v or (k == "Authorization" and v.startswith("Basic ")) for k, v in
                                 headers.items())


def assert_not_followed(r, thief: Peer) -> None:
    assert r.exit_code == 1, r.stderr
    assert f"redirected to {thief.origin}" in r.stderr and "does not follow with credentials" in r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert thief.untouched(), thief.requests


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("slug", ["xkey", "shop", "qkey"])
def test_cross_origin_redirect_is_not_followed_with_credentials(cli, connect, api, thief, slug, status):
    connect(slug, api.url)
    api.routes["/thing"] = (status, {"Location": thief.url + "/steal"}, "")
    r = cli("invoke", slug, "thing")
    assert_not_followed(r, thief)
    assert len(api.requests) == 1 and carried(api.requests[0], slug)  # it did reach the API


@pytest.mark.parametrize("slug", sorted(KINDS))
def test_every_credential_header_stays_home_on_a_302_and_a_307_post(cli, connect, api, thief, slug):
    connect(slug, api.url)
    api.routes["/thing"] = (302, {"Location": thief.url + "/steal"}, "")
    assert_not_followed(cli("invoke", slug, "thing"), thief)
    api.routes["/thing"] = (307, {"Location": thief.url + "/steal"}, "")
    assert_not_followed(cli("invoke", slug, "make", "-p", "name=x"), thief)


def test_another_port_of_the_same_host_is_another_origin(cli, connect, api):
    other = Peer("127.0.0.1")
    try:
        connect("xkey", api.url)
        api.routes["/thing"] = (302, {"Location": other.url + "/steal"}, "")
        assert_not_followed(cli("invoke", "xkey", "thing"), other)
    finally:
        other.close()


def test_generic_http_connector_with_a_custom_api_key_header(cli, api, thief, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    host = api.url.split("://")[1]
    given = f"scheme=api_key\napi_key={SECRET}\napi_key_header=X-Custom-Key\n"
    assert cli("authorize", "http", "--with-token", "--config", f"host={host}", input=given).exit_code == 0
    api.routes["/thing"] = (302, {"Location": thief.url + "/steal"}, "")
    r = cli("invoke", "http", "get", "-p", f"url={api.url}/thing")
    assert_not_followed(r, thief)
    assert api.requests[0][2]["X-Custom-Key"] == SECRET


def test_same_origin_redirects_are_followed_a_bounded_number_of_times(cli, connect, api):
    connect("xkey", api.url)
    api.routes["/thing"] = (302, {"Location": "/moved"}, "")
    api.routes["/moved"] = (200, {}, {"ok": True})
    r = cli("invoke", "xkey", "thing", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"] == {"ok": True}
    assert [p for _, p, _, _ in api.requests] == ["/thing", "/moved"]
    assert api.requests[1][2]["x-api-key"] == SECRET  # same origin: the credential goes along
    api.requests.clear()
    api.routes["/loop"] = (302, {"Location": "/loop"}, "")
    api.routes["/thing"] = (302, {"Location": "/loop"}, "")
    r = cli("invoke", "xkey", "thing")
    assert r.exit_code == 1 and "again after 5 redirects" in r.stderr
    assert len(api.requests) == 6


@pytest.mark.parametrize(("status", "method", "body"), [(303, "GET", b""), (302, "GET", b""), (301, "GET", b""),
                                                        (307, "POST", b'{"name":"x"}'), (308, "POST", b'{"name":"x"}')])
def test_method_and_body_follow_the_redirect_code(cli, connect, api, status, method, body):
    connect("xkey", api.url)
    api.routes["/thing"] = (status, {"Location": "/done"}, "")
    api.routes["/done"] = (200, {}, {"ok": True})
    r = cli("invoke", "xkey", "make", "-p", "name=x")
    assert r.exit_code == 0, r.stderr
    first, second = api.requests
    assert first[0] == "POST" and first[3] == b'{"name":"x"}'
    assert second[0] == method and second[3] == body
    assert ("Content-Type" in second[2]) is bool(body)


def test_https_api_redirecting_to_plain_http_keeps_the_key(cli, tmp_path, monkeypatch, thief):
    certs = Certs(tmp_path)
    tls_api = Peer("127.0.0.1", tls=certs.server)
    plain = Peer("127.0.0.1")  # the same host, over plain http
    try:
        monkeypatch.setenv("SYNTHRAL_CA_BUNDLE", str(certs.pem))
        monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
        folder = tmp_path / "manifests"
        monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
        user_manifest(folder, "xkey", tls_api.url, KINDS["xkey"][0])
        assert cli("authorize", "xkey", "--with-token", input=SECRET + "\n").exit_code == 0
        tls_api.routes["/me"] = (200, {}, {"me": 1})
        assert cli("test", "xkey").exit_code == 0  # TLS works, the key reaches the https API
        tls_api.routes["/thing"] = (302, {"Location": plain.url + "/steal"}, "")
        r = cli("invoke", "xkey", "thing")
        assert_not_followed(r, plain)
        tls_api.routes["/thing"] = (301, {"Location": thief.url + "/steal"}, "")
        assert_not_followed(cli("invoke", "xkey", "thing"), thief)
        assert tls_api.requests[-1][2]["x-api-key"] == SECRET
    finally:
        tls_api.close()
        plain.close()


def test_link_and_next_url_pages_are_judged_against_the_api_origin(cli, connect, api, thief):
    connect("bear", api.url)
    api.routes["/things"] = (200, {"Link": f'<{thief.url}/things?page=2>; rel="next"'}, {"items": [1]})
    r = cli("invoke", "bear", "things", "--paginate", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"] == [1]
    api.routes["/feed"] = (200, {}, {"items": [1], "next": thief.url + "/feed?p=2"})
    r = cli("invoke", "bear", "feed", "--paginate", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["result"] == [1]
    assert thief.untouched()
    # a next page on the API itself is fetched, with the credential
    pages = iter([({"Link": f'<{api.url}/things?page=2>; rel="next"'}, {"items": [1]}), ({}, {"items": [2]})])
    api.routes["/things"] = lambda path, headers, body: (200, *next(pages))
    r = cli("invoke", "bear", "things", "--paginate", "--json")
    assert json.loads(r.stdout)["result"] == [1, 2]
    assert api.requests[-1][1] == "/things?page=2" and api.requests[-1][2]["Authorization"] == f"Bearer {SECRET}"


def test_a_redirect_before_a_link_page_does_not_move_the_api_origin(cli, connect, api, thief):
    """The old code compared the next link with the post-redirect URL."""
    connect("bear", api.url)
    api.routes["/things"] = (302, {"Location": thief.url + "/things"}, "")
    thief.routes["/things"] = (200, {"Link": f'<{thief.url}/things?page=2>; rel="next"'}, {"items": [1]})
    r = cli("invoke", "bear", "things", "--paginate")
    assert r.exit_code == 1
    assert thief.untouched()
