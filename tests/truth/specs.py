"""Full API descriptions: OpenAPI 3 and Swagger 2 documents (GitHub, Netlify) and Google's
discovery documents (shipped in PyPI ``google-api-python-client``). Parsed with json only."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path
from typing import Any

from .model import Description, Operation, Param, load_json

METHODS = ("get", "put", "post", "delete", "patch", "head")


def _resolve(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    while isinstance(node, dict) and "$ref" in node and depth < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        node = target
        depth += 1
    return node


def _schema_type(doc: dict[str, Any], schema: Any) -> str | None:
    schema = _resolve(doc, schema)
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "string" and schema.get("format") == "binary":
        return "file"
    return kind if isinstance(kind, str) else None


def _body_params(doc: dict[str, Any], schema: Any, out: dict[str, Param]) -> None:
    schema = _resolve(doc, schema)
    if not isinstance(schema, dict):
        return
    for part in schema.get("allOf", []):
        _body_params(doc, part, out)
    variants = schema.get("oneOf") or schema.get("anyOf") or []
    for part in variants:  # any variant's fields may be sent; none of them is required by all
        extra: dict[str, Param] = {}
        _body_params(doc, part, extra)
        for name, p in extra.items():
            out.setdefault(name, Param(name, "body", p.type, False))
    required = set(schema.get("required", [])) if not variants else set()
    for name, sub in (schema.get("properties") or {}).items():
        out[name] = Param(name, "body", _schema_type(doc, sub), name in required, known=not variants)


def openapi(doc: dict[str, Any], source: str, servers: list[str] | None = None) -> Description:
    """An OpenAPI 3.x or Swagger 2.0 document."""
    if servers is None:
        if "swagger" in doc:
            servers = [f"{doc.get('schemes', ['https'])[0]}://{doc['host']}{doc.get('basePath', '')}"]
        else:
            servers = [s["url"] for s in doc.get("servers", [])]
    ops: list[Operation] = []
    for path, item in doc.get("paths", {}).items():
        common = item.get("parameters", [])
        for method in METHODS:
            spec = item.get(method)
            if not isinstance(spec, dict):
                continue
            params: dict[str, Param] = {}
            for raw in [*common, *spec.get("parameters", [])]:
                p = _resolve(doc, raw)
                where = p.get("in")
                if where == "body":
                    _body_params(doc, p.get("schema"), params)
                    continue
                if where == "formData":
                    where = "body"
                kind = p.get("type") or _schema_type(doc, p.get("schema"))
                name = p["name"].lower() if where == "header" else p["name"]
                params[name] = Param(name, where, kind, bool(p.get("required")), known=True)
            body = _resolve(doc, spec["requestBody"]) if "requestBody" in spec else {}
            for media in (body or {}).get("content", {}).values():
                _body_params(doc, media.get("schema"), params)
            ops.append(Operation(method.upper(), path, params))
    return Description(source, servers, ops)


def github() -> Description:
    from .model import npm_package

    folder, source = npm_package("@octokit/openapi")
    doc = load_json(folder / "generated" / "api.github.com.json")
    out = openapi(doc, source)
    versions: list[str] = []
    for item in doc["paths"].values():
        for method in METHODS:
            for raw in (item.get(method) or {}).get("parameters", []):
                p = _resolve(doc, raw)
                if p.get("name", "").lower() == "x-github-api-version":
                    versions += [v for v in p.get("schema", {}).get("enum", []) if v not in versions]
    out.versions, out.version_header = versions, "X-GitHub-Api-Version"
    if not versions:  # the description lists them per operation or in its info block
        out.versions = list(doc.get("info", {}).get("x-github-api-versions", []))
    return out


def netlify() -> Description:
    from .model import npm_package

    folder, source = npm_package("@netlify/open-api")
    return openapi(load_json(folder / "dist" / "swagger.json"), source)


# --- Google discovery documents ---------------------------------------------------------------


def _discovery_folder() -> tuple[Path, str]:
    spec = importlib.util.find_spec("googleapiclient")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("google-api-python-client is not installed (pyproject's test extra).")
    folder = Path(next(iter(spec.submodule_search_locations))) / "discovery_cache" / "documents"
    version = importlib.metadata.version("google-api-python-client")
    return folder, f"PyPI google-api-python-client {version}"


def _walk(resources: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for res in resources.values():
        out += list((res.get("methods") or {}).values())
        out += _walk(res.get("resources") or {})
    return out


def google(api: str, version: str, *also: tuple[str, str]) -> Description:
    """``api.version.json`` from the discovery cache (plus the ``also`` documents a connector
    uses besides); its versions are those the cache ships for ``api``."""
    out = _google(api, version)
    for other in also:
        extra = _google(*other)
        out.servers += [s for s in extra.servers if s not in out.servers]
        out.operations += extra.operations
    return out


def _google(api: str, version: str) -> Description:
    folder, source = _discovery_folder()
    doc = load_json(folder / f"{api}.{version}.json")
    schemas = doc.get("schemas", {})

    global_params = {name: Param(name, "query", p.get("type"), False) for name, p in doc.get("parameters", {}).items()}
    ops: list[Operation] = []
    for m in _walk(doc.get("resources", {})):
        path = m.get("flatPath") or m["path"]
        params = dict(global_params)
        for name, p in (m.get("parameters") or {}).items():
            params[name] = Param(name, p.get("location", "query"), p.get("type"), bool(p.get("required")), True)
        ref = (m.get("request") or {}).get("$ref")
        for name, p in (schemas.get(ref, {}).get("properties") or {}).items() if ref else ():
            kind = p.get("type") or ("object" if "$ref" in p else None)
            params.setdefault(name, Param(name, "body", kind, False))
        full = "/" + "/".join(s for s in (doc.get("servicePath", "").strip("/"), path.strip("/")) if s)
        ops.append(Operation(m["httpMethod"], full, params))
        if m.get("supportsMediaUpload"):
            for proto in (m.get("mediaUpload") or {}).get("protocols", {}).values():
                ops.append(Operation(m["httpMethod"], proto["path"], params))
    shipped = sorted(p.name.split(".")[1] for p in folder.glob(f"{api}.*.json"))
    root = doc["rootUrl"].rstrip("/")
    return Description(source, [root], ops, versions=shipped)
