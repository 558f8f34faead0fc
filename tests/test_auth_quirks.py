"""Provider quirks the manifest schema expresses and the code honours: TikTok's ``client_key``
(auth.client_id_param) and hex PKCE challenge (auth.pkce_challenge_encoding), checked end to end
against a loopback authorization server that insists on both, as TikTok's Login Kit for
Desktop does; and parameters that must not be sent together (actions[].exclusive)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import yaml

from synthral_cli.auth import codeflow, grants
from synthral_cli.catalogue.manifest import Manifest

REPO = Path(__file__).resolve().parents[1]


class KeyServer(ThreadingHTTPServer):
    """Authorize and token endpoints that know the client only as ``client_key`` and check
    ``code_challenge == hex(sha256(code_verifier))``; every token request's form is kept."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.challenges: dict[str, str] = {}
        self.forms: list[dict[str, str]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: KeyServer

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # /authorize
        q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        if "client_id" in q or q.get("client_key") != "ck-123" or q.get("code_challenge_method") != "S256":
            self._json(400, {"error": "invalid_request", "error_description": "client_key / S256 needed"})
            return
        code = f"code-{len(self.server.challenges)}"
        self.server.challenges[code] = q["code_challenge"]
        self.send_response(302)
        self.send_header("Location", f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}")
        self.end_headers()

    def do_POST(self) -> None:  # /token
        size = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(size).decode()).items()}
        self.server.forms.append(form)
        if "client_id" in form or form.get("client_key") != "ck-123" or form.get("client_secret") != "cs-456":
            self._json(401, {"error": "invalid_client"})
            return
        if form.get("grant_type") == "authorization_code":
            challenge = self.server.challenges.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            if challenge != hashlib.sha256(verifier.encode()).hexdigest():
                self._json(400, {"error": "invalid_grant", "error_description": "code verifier is invalid"})
                return
        self._json(
            200,
            {
                "access_token": "act.1",
                "refresh_token": "rft.1",
                "expires_in": 86400,
                "token_type": "Bearer",
                "scope": "user.info.basic,video.list",
                "open_id": "o-1",
            },
        )


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    srv = KeyServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def tiktok_on(srv: KeyServer) -> Manifest:
    """The bundled tiktok manifest, its OAuth endpoints moved to the loopback server."""
    raw = yaml.safe_load((REPO / "manifests" / "tiktok.yaml").read_text())
    raw["auth"] |= {"authorization_url": srv.url + "/authorize", "token_url": srv.url + "/token"}
    return Manifest(raw)


def test_tiktok_authorization_sends_client_key_and_a_hex_challenge(key_server: KeyServer) -> None:
    manifest = tiktok_on(key_server)
    app = grants.ClientApp("ck-123", "cs-456")
    request = codeflow.build_authorization_request(
        manifest, app, redirect_uri="http://127.0.0.1:9/callback/", scopes=["user.info.basic"], config={}
    )
    query = parse_qs(urlsplit(request.url).query)
    assert "client_id" not in query and query["client_key"] == ["ck-123"]
    assert request.code_verifier is not None
    assert query["code_challenge"] == [hashlib.sha256(request.code_verifier.encode()).hexdigest()]
    assert query["code_challenge_method"] == ["S256"]

    answer = httpx.get(request.url)  # the person approves; the server redirects with a code
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    tokens = codeflow.exchange_code(manifest, app, request, code, scopes=["user.info.basic"], config={})
    assert tokens.access_token == "act.1"
    exchange = key_server.forms[-1]
    assert exchange["grant_type"] == "authorization_code" and "client_id" not in exchange

    refreshed = grants.refresh(manifest, app, "rft.1", scopes=["user.info.basic"], config={})
    assert refreshed.access_token == "act.1"
    assert key_server.forms[-1]["grant_type"] == "refresh_token"
    assert key_server.forms[-1]["client_key"] == "ck-123" and "client_id" not in key_server.forms[-1]


def test_a_base64url_challenge_is_refused_by_the_hex_server(key_server: KeyServer) -> None:
    """Without pkce_challenge_encoding: hex the same server refuses the exchange: the field is
    what makes TikTok's desktop flow work."""
    manifest = tiktok_on(key_server)
    manifest.raw["auth"].pop("pkce_challenge_encoding")
    app = grants.ClientApp("ck-123", "cs-456")
    request = codeflow.build_authorization_request(
        manifest, app, redirect_uri="http://127.0.0.1:9/callback/", scopes=[], config={}
    )
    code = parse_qs(urlsplit(httpx.get(request.url).headers["location"]).query)["code"][0]
    with pytest.raises(Exception, match="code verifier is invalid"):
        codeflow.exchange_code(manifest, app, request, code, scopes=[], config={})


def test_openai_refuses_previous_response_id_with_conversation(cli: Any) -> None:
    res = cli(
        "invoke",
        "openai",
        "create_response",
        "--dry-run",
        "-p",
        "model=gpt-4.1",
        "-p",
        "previous_response_id=resp_1",
        "-p",
        "conversation=conv_1",
        env={"SYNTHRAL_OPENAI_TOKEN": "sk-test"},
    )
    assert res.exit_code == 2, res.stdout + res.stderr
    assert "only one of previous_response_id, conversation" in res.stderr


def test_openai_response_without_input_is_accepted(cli: Any) -> None:
    res = cli(
        "invoke",
        "openai",
        "create_response",
        "--dry-run",
        "--json",
        "-p",
        "model=gpt-4.1",
        "-p",
        "previous_response_id=resp_1",
        env={"SYNTHRAL_OPENAI_TOKEN": "sk-test"},
    )
    assert res.exit_code == 0, res.stderr
    assert '"previous_response_id"' in res.stdout and '"input"' not in res.stdout


def test_facebook_page_post_sends_the_page_token_only(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 6750 section 2: one token method per request. The Page token goes as ?access_token=
    and the connection's user token is not sent beside it."""
    from tests.invoke_support import STORE_KEY, put_connection

    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("facebook", method="direct", secrets={"access_token": "user-token-1"})
    res = cli(
        "invoke",
        "facebook",
        "create_page_post",
        "--dry-run",
        "--json",
        "-p",
        "page_id=123",
        "-p",
        "message=hi",
        env={"SYNTHRAL_FACEBOOK_PAGE_ACCESS_TOKEN": "page-token-1"},
    )
    assert res.exit_code == 0, res.stderr
    req = json.loads(res.stdout)
    assert "Authorization" not in req["headers"]
    assert req["url"] == "https://graph.facebook.com/v24.0/123/feed?access_token=***"
    assert "user-token-1" not in res.stdout and "page-token-1" not in res.stdout


def test_salesforce_userinfo_needs_the_id_scope() -> None:
    """The identity call's scope is declared, so the pre-check names it for a default grant."""
    from synthral_cli.actions.invoke import missing_scopes

    raw = yaml.safe_load((REPO / "manifests" / "salesforce.yaml").read_text())
    userinfo = Manifest(raw).action("get_user_info")
    assert missing_scopes(userinfo.scopes, raw["auth"]["default_scopes"]) == [
        "id|profile|email|address|phone|openid|full"
    ]
    assert missing_scopes(userinfo.scopes, ["api", "refresh_token", "id"]) == []
    assert Manifest(raw).action("test_connection").scopes == ["api"]


def _minimal(**extra: Any) -> dict[str, Any]:
    raw = yaml.safe_load((REPO / "manifests" / "openai.yaml").read_text())
    raw.update(extra)
    return raw


def test_validation_of_the_new_fields() -> None:
    from synthral_cli.catalogue.validation import validate_dict

    assert validate_dict(_minimal(api_version="v9")) == [
        "api_version: 'v9' appears in neither base_url nor a header value"
    ]
    raw = _minimal()
    raw["actions"][1]["exclusive"] = [["previous_response_id", "conversaton"]]
    assert validate_dict(raw) == ["actions[create_response].exclusive[0]: 'conversaton' is not a parameter"]
    tiktok = yaml.safe_load((REPO / "manifests" / "tiktok.yaml").read_text())
    tiktok["actions"][0]["scopes"] = ["user.info.profile"]
    assert validate_dict(tiktok) == [
        "actions[test_connection].scopes: 'user.info.profile' is not among auth.default_scopes "
        "(the identity call must work with a default authorization)"
    ]
    tiktok["actions"][0]["scopes"] = ["user.info.basic"]
    tiktok["auth"]["pkce_challenge_encoding"] = "base32"
    assert validate_dict(tiktok)[0].startswith("auth.pkce_challenge_encoding: 'base32' is not one of")
