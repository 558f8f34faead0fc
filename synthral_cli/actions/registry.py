"""The connector registry: the classes registered under the entry-point group
``synthral.connectors`` (synthral's own transports and installed plugins), found once and cached.

    Registry(cache_dir, cache_key).connector("http")   -> Connector   imports only that module
    Registry(cache_dir, cache_key).described()         -> [(manifest, source, label)]  plugin entries
    Registry(cache_dir, cache_key).problems            -> one line per plugin that was skipped

Scanning means importing ``importlib.metadata`` (~30 ms), reading every installed package's
entry points and importing every plugin, so the result is cached under ``<config>/cache/``,
keyed on the modification times of the ``sys.path`` folders (installing or removing a package
changes the folder that holds its ``.dist-info``) and of each plugin's module file (an editable
plugin being edited). A scan that skipped a broken plugin is not cached: the next run tries again.
The cache file is authenticated like the catalogue's (``catalogue/cache.py``): it names modules to
import, so an edited or foreign one is scanned again, never trusted; without a key, nothing is
cached.
"""

from __future__ import annotations

import json
import os
import re
import sys
from functools import cached_property
from pathlib import Path

from ..basics.errors import NetworkError, ProviderError, SynthralError, UsageError
from ..catalogue.cache import stamp

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any

    from ..catalogue.cache import CacheFiles
    from .connector import Connector

GROUP = "synthral.connectors"
OWN = "synthral"  # the distribution whose connectors are built in
BUILTIN = {  # synthral's pyproject declares these; used as they are when its metadata predates them
    "http": "synthral_cli.actions.builtin:HttpConnector",
    "smtp": "synthral_cli.actions.builtin:SmtpConnector",
    "postgresql": "synthral_cli.actions.builtin:PostgresqlConnector",
}
CACHE_FORMAT = 1
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_memo: dict[str, tuple[list[Any], Scan]] = {}  # per process, by sys.path


class Entry:
    """One registered connector: entry-point name (the transport), ``module:Class``, its
    distribution, and the manifest it describes (plugins with a catalogue entry)."""

    __slots__ = ("name", "value", "dist", "version", "manifest", "files")

    def __init__(
        self,
        name: str,
        value: str,
        dist: str,
        version: str,
        manifest: dict[str, Any] | None = None,
        files: list[list[Any]] | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.dist = dist
        self.version = version
        self.manifest = manifest
        self.files = files or []  # [[path, mtime_ns], ...] that the cache depends on

    @property
    def builtin(self) -> bool:
        return self.dist == OWN

    @property
    def label(self) -> str:
        return f"connector plugin {self.name!r} ({self.dist} {self.version})"

    def to_json(self) -> list[Any]:
        return [self.name, self.value, self.dist, self.version, self.manifest, self.files]


class Scan:
    """What a scan found: the entries by name, the skipped plugins (one line each) and the
    files of the skipped ones that the cache depends on."""

    __slots__ = ("entries", "problems", "watch")

    def __init__(self, entries: dict[str, Entry], problems: list[str], watch: list[list[Any]]) -> None:
        self.entries = entries
        self.problems = problems
        self.watch = watch

    def fresh(self) -> bool:
        return _fresh(self.watch) and all(_fresh(e.files) for e in self.entries.values())


def _fresh(files: list[list[Any]]) -> bool:
    return all(stamp(str(path)) == seen for path, seen in files)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().split("\n")[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Registry:
    """The connectors this environment has, by entry-point name."""

    def __init__(self, cache_dir: Path | None, cache_key: Path | None = None) -> None:
        from ..catalogue.cache import CacheFiles

        self.cache_dir = cache_dir
        self.cache = CacheFiles(cache_dir, cache_key) if cache_dir is not None and cache_key is not None else None
        self._instances: dict[str, Connector] = {}

    @cached_property
    def _state(self) -> Scan:
        path = list(sys.path)
        ident = json.dumps(path)
        key = [CACHE_FORMAT, _code_version(), [[p, stamp(p)] for p in path]]
        memo = _memo.get(ident)
        if memo is not None and memo[0] == key and memo[1].fresh():
            return memo[1]
        from ..catalogue.folders import _digest

        name = f"connectors-{_digest(ident)}.json"
        scan = _read(self.cache, name, key) if self.cache is not None else None
        if scan is None:
            scan = _scan()
            if self.cache is not None:
                _write(self.cache, name, key, scan)
        _memo[ident] = (key, scan)
        return scan

    @property
    def problems(self) -> list[str]:
        """One line per plugin that was skipped: its entry-point name, package and the error."""
        return list(self._state.problems)

    def names(self) -> list[str]:
        return sorted(self._state.entries)

    def entry(self, name: str) -> Entry | None:
        return self._state.entries.get(name)

    def described(self) -> list[tuple[dict[str, Any], str, str]]:
        """``(manifest, source, label)`` of every plugin that describes a catalogue entry."""
        return [
            (e.manifest, f"{e.value} ({e.dist} {e.version})", e.label)
            for e in self._state.entries.values()
            if e.manifest is not None
        ]

    def connector(self, name: str, slug: str) -> Connector:
        """The connector registered as ``name`` (serving ``slug``), imported on first use."""
        if name in self._instances:
            return self._instances[name]
        entry = self.entry(name)
        if entry is None:
            raise UsageError(
                f"{slug} is served by the connector {name!r}, which is not installed.",
                f"Install the package that registers {name!r} in the entry-point group {GROUP}, "
                "or correct the manifest's transport.",
            )
        try:
            instance: Connector = _load(entry.value)()
        except Exception as exc:
            if entry.builtin:
                raise
            raise failure(entry, exc) from exc
        self._instances[name] = instance
        return instance


def failure(entry: Entry, exc: Exception) -> SynthralError:
    """What a plugin's unexpected exception means to the user: a network failure (exit 4) or a
    fault in that plugin (exit 1), named with its package; ``--debug`` shows the traceback."""
    httpx = sys.modules.get("httpx")
    if isinstance(exc, OSError) or (httpx is not None and isinstance(exc, httpx.TransportError)):
        return NetworkError(
            f"The {entry.name} connector could not reach its service: {_first_line(exc)}.",
            "Check the connection's settings and the network, then try again.",
        )
    return ProviderError(
        f"The {entry.name!r} connector ({entry.dist} {entry.version}) failed: {_first_line(exc)}.",
        f"This is a fault in the {entry.dist} package; rerun with --debug for the traceback and report it "
        "to its authors.",
    )


def _load(value: str) -> Any:
    import importlib

    module, _, attr = value.partition(":")
    obj: Any = importlib.import_module(module.strip())
    for part in attr.strip().split(".") if attr.strip() else []:
        obj = getattr(obj, part)
    return obj


def _code_version() -> str:
    from ..basics.version import __version__

    return __version__


def _read(cache: CacheFiles, name: str, key: list[Any]) -> Scan | None:
    text = cache.read(name)
    if text is None:
        return None
    try:
        data = json.loads(text)
        if data.get("key") != key:
            return None
        scan = Scan({row[0]: Entry(*row) for row in data["entries"]}, list(data["problems"]), list(data["watch"]))
    except (OSError, ValueError, AttributeError, KeyError, TypeError, IndexError):
        return None
    return scan if scan.fresh() else None


def _write(cache: CacheFiles, name: str, key: list[Any], scan: Scan) -> None:
    entries = [e.to_json() for e in scan.entries.values()]
    data = {"key": key, "entries": entries, "problems": scan.problems, "watch": scan.watch}
    cache.write(name, json.dumps(data, separators=(",", ":")))


def _scan() -> Scan:
    """Every entry point of the group, synthral's own first: imported, checked, described."""
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group=GROUP):
        meta = ep.dist
        found.append((meta.name if meta is not None else "unknown", meta.version if meta is not None else "?", ep))
    found.sort(key=lambda f: (f[0] != OWN, f[0].lower(), f[2].name))
    entries: dict[str, Entry] = {}
    problems: list[str] = []
    watch: list[list[Any]] = []
    for dist, version, ep in found:
        entry = Entry(ep.name, ep.value, dist, version)
        taken = entries.get(ep.name)
        if not _NAME.fullmatch(ep.name):
            problems.append(f"{entry.label}: the name must be lower-case letters, digits, - or _; skipped.")
        elif taken is not None or (ep.name in BUILTIN and dist != OWN):
            owner = f"{taken.dist} {taken.version}" if taken is not None else OWN
            problems.append(f"{entry.label}: the name {ep.name!r} is already taken by {owner}; skipped.")
        else:
            problem = _describe(entry)
            if problem is None:
                entries[ep.name] = entry
            else:
                problems.append(f"{entry.label} {problem}; skipped.")
                watch.extend(entry.files or _module_files(entry.value))
    for name, value in BUILTIN.items():  # an install whose metadata predates the entry points
        if name not in entries:
            entries[name] = Entry(name, value, OWN, _code_version())
    return Scan(entries, problems, watch)


def _module_files(value: str) -> list[list[Any]]:
    """The file of a plugin module that failed to import, when it can be found without running
    it (a fix there rescans); none when the module itself is missing."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(value.partition(":")[0].strip())
    except (Exception, SystemExit):
        return []
    origin = getattr(spec, "origin", None)
    return [[origin, stamp(origin)]] if origin and os.path.isfile(origin) else []


def _describe(entry: Entry) -> str | None:
    """Import the class and fill ``entry.manifest`` and ``entry.files``; what went wrong, if anything."""
    from .connector import Connector

    try:
        obj = _load(entry.value)
    except (Exception, SystemExit) as exc:
        return f"failed to import: {_first_line(exc)}"
    if not (isinstance(obj, type) and issubclass(obj, Connector)):
        return f"failed to register: {entry.value} is not a subclass of synthral's Connector"
    module = sys.modules.get(obj.__module__)
    source = getattr(module, "__file__", None)
    if source and not entry.builtin:
        entry.files = [[source, stamp(source)]]
    try:
        doc = obj.describe(entry.name, entry.version)
    except (Exception, SystemExit) as exc:
        return f"failed to register: {_first_line(exc)}"
    if doc is not None:
        from ..catalogue.validation import validate_dict

        invalid = validate_dict(doc)
        if invalid:
            shown = "; ".join(p[:200] for p in invalid[:3]) + ("; ..." if len(invalid) > 3 else "")
            return f"describes an invalid connector: {shown}"
    entry.manifest = doc
    return None
