"""The grant flows against the Authlib server: device polling rules, token-response parsing,
client authentication methods. Only the clock of the device poller is simulated."""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import re

import httpx
import pytest

from synthral_cli.auth import codeflow, device, grants, tokens
from synthral_cli.auth.interaction import SilentInteraction
from synthral_cli.basics.errors import AuthError
from synthral_cli.catalogue.manifest import Manifest
from tests.authserver import USERS, oauth_server  # noqa: F401


def manifest(srv, **auth) -> Manifest:
    return Manifest(
        {
            "slug": "testprov",
            "name": "Test Provider",
            "auth": {
                "type": "oauth2",
                "authorization_url": srv.url + "/authorize",
                "token_url": srv.url + "/token",
                "device_authorization_url": srv.url + "/device_authorization",
                "revocation_url": srv.url + "/revoke",
                **auth,
            },
            "connection_config": {},
        }
    )


class Person(SilentInteraction):
    """Reads the user code from the notice and approves (or denies) it at the verification page."""

    def __init__(self, srv, decision="allow", act=True):
        super().__init__()
        self.srv, self.decision, self.act = srv, decision, act
        self.code = None

    def notice(self, text):
        super().notice(text)
        m = re.search(r"open (\S+) and enter the code: (\S+)", text)
        if m:
            self.code = m.group(2)
            if self.act:
                self.approve()

    def approve(self):
        user, password = next(iter(USERS.items()))
        with httpx.Client(base_url=self.srv.url) as b:
            b.post("/login", data={"username": user, "password": password, "next": "/device"})
            r = b.post("/device", data={"user_code": self.code, "decision": self.decision})
            assert r.status_code == 200


class Clock:
    def __init__(self, on_sleep=None):
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))

    def __call__(self):
        return self.now


@pytest.fixture
def app(oauth_server):
    oauth_server.slow_down_polls = 0
    c = oauth_server.add_client("flows-" + str(len(oauth_server.clients)))
    return grants.ClientApp(c.client_id, c.client_secret)


def test_device_flow_honours_interval_and_slow_down(oauth_server, app):
    oauth_server.device_interval = 2
    oauth_server.slow_down_polls = 1
    person = Person(oauth_server, act=False)
    clock = Clock(on_sleep=lambda n: n == 2 and person.approve())  # approves after the first poll
    tokens = device.device_flow(
        manifest(oauth_server),
        app,
        interaction=person,
        scopes=["read"],
        config={},
        sleep=clock.sleep,
        clock=clock,
    )
    assert clock.sleeps == [2, 7]  # the interval, then +5 s after slow_down
    assert tokens.access_token and tokens.refresh_token and tokens.scopes == ["read"]
    assert "enter the code" in person.notices[0]


def test_device_flow_keeps_polling_while_pending_then_expires(oauth_server, app):
    oauth_server.device_interval = 1
    clock = Clock()
    with pytest.raises(AuthError, match="expired"):
        device.device_flow(
            manifest(oauth_server),
            app,
            interaction=Person(oauth_server, act=False),
            scopes=["read"],
            config={},
            timeout=5,
            sleep=clock.sleep,
            clock=clock,
        )
    assert clock.sleeps == [1, 1, 1, 1, 1]  # authorization_pending each time, until the deadline


def test_device_flow_access_denied(oauth_server, app):
    oauth_server.device_interval = 1
    clock = Clock()
    with pytest.raises(AuthError, match="access_denied") as info:
        device.device_flow(
            manifest(oauth_server),
            app,
            interaction=Person(oauth_server, decision="deny"),
            scopes=["read"],
            config={},
            sleep=clock.sleep,
            clock=clock,
        )
    assert info.value.exit_code == 3


def test_device_flow_needs_the_endpoint(oauth_server, app):
    m = manifest(oauth_server)
    del m.raw["auth"]["device_authorization_url"]
    with pytest.raises(Exception, match="device flow"):
        device.device_flow(m, app, interaction=SilentInteraction(), scopes=[], config={})


def test_client_secret_basic_and_post_are_sent_as_the_manifest_says(oauth_server):
    basic = oauth_server.add_client("basic-cc", "b-secret", ("client_credentials",), "client_secret_basic")
    post = oauth_server.add_client("post-cc", "p-secret", ("client_credentials",), "client_secret_post")
    for client, method in ((basic, "client_secret_basic"), (post, "client_secret_post")):
        app = grants.ClientApp(client.client_id, client.client_secret)
        m = manifest(oauth_server, token_auth_method=method)
        assert grants.client_credentials(m, app, scopes=["read"], config={}).access_token
        wrong = manifest(
            oauth_server,
            token_auth_method="client_secret_post" if method.endswith("basic") else "client_secret_basic",
        )
        with pytest.raises(AuthError, match="invalid_client"):
            grants.client_credentials(wrong, app, scopes=["read"], config={})


def test_authorization_url_has_pkce_state_scopes_and_extra_params(oauth_server, app):
    m = manifest(oauth_server, scope_separator=",", authorization_params={"access_type": "offline"})
    req = codeflow.build_authorization_request(
        m, app, redirect_uri="http://127.0.0.1:5000/callback", scopes=["a", "b"], config={}
    )
    assert "code_challenge_method=S256" in req.url and "access_type=offline" in req.url
    assert "scope=a%2Cb" in req.url and f"state={req.state}" in req.url
    assert len(req.state) >= 43 and req.code_verifier
    no_pkce = codeflow.build_authorization_request(
        manifest(oauth_server, pkce=False, scope_param="user_scope"),
        app,
        redirect_uri="http://127.0.0.1:5000/callback",
        scopes=["x"],
        config={},
    )
    assert "code_challenge" not in no_pkce.url and no_pkce.code_verifier is None
    assert "user_scope=x" in no_pkce.url and "&scope=" not in no_pkce.url


def test_parse_token_follows_the_manifest_paths():
    slack_like = Manifest(
        {
            "slug": "chat",
            "name": "Chat",
            "auth": {
                "type": "oauth2",
                "access_token_path": "authed_user.access_token",
                "scope_response_path": "authed_user.scope",
                "scope_separator": ",",
            },
            "connection_config": {
                "team_id": {"from_token_response": "team.id"},
                "instance_url": {"from_token_response": "instance_url"},
            },
        }
    )
    token = {
        "ok": True,
        "team": {"id": "T123"},
        "instance_url": "https://acme.my.example.com",
        "authed_user": {
            "access_token": "xoxp-user-token",
            "scope": "chat:write,users:read",
            "refresh_token": "r-1",
        },
        "expires_in": 120,
    }
    out = tokens.parse_token(slack_like, token, ["ignored"])
    assert out.access_token == "xoxp-user-token" and out.refresh_token == "r-1"
    assert out.scopes == ["chat:write", "users:read"]
    assert out.config == {"team_id": "T123", "instance_url": "https://acme.my.example.com"}
    assert out.expires_at is not None
    plain = Manifest({"slug": "p", "name": "P", "auth": {"type": "oauth2"}, "connection_config": {}})
    assert tokens.parse_token(plain, {"access_token": "tok-abcdef"}, ["read"]).scopes == ["read"]
    with pytest.raises(Exception, match="without an access token"):
        tokens.parse_token(slack_like, {"ok": True}, [])
