"""Connector manifests: load, validate, merge and cache them.

A manifest is one YAML file per connector, validated against the versioned JSON Schema in
``schema/manifest-v1.json`` plus the semantic checks below (placeholders, a ``test_connection``
action, HTTPS). The catalogue is the bundled manifests, then ``<config>/manifests/``, then each
folder of ``SYNTHRAL_MANIFESTS_PATH``; a later manifest with the same slug replaces an earlier one.

Parsing YAML and validating is slow (hundreds of ms for the catalogue), so each folder's parsed
and validated manifests are cached as JSON under ``<config>/cache/``, keyed on the names, sizes
and modification times of its files. Listing the catalogue reads only small summaries.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import ManifestError, UsageError

SCHEMA_VERSION = 1
CACHE_FORMAT = 3
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
CATEGORIES = (
    "Communication & Collaboration",
    "CRM & Sales",
    "Project Management",
    "File Storage & Cloud",
    "E-commerce & Payments",
    "Social Media",
    "Analytics & Data",
    "Development & Code",
    "AI & Machine Learning",
    "Productivity & Notes",
    "Calendar & Scheduling",
    "Payments",
)
SUMMARY_KEYS = (
    "id",
    "slug",
    "name",
    "status",
    "category",
    "description",
    "latest_version",
    "nango_enabled",
    "nango_provider_key",
    "auth_type",
)


def schema_path() -> Path:
    return Path(__file__).parent / "schema" / "manifest-v1.json"


def bundled_dir() -> Path:
    """The manifests inside the installed package, or the checkout's ``manifests/``."""
    inside = Path(__file__).parent / "manifests"
    return inside if inside.is_dir() else Path(__file__).parent.parent / "manifests"


# ---------------------------------------------------------------------------------------------
# The model: thin typed views over the validated dict, built lazily.


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    type: str
    required: bool = False
    default: Any = None
    description: str = ""
    enum: list[Any] | None = None
    wire_name: str | None = None
    secret: bool = False
    style: str | None = None

    @property
    def wire(self) -> str:
        return self.wire_name or self.name

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "in": self.location,
            "type": self.type,
            "required": self.required,
            "description": self.description,
        }
        if self.default is not None:
            out["default"] = self.default
        if self.enum:
            out["enum"] = self.enum
        return out


@dataclass(frozen=True)
class Action:
    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def description(self) -> str:
        return str(self.raw["description"])

    @property
    def method(self) -> str:
        return str(self.raw.get("method", "GET"))

    @property
    def path(self) -> str:
        return str(self.raw.get("path", ""))

    @property
    def scopes(self) -> list[str]:
        return list(self.raw.get("scopes", []))

    @property
    def body(self) -> str:
        return str(self.raw.get("body", "json"))

    @property
    def idempotent(self) -> bool:
        if "idempotent" in self.raw:
            return bool(self.raw["idempotent"])
        return self.method in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}

    @cached_property
    def parameters(self) -> list[Parameter]:
        return [
            Parameter(
                name=p["name"],
                location=p["in"],
                type=p["type"],
                required=bool(p.get("required", False)),
                default=p.get("default"),
                description=p.get("description", ""),
                enum=p.get("enum"),
                wire_name=p.get("wire_name"),
                secret=bool(p.get("secret", False)),
                style=p.get("style"),
            )
            for p in self.raw.get("parameters", [])
        ]

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "method": self.method,
            "path": self.path,
            "scopes": self.scopes,
            "body": self.body,
            "parameters": [p.to_dict() for p in self.parameters],
        }


@dataclass(frozen=True)
class Manifest:
    """One connector. ``raw`` is the validated manifest; ``source`` the file it came from."""

    raw: dict[str, Any]
    source: str = ""
    bundled: bool = True

    @property
    def slug(self) -> str:
        return str(self.raw["slug"])

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def category(self) -> str:
        return str(self.raw["category"])

    @property
    def status(self) -> str:
        return str(self.raw["status"])

    @property
    def description(self) -> str:
        return str(self.raw["description"])

    @property
    def docs_url(self) -> str:
        return str(self.raw["docs_url"])

    @property
    def transport(self) -> str:
        return str(self.raw.get("transport", "http"))

    @property
    def base_url(self) -> str:
        return str(self.raw.get("base_url", ""))

    @property
    def auth(self) -> dict[str, Any]:
        return dict(self.raw["auth"])

    @property
    def auth_type(self) -> str:
        return str(self.raw["auth"]["type"])

    @property
    def connection_config(self) -> dict[str, dict[str, Any]]:
        return dict(self.raw.get("connection_config") or {})

    @property
    def nango(self) -> dict[str, Any]:
        return dict(self.raw["nango"])

    @cached_property
    def actions(self) -> list[Action]:
        return [Action(a) for a in self.raw["actions"]]

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        names = [a.name for a in self.actions]
        raise UsageError(
            f"{self.slug} has no action {name!r}.{_did_you_mean(name, names)}",
            f"List them with: synthral connectors actions {self.slug}",
        )

    def summary(self) -> dict[str, Any]:
        return summarize(self.raw)

    def to_dict(self) -> dict[str, Any]:
        """The ``connectors show --json`` shape: summary, auth, Nango, base URL and actions."""
        auth = {k: v for k, v in self.auth.items() if not k.startswith("x-")}
        return {
            **self.summary(),
            "docs_url": self.docs_url,
            "transport": self.transport,
            "base_url": self.base_url,
            "auth": auth,
            "connection_config": self.connection_config,
            "nango": self.nango,
            "source": self.source,
            "actions": [a.to_dict() for a in self.actions],
        }


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    nango = raw.get("nango") or {}
    return {
        "id": raw["slug"],
        "slug": raw["slug"],
        "name": raw["name"],
        "status": raw["status"],
        "category": raw["category"],
        "description": raw["description"],
        "latest_version": raw["version"],
        "nango_enabled": bool(nango.get("enabled")),
        "nango_provider_key": nango.get("provider_key"),
        "auth_type": raw["auth"]["type"],
    }


def _did_you_mean(word: str, choices: list[str], n: int = 3) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=n, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


# ---------------------------------------------------------------------------------------------
# Validation


def _yaml_load(text: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


_validator: Any = None


def _schema_validator() -> Any:
    global _validator
    if _validator is None:
        from jsonschema import Draft202012Validator

        schema = json.loads(schema_path().read_text(encoding="utf-8"))
        _validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return _validator


def _field_path(doc: Any, path: list[Any]) -> str:
    """``['actions', 2, 'parameters', 0, 'in']`` -> ``actions[send].parameters[channel].in``."""
    out: list[str] = []
    node = doc
    for part in path:
        if isinstance(part, int):
            name = None
            if isinstance(node, list) and part < len(node) and isinstance(node[part], dict):
                name = node[part].get("name")
            out[-1:] = [f"{out[-1] if out else ''}[{_printable(name) if isinstance(name, str) else part}]"]
        else:
            out.append(_printable(str(part)))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(out) or "(top)"


def _printable(text: str) -> str:
    """A name from the file as it can appear in a one-line problem (line breaks escaped)."""
    return text if text.isprintable() else repr(text)[1:-1]


def _message(err: Any) -> str:
    """jsonschema's message, made plain for unknown fields (with a suggestion)."""
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = list(err.schema.get("properties", {}))
        extra = [k for k in err.instance if k not in known and not str(k).startswith("x-")]
        if extra:
            return "; ".join(f"unknown field {k!r}.{_did_you_mean(str(k), known, 1)}" for k in extra)
    return str(err.message)


def _is_safe_url(url: str) -> bool:
    """HTTPS, or plain HTTP only to a loopback host (local test servers)."""
    if url.startswith("https://"):
        return True
    m = re.match(r"http://(\[::1\]|127\.\d+\.\d+\.\d+|localhost)(:\d+)?(/|$)", url)
    return m is not None


def _not_json(doc: Any, node: Any, path: list[Any]) -> list[str]:
    """YAML values that JSON cannot hold (dates, timestamps, binary, non-text keys), as problems."""
    if isinstance(node, dict):
        out: list[str] = []
        for k, v in node.items():
            if isinstance(k, str):
                out += _not_json(doc, v, [*path, k])
            else:
                out.append(f"{_field_path(doc, path)}: the key {k!r} must be text (quote it)")
        return out
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _not_json(doc, v, [*path, i])]
    if node is None or isinstance(node, (str, bool, int, float)):
        return []
    return [f"{_field_path(doc, path)}: {str(node)!r} is a YAML {type(node).__name__}, not text (quote it)"]


def validate_dict(doc: Any) -> list[str]:
    """Every problem in one manifest, as ``field.path: message`` strings (empty when valid)."""
    if not isinstance(doc, dict):
        return ["(top): a manifest must be a YAML mapping"]
    not_json = _not_json(doc, doc, [])
    if not_json:  # a YAML date or a numeric key would break the JSON catalogue cache
        return not_json
    problems = []
    for err in sorted(_schema_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(f"{_field_path(doc, list(err.absolute_path))}: {_message(err)}")
    if problems:
        return problems
    return _semantic_problems(doc)


def _semantic_problems(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    config_vars = set((doc.get("connection_config") or {}).keys())
    transport = doc.get("transport", "http")
    auth = doc["auth"]

    def check_url(where: str, url: str) -> None:
        for var in _PLACEHOLDER.findall(url):
            if var not in config_vars:
                problems.append(f"{where}: {{{var}}} is not a connection_config variable")
        probe = _PLACEHOLDER.sub("x", url)
        # A URL that starts with a variable (Salesforce's instance_url from the token response)
        # is checked when it is rendered, by render_url.
        if not url.startswith("{") and not _is_safe_url(probe):
            problems.append(f"{where}: must be an https:// URL (plain http only for loopback)")

    if transport == "http":
        if "base_url" not in doc:
            problems.append("base_url: required for HTTP connectors")
        else:
            check_url("base_url", doc["base_url"])
    for key in (
        "authorization_url",
        "token_url",
        "refresh_url",
        "revocation_url",
        "device_authorization_url",
    ):
        if key in auth:
            check_url(f"auth.{key}", auth[key])
    grants = auth.get("grant_types", ["authorization_code"] if auth["type"] == "oauth2" else [])
    if "device_code" in grants and "device_authorization_url" not in auth:
        problems.append("auth.grant_types: device_code needs auth.device_authorization_url")
    if auth["type"] == "custom" and not auth.get("fields"):
        problems.append("auth.fields: custom auth must name the credential fields it asks for")
    field_names = {f["name"] for f in auth.get("fields", [])}
    for i, inj in enumerate(auth.get("inject", [])):
        for var in _PLACEHOLDER.findall(inj["value"]):
            if var not in field_names | config_vars | _default_fields(auth["type"]):
                problems.append(
                    f"auth.inject[{i}].value: {{{var}}} is not a credential field or "
                    "connection_config variable"
                )

    def check_headers(where: str, headers: dict[str, str]) -> None:
        for name, value in headers.items():
            for var in _PLACEHOLDER.findall(value):
                if var not in config_vars:
                    problems.append(f"{where}.{name}: {{{var}}} is not a connection_config variable")

    def check_paths(where: str, spec: dict[str, Any], keys: tuple[str, ...]) -> None:
        for key in keys:
            value = spec.get(key)
            for i, path in enumerate(value if isinstance(value, list) else [value]):
                if isinstance(path, str):
                    try:
                        split_path(path)
                    except ValueError as exc:
                        sub = f"[{i}]" if isinstance(value, list) else ""
                        problems.append(f"{where}.{key}{sub}: {exc}")

    def check_pagination(where: str, spec: dict[str, Any]) -> None:
        check_paths(where, spec, _PAGINATION_PATHS)
        if spec["type"] == "next_url" and not spec.get("next_url_path"):
            problems.append(f"{where}.next_url_path: required for type: next_url")

    check_headers("headers", doc.get("headers") or {})
    check_paths("errors", doc.get("errors") or {}, ("ok_path", "error_path", "message_paths"))
    if doc.get("pagination"):
        check_pagination("pagination", doc["pagination"])
    sigv4 = auth["type"] == "custom" and auth.get("scheme") == "aws_sigv4"
    nango = doc["nango"]
    if nango.get("enabled") and not nango.get("provider_key"):
        problems.append("nango.provider_key: required when nango.enabled is true")

    names: set[str] = set()
    for action in doc["actions"]:
        where = f"actions[{action['name']}]"
        if action["name"] in names:
            problems.append(f"{where}.name: duplicate action name")
        names.add(action["name"])
        params = action.get("parameters", [])
        pnames = [p["name"] for p in params]
        for dup in {n for n in pnames if pnames.count(n) > 1}:
            problems.append(f"{where}.parameters[{dup}]: duplicate parameter name")
        if transport == "http":
            if "method" not in action:
                problems.append(f"{where}.method: required for HTTP actions")
            if "path" not in action:
                problems.append(f"{where}.path: required for HTTP actions")
            if "base_url" in action:
                check_url(f"{where}.base_url", action["base_url"])
            in_path = set(_PLACEHOLDER.findall(action.get("path", "")))
            declared = {p["name"] for p in params if p["in"] == "path"}
            for var in sorted(in_path - declared):
                problems.append(f"{where}.path: {{{var}}} has no parameter with in: path")
            for var in sorted(declared - in_path):
                problems.append(f"{where}.parameters[{var}]: in: path but the path has no {{{var}}}")
            for p in params:
                if p["in"] == "path" and not p.get("required", False):
                    problems.append(f"{where}.parameters[{p['name']}].required: path parameters are required")
                if p["type"] == "file" and action.get("body", "json") not in {"multipart", "raw"}:
                    problems.append(
                        f"{where}.parameters[{p['name']}].type: file parameters need body: multipart or raw"
                    )
            check_headers(f"{where}.headers", action.get("headers") or {})
            if action.get("pagination"):
                check_pagination(f"{where}.pagination", action["pagination"])
            if "aws_service" in action and not sigv4:
                problems.append(f"{where}.aws_service: only for auth.scheme aws_sigv4")
            if action.get("body") == "raw" and sum(p["in"] == "body" for p in params) != 1:
                problems.append(f"{where}.body: raw needs exactly one parameter with in: body")
    if "test_connection" not in names:
        problems.append("actions: every connector needs a test_connection action")
    return problems


_PAGINATION_PATHS = (
    "items_path",
    "next_url_path",
    "next_cursor_path",
    "has_more_path",
    "last_page_path",
    "cursor_from_last_item",
)


def _default_fields(auth_type: str) -> set[str]:
    return {
        "api_key": {"api_key"},
        "bearer": {"token"},
        "basic": {"username", "password"},
        "oauth2": {"access_token"},
    }.get(auth_type, set())


def validate_file(path: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """Parse and validate one file: ``(manifest, [])`` or ``(None, ["file: field: message", ...])``."""
    try:
        doc = _yaml_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [f"{path}: (file): cannot read: {exc.strerror or exc}"]
    except UnicodeDecodeError:
        return None, [f"{path}: (file): not UTF-8 text"]
    except Exception as exc:  # yaml.YAMLError and friends: the loader's message names the line
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        problem = _printable(getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0])
        return None, [f"{path}: {where}: invalid YAML: {problem}"]
    problems = validate_dict(doc)
    if not problems and path.stem != doc["slug"]:
        problems = [f"slug: {doc['slug']!r} does not match the file name {path.name!r}"]
    if problems:
        return None, [f"{path}: {p}" for p in problems]
    return doc, []


# ---------------------------------------------------------------------------------------------
# Loading with a per-folder cache


def _manifest_files(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(
                (e for e in it if e.name.endswith((".yaml", ".yml")) and not e.name.startswith(".")),
                key=lambda e: e.name,
            )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _fingerprint(entries: list[os.DirEntry[str]]) -> list[list[Any]]:
    out = []
    for e in entries:
        try:
            st = e.stat()
        except OSError:
            continue
        out.append([e.name, st.st_size, st.st_mtime_ns])
    return out


def _cache_file(cache_dir: Path, folder: Path, kind: str) -> Path:
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"catalogue-{digest}.{kind}.json"


def _write_json_atomic(path: Path, data: Any) -> None:
    """Best effort: a cache that cannot be written is simply rebuilt next time."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        pass


@dataclass
class FolderIndex:
    """One folder's manifests: slug -> summary, plus per-file problems."""

    folder: Path
    bundled: bool
    summaries: dict[str, dict[str, Any]]
    files: dict[str, str]  # slug -> file name
    problems: list[str]
    cache_dir: Path | None
    _full: dict[str, dict[str, Any]] | None = None

    def full(self, slug: str) -> dict[str, Any]:
        if self._full is None:
            data = None
            if self.cache_dir is not None:
                try:
                    with open(_cache_file(self.cache_dir, self.folder, "full"), encoding="utf-8") as f:
                        data = json.load(f)
                except (OSError, ValueError):
                    data = None
            if not isinstance(data, dict) or set(data) != set(self.summaries):
                data = {}
                for s, name in self.files.items():
                    doc, _ = validate_file(self.folder / name)
                    if doc is not None:
                        data[s] = doc
                if self.cache_dir is not None:
                    _write_json_atomic(_cache_file(self.cache_dir, self.folder, "full"), data)
            self._full = data
        return self._full[slug]


def index_folder(folder: Path, *, bundled: bool, cache_dir: Path | None) -> FolderIndex:
    entries = _manifest_files(folder)
    fp = _fingerprint(entries)
    key = [CACHE_FORMAT, SCHEMA_VERSION, _code_version(), fp]
    if cache_dir is not None and entries:
        try:
            with open(_cache_file(cache_dir, folder, "index"), encoding="utf-8") as f:
                cached = json.load(f)
            if cached.get("key") == key:
                return FolderIndex(
                    folder, bundled, cached["summaries"], cached["files"], cached["problems"], cache_dir
                )
        except (OSError, ValueError, AttributeError, KeyError):
            pass
    summaries: dict[str, dict[str, Any]] = {}
    files: dict[str, str] = {}
    full: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for e in entries:
        doc, errs = validate_file(Path(e.path))
        if doc is None:
            problems.extend(errs)
            continue
        summaries[doc["slug"]] = summarize(doc)
        files[doc["slug"]] = e.name
        full[doc["slug"]] = doc
    if cache_dir is not None and entries:
        _write_json_atomic(_cache_file(cache_dir, folder, "full"), full)
        _write_json_atomic(
            _cache_file(cache_dir, folder, "index"),
            {"key": key, "summaries": summaries, "files": files, "problems": problems},
        )
    return FolderIndex(folder, bundled, summaries, files, problems, cache_dir, full)


def _code_version() -> str:
    from . import __version__

    return __version__


@dataclass
class Catalogue:
    """The merged catalogue. ``problems`` are broken user manifests (reported, then skipped)."""

    folders: list[FolderIndex] = field(default_factory=list)

    @cached_property
    def _owner(self) -> dict[str, FolderIndex]:
        owner: dict[str, FolderIndex] = {}
        for idx in self.folders:
            for slug in idx.summaries:
                owner[slug] = idx
        return owner

    @property
    def problems(self) -> list[str]:
        return [p for idx in self.folders for p in idx.problems]

    def slugs(self) -> list[str]:
        return sorted(self._owner)

    def summaries(self) -> list[dict[str, Any]]:
        return [self._owner[s].summaries[s] for s in self.slugs()]

    def __contains__(self, slug: object) -> bool:
        return slug in self._owner

    def get(self, slug: str) -> Manifest:
        idx = self._owner.get(slug)
        if idx is None:
            raise UsageError(
                f"Unknown connector {slug!r}.{_did_you_mean(slug, self.slugs())}",
                "See them all with: synthral connectors list",
            )
        return Manifest(idx.full(slug), str(idx.folder / idx.files[slug]), idx.bundled)

    def __iter__(self) -> Iterator[Manifest]:
        return (self.get(s) for s in self.slugs())


def load_catalogue(user_dirs: list[Path], cache_dir: Path | None) -> Catalogue:
    folders = [index_folder(bundled_dir(), bundled=True, cache_dir=cache_dir)]
    seen = {bundled_dir().resolve()}
    for d in user_dirs:
        try:
            resolved = d.resolve()
        except OSError:
            continue
        if resolved in seen:
            continue
        seen.add(resolved)
        folders.append(index_folder(d, bundled=False, cache_dir=cache_dir))
    return Catalogue(folders)


def validate_paths(paths: list[Path]) -> tuple[int, list[str]]:
    """Validate files (folders are walked): ``(files checked, problems)``."""
    files: list[Path] = []
    problems: list[str] = []
    for p in paths:
        if p.is_dir():
            files.extend(Path(e.path) for e in _manifest_files(p))
        elif p.exists():
            files.append(p)
        else:
            problems.append(f"{p}: (file): no such file or directory")
    for f in files:
        problems.extend(validate_file(f)[1])
    if not files and not problems:
        raise ManifestError("No manifest files found.", "Pass .yaml files or folders that hold them.")
    return len(files), problems


def placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


_PATH_TOKEN = re.compile(
    r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(-?\d+))\s*\]|([^.\[\]]+)|(\.)"""
)


def split_path(path: str) -> list[str | int]:
    """A response path as keys and list indexes.

    ``data.items`` -> ``["data", "items"]``; ``errors[0].message`` and ``errors.0.message`` ->
    ``["errors", 0, "message"]`` (a bare number is an index into a list, a key in an object);
    ``[0].message`` starts in a top-level list; a key that holds dots or brackets is quoted in
    brackets: ``["@odata.nextLink"]``. Raises ``ValueError`` on a malformed path.
    """
    out: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _PATH_TOKEN.match(path, pos)
        if m is None:
            raise ValueError(f"cannot read the path {path!r} at {path[pos:]!r}")
        dq, sq, index, bare, _dot = m.groups()
        if dq is not None or sq is not None:
            out.append(re.sub(r"\\(.)", r"\1", dq if dq is not None else sq))
        elif index is not None:
            out.append(int(index))
        elif bare is not None:
            out.append(int(bare) if re.fullmatch(r"-?\d+", bare) else bare)
        pos = m.end()
    return out


def check_config_value(manifest: Manifest, name: str, value: str) -> None:
    """A connection-config value must match its pattern and must not reshape a URL."""
    spec = manifest.connection_config.get(name, {})
    if spec.get("enum") and value not in spec["enum"]:
        raise UsageError(f"{name} must be one of: {', '.join(spec['enum'])}.", None)
    pattern = spec.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        raise UsageError(
            f"{name}={value!r} does not look right (expected {spec.get('example') or pattern}).",
            f"Check {manifest.slug}'s {name}: {spec.get('description', '')}".strip(),
        )
    if not spec.get("from_token_response") and re.search(r"[/?#@\s\\]", value):
        raise UsageError(f"{name}={value!r} may not contain / ? # @ \\ or spaces.", None)


def missing_setting(manifest: Manifest | None, var: str, connection: str = "default") -> UsageError:
    """A ``{var}`` the connection has no value for: name it and the ``--config`` that sets it."""
    spec = (manifest.connection_config.get(var, {}) if manifest else {}) or {}
    slug = manifest.slug if manifest else "SLUG"
    conn = f" --connection {connection}" if connection != "default" else ""
    what = spec.get("description", "see the manifest")
    if len(what) > 160:
        what = what[:157].rstrip() + "..."
    return UsageError(
        f"{slug if manifest else 'The connector'} needs the connection setting {var!r} ({what}).",
        f"Run: synthral authorize {slug}{conn} --config {var}={spec.get('example') or '...'}",
    )


def render_url(template: str, config: dict[str, Any], manifest: Manifest | None = None) -> str:
    """Fill ``{var}`` placeholders from connection config; a missing one is a clear error."""

    def sub(m: re.Match[str]) -> str:
        var = m.group(1)
        if var not in config or config[var] in (None, ""):
            spec = (manifest.connection_config.get(var, {}) if manifest else {}) or {}
            default = spec.get("default")
            if default:
                return str(default)
            raise missing_setting(manifest, var)
        return str(config[var])

    url = _PLACEHOLDER.sub(sub, template)
    if template.startswith("{") and not _is_safe_url(url):
        raise UsageError(
            f"{url!r} is not an https:// URL.",
            "Check the connection's settings; re-authorize it if they came from the provider.",
        )
    return url
