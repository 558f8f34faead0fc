"""A real OAuth 2.0 authorization server for the tests, built on Authlib's Flask integration.

It runs on 127.0.0.1 (port 0) in a thread and offers what synthral must handle:

- ``GET/POST /authorize``: a login form, then a consent page (Allow / Deny), authorization
  code grant with PKCE (S256 checked whenever the client sent a challenge);
- ``POST /token``: authorization code, refresh token (rotated: the old one is revoked), client
  credentials and device code grants;
- ``POST /device_authorization`` and ``GET/POST /device``: RFC 8628 with a verification page;
- ``POST /revoke``: RFC 7009;
- ``GET /api/me``: a protected resource answering 401 to unknown, revoked or expired tokens.

Crafted answers: ``token_extra`` and ``device_extra`` are merged into every successful token
and device-authorization response (``None`` removes a key, ``Raw("1e999")`` is written as is,
for JSON a dict cannot hold), so tests can play a provider that answers with hostile values.

Every issued token is recorded in ``grants`` so tests can count refresh grants, and every request
received (method, path, query, body, headers) in ``requests``, so a test can show that nothing
arrived. Models are
in memory, behind one lock (the server is threaded).

Refresh-token reuse detection (issue 19), per client (``add_client(detect_reuse=True)``), as
oidc-provider and Auth0 do: every token belongs to a grant family (one per authorization); a
refresh token that was already rotated, presented again, revokes the whole family (every access
and refresh token of that authorization) and answers ``invalid_grant``. The server's own log,
``events`` (and ``log_path`` as JSON lines when set), records each ``grant``, ``reuse`` and
``invalid_grant`` with its time, client and family.

``hold_refresh`` (a ``threading.Event``) holds the next refresh-token request before it is
processed, after announcing it on ``refresh_arrived``; when released, a request whose client went
away meanwhile is dropped without granting anything (``aborted`` in the log), as a server that
cancels a request's work when its client disconnects (Go's request context) does.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.flask_oauth2 import AuthorizationServer
    from authlib.oauth2.rfc6749 import grants
    from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin, ClientMixin, TokenMixin
    from authlib.oauth2.rfc6750 import BearerTokenGenerator
    from authlib.oauth2.rfc7009 import RevocationEndpoint
    from authlib.oauth2.rfc7636 import CodeChallenge
    from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant, DeviceCredentialDict
import pytest
from flask import Flask, jsonify, redirect, request, session
from werkzeug.serving import WSGIRequestHandler, make_server

USERS = {"alice": "wonderland"}


@dataclass(frozen=True)
class Raw:
    """JSON text written into a crafted answer as it is (``1e999``, ``NaN``, ``-Infinity``)."""

    text: str


def craft(body: bytes, extra: dict[str, Any]) -> bytes:
    """A JSON object answer with ``extra`` merged in (see the module docstring)."""
    data = json.loads(body)
    raws: dict[str, str] = {}
    for key, value in extra.items():
        if value is None:
            data.pop(key, None)
        elif isinstance(value, Raw):
            marker = f"__raw_{len(raws)}__"
            raws[json.dumps(marker)] = value.text
            data[key] = marker
        else:
            data[key] = value
    text = json.dumps(data)
    for marker, raw in raws.items():
        text = text.replace(marker, raw)
    return text.encode()


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str | None
    grant_types: list[str]
    auth_method: str = "client_secret_post"
    scope: str = "read write admin"
    detect_reuse: bool = False  # a rotated refresh token presented again revokes its whole family

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 8252 7.3: any port on the loopback interface; the CLI's /callback, or a server's
        # /api/v1/connectors/{slug}/callback (synthral serve).
        u = urlsplit(redirect_uri)
        return u.scheme == "http" and u.hostname in {"127.0.0.1", "localhost"} and u.path.endswith("/callback")

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthCode(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: float = field(default_factory=time.time)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> None:
        return None

    def get_auth_time(self) -> float:
        return self.auth_time


@dataclass
class Token(TokenMixin):
    client_id: str
    user: str | None
    access_token: str
    refresh_token: str | None
    scope: str
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    access_revoked: bool = False
    refresh_revoked: bool = False
    family: str = field(default_factory=lambda: secrets.token_hex(4))  # one per authorization
    rotated: bool = False  # its refresh token was exchanged (reuse of it is detected)

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.access_revoked

    def get_user(self) -> str | None:
        return self.user


class OAuthServer:
    """The server and its records. ``start()`` it, read ``url``, ``stop()`` it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthCode] = {}
        self.tokens: list[Token] = []
        self.grants: list[dict[str, Any]] = []  # every issued token: grant_type, client_id, scope
        self.revocations: list[dict[str, Any]] = []
        self.code_requests: list[dict[str, Any]] = []  # every code issued: client, PKCE method
        self.device_credentials: dict[str, DeviceCredentialDict] = {}
        self.device_grants: dict[str, tuple[str, bool]] = {}
        self.device_polls: list[float] = []
        self.requests: list[dict[str, Any]] = []  # every request received: method, path, body, headers
        self.expires_in = 3600
        self.device_interval = 1
        self.slow_down_polls = 0  # answer slow_down to this many polls first
        self.token_extra: dict[str, Any] = {}  # merged into successful token answers (craft)
        self.device_extra: dict[str, Any] = {}  # merged into device authorization answers
        self.events: list[dict[str, Any]] = []  # the server's log: grant, reuse, invalid_grant, aborted
        self.log_path: Path | None = None
        self.hold_refresh: threading.Event | None = None  # hold the next refresh request until set
        self.refresh_arrived = threading.Event()
        self.app = self._build_app()
        self._httpd: Any = None
        self.url = ""

    # -- test hooks ------------------------------------------------------------------------

    def add_client(
        self,
        client_id: str = "synthral-test",
        client_secret: str | None = "s3cret-app-secret",
        grant_types: tuple[str, ...] = (
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
        ),
        auth_method: str = "client_secret_post",
        detect_reuse: bool = False,
    ) -> Client:
        client = Client(client_id, client_secret, list(grant_types), auth_method, detect_reuse=detect_reuse)
        with self.lock:
            self.clients[client_id] = client
        return client

    def count(self, grant_type: str, client_id: str | None = None) -> int:
        with self.lock:
            return sum(
                1
                for g in self.grants
                if g["grant_type"] == grant_type and (client_id is None or g["client_id"] == client_id)
            )

    def log(self, event: str, **fields: Any) -> None:
        entry = {"t": time.time(), "event": event, **fields}
        with self.lock:
            self.events.append(entry)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")

    def logged(self, event: str, client_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["event"] == event and client_id in (None, e.get("client_id"))]

    def revoke_all(self) -> None:
        with self.lock:
            for t in self.tokens:
                t.access_revoked = t.refresh_revoked = True

    def expire_access_tokens(self) -> None:
        with self.lock:
            for t in self.tokens:
                t.issued_at -= t.expires_in + 1

    def find(self, value: str) -> Token | None:
        with self.lock:
            return next((t for t in self.tokens if value in (t.access_token, t.refresh_token)), None)

    def mint(self, client_id: str, scope: str = "read", expires_in: int | None = None) -> Token:
        """Issue a token pair directly (as if a code exchange had happened earlier)."""
        tok = Token(
            client_id,
            "alice",
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            scope,
            self.expires_in if expires_in is None else expires_in,
        )
        with self.lock:
            self.tokens.append(tok)
        return tok

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> OAuthServer:
        self._httpd = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    # -- the Flask app -----------------------------------------------------------------------

    def _save_token(self, token: dict[str, Any], req: Any) -> None:
        client = req.client
        grant_type = req.payload.grant_type if req.payload is not None else None
        old = getattr(req, "refresh_token", None)
        new = Token(
            client.get_client_id(),
            req.user,
            token["access_token"],
            token.get("refresh_token"),
            token.get("scope", ""),
            int(token.get("expires_in", self.expires_in)),
        )
        if isinstance(old, Token):
            new.family = old.family
        self.log("grant", grant_type=grant_type, client_id=client.get_client_id(), family=new.family)
        with self.lock:
            self.tokens.append(new)
            self.grants.append(
                {"grant_type": grant_type, "client_id": client.get_client_id(), "scope": token.get("scope")}
            )

    def _build_app(self) -> Flask:  # noqa: C901 - one route table
        srv = self
        app = Flask("synthral-test-authserver")
        app.secret_key = secrets.token_bytes(16)
        server = AuthorizationServer(
            app, query_client=lambda cid: srv.clients.get(cid), save_token=self._save_token
        )

        @app.before_request
        def log_request() -> None:
            with srv.lock:
                srv.requests.append(
                    {
                        "method": request.method,
                        "path": request.path,
                        "query": request.query_string.decode("latin-1"),
                        "body": request.get_data(as_text=True),
                        "headers": dict(request.headers),
                    }
                )

        def gen(*args: Any, **kwargs: Any) -> str:
            return secrets.token_urlsafe(24)

        server.register_token_generator(
            "default", BearerTokenGenerator(gen, gen, lambda client, grant_type: srv.expires_in)
        )

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                with srv.lock:
                    srv.code_requests.append(
                        {"client_id": req.client.get_client_id(), "pkce": data.get("code_challenge_method")}
                    )
                    srv.codes[code] = AuthCode(
                        code,
                        req.client.get_client_id(),
                        req.payload.redirect_uri,
                        req.payload.scope or "",
                        req.user,
                        data.get("code_challenge"),
                        data.get("code_challenge_method"),
                    )

            def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
                item = srv.codes.get(code)
                if item and item.client_id == client.get_client_id():
                    return item
                return None

            def delete_authorization_code(self, authorization_code: AuthCode) -> None:
                with srv.lock:
                    srv.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: AuthCode) -> str:
                return authorization_code.user

        class RefreshGrant(grants.RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
            INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

            def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
                tok = srv.find(refresh_token)
                if tok and tok.refresh_token == refresh_token and not tok.refresh_revoked:
                    return tok
                client = srv.clients.get(tok.client_id) if tok else None
                if tok is not None and tok.rotated and client is not None and client.detect_reuse:
                    with srv.lock:  # reuse of a rotated refresh token: the whole authorization dies
                        for t in srv.tokens:
                            if t.family == tok.family:
                                t.access_revoked = t.refresh_revoked = True
                    srv.log("reuse", client_id=tok.client_id, family=tok.family)
                return None

            def authenticate_user(self, refresh_token: Token) -> str | None:
                return refresh_token.user

            def revoke_old_credential(self, refresh_token: Token) -> None:
                with srv.lock:
                    refresh_token.refresh_revoked = True
                    refresh_token.access_revoked = True
                    refresh_token.rotated = True

        class ClientCredentials(grants.ClientCredentialsGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

        class DeviceGrant(DeviceCodeGrant):
            def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
                with srv.lock:
                    srv.device_polls.append(time.time())
                    return srv.device_credentials.get(device_code)

            def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
                return srv.device_grants.get(user_code)

            def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
                with srv.lock:
                    if srv.slow_down_polls > 0:
                        srv.slow_down_polls -= 1
                        return True
                return False

        class DeviceEndpoint(DeviceAuthorizationEndpoint):
            def get_verification_uri(self) -> str:
                return f"{srv.url}/device"

            def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
                cred = DeviceCredentialDict(
                    client_id=client_id, scope=scope, expires_at=time.time() + data["expires_in"], **data
                )
                with srv.lock:
                    srv.device_credentials[data["device_code"]] = cred

            def create_endpoint_response(self, req: Any) -> Any:
                self.INTERVAL = srv.device_interval
                return super().create_endpoint_response(req)

        class Revocation(RevocationEndpoint):
            CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

            def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
                return srv.find(token_string)

            def revoke_token(self, token: Token, req: Any) -> None:
                with srv.lock:
                    token.access_revoked = token.refresh_revoked = True
                    srv.revocations.append(
                        {"client_id": token.client_id, "hint": req.form.get("token_type_hint")}
                    )

        server.register_grant(CodeGrant, [CodeChallenge(required=False)])
        server.register_grant(RefreshGrant)
        server.register_grant(ClientCredentials)
        server.register_grant(DeviceGrant)
        server.register_endpoint(DeviceEndpoint)
        server.register_endpoint(Revocation)

        def page(title: str, body: str) -> str:
            return (
                f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
                f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
            )

        def login_form(next_url: str, error: str = "") -> str:
            return page(
                "Sign in to Test Provider",
                (f"<p class='error'>{html.escape(error)}</p>" if error else "")
                + "<form method='post' action='/login'>"
                f"<input type='hidden' name='next' value='{html.escape(next_url)}'>"
                "<label>Username <input id='username' name='username'></label>"
                "<label>Password <input id='password' name='password' type='password'></label>"
                "<button id='signin' type='submit'>Sign in</button></form>",
            )

        @app.post("/login")
        def login() -> Any:
            user = request.form.get("username", "")
            nxt = request.form.get("next", "/")
            if USERS.get(user) != request.form.get("password"):
                return login_form(nxt, "Wrong username or password."), 401
            session["user"] = user
            return redirect(nxt if nxt.startswith("/") else "/")

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            user = session.get("user")
            if not user:
                return login_form(request.full_path)
            if request.method == "GET":
                try:
                    grant = server.get_consent_grant(end_user=user)
                except Exception as exc:  # noqa: BLE001 - show the OAuth error to the person
                    return page("Authorization error", f"<p>{html.escape(repr(exc))}</p>"), 400
                scope = grant.request.payload.scope or ""
                return page(
                    "Authorize application",
                    f"<p>{html.escape(grant.client.client_id)} wants: "
                    f"<span id='scope'>{html.escape(scope)}</span></p>"
                    "<form method='post'>"
                    "<button id='allow' name='decision' value='allow'>Allow</button>"
                    "<button id='deny' name='decision' value='deny'>Deny</button></form>",
                )
            grant = server.get_consent_grant(end_user=user)
            grant_user = user if request.form.get("decision") == "allow" else None
            return server.create_authorization_response(grant_user=grant_user, grant=grant)

        def crafted(response: Any, extra: dict[str, Any]) -> Any:
            if extra and response.status_code == 200:
                response.set_data(craft(response.get_data(), extra))
            return response

        def client_gone() -> bool:
            import select
            import socket

            sock = request.environ.get("werkzeug.socket")
            if sock is None:
                return False
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            try:
                return sock.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        @app.post("/token")
        def token() -> Any:
            hold = srv.hold_refresh
            if hold is not None and request.form.get("grant_type") == "refresh_token":
                srv.hold_refresh = None  # only the first one
                srv.refresh_arrived.set()
                hold.wait(30)
                if client_gone():
                    srv.log("aborted", client_id=request.form.get("client_id"))
                    return jsonify({"error": "client_gone"}), 499
            response = crafted(server.create_token_response(), srv.token_extra)
            if response.status_code == 400 and response.get_json(silent=True, force=True):
                body = response.get_json(silent=True, force=True)
                if body.get("error") == "invalid_grant":
                    srv.log("invalid_grant", client_id=request.form.get("client_id"))
            return response

        @app.post("/revoke")
        def revoke() -> Any:
            return server.create_endpoint_response("revocation")

        @app.post("/device_authorization")
        def device_authorization() -> Any:
            return crafted(server.create_endpoint_response("device_authorization"), srv.device_extra)

        @app.route("/device", methods=["GET", "POST"])
        def device() -> Any:
            user = session.get("user")
            if not user:
                return login_form(request.full_path)
            if request.method == "GET":
                code = html.escape(request.args.get("user_code", ""))
                return page(
                    "Connect a device",
                    "<form method='post'>"
                    f"<label>Code <input id='user_code' name='user_code' value='{code}'></label>"
                    "<button id='allow' name='decision' value='allow'>Allow</button>"
                    "<button id='deny' name='decision' value='deny'>Deny</button></form>",
                )
            user_code = request.form.get("user_code", "").strip().upper()
            with srv.lock:
                known = any(c["user_code"] == user_code for c in srv.device_credentials.values())
                if known:
                    srv.device_grants[user_code] = (user, request.form.get("decision") == "allow")
            if not known:
                return page("Unknown code", "<p>That code is not valid.</p>"), 400
            return page("Device connected", "<p>You can go back to your device.</p>")

        @app.get("/api/me")
        def me() -> Any:
            header = request.headers.get("Authorization", "")
            value = header[7:] if header.startswith("Bearer ") else ""
            tok = srv.find(value) if value else None
            if tok is None or tok.access_token != value or tok.access_revoked or tok.is_expired():
                return jsonify({"error": "invalid_token"}), 401
            return jsonify({"user": tok.user, "client_id": tok.client_id, "scope": tok.scope})

        @app.get("/")
        def index() -> Any:
            return page("Test Provider", "<p>OAuth test server.</p>")

        return app


# ---------------------------------------------------------------------------------------------
# pytest fixtures (import them into a test module)

REPO = Path(__file__).resolve().parent.parent
BROWSER_SCRIPT = REPO / "tests" / "browser.py"


@dataclass
class Provider:
    """One test's view of the server: its own OAuth client, manifest folder and environment."""

    server: OAuthServer
    client_id: str
    client_secret: str | None
    folder: Path
    slug: str = "testprov"

    def manifest(self, slug: str | None = None, auth: dict[str, Any] | None = None, **top: Any) -> str:
        """Write a manifest for this server into the manifests folder; returns its slug."""
        slug = slug or self.slug
        url = self.server.url
        doc: dict[str, Any] = {
            "schema_version": 1,
            "slug": slug,
            "name": "Test Provider",
            "category": "Development & Code",
            "status": "beta",
            "version": "1.0.0",
            "description": "The local OAuth 2.0 test provider.",
            "docs_url": "https://docs.example.invalid/oauth",
            "base_url": url + "/api",
            "auth": {
                "type": "oauth2",
                "authorization_url": url + "/authorize",
                "token_url": url + "/token",
                "revocation_url": url + "/revoke",
                "device_authorization_url": url + "/device_authorization",
                "grant_types": ["authorization_code", "refresh_token", "device_code"],
                "default_scopes": ["read", "write"],
                "console_url": "https://console.example.invalid/apps",
                **(auth or {}),
            },
            "nango": {"enabled": False},
            "actions": [
                {"name": "test_connection", "description": "Who am I.", "method": "GET", "path": "/me"}
            ],
            **top,
        }
        (self.folder / f"{slug}.yaml").write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return slug

    def seed(
        self, *, expires_in: float, scope: str = "read write", slug: str | None = None
    ) -> tuple[Token, Any]:
        """A token pair minted by the server and stored as connection ``default``."""
        from synthral_cli.api import Synthral
        from synthral_cli.store.model import Connection

        tok = self.server.mint(self.client_id, scope=scope)
        sy = Synthral(env=dict(os.environ))
        conn = sy.store.put(
            Connection(
                slug=slug or self.slug,
                method="direct",
                scopes=scope.split(),
                expires_at=time.time() + expires_in,
                secrets={"access_token": tok.access_token, "refresh_token": tok.refresh_token or ""},
            )
        )
        sy.store.close()
        return tok, conn

    def stored(self, slug: str | None = None, name: str = "default") -> Any:
        from synthral_cli.api import Synthral

        sy = Synthral(env=dict(os.environ))
        try:
            return sy.store.get(slug or self.slug, name)
        finally:
            sy.store.close()


@pytest.fixture(scope="session")
def oauth_server() -> Iterator[OAuthServer]:
    srv = OAuthServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def provider(oauth_server: OAuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Provider:
    """A fresh OAuth client on the shared server, a manifest folder, and the env pointing at both."""
    from synthral_cli.store.keys import encode_key, generate_key

    client_id = "client-" + secrets.token_hex(6)
    client = oauth_server.add_client(client_id)
    folder = tmp_path / "manifests"
    folder.mkdir()
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", encode_key(generate_key()))
    monkeypatch.setenv("SYNTHRAL_TESTPROV_CLIENT_ID", client_id)
    monkeypatch.setenv("SYNTHRAL_TESTPROV_CLIENT_SECRET", str(client.client_secret))
    monkeypatch.setenv("BROWSER", f"{sys.executable} {BROWSER_SCRIPT} %s")
    monkeypatch.setenv("TESTBROWSER_LOG", str(tmp_path / "browser.log"))
    prov = Provider(oauth_server, client_id, client.client_secret, folder)
    prov.manifest()
    return prov


def browser_log(path: str | os.PathLike[str], *, until: str, timeout: float = 40.0) -> list[dict[str, Any]]:
    """The browser's events, waiting until one has the key ``until`` (final, blocked, error)."""
    end = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    while time.monotonic() < end:
        try:
            events = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
        except FileNotFoundError:
            events = []
        if any(until in e or "error" in e for e in events):
            return events
        time.sleep(0.1)
    return events
