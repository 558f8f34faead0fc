"""An action's parameters as JSON Schema 2020-12 (a tool's ``inputSchema``) and the shape of its
answer (``outputSchema``), built from the manifest alone.

Besides the manifest's parameters a tool takes two control arguments, as ``invoke`` does:
``connection`` (which stored account; only when the action sends credentials) and ``paginate``
(only when the action paginates). A manifest parameter of the same name wins over a control.
Parameters that read local files (``type: file``, or an array of them such as e-mail
attachments) are left out unless files are allowed; an action that *needs* one cannot be offered
without them. With files allowed they are paths on the machine running synthral.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..catalogue.manifest import Action, Manifest

CONNECTION = "connection"
PAGINATE = "paginate"
_SCALARS = {"string", "integer", "number", "boolean"}


@dataclass
class InputShape:
    """``schema`` is the tool's inputSchema; ``controls`` maps an argument to the control it sets;
    ``excluded`` names parameters left out (local files); ``unavailable`` says why the action
    cannot be a tool at all (a required local file), else ``None``."""

    schema: dict[str, Any]
    controls: dict[str, str] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    unavailable: str | None = None


def takes_local_files(param: dict[str, Any]) -> bool:
    items = param.get("items") or {}
    return param.get("type") == "file" or (param.get("type") == "array" and items.get("type") == "file")


def sends_credentials(manifest: Manifest, action: Action) -> bool:
    return manifest.auth_type != "none" and action.raw.get("auth", True) is not False


_PAGE_PARAMS = ("limit_param", "page_param", "cursor_param", "offset_param")


def paginates(manifest: Manifest, action: Action) -> bool:
    """Whether ``paginate`` makes sense: a connector-wide pagination spec applies to every action
    in the manifest, but only listings answer with pages, so it is offered where the action has
    its own spec, takes one of the spec's page parameters, or is a GET named ``list_*``/``search_*``."""
    spec = action.raw.get("pagination") or manifest.raw.get("pagination") or {}
    if manifest.transport != "http" or spec.get("type", "none") == "none":
        return False
    if action.raw.get("pagination"):
        return True
    names = {p["name"] for p in action.raw.get("parameters", [])}
    if names & {spec[k] for k in _PAGE_PARAMS if spec.get(k)}:
        return True
    return action.method == "GET" and action.name.startswith(("list_", "search_"))


def param_schema(param: dict[str, Any], allow_files: bool = False) -> dict[str, Any] | None:
    """One parameter as a property schema; ``None`` when it is left out (a local file)."""
    kind = param["type"]
    if takes_local_files(param) and not allow_files:
        return None
    out: dict[str, Any]
    if kind == "file":
        out = {"type": "string"}
    elif kind == "array":
        items = dict(param.get("items") or {})
        if items.get("type") == "file":
            items["type"] = "string"
        if param.get("enum"):
            items["enum"] = list(param["enum"])
        out = {"type": "array", "items": items}
    elif kind in _SCALARS or kind == "object":
        out = {"type": kind}
        if param.get("enum"):
            out["enum"] = list(param["enum"])
    else:  # a type a newer manifest schema may add: accept any JSON value
        out = {}
    text = str(param.get("description") or "").strip()
    if takes_local_files(param):
        text = (text + " " if text else "") + "(paths of local files on the machine running synthral)"
    if param.get("in") == "header":
        text = (text + " " if text else "") + f"(HTTP header {param.get('wire_name') or param['name']})"
    if text:
        out["description"] = text
    if param.get("default") is not None:
        out["default"] = param["default"]
    return out


def input_shape(manifest: Manifest, action: Action, allow_files: bool = False) -> InputShape:
    """The inputSchema of ``action``: its parameters in manifest order, then the controls."""
    props: dict[str, Any] = {}
    required: list[str] = []
    excluded: list[str] = []
    unavailable = None
    for p in action.raw.get("parameters", []):
        prop = param_schema(p, allow_files)
        if prop is None:
            excluded.append(p["name"])
            if p.get("required") and p.get("default") is None:
                unavailable = f"its parameter {p['name']!r} is a local file (start the server with --allow-files)"
            continue
        props[p["name"]] = prop
        if p.get("required") and p.get("default") is None:
            required.append(p["name"])
    declared = {p["name"] for p in action.raw.get("parameters", [])}
    controls: dict[str, str] = {}
    if sends_credentials(manifest, action) and CONNECTION not in declared:
        controls[CONNECTION] = CONNECTION
        props[CONNECTION] = {
            "type": "string",
            "description": f"Which stored {manifest.slug} account to use (default: default).",
        }
    if paginates(manifest, action) and PAGINATE not in declared:
        controls[PAGINATE] = PAGINATE
        props[PAGINATE] = {
            "type": "boolean",
            "default": False,
            "description": "Follow every page and return all the items in one list.",
        }
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return InputShape(schema, controls, excluded, unavailable)


def output_schema(manifest: Manifest, action: Action) -> dict[str, Any] | None:
    """The outputSchema, when the manifest declares ``result_schema``. A body that is not a JSON
    object is returned as ``{"result": body}``, and so is its schema. A paginating action has no
    outputSchema: with ``paginate`` its answer becomes the list of items."""
    declared = action.raw.get("result_schema")
    if not isinstance(declared, dict) or paginates(manifest, action):
        return None
    if declared.get("type") == "object":
        return dict(declared)
    return {"type": "object", "properties": {"result": declared}, "required": ["result"]}
