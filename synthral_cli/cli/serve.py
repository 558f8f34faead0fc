"""``synthral serve`` (the REST API, ``serve/``) and ``synthral serve keys create|list|revoke``.

Thin: the server and the key file live in ``synthral_cli/serve/``, imported only when used, so
no other command loads Starlette or uvicorn.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import JSON_OPTION, runtime

app = typer.Typer(help="The REST API of the seed (/api/v1), /openapi.json, a catalogue page at /.")
keys_app = typer.Typer(help="API keys of synthral serve: create (shown once), list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless --allow-remote)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port (0 picks a free one)."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow a non-loopback --host (needs TLS)."),
    tls_cert: Path = typer.Option(None, "--tls-cert", help="PEM certificate for HTTPS."),
    tls_key: Path = typer.Option(None, "--tls-key", help="PEM private key for HTTPS."),
    insecure_http: bool = typer.Option(
        False, "--insecure-http", help="With --allow-remote: plain HTTP (only behind a TLS proxy)."
    ),
    cors_origin: list[str] = typer.Option(None, "--cors-origin", help="A web origin allowed to call the API (repeat)."),
    max_body: int = typer.Option(1024 * 1024, "--max-body", help="Largest request body in bytes."),
    public_url: str = typer.Option(
        None, "--public-url", help="The URL browsers use to reach this server (OAuth callbacks), e.g. behind a proxy."
    ),
    json_logs: bool = typer.Option(False, "--json", help="Log JSON lines on stderr."),
) -> None:
    """Serve the connector REST API, its OpenAPI description and a catalogue page until Ctrl-C.

    Every API route except /api/v1/health and the OAuth callback needs an API key
    (synthral serve keys create). The catalogue page opens with the one-time login link printed
    at start.

    Example: synthral serve --port 8000
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..serve.options import ServeOptions
    from ..serve.server import run

    options = ServeOptions(
        host=host,
        port=port,
        allow_remote=allow_remote,
        tls_cert=tls_cert,
        tls_key=tls_key,
        insecure_http=insecure_http,
        cors_origins=list(cors_origin or []),
        max_body=max_body,
        json_logs=json_logs,
        public_url=public_url,
    )
    run(runtime(ctx).sy, options)


@keys_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="What the key is for, e.g. ci-deploy."),
    permission: list[str] = typer.Option(
        ...,
        "--permission",
        "-p",
        help="connectors:read, connections:read, connections:write, actions:execute, workflows:execute, or all.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create an API key; it is printed once (stdout) and only its hash is kept.

    Example: synthral serve keys create --name ci --permission connectors:read --permission actions:execute
    """
    from ..serve import keys
    from . import ui

    record, key = keys.create(runtime(ctx).sy.paths.config_dir, name, permission)
    if as_json:
        ui.print_json({**record.public(), "key": key})
    else:
        ui.echo(key)
    ui.err(
        f"Created the API key {record.name!r} (id {record.id}): {', '.join(record.permissions)}. "
        "It is shown only now; keep it somewhere safe."
    )


@keys_app.command("list")
def list_keys(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List the API keys (id, name, permissions, creation time; never the key).

    Example: synthral serve keys list --json
    """
    from ..serve import keys
    from . import ui

    found = [k.public() for k in keys.list_keys(runtime(ctx).sy.paths.config_dir)]
    if as_json:
        ui.print_json({"keys": found, "total_count": len(found)})
        return
    ui.table(
        ["id", "name", "permissions", "created"],
        [(k["id"], k["name"], " ".join(k["permissions"]), k["created_at"]) for k in found],
        title=f"{len(found)} API keys",
    )


@keys_app.command("revoke")
def revoke(ctx: typer.Context, key: str = typer.Argument(..., help="The key's id or name.")) -> None:
    """Revoke an API key at once (a running server stops accepting it).

    Example: synthral serve keys revoke ci
    """
    from ..serve import keys
    from . import ui

    record = keys.revoke(runtime(ctx).sy.paths.config_dir, key)
    ui.err(f"Revoked the API key {record.name!r} (id {record.id}).")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="serve")
