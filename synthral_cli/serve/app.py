"""The app factory: ``create_app(sy, options)`` -> a Starlette app with the REST API under
``/api/v1``, ``/openapi.json``, the catalogue page at ``/`` and MCP at ``/mcp``. Handlers are thin
(``routes_*.py``, ``page.py``); errors become the contract's JSON body here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ..basics.errors import SynthralError
from .hub import Hub
from .options import ServeOptions
from .replies import Problem, core_error_response, error_body, json_response, problem_response

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from ..api import Synthral


def _http_error(request: Request, exc: Exception) -> Response:
    from starlette.responses import PlainTextResponse

    status = int(getattr(exc, "status_code", 500))
    if not request.url.path.startswith("/api/"):
        return PlainTextResponse(
            str(getattr(exc, "detail", "")), status_code=status, headers=getattr(exc, "headers", None)
        )
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "bad_request")
    message = {404: "No such route.", 405: f"{request.method} is not allowed here."}.get(status, str(exc))
    headers = getattr(exc, "headers", None)  # 405 carries Allow
    return json_response(error_body(code, message, "See /openapi.json for the routes."), status, headers)


def _crash(request: Request, exc: Exception) -> Response:
    from ..basics import redact

    logging.getLogger("synthral.serve").error(
        "", exc_info=exc, extra={"fields": {"event": "error", "path": request.url.path}}
    )
    return json_response(
        error_body(
            "internal_error",
            f"unexpected error: {type(exc).__name__}: {redact.redact(str(exc))}",
            "This is a bug in synthral; the server log has the details.",
        ),
        500,
    )


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)  # noqa: S101 - registered for Problem
    return problem_response(exc)


async def _core(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SynthralError)  # noqa: S101 - registered for SynthralError
    return core_error_response(exc)


async def _openapi(request: Request) -> Response:
    from .openapi import build

    hub: Hub = request.app.state.hub
    only = set(request.query_params.getlist("connector")) or None
    if only is None:
        if hub.openapi_cache is None:
            hub.openapi_cache = build(hub.catalogue)
        return json_response(hub.openapi_cache)
    return json_response(build(hub.catalogue, only))


class McpGate:
    """ASGI guard in front of the MCP endpoint: the same API keys as ``/api/v1``; a key needs
    ``actions:execute`` (every MCP tool is a connector action). 401/403 use the API's JSON body."""

    PERMISSION = "actions:execute"

    def __init__(self, app: Any, hub: Hub) -> None:
        self.app = app
        self.hub = hub

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            from starlette.requests import Request

            try:
                self.hub.authenticate(Request(scope), self.PERMISSION)
            except Problem as problem:
                await problem_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _mcp_endpoint(sy: Synthral, options: ServeOptions) -> Any:
    """``synthral mcp``'s Streamable HTTP app on a sibling ``Synthral`` (its own store connection),
    every connector's actions as tools. On a loopback bind without ``--public-url`` the SDK also
    checks ``Host``/``Origin``; otherwise the API key alone guards it."""
    from ..mcp.http import McpHttpApp
    from ..mcp.server import ServerOptions

    host = options.host if not options.public_url else "public"
    return McpHttpApp(sy.sibling(), ServerOptions(timeout=options.timeout), host=host)


def create_app(sy: Synthral, options: ServeOptions | None = None, *, login_token: str | None = None) -> Starlette:
    """The ASGI app over ``sy``. ``login_token`` opens the catalogue page once (``/login?token=``)."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.routing import Mount, Route

    from . import page, routes_api, routes_flows, routes_oauth
    from .middleware import Frame

    options = options or ServeOptions()
    hub = Hub(sy, options, login_token)
    api = [
        Route("/health", routes_api.health, methods=["GET"]),
        Route("/connectors/list", routes_api.list_connectors, methods=["GET"]),
        Route("/connectors/{slug}", routes_api.get_connector, methods=["GET"]),
        Route("/connectors/{slug}/actions", routes_api.list_actions, methods=["GET"]),
        Route("/connectors/{slug}/authorize", routes_oauth.authorize, methods=["POST"]),
        Route("/connectors/{slug}/callback", routes_oauth.callback, methods=["GET"]),
        Route("/connectors/{slug}/refresh", routes_oauth.refresh, methods=["POST"]),
        Route("/connectors/{slug}/{action}", routes_api.invoke, methods=["POST"]),
        Route("/connections", routes_api.connections, methods=["GET", "POST"]),
        Route("/connections/test", routes_api.test_connection, methods=["POST"]),
        Route("/connections/{slug}/{name}", routes_api.delete_connection, methods=["DELETE"]),
        Route("/workflows/run", routes_flows.run, methods=["POST"]),
        Route("/executions/{execution_id}", routes_flows.get_execution, methods=["GET"]),
    ]
    routes: list[Any] = [
        Mount("/api/v1", routes=api),
        Route("/openapi.json", _openapi, methods=["GET"]),
        Route("/", page.catalogue_page, methods=["GET"]),
        Route("/login", page.login, methods=["GET"]),
        Route("/ui/connect/{slug}", page.connect, methods=["POST"]),
        Route("/ui/logout", page.logout, methods=["POST"]),
    ]
    mcp = _mcp_endpoint(sy, options)
    routes.append(Route("/mcp", McpGate(mcp.asgi, hub)))
    middleware = [Middleware(Frame, hub=hub)]
    if options.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=options.cors_origins,
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with mcp.lifespan():
                yield
        finally:
            hub.close()

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            Problem: _problem,
            SynthralError: _core,
            HTTPException: _http_error,
            Exception: _crash,
        },
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app
