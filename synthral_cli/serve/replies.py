"""Requests in, JSON out: the error taxonomy of the command line as HTTP statuses, the error body
``{"success": false, "error": {"code", "message", "hint"}}``, and reading a JSON body within the
size limit (malformed JSON is a 400 that says so, never a 500).

    UsageError 400 (unknown connector/action: 404) · AuthError 403 · ProviderError 502
    NetworkError 504 · StoreError 503 · a missing/wrong API key 401 · a missing permission 403
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..basics import redact
from ..basics.errors import AuthError, NetworkError, ProviderError, StoreError, SynthralError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


class Problem(Exception):
    """An HTTP error with the contract's body; raised by handlers and guards."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.headers = headers or {}


def not_found(message: str, hint: str | None = None) -> Problem:
    return Problem(404, "not_found", message, hint)


def classify(exc: SynthralError) -> tuple[int, str]:
    """``(HTTP status, error code)`` of a core error."""
    if isinstance(exc, ProviderError):
        return 502, "provider_error"
    if isinstance(exc, AuthError):
        return 403, "not_authorized"
    if isinstance(exc, NetworkError):
        return 504, "network_error"
    if isinstance(exc, StoreError):
        return 503, "store_error"
    return 400, "bad_request"


def error_body(code: str, message: str, hint: str | None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": code,
        "message": redact.redact(message),
        "hint": redact.redact(hint) if hint else None,
    }
    error.update({k: v for k, v in extra.items() if v is not None})
    return {"success": False, "error": error}


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from starlette.responses import Response

    return Response(dumps(data), status_code=status, media_type="application/json", headers=headers)


def problem_response(problem: Problem) -> Response:
    return json_response(error_body(problem.code, problem.message, problem.hint), problem.status, problem.headers)


def core_error_response(exc: SynthralError) -> Response:
    status, code = classify(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, ProviderError) or getattr(exc, "status", None) is not None:
        extra["provider_status"] = getattr(exc, "status", None)
    return json_response(error_body(code, exc.message, exc.hint, **extra), status)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing more than ``limit`` bytes (413) whether or not Content-Length says so."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Problem(400, "bad_request", "The Content-Length header is not a number.", None)
        if int(declared) > limit:
            raise Problem(
                413,
                "payload_too_large",
                f"The request body is larger than {limit} bytes.",
                "Send less data (synthral serve --max-body BYTES raises the limit).",
            )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Problem(
                413,
                "payload_too_large",
                f"The request body is larger than {limit} bytes.",
                "Send less data (synthral serve --max-body BYTES raises the limit).",
            )
    return bytes(body)


async def read_json(request: Request, limit: int, *, empty_ok: bool = True) -> dict[str, Any]:
    """A JSON object body; an empty body is ``{}`` when ``empty_ok``."""
    raw = await read_body(request, limit)
    if not raw.strip():
        if empty_ok:
            return {}
        raise Problem(400, "bad_request", "The request needs a JSON object body.", 'Send e.g. {"key": "value"}.')
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        raise Problem(
            400, "bad_request", "The request body is not UTF-8 text.", "Send JSON encoded as UTF-8."
        ) from None
    except ValueError as exc:
        raise Problem(
            400,
            "bad_request",
            f"The request body is not valid JSON: {exc}.",
            "Send a JSON object with Content-Type: application/json.",
        ) from None
    if not isinstance(value, dict):
        raise Problem(
            400,
            "bad_request",
            f"The request body must be a JSON object, not {type(value).__name__}.",
            'Send e.g. {"key": "value"}.',
        )
    return value


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """One member of a JSON body, type-checked (``bool`` is not an ``int`` here)."""
    value = body.get(name, default)
    if value is None:
        return default
    bad_bool = isinstance(value, bool) and kind in (int, float)
    if not isinstance(value, kind) or bad_bool:
        names = {str: "a string", list: "an array", dict: "an object", bool: "true or false", int: "an integer"}
        want = names.get(kind, "of another type") if isinstance(kind, type) else "of another type"
        raise Problem(400, "bad_request", f"{name!r} must be {want}.", None)
    return value


def strings(body: dict[str, Any], name: str) -> list[str] | None:
    value = field(body, name, list)
    if value is not None and not all(isinstance(v, str) for v in value):
        raise Problem(400, "bad_request", f"{name!r} must be an array of strings.", None)
    return list(value) if value is not None else None
