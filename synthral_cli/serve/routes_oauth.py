"""Authorizing over HTTP: ``POST /connectors/{slug}/authorize`` starts the flow (the PKCE
verifier and the state stay here, with an expiry), the provider sends the browser back to
``GET /connectors/{slug}/callback`` (the state is taken once, compared in constant time), and
``POST /connectors/{slug}/refresh`` refreshes now. The callback also answers a browser with a
small page, which leads back to the catalogue page when the flow started there."""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .replies import Problem, field, json_response, read_json, strings
from .routes_api import connection_name, hub_of
from .state import Pending

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from ..api import Synthral
    from ..catalogue.manifest import Manifest
    from .hub import Hub


def callback_url(request: Request, hub: Hub, slug: str) -> str:
    base = hub.options.public_url or str(request.base_url)
    return base.rstrip("/") + f"/api/v1/connectors/{quote(slug, safe='')}/callback"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


async def start(
    hub: Hub,
    request: Request,
    manifest: Manifest,
    *,
    connection: str,
    scopes: list[str] | None,
    config: dict[str, Any],
    method: str,
    redirect_uri: str | None,
    return_to: str | None = None,
) -> dict[str, Any]:
    """Start an authorization: ``{"authorization_url", "state", "oauth_method"}``; an app-only
    (client credentials) connector is connected at once (``authorization_url`` null)."""
    from ..auth import authorize as authorizing

    slug = manifest.slug
    if manifest.auth_type != "oauth2":
        raise Problem(
            400,
            "bad_request",
            f"{slug} uses {manifest.auth_type} credentials, not OAuth.",
            "Store them with POST /api/v1/connections.",
        )
    chosen = await hub.call(lambda sy: authorizing.choose_method(sy, manifest, method))
    if chosen == "device":
        raise Problem(
            400,
            "bad_request",
            f"{slug} signs in with the device flow, which needs a terminal.",
            f"Run: synthral authorize {slug} --method device",
        )
    if chosen == "client_credentials":
        conn = await hub.call(
            lambda sy: authorizing.grant_client_credentials(
                sy, manifest, connection=connection, scopes=scopes, config=config
            )
        )
        return {
            "authorization_url": None,
            "state": None,
            "oauth_method": "direct",
            "success": True,
            "connector_slug": slug,
            "connection": conn.name,
        }
    if chosen == "nango":
        from ..auth.nango_web import begin_connect

        link, ticket = await hub.call(
            lambda sy: begin_connect(sy, manifest, connection=connection, scopes=scopes, config=config)
        )
        state = ticket["tags"]["synthral_request"]
        hub.pending.add(
            state, Pending(slug, connection, "nango", list(scopes or []), config, nango=ticket, return_to=return_to)
        )
        return {"authorization_url": link, "state": state, "oauth_method": "nango"}
    target = redirect_uri or callback_url(request, hub, slug)
    parts = urlsplit(target)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise Problem(400, "bad_request", f"redirect_uri {target!r} is not an http(s) URL.", None)
    auth_request, wanted = await hub.call(
        lambda sy: authorizing.begin_web_authorization(sy, manifest, redirect_uri=target, scopes=scopes, config=config)
    )
    hub.pending.add(
        auth_request.state,
        Pending(slug, connection, "direct", wanted, config, request=auth_request, return_to=return_to),
    )
    return {"authorization_url": auth_request.url, "state": auth_request.state, "oauth_method": "direct"}


async def authorize(request: Request) -> Response:
    hub = hub_of(request)
    hub.authenticate(request, "connections:write")
    manifest = hub.manifest(request.path_params["slug"])
    body = await read_json(request, hub.options.max_body)
    method = field(body, "method", str, "auto")
    if method not in {"auto", "direct", "nango"}:
        raise Problem(400, "bad_request", f"Unknown method {method!r}.", "Use auto, direct or nango.")
    out = await start(
        hub,
        request,
        manifest,
        connection=connection_name(body.get("connection")),
        scopes=strings(body, "scopes"),
        config={k: v for k, v in field(body, "config", dict, {}).items() if isinstance(v, (str, int, float, bool))},
        method=method,
        redirect_uri=field(body, "redirect_uri", str),
    )
    return json_response(out)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept.split("text/html")[0]


def _page(title: str, text: str, back: str | None, status: int) -> Response:
    from starlette.responses import HTMLResponse

    # Back to the page on success (a same-site navigation, so its SameSite=Strict cookie is sent).
    refresh = (
        f"<meta http-equiv='refresh' content='1;url={html.escape(back, quote=True)}'>" if back and status == 200 else ""
    )
    link = f"<p><a id='back' href='{html.escape(back, quote=True)}'>Back to the catalogue</a></p>" if back else ""
    body = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>{refresh}"
        "<style>body{font:16px system-ui,sans-serif;margin:3em auto;max-width:40em;color:#222}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p id='message'>{html.escape(text)}</p>{link}</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def callback(request: Request) -> Response:
    """No API key: the state (taken once) is what authenticates the redirect."""
    hub = hub_of(request)
    slug = request.path_params["slug"]
    as_html = _wants_html(request)
    q = request.query_params
    pending = None
    try:
        state = q.get("state") or ""
        if not state:
            raise Problem(400, "invalid_state", "The callback carries no state.", "Start again: POST .../authorize")
        peeked = hub.pending.peek(state)
        if peeked is not None and peeked.method == "nango" and peeked.slug == slug and not q.get("error"):
            pending = peeked  # Nango: taken only once the connection exists
        else:
            pending = hub.pending.take(state)
        if pending is None or pending.slug != slug:
            raise Problem(
                400,
                "invalid_state",
                "Unknown, expired or already used state.",
                f"Start the authorization again: POST /api/v1/connectors/{slug}/authorize",
            )
        manifest = hub.manifest(slug)
        if q.get("error"):
            desc = q.get("error_description") or "no description"
            raise Problem(
                403,
                "authorization_denied",
                f"{manifest.name} refused the authorization: {q['error']} ({desc}).",
                "Start again and approve the access.",
            )
        conn = await _complete(hub, manifest, pending, state, q.get("code") or "")
    except Problem as problem:
        if not as_html:
            raise
        back = _back(pending, slug, problem.code)
        return _page(
            "Not connected", problem.message + (f" {problem.hint}" if problem.hint else ""), back, problem.status
        )
    except Exception as exc:
        if not as_html:
            raise
        from ..basics.errors import SynthralError
        from .replies import classify

        if not isinstance(exc, SynthralError):
            raise
        status, code = classify(exc)
        return _page("Not connected", exc.message, _back(pending, slug, code), status)
    out = {
        "success": True,
        "connector_slug": slug,
        "connection": conn.name,
        "oauth_method": pending.method,
        "scopes": list(conn.scopes),
        "expires_at": _iso(conn.expires_at),
    }
    if as_html:
        return _page(
            f"Connected {manifest.name}",
            f"{slug}/{conn.name} is connected. You can close this page.",
            _back(pending, slug, None),
            200,
        )
    return json_response(out)


def _back(pending: Pending | None, slug: str, error: str | None) -> str | None:
    if pending is None or not pending.return_to:
        return None
    key = "failed" if error else "connected"
    return f"{pending.return_to}?{key}={quote(slug)}" + (f"&error={quote(error)}" if error else "")


async def _complete(hub: Hub, manifest: Manifest, pending: Pending, state: str, code: str) -> Any:
    from ..auth import authorize as authorizing

    if pending.method == "nango":
        from ..auth.nango_web import complete_connect

        conn = await hub.call(
            lambda sy: complete_connect(
                sy, manifest, pending.nango, connection=pending.connection, scopes=pending.scopes, config=pending.config
            )
        )
        if conn is None:
            raise Problem(
                409,
                "pending",
                "Nango has no connection for this authorization yet.",
                "Finish connecting in the Nango window, then call the callback again.",
            )
        hub.pending.take(state)
        return conn
    if not code:
        raise Problem(
            400,
            "bad_request",
            "The callback carries neither a code nor an error.",
            f"Start the authorization again: POST /api/v1/connectors/{manifest.slug}/authorize",
        )

    def finish(sy: Synthral) -> Any:
        return authorizing.complete_web_authorization(
            sy,
            manifest,
            pending.request,
            code,
            connection=pending.connection,
            scopes=pending.scopes,
            config=pending.config,
        )

    return await hub.call(finish)


async def refresh(request: Request) -> Response:
    from ..auth.credentials import refresh_now

    hub = hub_of(request)
    hub.authenticate(request, "connections:write")
    manifest = hub.manifest(request.path_params["slug"])
    body = await read_json(request, hub.options.max_body)
    name = connection_name(body.get("connection", request.query_params.get("connection")))
    method, expires_at = await hub.call(lambda sy: refresh_now(sy, manifest, name))
    expires_in = None if expires_at is None else max(0, int(expires_at - time.time()))
    return json_response(
        {
            "success": True,
            "connector_slug": manifest.slug,
            "connection": name,
            "expires_in": expires_in,
            "oauth_method": "nango" if method == "nango" else "direct",
        }
    )
