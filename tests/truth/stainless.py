"""Stainless-generated SDKs (openai, @anthropic-ai/sdk, cloudflare) with their parameters: each
resource method in ``x.mjs`` calls ``this._client.post('/path', { body, ...options })`` and its
twin ``x.d.ts`` declares the method's ``body``/``query``/``params`` type, whose interface (with
``extends`` and unions resolved across the package) lists the fields, ``?`` marking the optional."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from .model import Description, Operation, Param, npm_package, read_text
from .routes import _files, _template

_CALL = re.compile(
    r"_client\.(get|post|put|patch|delete|getAPIList)\(\s*(?:path\s*)?[`'\"](/[^`'\"]*)[`'\"]\s*(?:,[^{]*\{\s*(\w+))?"
)
_METHOD_JS = re.compile(r"^(?: {4}| {8})(\w+)\(([^)]*)\) \{$", re.M)  # class methods (8: in a namespace)
_METHOD_TS = re.compile(r"^(?: {4}| {8})(\w+)\((.*)\): ", re.M)
_INTERFACE = re.compile(r"^export interface (\w+)(?: extends ([\w, .]+))? \{\n(.*?)^\}", re.M | re.S)
_TYPE = re.compile(r"^export type (\w+) = ([\w |.]+);$", re.M)
_MEMBER = re.compile(r"^    (\w+)(\??): ([^\n;]*)", re.M)


def _kind(text: str) -> str | None:
    text = text.replace(" | null", "").strip()
    if text in {"string", "number", "boolean"}:
        return text
    if text.startswith("Array<") or text.endswith("[]"):
        return "array"
    if text.startswith(("'", '"')) and "|" not in text:
        return "string"
    return None


@cache
def _types(folder: Path) -> tuple[dict[str, tuple[list[str], dict[str, Param]]], dict[str, list[str]]]:
    """Every top-level interface (extends, members) and union type alias in the package."""
    interfaces: dict[str, tuple[list[str], dict[str, Param]]] = {}
    unions: dict[str, list[str]] = {}
    for file in _files(folder, "*.d.ts"):
        text = read_text(file)
        for name, extends, body in _INTERFACE.findall(text):
            members = {m: Param(m, "body", _kind(t), opt != "?", True) for m, opt, t in _MEMBER.findall(body)}
            interfaces.setdefault(name, ([e.strip().split(".")[-1] for e in extends.split(",") if e.strip()], members))
        for name, alias in _TYPE.findall(text):
            unions.setdefault(name, [a.strip().split(".")[-1] for a in alias.split("|") if a.strip()])
    return interfaces, unions


def _resolve(folder: Path, name: str, depth: int = 0) -> dict[str, Param] | None:
    interfaces, unions = _types(folder)
    if depth > 10:
        return None
    if name in interfaces:
        extends, members = interfaces[name]
        out: dict[str, Param] = {}
        for parent in extends:
            out |= _resolve(folder, parent, depth + 1) or {}
        return out | members
    if name in unions:  # any variant's field may be sent; required only when every one requires it
        variants = [v for v in (_resolve(folder, n, depth + 1) for n in unions[name]) if v is not None]
        if not variants:
            return None
        merged: dict[str, Param] = {}
        for v in variants:
            for key, p in v.items():
                merged.setdefault(key, Param(key, p.location, p.type, p.required, True))
        for key, p in merged.items():
            p.required = all(key in v and v[key].required for v in variants)
        return merged
    return None


def _signatures(text: str) -> dict[str, tuple[str, str]]:
    """method -> (argument name, type name) of its first overload's body/query/params argument."""
    out: dict[str, tuple[str, str]] = {}
    for method, args in _METHOD_TS.findall(text):
        if method in out:
            continue
        for arg in re.split(r",\s*(?![^<]*>)", args):
            m = re.match(r"(body|query|params)\??: ([\w.]+)", arg.strip())
            if m:
                out[method] = (m.group(1), m.group(2).split(".")[-1])
                break
    return out


def stainless(package: str, servers: list[str]) -> Description:
    folder, source = npm_package(package)
    ops: dict[tuple[str, str], Operation] = {}
    for mjs in _files(folder / "resources", "*.mjs"):
        dts = mjs.with_suffix(".d.ts")
        text = read_text(mjs)
        signatures = _signatures(read_text(dts)) if dts.is_file() else {}
        starts = list(_METHOD_JS.finditer(text))
        for i, start in enumerate(starts):
            body = text[start.end() : starts[i + 1].start() if i + 1 < len(starts) else len(text)]
            call = _CALL.search(body)
            if call is None:
                continue
            method = {"GETAPILIST": "GET"}.get(call.group(1).upper(), call.group(1).upper())
            path = _template(call.group(2))
            params: dict[str, Param] | None = None
            if start.group(1) in signatures:
                arg, type_name = signatures[start.group(1)]
                found = _resolve(folder, type_name)
                if found is not None:
                    where = {"query": "query", "body": "body"}.get(arg, "any")  # params: path, query and body
                    params = {k: Param(k, where, p.type, p.required, True) for k, p in found.items()}
            elif "query" not in start.group(2) and "body" not in start.group(2) and "params" not in start.group(2):
                params = {}  # the method takes no parameters at all
            ops.setdefault((method, path), Operation(method, path, params))
    return Description(source, servers, list(ops.values()))
