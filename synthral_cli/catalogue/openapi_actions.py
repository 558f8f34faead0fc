"""One OpenAPI operation as one manifest action: its path, query and header parameters, its
request body as body parameters with the body encoding (json, form, multipart, raw), the
scopes its security requirement names, and a server of its own as the action's base URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .openapi_schema import Resolver

METHODS = ("get", "put", "post", "delete", "patch", "head")
# Headers a description must not declare as parameters (OpenAPI 3: they are ignored there).
IGNORED_HEADERS = {"accept", "content-type", "authorization"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Operation:
    """``operationId`` (or ``METHOD /path`` when there is none), method, path and the objects."""

    id: str
    method: str
    path: str
    op: dict[str, Any]
    item: dict[str, Any]


def operations(doc: dict[str, Any]) -> list[Operation]:
    out = []
    for path, item in doc["paths"].items():
        if not isinstance(item, dict):
            continue
        for method, op in item.items():  # in the description's order
            if method in METHODS and isinstance(op, dict):
                oid = op.get("operationId")
                out.append(Operation(str(oid) if oid else f"{method.upper()} {path}", method, str(path), op, item))
    return out


def snake(text: str, prefix: str = "p") -> str:
    """``issues/create`` -> ``issues_create``, ``X-GitHub-Api-Version`` -> ``x_github_api_version``."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    return s if s and s[0].isalpha() else f"{prefix}_{s}".rstrip("_")


def one_line(text: Any, limit: int = 240) -> str:
    """The first paragraph of a Markdown description as one plain line of at most ``limit``."""
    if not isinstance(text, str):
        return ""
    first = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text.strip().split("\n\n")[0])
    line = " ".join(first.replace("**", "").replace("`", "").split())
    if len(line) <= limit:
        return line
    cut = line[:limit]
    end = cut.rfind(". ")
    return cut[: end + 1] if end > limit // 2 else cut[: limit - 3].rstrip() + "..."


class ActionBuilder:
    """Actions from operations of one document; ``notes`` collects what the user should review."""

    def __init__(self, resolver: Resolver, security_schemes: dict[str, Any], default_security: Any) -> None:
        self.r = resolver
        self.schemes = security_schemes
        self.default_security = default_security
        self.notes: list[str] = []
        self.deprecated: list[str] = []

    def action(self, o: Operation, name: str, base_url: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"name": name}
        summary = one_line(o.op.get("summary")) or one_line(o.op.get("description")) or o.id
        out["description"] = f"{summary.rstrip('.')} ({o.method.upper()} {o.path})."
        out["method"] = o.method.upper()
        taken: set[str] = set()
        params, path = self._parameters(o, taken)
        out["path"] = path
        if base_url:
            out["base_url"] = base_url
        scopes = self._scopes(o)
        if scopes:
            out["scopes"] = scopes
        body, content_type, body_params = self._body(o, taken)
        if body not in {"json", "none"} or content_type:
            out["body"] = body
        if content_type:
            out["content_type"] = content_type
        accept = self._accept(o)
        if accept:
            out["accept"] = accept
        if o.op.get("deprecated"):
            self.deprecated.append(o.id)
        out["parameters"] = params + body_params
        if not out["parameters"]:
            del out["parameters"]
        out["x-operation-id"] = o.id
        return out

    # -- parameters -----------------------------------------------------------------------------

    def _parameters(self, o: Operation, taken: set[str]) -> tuple[list[dict[str, Any]], str]:
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*(o.item.get("parameters") or []), *(o.op.get("parameters") or [])]:
            p = self.r.deref(raw)
            if isinstance(p, dict) and isinstance(p.get("name"), str) and p.get("in"):
                merged[(str(p["in"]), p["name"])] = p  # the operation's own wins over the path's
        path = o.path
        out = []
        for (where, wire), p in merged.items():
            if where == "cookie":
                self.notes.append(f"{o.id}: cookie parameter {wire!r} left out (manifests send none)")
                continue
            if where == "header" and wire.lower() in IGNORED_HEADERS:
                continue
            if where not in {"path", "query", "header"}:
                continue
            if where == "path" and "{" + wire + "}" not in o.path:
                self.notes.append(f"{o.id}: path parameter {wire!r} is not in the path; left out")
                continue
            info = self.r.describe(p.get("schema") or _first_schema(p.get("content")))
            info.pop("file", None)  # a file is sent only as a body
            name = self._free(snake(wire), taken, where)
            param = _param(name, where, wire if where != "path" else name, info, p.get("description"))
            if where == "path":
                param["required"] = True
                path = path.replace("{" + wire + "}", "{" + name + "}")
                if p.get("x-multi-segment") or p.get("allowReserved"):
                    param["keep_slashes"] = True
            elif p.get("required"):
                param["required"] = True
            if where == "query" and info["type"] == "array" and p.get("explode") is False:
                param["style"] = "csv"
            out.append(_ordered(param))
        for var in re.findall(r"\{([^}]*)\}", path):
            if not _NAME.match(var) or var not in {p["name"] for p in out if p["in"] == "path"}:
                name = self._free(snake(var), taken, "path")
                path = path.replace("{" + var + "}", "{" + name + "}")
                self.notes.append(f"{o.id}: path parameter {{{var}}} is not declared; added as a string")
                out.append({"name": name, "in": "path", "type": "string", "required": True})
        return out, path

    def _free(self, name: str, taken: set[str], where: str) -> str:
        if name in taken:
            name = f"{where}_{name}"
        while name in taken:
            name += "_"
        taken.add(name)
        return name

    # -- body -----------------------------------------------------------------------------------

    def _body(self, o: Operation, taken: set[str]) -> tuple[str, str | None, list[dict[str, Any]]]:
        rb = self.r.deref(o.op.get("requestBody"))
        content = rb.get("content") if isinstance(rb, dict) else None
        if not isinstance(content, dict) or not content:
            return ("json" if o.method in {"post", "put", "patch"} else "none"), None, []
        required_body = bool(rb.get("required"))
        ctype = _pick_media_type(list(content))
        media = content[ctype] if isinstance(content[ctype], dict) else {}
        schema = self.r.deref(media.get("schema") or {})
        kind = _body_kind(ctype)
        if len(content) > 1:
            others = ", ".join(c for c in content if c != ctype)
            self.notes.append(f"{o.id}: request body as {ctype} (the description also allows {others})")
        props, required = self.r.object_shape(schema)
        if kind != "raw" and props:
            params = []
            for wire, prop in props.items():
                prop_schema = self.r.deref(prop)
                if isinstance(prop_schema, dict) and prop_schema.get("readOnly"):
                    continue
                if kind == "json" and "." in wire:
                    self.notes.append(f"{o.id}: body field {wire!r} left out (a dot in a name nests JSON)")
                    continue
                info = self.r.describe(prop_schema)
                if kind != "multipart":  # a file goes only into a multipart body
                    info.pop("file", None)
                    if info.get("items", {}).get("type") == "file":
                        info["items"]["type"] = "string"
                param = _param(self._free(snake(wire), taken, "body"), "body", wire, info, None)
                if wire in required:
                    param["required"] = True
                params.append(_ordered(param))
            return kind, (ctype if kind == "json" and ctype != "application/json" else None), params
        # one value as the whole body: a file, a text, or a JSON value that is not an object
        info = self.r.describe(schema)
        textual = ctype.startswith("text/") or "json" in ctype or ctype.endswith("+xml")
        is_file = bool(info.get("file")) or not textual
        if not is_file:
            info.pop("file", None)
        param = _param(self._free("body", taken, "body"), "body", "body", info, rb.get("description"))
        if required_body:
            param["required"] = True
        if is_file:
            param["type"] = "file"
            param.pop("items", None)
            param.setdefault("description", "The local file to send as the body: -p body=@PATH.")
        # a file's type is guessed from its name unless the description names one
        content_type = None if is_file and ctype in {"*/*", "application/octet-stream"} else ctype
        return "raw", content_type, [_ordered(param)]

    # -- security and responses -----------------------------------------------------------------

    def _scopes(self, o: Operation) -> list[str]:
        security = o.op.get("security", self.default_security)
        if not isinstance(security, list):
            return []
        oauth = [
            [str(s) for s in scopes]
            for req in security
            if isinstance(req, dict)
            for name, scopes in req.items()
            if isinstance(scopes, list) and scopes and _scheme_type(self.r.deref(self.schemes.get(name))) == "oauth2"
        ]
        if not oauth:
            return []
        if len(oauth) == 1:
            return oauth[0]
        if all(len(s) == 1 for s in oauth):
            return ["|".join(s[0] for s in oauth)]
        self.notes.append(f"{o.id}: several security alternatives; the first one's scopes are used")
        return oauth[0]

    def _accept(self, o: Operation) -> str | None:
        for code, resp in as_dict(o.op.get("responses")).items():
            if str(code).startswith("2"):
                content = as_dict(self.r.deref(resp)).get("content")
                if isinstance(content, dict) and content:
                    types = list(content)
                    if any("json" in t for t in types):
                        return None
                    return str(types[0])
        return None


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else ``{}`` (a description can hold anything anywhere)."""
    return value if isinstance(value, dict) else {}


def _scheme_type(scheme: Any) -> str | None:
    return str(scheme.get("type")) if isinstance(scheme, dict) else None


def _first_schema(content: Any) -> Any:
    if isinstance(content, dict) and content:
        media = next(iter(content.values()))
        return media.get("schema", {}) if isinstance(media, dict) else {}
    return {}


def _pick_media_type(types: list[str]) -> str:
    for want in ("application/json", "+json", "application/x-www-form-urlencoded", "multipart/form-data"):
        for t in types:
            if t == want or (want.startswith("+") and t.split(";")[0].endswith(want)):
                return t
    return types[0]


def _body_kind(ctype: str) -> str:
    base = ctype.split(";")[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        return "json"
    if base == "application/x-www-form-urlencoded":
        return "form"
    if base.startswith("multipart/"):
        return "multipart"
    return "raw"


def _param(name: str, where: str, wire: str, info: dict[str, Any], description: Any) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": where, "type": "file" if info.get("file") else info["type"]}
    if wire != name:
        param["wire_name"] = wire
    if info.get("enum"):
        param["enum"] = info["enum"]
    if info["type"] == "array" and info.get("items"):
        param["items"] = info["items"]
    text = one_line(description) or one_line(info.get("description"))
    if "default" in info:
        text = f"{text} (default: {info['default']})".strip()
    if text:
        param["description"] = text
    return param


_ORDER = ("name", "in", "type", "required", "wire_name", "keep_slashes", "style", "enum", "items", "description")


def _ordered(param: dict[str, Any]) -> dict[str, Any]:
    return {k: param[k] for k in _ORDER if k in param}
