"""The JSON shapes of the REST API that are built from the catalogue: a connector, its actions,
and the JSON Schema of an action's parameters (used by both the responses and ``/openapi.json``);
and turning a request body into action parameters (files arrive inline, base64-encoded)."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from .replies import Problem

if TYPE_CHECKING:
    from ..catalogue.manifest import Action, Manifest

_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "object": "object"}
FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A file, sent inline.",
    "properties": {
        "filename": {"type": "string", "minLength": 1},
        "content_base64": {"type": "string", "contentEncoding": "base64"},
        "content_type": {"type": "string"},
    },
    "required": ["filename", "content_base64"],
    "additionalProperties": False,
}


def parameter_schema(raw: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one manifest parameter."""
    kind = raw["type"]
    schema: dict[str, Any]
    if kind == "file":
        schema = dict(FILE_SCHEMA)
    elif kind == "array":
        items = dict(raw.get("items") or {})
        if raw.get("enum"):
            items["enum"] = list(raw["enum"])
        schema = {"type": "array", "items": items}
    else:
        schema = {"type": _TYPES.get(kind, "string")}
        if raw.get("enum"):
            schema["enum"] = list(raw["enum"])
    if raw.get("description"):
        schema["description"] = str(raw["description"])
    if raw.get("default") is not None:
        schema["default"] = raw["default"]
    return schema


def action_schema(action: Action) -> dict[str, Any]:
    """The JSON Schema of the body of ``POST /connectors/{slug}/{action}``."""
    raws = action.raw.get("parameters", [])
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {p["name"]: parameter_schema(p) for p in raws},
        "additionalProperties": False,
    }
    required = [p["name"] for p in raws if p.get("required") and p.get("default") is None]
    if required:
        schema["required"] = required
    return schema


def action_view(action: Action) -> dict[str, Any]:
    """One entry of ``GET /connectors/{slug}/actions``."""
    return {
        "name": action.name,
        "description": action.description,
        "method": action.method,
        "endpoint": action.path,
        "parameters": {
            p.name: {
                **parameter_schema(raw),
                "in": p.location,
                "required": p.required,
            }
            for p, raw in zip(action.parameters, action.raw.get("parameters", []), strict=True)
        },
        "scopes": action.scopes,
    }


def connector_view(manifest: Manifest) -> dict[str, Any]:
    """``GET /connectors/{slug}``: ``{id, slug, name, status, version, manifest}``."""
    full = manifest.to_dict()
    full.pop("source", None)  # a path on the server's disk
    return {
        "id": manifest.slug,
        "slug": manifest.slug,
        "name": manifest.name,
        "status": manifest.status,
        "version": str(manifest.raw.get("version", "")),
        "manifest": full,
    }


def check_body(validator: Any, body: dict[str, Any]) -> None:
    """The body against the action's documented schema (``/openapi.json``): the server accepts
    exactly what it describes, e.g. an array's item type, which the manifest only documents."""
    error = next(iter(sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "the body"
        raise Problem(
            400,
            "bad_request",
            f"Parameter {where}: {error.message}"[:500],
            "See the action's parameters: GET /api/v1/connectors/{slug}/actions",
        )


def action_params(action: Action, body: dict[str, Any], validator: Any = None) -> dict[str, Any]:
    """The body as parameters, checked against the action's schema; ``file`` parameters become
    inline files (never a path)."""
    from ..wire.encoders import InlineFile

    if validator is not None:
        check_body(validator, body)
    out = dict(body)
    for p in action.parameters:
        if p.type != "file" or out.get(p.name) is None:
            continue
        value = out[p.name]
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("filename"), str)
            or not value["filename"]
            or not isinstance(value.get("content_base64"), str)
        ):
            raise Problem(
                400,
                "bad_request",
                f"Parameter {p.name!r} is a file: send an object with filename and content_base64.",
                '{"filename": "report.pdf", "content_base64": "JVBERi0..."}',
            )
        try:
            data = base64.b64decode(value["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise Problem(
                400, "bad_request", f"Parameter {p.name!r}: content_base64 is not valid base64.", None
            ) from None
        ctype = value.get("content_type")
        out[p.name] = InlineFile(
            value["filename"].replace("/", "_").replace("\\", "_"), data, ctype if isinstance(ctype, str) else None
        )
    return out
