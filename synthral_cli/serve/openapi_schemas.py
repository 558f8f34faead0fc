"""The component schemas of ``/openapi.json``: the JSON shapes of the REST API's answers."""

from __future__ import annotations

from typing import Any

NULLABLE_STR = {"type": ["string", "null"]}
CONNECTION = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,127}$", "default": "default"}
SLUG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None, extra: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    out["required"] = list(props) if required is None else required
    if not extra:
        out["additionalProperties"] = False
    return out


def schemas() -> dict[str, Any]:
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
            "error": {"oneOf": [{"type": "null"}, ref("ErrorDetail")]},
        }
    )
    return {
        "ErrorDetail": _obj(
            {"code": s, "message": s, "hint": NULLABLE_STR, "provider_status": {"type": ["integer", "null"]}},
            ["code", "message", "hint"],
        ),
        "Error": _obj({"success": {"const": False}, "error": ref("ErrorDetail")}),
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
            {"connectors": {"type": "array", "items": ref("ConnectorSummary")}, "total_count": {"type": "integer"}}
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
        "ActionList": _obj({"connector_slug": s, "actions": {"type": "object", "additionalProperties": ref("Action")}}),
        "AuthorizeRequest": _obj(
            {
                "redirect_uri": {"type": "string", "format": "uri"},
                "scopes": {"type": "array", "items": s},
                "connection": CONNECTION,
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
        "RefreshRequest": _obj({"connection": CONNECTION}, []),
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
                "connector_slug": SLUG,
                "connection": CONNECTION,
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
                "steps": {"type": "array", "items": ref("Step")},
                "error": {"oneOf": [{"type": "null"}, ref("ErrorDetail")]},
            }
        ),
    }
