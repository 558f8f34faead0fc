"""The handlers of ``/api/v1``: connectors, invoking an action, connections and health. Each
checks the key's permission, reads its input and calls the core; OAuth is in ``routes_oauth``,
workflows in ``routes_flows``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..basics.version import __version__
from .replies import Problem, field, json_response, not_found, read_json
from .shapes import action_params, action_view, connector_view

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from ..api import Synthral
    from .hub import Hub


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def connection_name(value: Any, where: str = "connection") -> str:
    from ..basics.errors import UsageError
    from ..store.model import check_name

    if value is None:
        return "default"
    if not isinstance(value, str):
        raise Problem(400, "bad_request", f"{where!r} must be a string.", None)
    try:
        return check_name(value, "connection name")
    except UsageError as exc:
        raise Problem(400, "bad_request", exc.message, exc.hint) from None


# -- connectors ---------------------------------------------------------------------------------


async def health(request: Request) -> Response:
    hub = hub_of(request)
    return json_response({"status": "ok", "version": __version__, "connectors": len(hub.catalogue.slugs())})


async def list_connectors(request: Request) -> Response:
    hub = hub_of(request)
    hub.authenticate(request, "connectors:read")
    q = request.query_params
    found = hub.sy.connectors(category=q.get("category"), status=q.get("status_filter"), search=q.get("search"))
    return json_response({"connectors": found, "total_count": len(found)})


async def get_connector(request: Request) -> Response:
    hub = hub_of(request)
    hub.authenticate(request, "connectors:read")
    return json_response(connector_view(hub.manifest(request.path_params["slug"])))


async def list_actions(request: Request) -> Response:
    hub = hub_of(request)
    hub.authenticate(request, "connectors:read")
    manifest = hub.manifest(request.path_params["slug"])
    return json_response(
        {"connector_slug": manifest.slug, "actions": {a.name: action_view(a) for a in manifest.actions}}
    )


async def invoke(request: Request) -> Response:
    """``POST /connectors/{slug}/{action}``: the body holds the parameters."""
    hub = hub_of(request)
    hub.authenticate(request, "actions:execute")
    manifest = hub.manifest(request.path_params["slug"])
    action = hub.action(manifest, request.path_params["action"])
    connection = connection_name(request.query_params.get("connection"))
    params = action_params(action, await read_json(request, hub.options.max_body), hub.validator(manifest, action))
    options = hub.invoke_options(connection)

    def run(sy: Synthral) -> dict[str, Any]:
        return dict(sy.invoke(manifest.slug, action.name, params, options=options).to_dict())

    out = await hub.call(run)
    return json_response({"success": out["success"], "status": out["status"], "result": out["result"]})


# -- connections --------------------------------------------------------------------------------


async def connections(request: Request) -> Response:
    """``GET /connections`` lists, ``POST /connections`` stores (one route: one ``Allow``)."""
    if request.method == "POST":
        return await create_connection(request)
    return await list_connections(request)


async def list_connections(request: Request) -> Response:
    hub = hub_of(request)
    hub.authenticate(request, "connections:read")
    rows, _note = await hub.call(lambda sy: sy.connections())
    return json_response({"connections": rows, "total_count": len(rows)})


def _credentials(manifest: Any, body: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """``credentials`` (the manifest's credential fields) and ``config`` of a request body."""
    from ..auth.authorize import askable_config, credential_fields

    given = field(body, "credentials", dict, {})
    config = field(body, "config", dict, {})
    fields = credential_fields(manifest)
    if manifest.auth_type == "oauth2":
        fields = [{"name": "access_token"}, *fields]
    names = {f["name"] for f in fields}
    unknown = sorted(set(given) - names)
    if unknown:
        raise Problem(
            400,
            "bad_request",
            f"{manifest.slug} has no credential field {', '.join(map(repr, unknown))}.",
            f"Its fields: {', '.join(sorted(names)) or '(none)'}.",
        )
    if not all(isinstance(v, str) for v in given.values()):
        raise Problem(400, "bad_request", "Credential values must be strings.", None)
    missing = [
        f["name"] for f in fields if f.get("required", True) and f.get("default") is None and f["name"] not in given
    ]
    if missing:
        raise Problem(400, "bad_request", f"{manifest.slug} needs the credential field(s) {', '.join(missing)}.", None)
    settings = askable_config(manifest)
    bad = sorted(set(config) - set(settings))
    if bad:
        raise Problem(
            400,
            "bad_request",
            f"{manifest.slug} has no setting {', '.join(map(repr, bad))}.",
            f"Its settings: {', '.join(sorted(settings)) or '(none)'}.",
        )
    return dict(given), {k: v for k, v in config.items() if isinstance(v, (str, int, float, bool))}


async def test_connection(request: Request) -> Response:
    """``POST /connections/test``: run ``test_connection`` with credentials that are not stored."""
    from ..actions.invoke import test_credential

    hub = hub_of(request)
    hub.authenticate(request, "connections:write")
    body = await read_json(request, hub.options.max_body, empty_ok=False)
    slug = field(body, "connector_slug", str)
    if not slug:
        raise Problem(400, "bad_request", "'connector_slug' is required.", None)
    manifest = hub.manifest(slug)
    secrets, config = _credentials(manifest, body)
    options = hub.invoke_options()
    out = await hub.call(lambda sy: test_credential(sy, slug, secrets, config, options).to_dict())
    return json_response({"success": out["success"], "status": out["status"], "result": out["result"]})


async def create_connection(request: Request) -> Response:
    """``POST /connections``: store API-key, basic, bearer or custom credentials (or an access token)."""
    from ..auth.authorize import store_static

    hub = hub_of(request)
    hub.authenticate(request, "connections:write")
    body = await read_json(request, hub.options.max_body, empty_ok=False)
    slug = field(body, "connector_slug", str)
    if not slug:
        raise Problem(400, "bad_request", "'connector_slug' is required.", None)
    manifest = hub.manifest(slug)
    name = connection_name(body.get("connection"))
    secrets, config = _credentials(manifest, body)
    conn = await hub.call(lambda sy: store_static(sy, manifest, connection=name, secrets=secrets, config=config))
    return json_response(
        {"success": True, "connector_slug": slug, "connection": conn.name, "oauth_method": "direct"}, 201
    )


async def delete_connection(request: Request) -> Response:
    from ..auth.authorize import remove_connection

    hub = hub_of(request)
    hub.authenticate(request, "connections:write")
    slug = request.path_params["slug"]
    name = connection_name(request.path_params["name"])
    revoke = request.query_params.get("revoke", "false").lower() in {"1", "true", "yes"}
    manifest = hub.catalogue.get(slug) if slug in hub.catalogue else None

    def remove(sy: Synthral) -> dict[str, Any]:
        if sy.store.get(slug, name) is None:
            raise not_found(f"No stored connection {slug}/{name}.", "See GET /api/v1/connections.")
        return remove_connection(sy, slug, name, revoke=revoke, manifest=manifest)

    done = await hub.call(remove)
    return json_response({"success": True, "connector_slug": slug, "connection": name, **done})
