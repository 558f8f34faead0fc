"""Reading an OpenAPI 3.x description: the document itself (JSON or YAML), local ``$ref``s
resolved without ever looping, and a JSON Schema folded into a manifest parameter type.

Only what a manifest can say is read: a parameter's type, enum, default and description, the
properties (and required ones) of an object body. Nothing is copied in depth, so a schema that
refers to itself, or a YAML document with many aliases, costs no more than a flat one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..basics.errors import UsageError

MAX_DEPTH = 32  # $ref chains and allOf nesting deeper than this are read as "any value"
SCALARS = ("string", "integer", "number", "boolean")


def read_document(path: Path) -> dict[str, Any]:
    """The description at ``path`` as a mapping; a file that is not JSON or YAML, not OpenAPI
    3.x, or Swagger 2.0 is a usage error (exit 2) saying what to do."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(
            f"Cannot read {path}: {exc.strerror or exc}.",
            "Give a file, or a path inside an installed npm package (found in node_modules here, in a "
            "folder above, or on NODE_PATH) or Python package, e.g. @octokit/openapi/generated/api.github.com.json",
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text.", "Give an OpenAPI 3.x description in JSON or YAML.") from None
    doc: Any
    try:
        doc = json.loads(text)
    except ValueError:
        import yaml

        try:
            doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loader
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise UsageError(
                f"{path} is neither JSON nor YAML{where}.", "Give an OpenAPI 3.x description in JSON or YAML."
            ) from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path} is not an OpenAPI description (no mapping at the top).", _HINT)
    if "swagger" in doc:
        raise UsageError(
            f"{path} is Swagger {doc.get('swagger')} (OpenAPI 2); import-openapi reads OpenAPI 3.x.",
            "Convert it first, e.g. npx swagger2openapi SPEC -o spec3.yaml, then import that file.",
        )
    version = str(doc.get("openapi", ""))
    if not version:
        raise UsageError(f"{path} is not an OpenAPI description (it has no 'openapi' field).", _HINT)
    if not version.startswith("3."):
        raise UsageError(f"{path} is OpenAPI {version}; import-openapi reads OpenAPI 3.x.", _HINT)
    if not isinstance(doc.get("paths"), dict):
        raise UsageError(f"{path} has no 'paths': nothing to import.", _HINT)
    return doc


_HINT = "Give an OpenAPI 3.0 or 3.1 description (a document with openapi: 3.x and paths)."


class Resolver:
    """Local ``$ref``s (``#/components/...``) of one document. A ref to another file, one that
    points nowhere, or a loop is read as an empty schema (any value) and noted once."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.notes: list[str] = []

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def deref(self, node: Any, seen: tuple[str, ...] = ()) -> Any:
        """``node`` with its own ``$ref`` chain followed (not its children's)."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if ref in seen or len(seen) >= MAX_DEPTH:
                self._note(f"{ref} refers back to itself; read as any value")
                return {}
            seen = (*seen, ref)
            target = self.pointer(ref)
            if target is None:
                return {}
            node = target
        return node

    def pointer(self, ref: str) -> Any:
        if not ref.startswith("#"):
            self._note(f"{ref} is in another file; read as any value (bundle the description first)")
            return None
        node: Any = self.doc
        for raw in ref[1:].split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                self._note(f"{ref} points to nothing in the description; read as any value")
                return None
        return node

    def object_shape(self, schema: Any, depth: int = 0) -> tuple[dict[str, Any], list[str]]:
        """Properties and required names of an object schema; ``allOf`` parts are merged, and
        ``oneOf``/``anyOf`` alternatives give every property (required: those all require)."""
        schema = self.deref(schema)
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return {}, []
        props = {str(k): v for k, v in as_mapping(schema.get("properties")).items()}
        required = [r for r in _as_list(schema.get("required")) if isinstance(r, str)]
        for part in _as_list(schema.get("allOf")):
            more, req = self.object_shape(part, depth + 1)
            props.update({k: v for k, v in more.items() if k not in props})
            required += [r for r in req if r not in required]
        alternatives = [self.object_shape(p, depth + 1) for p in _as_list(schema.get("oneOf") or schema.get("anyOf"))]
        if alternatives:
            for more, _ in alternatives:
                props.update({k: v for k, v in more.items() if k not in props})
            common = set.intersection(*(set(req) for _, req in alternatives))
            required += sorted(r for r in common if r not in required)
        return props, required

    def describe(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        """``{"type", "enum"?, "default"?, "description"?, "items"?, "file"?}`` for a manifest
        parameter: one type (mixed scalars read as string), ``file`` for binary strings."""
        schema = self.deref(schema)
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return {"type": "string"}
        out: dict[str, Any] = {}
        if isinstance(schema.get("description"), str):
            out["description"] = schema["description"]
        kind = _type_of(schema)
        if kind is None:
            parts = [self.describe(p, depth + 1) for p in _as_list(schema.get("allOf"))]
            alts = [self.describe(p, depth + 1) for p in _as_list(schema.get("oneOf") or schema.get("anyOf"))]
            kinds = {p["type"] for p in parts + alts}
            if parts and len(kinds) == 1:
                kind = kinds.pop()
            elif alts:
                kind = alts[0]["type"] if len(kinds) == 1 else ("object" if kinds & {"object", "array"} else "string")
                described = [a["description"] for a in alts if a.get("description")]
                if described:
                    out.setdefault("description", described[0])
            else:
                kind = "object" if "properties" in schema else "string"
            for part in parts:
                out.setdefault("description", part.get("description", ""))
                if part.get("enum") and "enum" not in schema:
                    out["enum"] = part["enum"]
        if kind == "string" and schema.get("format") == "binary":
            out["file"] = True
        out["type"] = kind
        enum = schema.get("enum")
        if isinstance(enum, list):
            values = [_plain(v) for v in enum if v is not None]
            if values and all(isinstance(v, (str, int, float, bool)) for v in values):
                out["enum"] = values
        if "default" in schema and isinstance(schema["default"], (str, int, float, bool)):
            out["default"] = _plain(schema["default"])
        if kind == "array":
            items = self.describe(schema.get("items", {}), depth + 1)
            out["items"] = {"type": "file" if items.get("file") else items["type"]}
            if items.get("enum"):
                out["items"]["enum"] = items["enum"]
        return out


def as_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1: ["string", "null"]
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else ("string" if kinds and set(kinds) <= set(SCALARS) else None)
    if kind in (*SCALARS, "array", "object"):
        return str(kind)
    return None


def _plain(value: Any) -> Any:
    """A value a JSON catalogue can hold: a YAML date becomes its text; a list or mapping stays
    as it is (and the caller leaves it out)."""
    import datetime

    return str(value) if isinstance(value, (datetime.date, datetime.time)) else value
