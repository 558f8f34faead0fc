"""OAuth over ``synthral serve`` against the real local Authlib server: authorize (PKCE + state
kept by the server), the provider's redirect to the callback (state taken once), refresh, and a
burst of 50 concurrent action calls with an expiring token making exactly one refresh grant."""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver / tests.serve_support
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.authserver import USERS, oauth_server, provider  # noqa: F401
from tests.serve_support import bearer, new_key, serve  # noqa: F401
from tests.test_nango_cli import nango, nango_server  # noqa: F401 - fixtures: the spec-checked Nango double

REFRESH = "refresh_token"


def consent(authorization_url: str, decision: str = "allow") -> str:
    """A person signing in at the provider and answering the consent page: the redirect URL."""
    parts = urlsplit(authorization_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    full_path = f"{parts.path}?{parts.query}"
    user, password = next(iter(USERS.items()))
    with httpx.Client(follow_redirects=False) as browser:
        assert "Sign in" in browser.get(authorization_url).text
        signed = browser.post(origin + "/login", data={"username": user, "password": password, "next": full_path})
        assert signed.status_code == 302
        assert "Authorize application" in browser.get(origin + full_path).text
        answer = browser.post(origin + full_path, data={"decision": decision})
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]


def test_authorize_and_callback_connect_with_pkce_and_the_state_works_once(provider, serve):
    srv = serve()
    base, headers = srv.url + "/api/v1", bearer(new_key("connections:write", "actions:execute"))
    started = httpx.post(f"{base}/connectors/testprov/authorize", headers=headers, json={"scopes": ["read"]})
    assert started.status_code == 200, started.text
    out = started.json()
    assert set(out) == {"authorization_url", "state", "oauth_method"} and out["oauth_method"] == "direct"
    query = parse_qs(urlsplit(out["authorization_url"]).query)
    assert query["state"] == [out["state"]] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{srv.url}/api/v1/connectors/testprov/callback"]
    assert "code_verifier" not in out["authorization_url"]
    back = consent(out["authorization_url"])
    assert back.startswith(srv.url + "/api/v1/connectors/testprov/callback?")
    done = httpx.get(back, headers={"Accept": "application/json"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["success"] is True and body["connector_slug"] == "testprov" and body["oauth_method"] == "direct"
    assert provider.server.code_requests[-1]["pkce"] == "S256"
    assert provider.stored().secrets["access_token"]
    replay = httpx.get(back, headers={"Accept": "application/json"})
    assert replay.status_code == 400 and replay.json()["error"]["code"] == "invalid_state"
    called = httpx.post(f"{base}/connectors/testprov/test_connection", headers=headers)
    assert called.status_code == 200 and called.json()["result"]["user"] == "alice"
    code = parse_qs(urlsplit(back).query)["code"][0]
    assert code not in "\n".join(srv.lines)


def test_callback_refusals_and_the_html_page(provider, serve):
    srv = serve()
    base, headers = srv.url + "/api/v1", bearer(new_key("connections:write"))
    cb = f"{base}/connectors/testprov/callback"
    assert httpx.get(cb).status_code == 400
    forged = httpx.get(cb, params={"state": "x" * 43, "code": "abc"})
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "invalid_state"
    state = httpx.post(f"{base}/connectors/testprov/authorize", headers=headers).json()["state"]
    denied_url = consent(httpx.post(f"{base}/connectors/testprov/authorize", headers=headers)
                         .json()["authorization_url"], decision="deny")
    denied = httpx.get(denied_url, headers={"Accept": "text/html"})
    assert denied.status_code == 403 and denied.headers["content-type"].startswith("text/html")
    assert "refused the authorization" in denied.text and "access_denied" in denied.text
    elsewhere = httpx.get(f"{base}/connectors/slack/callback", params={"state": state, "code": "c"})
    assert elsewhere.status_code == 400  # a state belongs to its connector, and is now spent
    assert httpx.get(cb, params={"state": state, "code": "c"}).status_code == 400
    not_oauth = httpx.post(f"{base}/connectors/http/authorize", headers=headers)
    assert not_oauth.status_code == 400


def test_refresh_returns_the_seed_shape_and_makes_one_grant(provider, serve):
    provider.seed(expires_in=3600)
    srv = serve()
    r = httpx.post(srv.url + "/api/v1/connectors/testprov/refresh", headers=bearer(new_key("connections:write")))
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"success", "connector_slug", "connection", "expires_in", "oauth_method"}
    assert out["success"] is True and out["oauth_method"] == "direct" and 3500 < out["expires_in"] <= 3600
    assert provider.server.count(REFRESH, provider.client_id) == 1
    provider.server.revoke_all()
    refused = httpx.post(srv.url + "/api/v1/connectors/testprov/refresh", headers=bearer(new_key("connections:write")))
    assert refused.status_code == 403 and "invalid_grant" in refused.json()["error"]["message"]


def test_fifty_concurrent_calls_with_an_expiring_token_make_exactly_one_refresh_grant(provider, serve):
    old, _ = provider.seed(expires_in=20)  # inside the 60 s margin: every call wants a fresh token
    srv = serve()
    url = srv.url + "/api/v1/connectors/testprov/test_connection"
    headers = bearer(new_key("actions:execute"))
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=50)) as client:
        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(lambda _: client.post(url, headers=headers), range(50)))
    assert [a.status_code for a in answers] == [200] * 50, {a.status_code: a.text for a in answers}
    assert {a.json()["result"]["user"] for a in answers} == {"alice"}
    assert provider.server.count(REFRESH, provider.client_id) == 1
    assert provider.stored().secrets["access_token"] != old.access_token
    assert provider.stored().expires_at > time.time() + 3000


def test_nango_authorize_gives_the_connect_link_and_the_callback_completes_once_nango_has_it(nango, serve):
    srv = serve()
    base, headers = srv.url + "/api/v1", bearer(new_key("connections:write", "actions:execute"))
    out = httpx.post(f"{base}/connectors/nbin/authorize", headers=headers).json()
    assert out["oauth_method"] == "nango", out
    assert out["authorization_url"].startswith(nango.url + "/connect/ui?session_token=")
    callback = f"{base}/connectors/nbin/callback"
    early = httpx.get(callback, params={"state": out["state"]})
    assert early.status_code == 409 and early.json()["error"]["code"] == "pending"
    assert httpx.post(out["authorization_url"], data={"decision": "allow"}).status_code == 200  # the person, in Nango
    done = httpx.get(callback, params={"state": out["state"]})
    assert done.status_code == 200, done.text
    assert done.json()["oauth_method"] == "nango" and done.json()["connector_slug"] == "nbin"
    assert httpx.get(callback, params={"state": out["state"]}).status_code == 400  # taken
    called = httpx.post(f"{base}/connectors/nbin/whoami", headers=headers)
    assert called.status_code == 200 and called.json()["result"]["authenticated"] is True
