"""``/openapi.json``: an OpenAPI 3.1 description of every route, generated from the catalogue, so
that each connector action is also a typed operation (``POST /api/v1/connectors/{slug}/{action}``
with its parameters as the JSON body schema). Other languages get their SDK from it.
``?connector=SLUG`` (repeatable) narrows the per-action operations to those connectors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..basics.version import __version__
from .keys import PERMISSIONS
from .openapi_schemas import CONNECTION, _obj, ref, schemas
from .shapes import action_schema

if TYPE_CHECKING:
    from ..catalogue.loading import Catalogue

RESERVED = {"authorize", "callback", "refresh", "actions"}
ERROR_STATUSES = {
    "400": "Bad request: a malformed body or parameter (code bad_request).",
    "401": "Missing or wrong API key (code unauthorized).",
    "403": "The key lacks a permission (forbidden), or the connector is not authorized (not_authorized).",
    "404": "Unknown connector, action, connection or execution (not_found).",
    "413": "The body is larger than the server's limit (payload_too_large).",
    "502": "The provider answered with an error (provider_error, with provider_status).",
    "503": "The local store cannot be used (store_error).",
    "504": "The provider could not be reached (network_error).",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    op_id: str,
    summary: str,
    ok: dict[str, Any],
    *,
    permission: str | None,
    errors: tuple[str, ...] = ("400", "401", "403", "404", "503"),
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    tags: list[str] | None = None,
    ok_status: str = "200",
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "tags": tags or ["api"]}
    if permission:
        op["description"] = f"Needs an API key with the permission `{permission}`."
        op["security"] = [{"apiKey": []}]
    else:
        op["security"] = []
        errors = tuple(e for e in errors if e not in {"401", "403"})
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
        errors = (*errors, "413")
    op["responses"] = {ok_status: ok, **{c: _json(ref("Error"), ERROR_STATUSES[c]) for c in sorted(set(errors))}}
    return op


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


def _query(name: str, description: str, schema: dict[str, Any] | None = None, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema or {"type": "string"},
        "description": description,
    }


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def build(catalogue: Catalogue, only: set[str] | None = None) -> dict[str, Any]:
    slug, conn = (
        _path("slug", "A connector slug, e.g. slack."),
        _query("connection", "Which account (default: default).", CONNECTION),
    )
    html = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
    provider = ("400", "401", "403", "404", "502", "503", "504")
    paths: dict[str, Any] = {
        "/api/v1/health": {
            "get": _op("health", "Liveness and version.", _json(ref("Health"), "Up."), permission=None, errors=())
        },
        "/api/v1/connectors/list": {
            "get": _op(
                "listConnectors",
                "The catalogue, filtered.",
                _json(ref("ConnectorList"), "Connectors."),
                permission="connectors:read",
                errors=("400", "401", "403"),
                params=[
                    _query("category", "A category, or a word of one (crm); one that names none is a 400."),
                    _query("status_filter", "alpha, beta, stable or deprecated; anything else is a 400."),
                    _query("search", "Text in the slug, name or description."),
                ],
            )
        },
        "/api/v1/connectors/{slug}": {
            "get": _op(
                "getConnector",
                "One connector and its manifest.",
                _json(ref("Connector"), "The connector."),
                permission="connectors:read",
                errors=("401", "403", "404"),
                params=[slug],
            )
        },
        "/api/v1/connectors/{slug}/actions": {
            "get": _op(
                "listActions",
                "The actions of a connector with their parameters.",
                _json(ref("ActionList"), "Actions by name."),
                permission="connectors:read",
                errors=("401", "403", "404"),
                params=[slug],
            )
        },
        "/api/v1/connectors/{slug}/authorize": {
            "post": _op(
                "authorize",
                "Start an OAuth authorization (PKCE and state are kept by the server).",
                _json(ref("AuthorizeResponse"), "Send the person to authorization_url."),
                permission="connections:write",
                errors=provider,
                body=ref("AuthorizeRequest"),
                params=[slug],
            )
        },
        "/api/v1/connectors/{slug}/callback": {
            "get": _op(
                "callback",
                "Where the provider sends the browser back; the state is accepted once.",
                {
                    "description": "Connected.",
                    "content": {
                        "application/json": {"schema": ref("CallbackResponse")},
                        "text/html": {"schema": {"type": "string"}},
                    },
                },
                permission=None,
                errors=("400", "403", "404", "502", "503", "504"),
                params=[
                    slug,
                    _query("state", "The state from authorize.", required=True),
                    _query("code", "The authorization code."),
                    _query("error", "The provider's error."),
                    _query("error_description", "Its description."),
                ],
            )
        },
        "/api/v1/connectors/{slug}/refresh": {
            "post": _op(
                "refresh",
                "Refresh a connection's token now.",
                _json(ref("RefreshResponse"), "Refreshed."),
                permission="connections:write",
                errors=provider,
                body=ref("RefreshRequest"),
                params=[slug],
            )
        },
        "/api/v1/connectors/{slug}/{action}": {
            "post": _op(
                "invoke",
                "Run any action; the body holds its parameters.",
                _json(ref("InvokeResponse"), "The result."),
                permission="actions:execute",
                errors=provider,
                body={"type": "object"},
                params=[slug, _path("action", "An action name."), conn],
            )
        },
        "/api/v1/connections": {
            "get": _op(
                "listConnections",
                "Stored connections (metadata only, never a secret).",
                _json(ref("ConnectionList"), "Connections."),
                permission="connections:read",
                errors=("401", "403", "503"),
            ),
            "post": _op(
                "createConnection",
                "Store API-key, basic, bearer or custom credentials.",
                _json(ref("ConnectionCreated"), "Stored."),
                permission="connections:write",
                body=ref("Credentials"),
                ok_status="201",
            ),
        },
        "/api/v1/connections/test": {
            "post": _op(
                "testConnection",
                "Run test_connection with credentials that are not stored.",
                _json(ref("InvokeResponse"), "It works."),
                permission="connections:write",
                errors=provider,
                body=ref("Credentials"),
            )
        },
        "/api/v1/connections/{slug}/{name}": {
            "delete": _op(
                "deleteConnection",
                "Remove a stored connection (?revoke=true also revokes it at the provider).",
                _json(ref("ConnectionDeleted"), "Removed."),
                permission="connections:write",
                errors=provider,
                params=[
                    slug,
                    {**_path("name", "The connection name."), "schema": CONNECTION},
                    _query("revoke", "true to revoke the token.", {"type": "boolean"}),
                ],
            )
        },
        "/api/v1/workflows/run": {
            "post": _op(
                "runWorkflow",
                "Run a flow document; 202 with an execution id, or the execution with wait=true.",
                _json(ref("Execution"), "The finished execution (wait=true)."),
                permission="workflows:execute",
                body=ref("WorkflowRun"),
            )
        },
        "/api/v1/executions/{execution_id}": {
            "get": _op(
                "getExecution",
                "A workflow execution: each step's status, timing and redacted result.",
                _json(ref("Execution"), "The execution."),
                permission="workflows:execute",
                errors=("401", "403", "404"),
                params=[_path("execution_id", "From POST /workflows/run.")],
            )
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This description.",
                "security": [],
                "tags": ["meta"],
                "parameters": [_query("connector", "Only these connectors' actions.")],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
            }
        },
        "/": {
            "get": {
                "operationId": "cataloguePage",
                "summary": "The catalogue page (needs the session cookie).",
                "security": [],
                "tags": ["page"],
                "responses": {"200": html, "401": html},
            }
        },
        "/login": {
            "get": {
                "operationId": "login",
                "summary": "The one-time login link printed at start.",
                "security": [],
                "tags": ["page"],
                "parameters": [_query("token", "The login token.")],
                "responses": {"303": {"description": "Signed in: to the catalogue page."}, "401": html},
            }
        },
    }
    form = {"content": {"application/x-www-form-urlencoded": {"schema": _obj({"csrf": {"type": "string"}})}}}
    pages = {c: html for c in ("400", "401", "403", "404", "502", "503", "504")}
    paths["/ui/connect/{slug}"] = {
        "post": {
            "operationId": "pageConnect",
            "summary": "The page's Connect button: starts OAuth (session cookie + CSRF).",
            "security": [],
            "tags": ["page"],
            "parameters": [slug],
            "requestBody": form,
            "responses": {"303": {"description": "To the provider's sign-in."}, **pages},
        }
    }
    paths["/ui/logout"] = {
        "post": {
            "operationId": "pageLogout",
            "summary": "End the page's session (session cookie + CSRF).",
            "security": [],
            "tags": ["page"],
            "requestBody": form,
            "responses": {"303": {"description": "Signed out."}, "401": html},
        }
    }
    paths["/api/v1/workflows/run"]["post"]["responses"]["202"] = _json(ref("ExecutionStarted"), "Started.")
    slugs = [s for s in catalogue.slugs() if only is None or s in only]
    for s in slugs:
        manifest = catalogue.get(s)
        for action in manifest.actions:
            if action.name in RESERVED:
                continue
            op = _op(
                f"invoke__{_ident(s)}__{_ident(action.name)}",
                f"{manifest.name}: {action.description}"[:200],
                _json(ref("InvokeResponse"), "The provider's answer."),
                permission="actions:execute",
                errors=provider,
                body=action_schema(action),
                params=[conn],
                tags=[s],
            )
            op["requestBody"]["required"] = bool(action_schema(action).get("required"))
            paths[f"/api/v1/connectors/{s}/{action.name}"] = {"post": op}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "synthral",
            "version": __version__,
            "description": "The connector REST API of `synthral serve`. Permissions: " + ", ".join(PERMISSIONS),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "synthral serve keys create"}
            },
        },
    }
