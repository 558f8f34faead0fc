"""The same tool definitions for agent frameworks that take JSON Schema function definitions.

    mcp        the MCP ``Tool`` objects, exactly as ``tools/list`` gives them
    anthropic  ``{"name", "description", "input_schema"}`` (Anthropic Messages API tools)
    openai     ``{"type": "function", "function": {"name", "description", "parameters",
               "strict": true}}`` in OpenAI's strict mode: every object closed and every property
               required, optional ones nullable (null = leave it out); defaults move into the
               description. A tool strict mode cannot express (a free-form object or array item) is
               left out, with the reason.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("mcp", "openai", "anthropic")
# The keywords OpenAI's strict mode accepts; anything else is dropped (the server checks values).
_STRICT_KEYS = {"type", "description", "enum", "const", "properties", "required", "additionalProperties",
                "items", "anyOf"}


class NotStrict(Exception):
    """The schema has a part OpenAI's strict mode cannot express."""


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list):
        out["type"] = [*kind, "null"] if "null" not in kind else kind
    elif "anyOf" in out:
        out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    else:
        raise NotStrict("has no type")
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def _what(where: str) -> str:
    return f"parameter {where!r}" if where else "the input"


def strict(schema: dict[str, Any], where: str) -> dict[str, Any]:
    """``schema`` in strict-mode form (raises ``NotStrict`` naming the parameter at ``where``)."""
    if "anyOf" in schema:
        out = {k: v for k, v in schema.items() if k in _STRICT_KEYS and k != "anyOf"}
        out["anyOf"] = [strict(s, where) for s in schema["anyOf"]]
        return out
    kind = schema.get("type")
    if kind is None and "enum" not in schema and "const" not in schema:
        raise NotStrict(f"{_what(where)} accepts any JSON value")
    out = {k: v for k, v in schema.items() if k in _STRICT_KEYS}
    if "default" in schema:
        note = f"Default: {schema['default']!r}."
        out["description"] = f"{out['description']} {note}" if out.get("description") else note
    if kind == "object":
        props = schema.get("properties") or {}
        if not props and schema.get("additionalProperties") is not False:
            raise NotStrict(f"{_what(where)} is a free-form object")
        required = set(schema.get("required", []))
        out["properties"] = {}
        for name, sub in props.items():
            s = strict(sub, f"{where}.{name}" if where else name)
            out["properties"][name] = s if name in required else _nullable(s)
        out["required"] = list(props)
        out["additionalProperties"] = False
    elif kind == "array":
        out["items"] = strict(schema.get("items") or {}, f"{where}[]" if where else "[]")
    return out


def to_openai(tool: dict[str, Any]) -> dict[str, Any]:
    params = strict(tool["inputSchema"], "")
    if "description" in params and not tool["inputSchema"].get("description"):
        del params["description"]
    return {
        "type": "function",
        "function": {
            "name": tool["name"],
            "description": tool.get("description", ""),
            "parameters": params,
            "strict": True,
        },
    }


def to_anthropic(tool: dict[str, Any]) -> dict[str, Any]:
    return {"name": tool["name"], "description": tool.get("description", ""), "input_schema": tool["inputSchema"]}


def export(tools: list[dict[str, Any]], fmt: str) -> tuple[list[dict[str, Any]], list[str]]:
    """``(definitions, ["tool: why it was left out", ...])``."""
    if fmt == "mcp":
        return tools, []
    if fmt == "anthropic":
        return [to_anthropic(t) for t in tools], []
    out, skipped = [], []
    for tool in tools:
        try:
            out.append(to_openai(tool))
        except NotStrict as exc:
            skipped.append(f"{tool['name']}: {exc}, which OpenAI's strict mode cannot express")
    return out, skipped
