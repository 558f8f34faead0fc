"""Compare one manifest with its provider's description: every problem is a line naming the
manifest file and field, the way ``synthral connectors validate`` reports them.

Checked per action: the method and path exist (templates matched by position, after one of the
description's server URLs), every declared query/header/body parameter exists there in a
compatible place and type, every query/body parameter the description requires is declared.
Per manifest: base_url is on a server the description lists; api_version is one it lists.
A manifest records a difference that is right on purpose under ``deviations`` (with the reason);
those are not reported.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .model import Description, Operation, Param, match_segments, segments

_SCALARS = {"string", "integer", "number", "boolean"}
_DATE = re.compile(r"\d{4}-\d{2}(-\d{2})?(\.\w+)?\Z|\d{6}\Z")


def _origin(url: str) -> tuple[str, list[str], list[str]]:
    """scheme, host labels, path segments of a URL template (``{x}`` kept as a template)."""
    parts = urlsplit(url.replace("{", "%7B").replace("}", "%7D"))
    host = (parts.hostname or "").lower().replace("%7b", "{").replace("%7d", "}")
    path = parts.path.replace("%7B", "{").replace("%7D", "}")
    return parts.scheme, host.split("."), segments(path)


def _host_match(ours: list[str], theirs: list[str]) -> bool:
    if len(ours) == 1 and ours[0].startswith("{") and ours[0].endswith("}"):
        return True  # the whole host is a setting (Intercom's regional api_host)
    if len(ours) != len(theirs):
        return False
    return all(a == b or "{" in a or "{" in b for a, b in zip(ours, theirs, strict=True))


def _rest(url: str, server: str, any_host: bool = False) -> list[str] | None:
    """Our path below ``server`` when ``url`` is on it (or, ``any_host``, on any host), else None."""
    scheme, host, path = _origin(url)
    s_scheme, s_host, s_path = _origin(server)
    if not any_host and (scheme != s_scheme or not _host_match(host, s_host)):
        return None
    if len(path) < len(s_path) or not match_segments(path[: len(s_path)], s_path):
        return None
    return path[len(s_path) :]


def _compatible(ours: str, theirs: str | None, location: str) -> bool:
    if theirs in (None, "any", "null") or ours == theirs:
        return True
    if ours in {"integer", "number"} and theirs in {"integer", "number"}:
        return True
    if ours == "file":
        return theirs in {"file", "string", "object"}
    if location in {"query", "header", "path"}:  # everything is text on a URL; arrays are csv
        return not (ours == "object")
    if ours in _SCALARS and theirs in _SCALARS:
        return ours == "string" or theirs == "string"
    return False


class Checker:
    def __init__(self, file: str, raw: dict[str, Any], desc: Description) -> None:
        self.file, self.raw, self.desc = file, raw, desc
        self.problems: list[str] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(f"{self.file}: {field}: {message} [{self.desc.source}]")

    def run(self) -> list[str]:
        deviations = self.raw.get("deviations") or {}
        base = self.raw.get("base_url", "")
        if "base_url" not in deviations and not any(_rest(base, s) is not None for s in self.desc.servers):
            self.fail("base_url", f"{base!r} is not on a server the description lists ({', '.join(self.desc.servers)})")
        self.check_version(deviations)
        for action in self.raw["actions"]:
            if "transport_op" not in action:
                self.check_action(action, base)
        return self.problems

    def check_version(self, deviations: dict[str, str]) -> None:
        pin, listed = self.raw.get("api_version"), self.desc.versions
        if pin is None or not listed or "api_version" in deviations:
            return
        if not self.desc.current_only:
            if pin not in listed:
                self.fail("api_version", f"{pin!r} is not a version the description lists ({', '.join(listed)})")
            return
        current = listed[0]
        newer = bool(_DATE.match(pin) and _DATE.match(current) and pin > current)
        if pin != current and not newer:
            self.fail(
                "api_version",
                f"{pin!r} is older than {current!r}, the only version the description lists; "
                "move the pin or record why under deviations.api_version",
            )

    def check_action(self, action: dict[str, Any], base: str) -> None:
        deviations = action.get("deviations") or {}
        if "operation" in deviations:
            return
        where = f"actions[{action['name']}]"
        url = action.get("base_url", base) + action.get("path", "")
        method = action.get("method", "GET")
        found: Operation | None = None
        on_server = False
        any_host = "base_url" in (self.raw.get("deviations") or {}) and "base_url" not in action
        for server in self.desc.servers:
            rest = _rest(url, server, any_host)
            if rest is None:
                continue
            on_server = True
            found = self.desc.find(method, "/".join(rest))
            if found is not None:
                break
        if not on_server and "base_url" in action:
            if "base_url" not in deviations:
                self.fail(f"{where}.base_url", f"{action['base_url']!r} is not on a server the description lists")
            return
        if found is None:
            self.fail(f"{where}.path", f"{method} {action.get('path')} is not an operation of the description")
            return
        if found.params is not None:
            self.check_params(where, action, found, deviations)

    def check_params(self, where: str, action: dict[str, Any], op: Operation, deviations: dict[str, str]) -> None:
        params = op.params or {}
        has_headers = any(p.location == "header" for p in params.values())
        # A body synthral builds (an encoder's, a multipart upload's parts, a raw file) is not
        # the description's JSON fields: only its query and header parameters are compared.
        open_body = "_body" in params or bool(action.get("encoder")) or action.get("body") in {"multipart", "raw"}
        url = action.get("base_url", self.raw.get("base_url", "")) + action.get("path", "")
        sent = set(re.findall(r"[?&]([^=&#]+)=", url))  # fixed in the URL (GCS ?project={project})
        for p in action.get("parameters", []):
            wire = p.get("wire_name") or p["name"]
            top = re.split(r"[.\[]", wire)[0] if p["in"] == "body" else wire
            sent.add(top)
            if p["in"] == "path" or f"parameters.{p['name']}" in deviations:
                continue
            theirs: Param | None = params.get(top) or (params.get(top.lower()) if p["in"] == "header" else None)
            if theirs is None:
                if (p["in"] == "header" and not has_headers) or (p["in"] == "body" and open_body):
                    continue
                self.fail(
                    f"{where}.parameters[{p['name']}]",
                    f"{op.method} {op.path} has no {p['in']} parameter {top!r}",
                )
                continue
            if (
                p.get("required")
                and theirs.required is False
                and theirs.known
                and f"required.{p['name']}" not in deviations
            ):
                self.fail(f"{where}.parameters[{p['name']}].required", f"{top!r} is optional there")
            if theirs.location not in {p["in"], "any"}:
                self.fail(f"{where}.parameters[{p['name']}].in", f"{top!r} is a {theirs.location} parameter there")
            elif not _compatible(p["type"], theirs.type, p["in"]):
                self.fail(f"{where}.parameters[{p['name']}].type", f"{top!r} is {theirs.type} there, not {p['type']}")
        for theirs in params.values():
            if theirs.required and theirs.location in {"query", "body"} and theirs.name != "_body":
                if theirs.name not in sent and f"required.{theirs.name}" not in deviations:
                    need = f"requires {theirs.location} parameter {theirs.name!r}"
                    self.fail(f"{where}.parameters", f"{op.method} {op.path} {need}")
