"""The catalogue page for people at ``/``: connectors grouped by category with a filter, a Nango
badge, each connector's actions, auth type and connection status, and a Connect button that starts
the OAuth flow and comes back here. Server-rendered, no script, no external asset.

A browser cannot send the API key, so ``synthral serve`` prints a one-time login link
(``/login?token=...``) that sets an HttpOnly, SameSite=Strict session cookie; the Connect form
carries the session's CSRF token and must come from this origin."""

from __future__ import annotations

import hmac
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from .replies import Problem, read_body
from .routes_api import hub_of

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from .state import Session

COOKIE = "synthral_session"
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self' http: https:; "
    "frame-ancestors 'none'; base-uri 'none'"
)
STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:14px 24px;display:flex;gap:16px;align-items:center}
header h1{font-size:18px;margin:0;flex:1}
main{padding:8px 24px 40px;max-width:1200px}
form.filter{display:flex;gap:8px;margin:16px 0}
input,select,button{font:inherit;padding:5px 9px;border:1px solid #b8c0ca;border-radius:5px;background:#fff}
button{cursor:pointer}button.connect{background:#2363d1;color:#fff;border-color:#2363d1}
h2{font-size:16px;margin:26px 0 8px;border-bottom:1px solid #d5dae0;padding-bottom:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
.card{background:#fff;border:1px solid #d5dae0;border-radius:8px;padding:12px 14px}
.card h3{margin:0 0 2px;font-size:15px}.slug{color:#66707c;font-family:monospace;font-size:13px}
.badge{display:inline-block;font-size:11px;padding:1px 7px;border-radius:9px;margin-left:4px;vertical-align:2px}
.nango{background:#efe4ff;color:#5b21b6}.auth{background:#e8eef9;color:#24487e}.st{background:#eef1f4;color:#444}
.ok{color:#17803d}.bad{color:#b42318}.none{color:#66707c}
.actions{font-size:12.5px;color:#44505c;margin:6px 0}
.flash{padding:10px 14px;border-radius:6px;margin:14px 0}.flash.ok{background:#e3f6e8}.flash.bad{background:#fde8e7}
"""


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    from starlette.responses import HTMLResponse

    return HTMLResponse(
        body,
        status_code=status,
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store", **(headers or {})},
    )


def _doc(title: str, inner: str) -> str:
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<meta name='viewport' content='width=device-width'><style>{STYLE}</style></head><body>{inner}</body></html>"
    )


def _signed_out(status: int = 401) -> Response:
    return _html(
        _doc(
            "synthral: sign in",
            "<header><h1>synthral</h1></header><main><p id='signin'>"
            "Open the login link that <code>synthral serve</code> printed when it started.</p></main>",
        ),
        status,
    )


def session_of(request: Request) -> tuple[str, Session] | None:
    sid = request.cookies.get(COOKIE)
    found = hub_of(request).sessions.get(sid)
    return (sid, found) if sid and found else None


async def login(request: Request) -> Response:
    from starlette.responses import RedirectResponse

    hub = hub_of(request)
    sid = hub.sessions.login(request.query_params.get("token", ""))
    if sid is None:
        return _signed_out()
    resp = RedirectResponse("/", status_code=303)
    resp.set_cookie(COOKIE, sid, httponly=True, samesite="strict", secure=hub.options.tls, path="/")
    return resp


def _flash(request: Request) -> str:
    q = request.query_params
    if q.get("connected"):
        return f"<div class='flash ok' id='flash'>Connected {escape(q['connected'])}.</div>"
    if q.get("failed"):
        why = escape(q.get("error") or "error")
        return f"<div class='flash bad' id='flash'>{escape(q['failed'])} was not connected ({why}).</div>"
    return ""


def _status(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<span class='none'>not connected</span>"
    parts = []
    for r in rows:
        good = r["health"] != "failed" and not r["needs_reauth"]
        label = "re-authorize" if r["needs_reauth"] else r["health"]
        parts.append(f"<span class='{'ok' if good else 'bad'}'>● {escape(r['connection'])} ({escape(label)})</span>")
    return " ".join(parts)


def _card(hub: Any, c: dict[str, Any], rows: list[dict[str, Any]], csrf: str) -> str:
    manifest = hub.catalogue.get(c["slug"])
    actions = ", ".join(escape(a.name) for a in manifest.actions)
    nango = "<span class='badge nango'>Nango</span>" if c["nango_enabled"] else ""
    button = ""
    if c["auth_type"] == "oauth2" and manifest.auth.get("authorization_url"):
        button = (
            f"<form method='post' action='/ui/connect/{quote(c['slug'])}'>"
            f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
            f"<button class='connect' id='connect-{escape(c['slug'])}'>Connect</button></form>"
        )
    return (
        f"<div class='card' data-slug='{escape(c['slug'])}'><h3>{escape(c['name'])}{nango}"
        f"<span class='badge auth'>{escape(c['auth_type'])}</span><span class='badge st'>{escape(c['status'])}</span>"
        f"</h3><div class='slug'>{escape(c['slug'])}</div><p>{escape(c['description'])}</p>"
        f"<div class='actions'>Actions: {actions}</div><div class='conn'>{_status(rows)}</div>{button}</div>"
    )


async def catalogue_page(request: Request) -> Response:
    hub = hub_of(request)
    found = session_of(request)
    if found is None:
        return _signed_out()
    _, session = found
    q = request.query_params
    category, text = q.get("category") or None, q.get("q") or None
    from ..basics.errors import UsageError

    try:
        connectors = hub.sy.connectors(category=category, search=text)
    except UsageError:  # a hand-edited ?category= that names none: the page lists nothing
        connectors = []
    rows, _ = await hub.call(lambda sy: sy.connections())
    by_slug: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_slug.setdefault(r["connector_slug"], []).append(r)
    categories = sorted({c["category"] for c in hub.sy.connectors()})
    options = "".join(f"<option{' selected' if c == category else ''}>{escape(c)}</option>" for c in categories)
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in connectors:
        groups.setdefault(c["category"], []).append(c)
    sections = "".join(
        f"<section><h2>{escape(cat)} ({len(items)})</h2><div class='grid'>"
        + "".join(_card(hub, c, by_slug.get(c["slug"], []), session.csrf) for c in items)
        + "</div></section>"
        for cat, items in sorted(groups.items())
    )
    inner = (
        f"<header><h1>synthral: {len(connectors)} connectors</h1>"
        f"<form method='post' action='/ui/logout'><input type='hidden' name='csrf' value='{escape(session.csrf)}'>"
        "<button>Sign out</button></form></header><main>"
        + _flash(request)
        + "<form class='filter' method='get' action='/'>"
        f"<input name='q' id='q' placeholder='Filter by name or description' value='{escape(text or '')}'>"
        f"<select name='category' id='category'><option value=''>All categories</option>{options}</select>"
        "<button type='submit'>Filter</button></form>" + (sections or "<p>No connector matches.</p>") + "</main>"
    )
    return _html(_doc("synthral connectors", inner))


async def _form(request: Request) -> tuple[str, Session]:
    """The posted form of a signed-in page: session, same origin and CSRF token checked."""
    hub = hub_of(request)
    found = session_of(request)
    if found is None:
        raise Problem(401, "unauthorized", "Sign in with the login link first.", None)
    origin = request.headers.get("origin")
    if origin and origin != str(request.base_url).rstrip("/"):
        raise Problem(403, "forbidden", "This form must be sent from the catalogue page.", None)
    raw = await read_body(request, hub.options.max_body)
    fields = parse_qs(raw.decode("utf-8", "replace"))
    token = (fields.get("csrf") or [""])[0]
    if not hmac.compare_digest(token.encode(), found[1].csrf.encode()):
        raise Problem(403, "forbidden", "The form's CSRF token is missing or wrong; reload the page.", None)
    return found


async def connect(request: Request) -> Response:
    from starlette.responses import RedirectResponse

    from ..basics.errors import SynthralError
    from .replies import classify
    from .routes_oauth import _page, start

    hub = hub_of(request)
    try:
        await _form(request)
    except Problem as problem:
        return _html(_doc("synthral", f"<main><p id='message'>{escape(problem.message)}</p></main>"), problem.status)
    slug = request.path_params["slug"]
    try:
        manifest = hub.manifest(slug)
        out = await start(
            hub,
            request,
            manifest,
            connection="default",
            scopes=None,
            config={},
            method="auto",
            redirect_uri=None,
            return_to="/",
        )
    except Problem as problem:
        return _page("Not connected", problem.message, "/", problem.status)
    except SynthralError as exc:
        status, _ = classify(exc)
        return _page("Not connected", exc.message + (f" {exc.hint}" if exc.hint else ""), "/", status)
    target = out["authorization_url"] or f"/?connected={quote(slug)}"
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    from starlette.responses import RedirectResponse

    try:
        sid, _ = await _form(request)
    except Problem:
        return _signed_out()
    hub_of(request).sessions.end(sid)
    resp = RedirectResponse("/", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp
