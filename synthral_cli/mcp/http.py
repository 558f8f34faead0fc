"""The Streamable HTTP transport: an ASGI app factory (reused by ``synthral serve`` to mount MCP
at ``/mcp``), a bearer-token check, and a uvicorn runner bound to loopback by default.

    app = McpHttpApp(sy, options, host="127.0.0.1", token=None)
    app.route("/mcp")         # a Starlette Route for the endpoint (``app.asgi`` is the bare ASGI app)
    app.lifespan()            # async context manager: enter it in the host app's lifespan
    app.starlette("/mcp")     # a standalone Starlette app doing both

On a loopback host the SDK's DNS-rebinding protection checks ``Host`` and ``Origin``. Any other
bind is refused unless remote access is allowed *and* a bearer token is set; a token, when set,
is required on every request (compared in constant time), whatever the host.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from ..basics.errors import UsageError
from ..basics.insecure import is_loopback
from .server import ServerOptions, SynthralTools, build_server

if TYPE_CHECKING:
    from ..api import Synthral

MIN_TOKEN = 16


def check_bind(host: str, allow_remote: bool, token: str | None) -> None:
    """Loopback, or ``--allow-remote`` with a bearer token of at least 16 characters."""
    if token is not None and len(token) < MIN_TOKEN:
        raise UsageError(
            f"The bearer token is too short (fewer than {MIN_TOKEN} characters).",
            "Use a long random value: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    if is_loopback(host):
        return
    if not allow_remote:
        raise UsageError(
            f"--host {host} would let other machines use your connections.",
            "Keep the default 127.0.0.1, or add --allow-remote with a bearer token "
            "(SYNTHRAL_MCP_BEARER_TOKEN or --token-stdin).",
        )
    if token is None:
        raise UsageError(
            "--allow-remote needs a bearer token that clients must send.",
            "Set SYNTHRAL_MCP_BEARER_TOKEN or pipe one to --token-stdin (never on the command line).",
        )


class BearerAuth:
    """ASGI middleware: ``Authorization: Bearer <token>`` or 401."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = next((v for k, v in scope.get("headers", []) if k.lower() == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error": "unauthorized", "message": "Send Authorization: Bearer <token>."}'
                await send({
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                (b"content-length", str(len(body)).encode())],
                })
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class McpHttpApp:
    """The MCP endpoint for one ``Synthral`` as ASGI, plus the lifespan it needs."""

    def __init__(
        self,
        sy: Synthral,
        options: ServerOptions | None = None,
        *,
        host: str = "127.0.0.1",
        token: str | None = None,
        stateless: bool = False,
    ) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
        from mcp.server.transport_security import TransportSecuritySettings

        self.tools = SynthralTools(sy, options)
        self.server = build_server(self.tools)
        if is_loopback(host):
            security = TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"],
                allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
            )
        else:  # reachable by name or address from elsewhere: the bearer token guards it
            security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        self.manager = StreamableHTTPSessionManager(app=self.server, security_settings=security, stateless=stateless)
        endpoint: Any = StreamableHTTPASGIApp(self.manager)
        self.asgi = BearerAuth(endpoint, token) if token else endpoint

    def lifespan(self) -> Any:
        """An async context manager running the session manager (the endpoint answers only while
        it is entered, once) and closing the tools' HTTP client at the end."""
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def running() -> Any:
            try:
                async with self.manager.run():
                    yield
            finally:
                self.tools.close()

        return running()

    def route(self, path: str = "/mcp") -> Any:
        """A Starlette ``Route`` answering MCP at exactly ``path`` (no redirect to ``path/``)."""
        from starlette.routing import Route

        return Route(path, endpoint=self.asgi)

    def starlette(self, path: str = "/mcp") -> Any:
        """A standalone Starlette app: the endpoint at ``path`` and the lifespan."""
        from starlette.applications import Starlette

        return Starlette(routes=[self.route(path)], lifespan=lambda app: self.lifespan())


def serve_http(
    sy: Synthral,
    options: ServerOptions,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    allow_remote: bool = False,
    on_ready: Any = None,
) -> None:
    """Bind ``host:port`` (0: any free port), call ``on_ready(url)``, serve until interrupted."""
    import socket

    import uvicorn

    check_bind(host, allow_remote, token)
    app = McpHttpApp(sy, options, host=host, token=token).starlette("/mcp")
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
                         "Choose another --port (0 picks a free one).") from None
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if family == socket.AF_INET6 else host
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(f"http://{shown}:{bound}/mcp")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
