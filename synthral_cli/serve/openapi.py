"""``/openapi.json``: an OpenAPI 3.1 description of every route, generated from the catalogue, so
that each connector action is also a typed operation (``POST /api/v1/connectors/{slug}/{action}``
with its parameters as the JSON body schema). Other languages get their SDK from it.
``?connector=SLUG`` (repeatable) narrows the per-action operations to those connectors."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..basics.version import __version__
from .keys import PERMISSIONS
from .shapes import action_schema

if TYPE_CHECKING:
    from ..catalogue.loading import Catalogue

RESERVED = {"authorize", "callback", "refresh", "actions"}
NULLABLE_STR = {"type": ["string", "null"]}
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


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None, extra: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    out["required"] = list(props) if required is None else required
    if not extra:
        out["additionalProperties"] = False
    return out


def _schemas() -> dict[str, Any]:
    s = {"type": "string"}
    b = {"type": "boolean"}
    any_json: dict[str, Any] = {}
    conn_row = _obj(
        {
            "connector_slug": s,
            "connection": s,
            "method": NULLABLE_STR,
            "scopes": {"type": "array", "items": s},
            "expires_at": NULLABLE_STR,
            "health": s,
            "last_tested_at": NULLABLE_STR,
            "source": s,
            "needs_reauth": b,
        }
    )
    step = _obj(
        {
            "name": s,
            "type": s,
            "status": {"enum": ["running", "succeeded", "failed"]},
            "started_at": NULLABLE_STR,
            "finished_at": NULLABLE_STR,
            "duration_ms": {"type": ["number", "null"]},
            "result": any_json,
            "error": {"oneOf": [{"type": "null"}, _ref("ErrorDetail")]},
        }
    )
    return {
        "ErrorDetail": _obj(
            {"code": s, "message": s, "hint": NULLABLE_STR, "provider_status": {"type": ["integer", "null"]}},
            ["code", "message", "hint"],
        ),
        "Error": _obj({"success": {"const": False}, "error": _ref("ErrorDetail")}),
        "Health": _obj({"status": {"const": "ok"}, "version": s, "connectors": {"type": "integer"}}),
        "ConnectorSummary": _obj(
            {
                "id": s,
                "slug": s,
                "name": s,
                "status": s,
                "category": s,
                "description": s,
                "latest_version": s,
                "nango_enabled": b,
                "nango_provider_key": NULLABLE_STR,
                "auth_type": s,
            }
        ),
        "ConnectorList": _obj(
            {"connectors": {"type": "array", "items": _ref("ConnectorSummary")}, "total_count": {"type": "integer"}}
        ),
        "Connector": _obj({"id": s, "slug": s, "name": s, "status": s, "version": s, "manifest": {"type": "object"}}),
        "Action": _obj(
            {
                "name": s,
                "description": s,
                "method": s,
                "endpoint": s,
                "parameters": {"type": "object", "additionalProperties": {"type": "object"}},
                "scopes": {"type": "array", "items": s},
            }
        ),
        "ActionList": _obj(
            {"connector_slug": s, "actions": {"type": "object", "additionalProperties": _ref("Action")}}
        ),
        "AuthorizeRequest": _obj(
            {
                "redirect_uri": {"type": "string", "format": "uri"},
                "scopes": {"type": "array", "items": s},
                "connection": s,
                "config": {"type": "object"},
                "method": {"enum": ["auto", "direct", "nango"]},
            },
            [],
        ),
        "AuthorizeResponse": _obj(
            {"authorization_url": NULLABLE_STR, "state": NULLABLE_STR, "oauth_method": {"enum": ["direct", "nango"]}},
            ["authorization_url", "state", "oauth_method"],
        ),
        "CallbackResponse": _obj(
            {
                "success": b,
                "connector_slug": s,
                "connection": s,
                "oauth_method": s,
                "scopes": {"type": "array", "items": s},
                "expires_at": NULLABLE_STR,
            }
        ),
        "RefreshRequest": _obj({"connection": s}, []),
        "RefreshResponse": _obj(
            {
                "success": b,
                "connector_slug": s,
                "connection": s,
                "expires_in": {"type": ["integer", "null"]},
                "oauth_method": s,
            }
        ),
        "InvokeResponse": _obj({"success": b, "status": {"type": ["integer", "null"]}, "result": any_json}),
        "ConnectionList": _obj(
            {"connections": {"type": "array", "items": conn_row}, "total_count": {"type": "integer"}}
        ),
        "Credentials": _obj(
            {
                "connector_slug": s,
                "connection": s,
                "credentials": {"type": "object", "additionalProperties": s},
                "config": {"type": "object"},
            },
            ["connector_slug"],
        ),
        "ConnectionCreated": _obj({"success": b, "connector_slug": s, "connection": s, "oauth_method": s}),
        "ConnectionDeleted": _obj(
            {
                "success": b,
                "connector_slug": s,
                "connection": s,
                "nango_deleted": {"type": ["boolean", "null"]},
                "revoked": {"type": ["boolean", "null"]},
            }
        ),
        "WorkflowRun": _obj(
            {
                "flow": _obj({"steps": {"type": "array", "items": {"type": "object"}, "minItems": 1}}),
                "inputs": {"type": "object"},
                "wait": b,
            },
            ["flow"],
        ),
        "ExecutionStarted": _obj({"execution_id": s, "status": s}),
        "Step": step,
        "Execution": _obj(
            {
                "execution_id": s,
                "status": {"enum": ["running", "succeeded", "failed"]},
                "started_at": NULLABLE_STR,
                "finished_at": NULLABLE_STR,
                "duration_ms": {"type": ["number", "null"]},
                "steps": {"type": "array", "items": _ref("Step")},
                "error": {"oneOf": [{"type": "null"}, _ref("ErrorDetail")]},
            }
        ),
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
    op["responses"] = {ok_status: ok, **{c: _json(_ref("Error"), ERROR_STATUSES[c]) for c in sorted(set(errors))}}
    return op


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": description}


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def build(catalogue: Catalogue, only: set[str] | None = None) -> dict[str, Any]:
    slug, conn = (
        _path("slug", "A connector slug, e.g. slack."),
        _query("connection", "Which account (default: default)."),
    )
    html = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
    provider = ("400", "401", "403", "404", "502", "503", "504")
    paths: dict[str, Any] = {
        "/api/v1/health": {
            "get": _op("health", "Liveness and version.", _json(_ref("Health"), "Up."), permission=None, errors=())
        },
        "/api/v1/connectors/list": {
            "get": _op(
                "listConnectors",
                "The catalogue, filtered.",
                _json(_ref("ConnectorList"), "Connectors."),
                permission="connectors:read",
                errors=("401", "403"),
                params=[
                    _query("category", "A category, or its first word (crm)."),
                    _query("status_filter", "alpha, beta, stable or deprecated."),
                    _query("search", "Text in the slug, name or description."),
                ],
            )
        },
        "/api/v1/connectors/{slug}": {
            "get": _op(
                "getConnector",
                "One connector and its manifest.",
                _json(_ref("Connector"), "The connector."),
                permission="connectors:read",
                errors=("401", "403", "404"),
                params=[slug],
            )
        },
        "/api/v1/connectors/{slug}/actions": {
            "get": _op(
                "listActions",
                "The actions of a connector with their parameters.",
                _json(_ref("ActionList"), "Actions by name."),
                permission="connectors:read",
                errors=("401", "403", "404"),
                params=[slug],
            )
        },
        "/api/v1/connectors/{slug}/authorize": {
            "post": _op(
                "authorize",
                "Start an OAuth authorization (PKCE and state are kept by the server).",
                _json(_ref("AuthorizeResponse"), "Send the person to authorization_url."),
                permission="connections:write",
                errors=provider,
                body=_ref("AuthorizeRequest"),
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
                        "application/json": {"schema": _ref("CallbackResponse")},
                        "text/html": {"schema": {"type": "string"}},
                    },
                },
                permission=None,
                errors=("400", "403", "404", "502", "503", "504"),
                params=[
                    slug,
                    _query("state", "The state from authorize."),
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
                _json(_ref("RefreshResponse"), "Refreshed."),
                permission="connections:write",
                errors=provider,
                body=_ref("RefreshRequest"),
                params=[slug],
            )
        },
        "/api/v1/connectors/{slug}/{action}": {
            "post": _op(
                "invoke",
                "Run any action; the body holds its parameters.",
                _json(_ref("InvokeResponse"), "The result."),
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
                _json(_ref("ConnectionList"), "Connections."),
                permission="connections:read",
                errors=("401", "403", "503"),
            ),
            "post": _op(
                "createConnection",
                "Store API-key, basic, bearer or custom credentials.",
                _json(_ref("ConnectionCreated"), "Stored."),
                permission="connections:write",
                body=_ref("Credentials"),
                ok_status="201",
            ),
        },
        "/api/v1/connections/test": {
            "post": _op(
                "testConnection",
                "Run test_connection with credentials that are not stored.",
                _json(_ref("InvokeResponse"), "It works."),
                permission="connections:write",
                errors=provider,
                body=_ref("Credentials"),
            )
        },
        "/api/v1/connections/{slug}/{name}": {
            "delete": _op(
                "deleteConnection",
                "Remove a stored connection (?revoke=true also revokes it at the provider).",
                _json(_ref("ConnectionDeleted"), "Removed."),
                permission="connections:write",
                errors=provider,
                params=[slug, _path("name", "The connection name."), _query("revoke", "true to revoke the token.")],
            )
        },
        "/api/v1/workflows/run": {
            "post": _op(
                "runWorkflow",
                "Run a flow document; 202 with an execution id, or the execution with wait=true.",
                _json(_ref("Execution"), "The finished execution (wait=true)."),
                permission="workflows:execute",
                body=_ref("WorkflowRun"),
            )
        },
        "/api/v1/executions/{execution_id}": {
            "get": _op(
                "getExecution",
                "A workflow execution: each step's status, timing and redacted result.",
                _json(_ref("Execution"), "The execution."),
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
    paths["/api/v1/workflows/run"]["post"]["responses"]["202"] = _json(_ref("ExecutionStarted"), "Started.")
    slugs = [s for s in catalogue.slugs() if only is None or s in only]
    for s in slugs:
        manifest = catalogue.get(s)
        for action in manifest.actions:
            if action.name in RESERVED:
                continue
            op = _op(
                f"invoke__{_ident(s)}__{_ident(action.name)}",
                f"{manifest.name}: {action.description}"[:200],
                _json(_ref("InvokeResponse"), "The provider's answer."),
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
            "schemas": _schemas(),
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "synthral serve keys create"}
            },
        },
    }
