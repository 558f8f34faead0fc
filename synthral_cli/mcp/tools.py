"""Connector actions as tool definitions, and which of them a server or an export offers.

A tool is named ``{slug}__{action}`` (characters outside ``[A-Za-z0-9_-]`` replaced, at most 64
characters: a longer name keeps its start and ends in a checksum of the whole), titled
"Connector: Action name", described by the action's description, typed by ``schema.py``, and
annotated from the manifest: ``readOnlyHint`` for GET/HEAD (or ``read_only: true``),
``destructiveHint`` for DELETE (or ``destructive: true``), ``idempotentHint``, and
``openWorldHint: true`` (every action reaches a provider). Lists are sorted by name.

Which tools: with ``Selection.connectors`` those connectors; with ``everything`` the whole
catalogue; otherwise the connectors that have a usable credential (a stored connection that
does not need re-authorization, or ``SYNTHRAL_<SLUG>_TOKEN``). ``actions`` globs and
``read_only`` narrow any of these, and also bound what the meta tools can reach.
"""

from __future__ import annotations

import fnmatch
import re
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..basics.errors import StoreError, UsageError
from .schema import input_shape, output_schema

if TYPE_CHECKING:
    from ..api import Synthral
    from ..catalogue.manifest import Action, Manifest

NAME_MAX = 64
_BAD = re.compile(r"[^A-Za-z0-9_-]")
TOOL_MODES = ("all", "actions", "meta")


def tool_name(slug: str, action: str) -> str:
    """``github`` + ``list_repos`` -> ``github__list_repos``; sanitized, unique, <= 64 chars."""
    raw = f"{slug}__{action}"
    name = _BAD.sub("_", raw)
    if name == raw and len(name) <= NAME_MAX:
        return name
    tag = f"{zlib.crc32(raw.encode('utf-8')):08x}"
    return f"{name[: NAME_MAX - len(tag) - 1]}_{tag}"


def _humane(name: str) -> str:
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def tool_annotations(manifest: Manifest, action: Action) -> dict[str, Any]:
    """The MCP tool annotations. Reads are GET/HEAD on HTTP connectors (and ``test_connection``,
    which the contract says is a cheap identity call); deletes are DELETE; the manifest's
    ``read_only`` / ``destructive`` win."""
    raw = action.raw
    http = manifest.transport == "http"
    default_read = (http and action.method in {"GET", "HEAD"}) or action.name == "test_connection"
    read_only = bool(raw.get("read_only", default_read and not raw.get("destructive")))
    destructive = not read_only and bool(raw.get("destructive", http and action.method == "DELETE"))
    idempotent = bool(raw.get("idempotent", action.idempotent if http else read_only))
    return {
        "readOnlyHint": read_only,
        "destructiveHint": destructive,
        "idempotentHint": idempotent,
        "openWorldHint": True,
    }


@dataclass
class Entry:
    """One action offered as a tool: where it comes from and its MCP definition."""

    slug: str
    action: str
    tool: dict[str, Any]
    controls: dict[str, str]
    excluded: list[str]
    wrapped: bool  # structuredContent is {"result": body} (the declared result is not an object)

    @property
    def name(self) -> str:
        return str(self.tool["name"])

    @property
    def read_only(self) -> bool:
        return bool(self.tool["annotations"]["readOnlyHint"])

    @property
    def destructive(self) -> bool:
        return bool(self.tool["annotations"]["destructiveHint"])


def build_entry(manifest: Manifest, action: Action, allow_files: bool = False) -> Entry | str:
    """The tool for ``action``, or the reason it cannot be one."""
    shape = input_shape(manifest, action, allow_files)
    if shape.unavailable:
        return shape.unavailable
    tool: dict[str, Any] = {
        "name": tool_name(manifest.slug, action.name),
        "title": f"{manifest.name}: {_humane(action.name)}",
        "description": action.description,
        "inputSchema": shape.schema,
    }
    out = output_schema(manifest, action)
    if out is not None:
        tool["outputSchema"] = out
    tool["annotations"] = tool_annotations(manifest, action)
    declared = action.raw.get("result_schema")
    wrapped = out is not None and isinstance(declared, dict) and declared.get("type") != "object"
    return Entry(manifest.slug, action.name, tool, shape.controls, shape.excluded, wrapped)


@dataclass
class Selection:
    """What ``--connector``, ``--action``, ``--read-only``, ``--all``, ``--allow-files`` and
    ``--tools`` ask for."""

    connectors: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    read_only: bool = False
    everything: bool = False
    allow_files: bool = False
    tools: str = "all"

    def check(self, sy: Synthral) -> None:
        """Unknown slugs and modes are usage errors, before any server starts."""
        if self.tools not in TOOL_MODES:
            raise UsageError(f"--tools {self.tools!r} is not one of {', '.join(TOOL_MODES)}.",
                             "all: actions and meta tools; actions: only actions; meta: only the 3 meta tools.")
        for slug in self.connectors:
            sy.connector(slug)
        for pattern in self.actions:
            if not pattern.strip():
                raise UsageError("--action needs a glob, e.g. 'github__list_*' or 'list_*'.", None)

    def admits(self, entry: Entry) -> bool:
        """``--connector``, ``--action`` globs (matched against the tool name or the action name) and
        ``--read-only``; whether the connector is connected does not matter here."""
        if self.read_only and not entry.read_only:
            return False
        if self.actions and not any(
            fnmatch.fnmatchcase(entry.name, g) or fnmatch.fnmatchcase(entry.action, g) for g in self.actions
        ):
            return False
        return not self.connectors or entry.slug in self.connectors


def usable_connectors(sy: Synthral) -> set[str]:
    """Slugs with a usable credential: ``SYNTHRAL_<SLUG>_TOKEN`` or a stored connection that does
    not need re-authorization. Reading the list decrypts nothing; a missing store is empty."""
    slugs = {s for s in sy.catalogue.slugs() if sy.settings.token_override(s) is not None}
    from ..store.encrypted import Store

    if not Store.exists(sy.settings):
        return slugs
    other = sy.sibling()  # a store of its own: the caller's may belong to another thread
    try:
        slugs |= {c.slug for c in other.store.list() if not c.needs_reauth and c.slug in sy.catalogue}
    except StoreError:
        pass
    finally:
        if "store" in other.__dict__:
            other.store.close()
    return slugs


class Toolbox:
    """The tools of one server (or export): built once per action, listed per request."""

    def __init__(self, sy: Synthral, selection: Selection) -> None:
        self.sy = sy
        self.selection = selection
        self._built: dict[tuple[str, str], Entry | str] = {}

    def entry(self, slug: str, action: str) -> Entry | str:
        key = (slug, action)
        if key not in self._built:
            manifest = self.sy.connector(slug)
            self._built[key] = build_entry(manifest, manifest.action(action), self.selection.allow_files)
        return self._built[key]

    def connector_entries(self, slug: str) -> list[Entry]:
        """The admitted tools of one connector."""
        out = []
        for action in self.sy.connector(slug).actions:
            got = self.entry(slug, action.name)
            if isinstance(got, Entry) and self.selection.admits(got):
                out.append(got)
        return out

    def slugs(self) -> list[str]:
        """The connectors whose actions are listed as tools (see the module docstring)."""
        sel = self.selection
        if sel.tools == "meta":
            return []
        if sel.connectors:
            return sorted(set(sel.connectors))
        if sel.everything:
            return self.sy.catalogue.slugs()
        return sorted(usable_connectors(self.sy))

    def entries(self) -> list[Entry]:
        out = [e for slug in self.slugs() for e in self.connector_entries(slug)]
        return sorted(out, key=lambda e: e.name)

    def find(self, name: str) -> Entry | None:
        """The listed-or-reachable tool called ``name`` (``None`` if there is none)."""
        slug, sep, action = name.partition("__")
        candidates: list[tuple[str, str]] = []
        if sep and slug in self.sy.catalogue:
            candidates.append((slug, action))
        if not candidates or tool_name(slug, action) != name:  # a sanitized or shortened name
            candidates = [(m.slug, a.name) for m in self.sy.catalogue for a in m.actions
                          if tool_name(m.slug, a.name) == name]
        for s, a in candidates:
            if not any(x.name == a for x in self.sy.connector(s).actions):
                continue
            got = self.entry(s, a)
            if isinstance(got, Entry) and got.name == name:
                return got
        return None

    def callable(self, name: str) -> Entry | None:
        """A tool a client may call by name: one the selection admits, listed or not (a
        connector without a connection is not listed by default, but calling it says which
        ``synthral authorize`` to run). With ``--tools meta`` only the meta tools are callable."""
        if self.selection.tools == "meta":
            return None
        got = self.find(name)
        return got if got is not None and self.selection.admits(got) else None
