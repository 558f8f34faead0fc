"""``connectors import-openapi``: operations of an OpenAPI 3.x description as a manifest skeleton.

The description gives the auth (``securitySchemes``: OAuth 2.0 flows, bearer, basic, API keys),
the base URL (``servers``, a variable that can differ per account becoming a connection setting),
and one action per operation (``openapi_actions``). The skeleton passes ``connectors validate``;
``notes`` say what a person should still look at. Nothing here reads anything but the file.

    doc = read_document(locate("@octokit/openapi/generated/api.github.com.json", Path.cwd()))
    imported = import_openapi(doc, operation_ids=["issues/create"], slug="github-issues")
    print(dump_yaml(imported.manifest))
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from ..basics.errors import UsageError
from .manifest import CATEGORIES
from .openapi_actions import ActionBuilder, Operation, as_dict, one_line, operations, snake
from .openapi_schema import Resolver
from .syntax import _did_you_mean, _is_safe_url

DEFAULT_CATEGORY = "Development & Code"
_TEST_PATHS = re.compile(r"/(me|user|users/me|whoami|account|viewer|self|userinfo)/?$")


@dataclass
class Imported:
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def locate(spec: str, cwd: Path, environ: dict[str, str] | None = None) -> Path:
    """A file path as it is, else a path inside an installed package: ``node_modules/<spec>`` in
    ``cwd`` or a folder above it or on ``NODE_PATH``, then a Python package's folder."""
    path = Path(spec).expanduser()
    if path.is_absolute() or (cwd / path).is_file():
        return cwd / path
    environ = dict(os.environ) if environ is None else environ
    roots = [d / "node_modules" for d in (cwd, *cwd.parents)]
    roots += [Path(p) for p in environ.get("NODE_PATH", "").split(os.pathsep) if p]
    for root in roots:
        if (root / spec).is_file():
            return root / spec
    head, _, rest = spec.partition("/")
    if rest and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", head):
        import importlib.util

        try:
            found = importlib.util.find_spec(head)
        except (ImportError, ValueError):
            found = None
        for folder in (found.submodule_search_locations or []) if found else []:
            if (Path(folder) / rest).is_file():
                return Path(folder) / rest
    return path  # read_document says it cannot be read


def import_openapi(
    doc: dict[str, Any],
    *,
    operation_ids: Sequence[str] = (),
    slug: str | None = None,
    category: str | None = None,
    base_url: str | None = None,
    source: str = "",
) -> Imported:
    resolver = Resolver(doc)
    every = operations(doc)
    chosen = _select(every, operation_ids)
    notes: list[str] = []
    info = as_dict(doc.get("info"))
    title = str(info.get("title") or slug or "Imported API").strip()
    slug = slug or snake(title, "api").replace("_", "-")[:64]
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug) or len(slug) > 64:
        raise UsageError(f"{slug!r} is not a connector slug.", "Use lowercase letters, digits and -: --slug my-api")
    category = _category(category)
    url, config = _base_url(doc.get("servers"), base_url, notes)
    declared = as_dict(as_dict(doc.get("components")).get("securitySchemes"))
    schemes = {k: as_dict(resolver.deref(v)) for k, v in declared.items()}
    builder = ActionBuilder(resolver, schemes, doc.get("security"))
    names: set[str] = {"test_connection"}
    actions = []
    for o in chosen:
        name = snake(o.id, "op")
        while name in names and name != "test_connection":
            name += "_"
        names.add(name)
        actions.append(builder.action(o, name, _action_server(o, url)))
    if not any(a["name"] == "test_connection" for a in actions):
        actions.insert(0, _test_action(builder, every, chosen, url, notes))
    # OAuth URLs may be relative to the description's server (with --base-url: its defaults)
    oauth_base = url
    if base_url:
        servers = doc.get("servers") if isinstance(doc.get("servers"), list) else []
        server_url, _ = _fill_server(as_dict(servers[0]) if servers else {}, keep_choices=False)
        oauth_base = server_url if "://" in server_url else url
    auth = _auth(schemes, chosen, doc.get("security"), actions, oauth_base, notes)
    manifest: dict[str, Any] = {
        "schema_version": 1,
        "slug": slug,
        "name": title,
        "category": category,
        "status": "alpha",
        "version": "0.1.0",
        "description": one_line(info.get("description"), 300) or one_line(info.get("summary")) or title,
        "docs_url": _docs_url(doc, url, notes),
        "base_url": url,
    }
    if config:
        manifest["connection_config"] = config
    manifest.update({"auth": auth, "nango": {"enabled": False}, "actions": actions})
    manifest["x-openapi"] = {"source": source, "title": title, "version": str(info.get("version", ""))}
    if builder.deprecated:
        shown = ", ".join(builder.deprecated[:5]) + (", ..." if len(builder.deprecated) > 5 else "")
        notes.append(f"{len(builder.deprecated)} deprecated operation(s): {shown}")
    return Imported(manifest, notes + builder.notes + resolver.notes)


def _select(every: list[Operation], wanted: Sequence[str]) -> list[Operation]:
    if not every:
        raise UsageError("The description has no operations.", "Check its paths.")
    if not wanted:
        return every
    by_id = {o.id: o for o in every}
    by_route = {f"{o.method.upper()} {o.path}": o for o in every}
    out = []
    for w in wanted:
        parts = w.split(None, 1)
        o = by_id.get(w) or (by_route.get(f"{parts[0].upper()} {parts[1]}") if len(parts) == 2 else None)
        if o is None:
            raise UsageError(
                f"The description has no operation {w!r}.{_did_you_mean(w, list(by_id))}",
                "Name an operationId (or METHOD /path) of the description.",
            )
        if o not in out:
            out.append(o)
    return out


def _category(category: str | None) -> str:
    if category is None:
        return DEFAULT_CATEGORY
    for c in CATEGORIES:
        if c.lower() == category.lower():
            return c
    raise UsageError(
        f"{category!r} is not a category.{_did_you_mean(category, list(CATEGORIES))}",
        "One of: " + ", ".join(CATEGORIES),
    )


def _base_url(servers: Any, override: str | None, notes: list[str]) -> tuple[str, dict[str, Any]]:
    """The first server's URL; a variable with a choice becomes a connection setting (its default
    and enum kept), one with a single value (or in the scheme) is filled in."""
    config: dict[str, Any] = {}
    if override:
        url = override.rstrip("/")
    else:
        servers = [as_dict(s) for s in servers] if isinstance(servers, list) else []
        if len(servers) > 1:
            notes.append("servers: the first is used; the others: " + ", ".join(str(s.get("url")) for s in servers[1:]))
        url, config = _fill_server(servers[0] if servers else {}, keep_choices=True)
    probe = re.sub(r"\{[^}]*\}", "x", url)
    if not re.match(r"^[a-z][a-z0-9+.-]*://", probe, re.I):
        raise UsageError(
            f"The description's server URL {url or '(none)'!r} is not absolute.",
            "Pass the API's address: --base-url https://api.example.com",
        )
    if not _is_safe_url(probe):
        raise UsageError(
            f"The server URL {url!r} is not https:// (plain http only for loopback).",
            "Pass the https address: --base-url https://...",
        )
    return url, config


def _fill_server(server: dict[str, Any], keep_choices: bool) -> tuple[str, dict[str, Any]]:
    url = str(server.get("url") or "").rstrip("/")
    variables = as_dict(server.get("variables"))
    config: dict[str, Any] = {}
    for var in re.findall(r"\{([^}]*)\}", url):
        spec = as_dict(variables.get(var))
        default = str(spec.get("default", ""))
        enum = [str(v) for v in spec.get("enum") or []]
        in_scheme = url.find("{" + var + "}") < url.find("://") if "://" in url else True
        if not keep_choices or in_scheme or len(enum) == 1 or not re.fullmatch(r"[A-Za-z_]\w*", var):
            url = url.replace("{" + var + "}", default or (enum[0] if enum else ""))
            continue
        about = one_line(spec.get("description")) or f"The {var} of your account's API address."
        setting: dict[str, Any] = {"description": about}
        if default:
            setting["example"] = default
            setting["default"] = default
        if enum:
            setting["enum"] = enum
        config[var] = setting
    return url, config


def _action_server(o: Operation, base: str) -> str | None:
    servers = o.op.get("servers") or o.item.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        url, _ = _fill_server(servers[0], keep_choices=False)
        if url and url != base and _is_safe_url(url):
            return url
    return None


def _test_action(
    builder: ActionBuilder, every: list[Operation], chosen: list[Operation], base: str, notes: list[str]
) -> dict[str, Any]:
    def free(o: Operation) -> bool:
        return "{" not in o.path and not any(
            isinstance(p := builder.r.deref(x), dict) and p.get("required")
            for x in [*(o.op.get("parameters") or []), *(o.item.get("parameters") or [])]
        )

    gets = [o for o in every if o.method == "get" and free(o)]
    pick = next((o for o in chosen if o in gets), None)
    pick = pick or next((o for o in gets if _TEST_PATHS.search(o.path)), None)
    pick = pick or min(gets, key=lambda o: len(o.path), default=None)
    if pick is None:
        notes.append("test_connection: the description has no GET without required parameters; edit its path")
        about = "Check the connection (GET /; edit it to a cheap read)."
        return {"name": "test_connection", "description": about, "method": "GET", "path": "/"}
    action = builder.action(pick, "test_connection", _action_server(pick, base))
    action["description"] = "Check the connection: " + action["description"][0].lower() + action["description"][1:]
    notes.append(f"test_connection: {pick.id} ({pick.method.upper()} {pick.path})")
    return action


def _auth(
    schemes: dict[str, Any],
    chosen: list[Operation],
    default: Any,
    actions: list[dict[str, Any]],
    base: str,
    notes: list[str],
) -> dict[str, Any]:
    used: list[str] = []
    for o in chosen:
        for req in o.op.get("security", default) or []:
            used += [n for n in (req if isinstance(req, dict) else {}) if n in schemes and n not in used]
    if not schemes:
        notes.append("auth: the description declares no securitySchemes; set auth (e.g. type: bearer)")
        return {"type": "none"}
    if not used:
        used = [next(iter(schemes))]
    if len(used) > 1:
        notes.append(f"auth: {used[0]} is used; the description also has {', '.join(used[1:])}")
    name, s = used[0], schemes[used[0]]
    kind = str(s.get("type", "")).lower()
    if kind == "oauth2" and isinstance(s.get("flows"), dict):
        flows = s["flows"]
        code, client = flows.get("authorizationCode"), flows.get("clientCredentials")
        auth: dict[str, Any] = {"type": "oauth2"}
        if isinstance(code, dict) and code.get("authorizationUrl") and code.get("tokenUrl"):
            auth["authorization_url"] = urljoin(base + "/", str(code["authorizationUrl"]))
            auth["token_url"] = urljoin(base + "/", str(code["tokenUrl"]))
            if code.get("refreshUrl"):
                auth["refresh_url"] = urljoin(base + "/", str(code["refreshUrl"]))
            auth["grant_types"] = ["authorization_code"] + (["client_credentials"] if client else [])
        elif isinstance(client, dict) and client.get("tokenUrl"):
            auth["token_url"] = urljoin(base + "/", str(client["tokenUrl"]))
            auth["grant_types"] = ["client_credentials"]
        else:
            notes.append(f"auth: {name}'s OAuth flows ({', '.join(flows)}) are not ones synthral runs; set auth")
            return {"type": "bearer"}
        scopes: list[str] = []
        for a in actions:  # what the imported actions need (of alternatives, the first)
            for needed in a.get("scopes", []):
                if needed.split("|")[0] not in scopes:
                    scopes.append(needed.split("|")[0])
        if scopes:
            auth["default_scopes"] = scopes
        return auth
    if kind == "http" and str(s.get("scheme", "")).lower() == "basic":
        return {"type": "basic"}
    if kind == "http" and str(s.get("scheme", "")).lower() == "bearer":
        return {"type": "bearer"}
    if kind == "apikey" and s.get("name"):
        where = str(s.get("in", "header"))
        inject = (
            {"in": "query", "name": str(s["name"]), "value": "{api_key}"}
            if where == "query"
            else (
                {"in": "header", "name": "Cookie", "value": f"{s['name']}={{api_key}}"}
                if where == "cookie"
                else {"in": "header", "name": str(s["name"]), "value": "{api_key}"}
            )
        )
        return {"type": "api_key", "inject": [inject]}
    if kind == "openidconnect":
        where = s.get("openIdConnectUrl")
        notes.append(f"auth: {name} is OpenID Connect; set authorization_url and token_url from {where}")
        return {"type": "bearer"}
    notes.append(f"auth: {name} ({kind} {s.get('scheme', '')}) is not a scheme synthral knows; set auth")
    return {"type": "none"}


def _docs_url(doc: dict[str, Any], base: str, notes: list[str]) -> str:
    info = as_dict(doc.get("info"))
    for candidate in (as_dict(doc.get("externalDocs")).get("url"), as_dict(info.get("contact")).get("url")):
        if isinstance(candidate, str) and candidate.startswith("https://"):
            return candidate
    notes.append("docs_url: the description names no https documentation; set it")
    return base if base.startswith("https://") and "{" not in base else "https://example.invalid/docs"
