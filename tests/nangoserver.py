"""A Nango-compatible server on 127.0.0.1 whose every request and response is validated against
Nango's published OpenAPI spec (``../shared/reference/nango-openapi.yaml``) with openapi-core.

The double cannot drift from the real API: a request or a response that the spec rejects is
recorded in ``server.violations`` (tests assert it stays empty) and answered with 500.

The spec is reference data kept beside the repository, not in it (Nango's licence). In a clone
without ``../shared`` the double still makes its own checks (the secret key, tags, known
integrations and connections) but validates nothing against the spec: ``SPEC_VALIDATION`` is
False, and the test run's summary says so once (``tests/conftest.py``).

Where the real server is known to differ from its spec, the difference is encoded here, on
purpose, and listed in ``KNOWN_DIFFERENCES``:

* ``POST /connect/sessions`` requires ``tags`` (or an end user), the spec makes them optional;
* ``POST /connections`` answers ``201``; the spec documents ``200`` (validated against it);
* an unknown connection id is ``400 {"error": {"code": "unknown_connection"}}``.

One normalisation is applied to the spec itself: an ``allOf`` of closed objects
(``additionalProperties: false`` on each member, e.g. ``IntegrationFull`` and
``OAuth2CredentialsWithRaw``) can never validate under JSON Schema, so its members are merged
into one closed object with the union of their properties and required fields.

The hosted connect UI (what ``data.connect_link`` opens: ``/connect/ui?session_token=...``, shaped
like the real ``https://connect.nango.dev?session_token=...``) is a page with an "Allow" button
(``#allow``), which ``tests/browser.py`` clicks as a person would; that creates the connection
with fresh OAuth 2.0 tokens minted here.
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "nango-openapi.yaml"
SPEC_VALIDATION = SPEC.is_file()
RAW_TYPES = {"OAUTH1", "OAUTH2", "OAUTH2_CC", "APP_STORE", "BILL"}
KNOWN_DIFFERENCES = {
    ("POST", "/connect/sessions"): "the real server requires tags or an end user",
    ("POST", "/connections"): "the real server answers 201 (spec: 200)",
    ("GET", "/connections/{connectionId}"): "unknown ids are 400 unknown_connection",
}


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and set(node) == {"$ref"}:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def merge_closed_allof(spec: dict[str, Any]) -> dict[str, Any]:
    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        for key, value in list(node.items()):
            node[key] = walk(value)
        if "allOf" not in node:
            return node
        members = [walk(copy.deepcopy(_resolve(spec, m))) for m in node["allOf"]]
        plain = all(
            isinstance(m, dict)
            and m.get("type", "object") == "object"
            and not {"allOf", "anyOf", "oneOf"} & set(m)
            for m in members
        )
        if not plain or not any(m.get("additionalProperties") is False for m in members):
            return node
        merged: dict[str, Any] = {
            "type": "object",
            "properties": {},
            "required": [],
            "additionalProperties": False,
        }
        for m in members:
            merged["properties"].update(m.get("properties", {}))
            merged["required"] += [r for r in m.get("required", []) if r not in merged["required"]]
        merged.update({k: v for k, v in node.items() if k not in {"allOf", "type"}})
        return merged

    return walk(spec)  # type: ignore[no-any-return]


def load_openapi() -> Any:
    """Nango's spec as an openapi-core validator, or None when the spec file is not there."""
    if not SPEC_VALIDATION:
        return None
    import yaml
    from openapi_core import Config, OpenAPI

    spec = yaml.load(SPEC.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    spec["servers"] = [{"url": "/"}]  # this double listens on 127.0.0.1:<free port>
    # The published spec has an empty anyOf somewhere, which the spec validator refuses: skip it.
    return OpenAPI.from_dict(merge_closed_allof(spec), config=Config(spec_validator_cls=None))


def now_iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts or time.time(), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Connection:
    id: int
    connection_id: str
    provider_config_key: str
    provider: str
    tags: dict[str, str]
    credentials: dict[str, Any]
    connection_config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "connection_id": self.connection_id,
            "provider": self.provider,
            "provider_config_key": self.provider_config_key,
            "created": self.created_at,
            "metadata": self.metadata,
            "tags": self.tags,
            "errors": self.errors,
        }

    def full(self) -> dict[str, Any]:
        creds = dict(self.credentials)
        if creds.get("type") in RAW_TYPES:  # the spec's *WithRaw credential types
            creds["raw"] = {k: v for k, v in creds.items() if k != "type"}
        return {
            "id": self.id,
            "connection_id": self.connection_id,
            "provider_config_key": self.provider_config_key,
            "provider": self.provider,
            "errors": self.errors,
            "metadata": self.metadata,
            "connection_config": self.connection_config,
            "tags": self.tags,
            "created_at": self.created_at,
            "updated_at": now_iso(),
            "last_fetched_at": now_iso(),
            "credentials": creds,
        }


class NangoServer:
    """In-memory Nango: integrations, connect sessions, connections, refreshes, proxy."""

    def __init__(self, secret_key: str = "nango-secret-test-key-0123456789") -> None:
        self.secret_key = secret_key
        self.integrations: dict[str, str] = {}  # unique_key -> provider
        self.sessions: dict[str, dict[str, Any]] = {}
        self.connections: dict[tuple[str, str], Connection] = {}
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.refreshes = 0
        self.upstream: str | None = None  # where /proxy forwards without Base-Url-Override (e.g. httpbin)
        self.proxied: list[dict[str, Any]] = []  # what /proxy received: method, path, base, headers
        self.token_life = 3600
        self.fail_refresh = False
        self._ids = 0
        self._lock = threading.Lock()
        self.openapi = load_openapi()
        self.app = self._build_app()
        self._server: Any = None
        self.url = ""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> NangoServer:
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    def add_integration(self, unique_key: str, provider: str | None = None) -> None:
        self.integrations[unique_key] = provider or unique_key

    def mint(self) -> dict[str, Any]:
        return {
            "type": "OAUTH2",
            "access_token": "nango-access-" + secrets.token_hex(12),
            "refresh_token": "nango-refresh-" + secrets.token_hex(12),
            "expires_at": now_iso(time.time() + self.token_life),
        }

    def create_connection(
        self,
        unique_key: str,
        tags: dict[str, str],
        connection_id: str | None = None,
        credentials: dict[str, Any] | None = None,
    ) -> Connection:
        with self._lock:
            self._ids += 1
            conn = Connection(
                id=self._ids,
                connection_id=connection_id or f"conn-{secrets.token_hex(6)}",
                provider_config_key=unique_key,
                provider=self.integrations[unique_key],
                tags=dict(tags),
                credentials=credentials or self.mint(),
            )
            self.connections[(conn.connection_id, unique_key)] = conn
            return conn

    # -- the app ------------------------------------------------------------------------------

    def _build_app(self) -> Any:
        from flask import Flask, Response, request

        app = Flask("nango-double")
        server = self

        def error(status: int, code: str, message: str = "") -> Any:
            body = {"error": {"code": code, **({"message": message} if message else {})}}
            return Response(json.dumps(body), status=status, mimetype="application/json")

        def ok(body: Any, status: int = 200) -> Any:
            return Response(json.dumps(body), status=status, mimetype="application/json")

        @app.before_request
        def check_request() -> Any:
            server.requests.append((request.method, request.path))
            if request.path == "/connect/ui":
                return None  # the hosted UI is not part of the API
            if request.headers.get("Authorization") != f"Bearer {server.secret_key}":
                return error(401, "unknown_account", "Authentication failed")
            if request.path.startswith("/proxy/") or server.openapi is None:
                return None  # "$ANY_QUERY_PARAMS" cannot be validated generically; or no spec
            from openapi_core.contrib.flask import FlaskOpenAPIRequest

            try:
                server.openapi.validate_request(FlaskOpenAPIRequest(request))
            except Exception as exc:  # every spec violation is a test failure
                server.violations.append(f"request {request.method} {request.full_path}: {exc}")
                return error(400, "invalid_request", str(exc)[:200])
            return None

        @app.after_request
        def check_response(response: Any) -> Any:
            if (
                request.path == "/connect/ui"
                or request.path.startswith("/proxy/")
                or response.status_code == 401
                or server.openapi is None
            ):
                return response
            from openapi_core.contrib.flask import FlaskOpenAPIRequest
            from openapi_core.testing import MockResponse

            status = response.status_code
            if (request.method, request.path) == ("POST", "/connections") and status == 201:
                status = 200  # known difference: validate the 201 body against the documented 200
            mock = MockResponse(response.get_data(), status_code=status, content_type=response.mimetype)
            try:
                server.openapi.validate_response(FlaskOpenAPIRequest(request), mock)
            except Exception as exc:
                server.violations.append(
                    f"response {request.method} {request.path} {response.status_code}: {exc}"
                )
                return error(500, "double_violated_spec")
            return response

        @app.get("/integrations/<uniqueKey>")
        def get_integration(uniqueKey: str) -> Any:  # noqa: N803 - the spec's name
            key = uniqueKey
            if key not in server.integrations:
                return error(404, "not_found", f"Integration {key} does not exist")
            return ok(
                {
                    "data": {
                        "unique_key": key,
                        "display_name": key.title(),
                        "provider": server.integrations[key],
                        "created_at": now_iso(),
                        "updated_at": now_iso(),
                    }
                }
            )

        @app.post("/connect/sessions")
        def create_session() -> Any:
            body = request.get_json()
            if not body.get("tags") and not body.get("end_user"):
                return error(400, "invalid_body", "tags or end_user is required")  # known difference
            for key in body.get("allowed_integrations", []):
                if key not in server.integrations:
                    return error(400, "invalid_body", f"integration {key} does not exist")
            token = "nango_connect_session_" + secrets.token_hex(16)
            server.sessions[token] = body
            # like the real link (https://connect.nango.dev?session_token=...): the token is a query value
            return ok(
                {
                    "data": {
                        "token": token,
                        "connect_link": f"{server.url}/connect/ui?session_token={token}",
                        "expires_at": now_iso(time.time() + 1800),
                    }
                },
                201,
            )

        @app.get("/connect/ui")
        def connect_page() -> Any:
            token = request.args.get("session_token", "")
            if token not in server.sessions:
                return Response("<h1>Session expired</h1>", status=404, mimetype="text/html")
            key = server.sessions[token]["allowed_integrations"][0]
            page = (
                f"<title>Connect {key}</title><h1>Connect {key}</h1>"
                f"<form method=post><button id=allow name=decision value=allow>Allow</button>"
                f"<button id=deny name=decision value=deny>Deny</button></form>"
            )
            return Response(page, mimetype="text/html")

        @app.post("/connect/ui")
        def connect_submit() -> Any:
            session = server.sessions.pop(request.args.get("session_token", ""), None)
            if session is None:
                return Response("<h1>Session expired</h1>", status=404, mimetype="text/html")
            if request.form.get("decision") != "allow":
                return Response("<title>Denied</title><h1>Denied</h1>", mimetype="text/html")
            server.create_connection(session["allowed_integrations"][0], session["tags"])
            return Response(
                "<title>Connected</title><h1>Connected - you can close this tab</h1>", mimetype="text/html"
            )

        @app.get("/connections")
        def list_connections() -> Any:
            wanted = {k[5:-1].lower(): v for k, v in request.args.items() if k.startswith("tags[")}
            found = [
                c.summary()
                for c in server.connections.values()
                if all(c.tags.get(k) == v for k, v in wanted.items())
            ]
            return ok({"connections": found})

        def lookup(connection_id: str) -> Connection | None:
            return server.connections.get((connection_id, request.args.get("provider_config_key", "")))

        @app.get("/connections/<connectionId>")
        def get_connection(connectionId: str) -> Any:  # noqa: N803 - the spec's name
            connection_id = connectionId
            conn = lookup(connection_id)
            if conn is None:
                return error(
                    400, "unknown_connection", "No connection matching the params"
                )  # known difference
            if request.args.get("force_refresh") == "true" or _expired(conn):
                if server.fail_refresh:
                    conn.errors = [{"type": "auth", "log_id": secrets.token_hex(10)}]
                    return error(424, "refresh_token_external_error", "The external API returned an error")
                with server._lock:
                    server.refreshes += 1
                    conn.credentials = {
                        **server.mint(),
                        "refresh_token": conn.credentials.get("refresh_token", ""),
                    }
            return ok(conn.full())

        @app.delete("/connections/<connectionId>")
        def delete_connection(connectionId: str) -> Any:  # noqa: N803 - the spec's name
            connection_id = connectionId
            conn = lookup(connection_id)
            if conn is None:
                return error(404, "not_found", "Connection not found")
            del server.connections[(conn.connection_id, conn.provider_config_key)]
            return ok({"success": True})

        @app.post("/connections")
        def import_connection() -> Any:
            body = request.get_json()
            key = body["provider_config_key"]
            if key not in server.integrations:
                return error(400, "unknown_provider_config", f"integration {key} does not exist")
            conn = server.create_connection(
                key, body.get("tags") or {}, body.get("connection_id"), dict(body["credentials"])
            )
            conn.connection_config = dict(body.get("connection_config") or {})
            return ok(conn.full(), 201)  # known difference: 201

        @app.route("/proxy/<path:anyPath>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        def proxy(anyPath: str) -> Any:  # noqa: N803 - the spec's name
            path = anyPath
            import httpx

            conn = server.connections.get(
                (request.headers.get("Connection-Id", ""), request.headers.get("Provider-Config-Key", ""))
            )
            if conn is None:
                return error(400, "unknown_connection")
            base = request.headers.get("Base-Url-Override") or server.upstream
            if base is None:
                return error(500, "no_upstream")
            server.proxied.append(
                {"method": request.method, "path": path, "base": base, "headers": dict(request.headers)}
            )
            # Like the real proxy: only Nango-Proxy-* headers (prefix removed) and Content-Type go on.
            headers = {
                k[len("nango-proxy-") :]: v
                for k, v in request.headers.items()
                if k.lower().startswith("nango-proxy-")
            }
            if request.headers.get("Content-Type"):
                headers["Content-Type"] = request.headers["Content-Type"]
            headers["Authorization"] = f"Bearer {conn.credentials['access_token']}"
            upstream = httpx.request(
                request.method,
                f"{base.rstrip('/')}/{path}",
                params=list(request.args.items(multi=True)),
                headers=headers,
                content=request.get_data(),
            )
            return Response(
                upstream.content,
                status=upstream.status_code,
                content_type=upstream.headers.get("content-type"),
            )

        return app


def _expired(conn: Connection) -> bool:
    exp = conn.credentials.get("expires_at")
    if not exp:
        return False
    return datetime.fromisoformat(exp.replace("Z", "+00:00")).timestamp() < time.time()
