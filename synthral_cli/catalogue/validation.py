"""Manifest validation: the versioned JSON Schema (``schema/manifest-v1.json``) plus the
semantic checks a schema cannot express (placeholders name declared variables and parameters,
URLs are HTTPS or loopback, a ``test_connection`` action exists, response paths parse).

Every problem is a ``field.path: message`` string; files add ``file: `` in front.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..basics.errors import ManifestError
from .manifest import schema_path
from .syntax import _did_you_mean, _is_safe_url, _yaml_load, split_path
from .templates import _PLACEHOLDER
from .webhooks import webhook_problems

_validator: Any = None
_fast: list[Any] = []  # [jsonschema_rs validator or None], built on first use


def _schema_validator() -> Any:
    global _validator
    if _validator is None:
        from jsonschema import Draft202012Validator

        schema = json.loads(schema_path().read_text(encoding="utf-8"))
        _validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return _validator


def _fast_validator() -> Any:
    """The same schema compiled by jsonschema-rs (~200x faster), when it is installed. It only
    says *whether* a manifest is valid; the messages of an invalid one always come from
    ``jsonschema`` (a test checks that the two agree on every bundled manifest and on broken ones)."""
    if not _fast:
        try:
            import jsonschema_rs
        except ImportError:
            _fast.append(None)
        else:
            schema = json.loads(schema_path().read_text(encoding="utf-8"))
            _fast.append(jsonschema_rs.validator_for(schema, validate_formats=True))
    return _fast[0]


def _fast_valid(fast: Any, doc: Any) -> bool:
    """jsonschema-rs's yes; anything it cannot take (a lone surrogate from a broken file) is a
    no, and ``jsonschema`` then decides and words it."""
    try:
        return bool(fast.is_valid(doc))
    except Exception:  # noqa: BLE001 - e.g. UnicodeEncodeError: the slow path answers
        return False


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
    fast = _fast_validator()
    problems = []
    valid_shape = fast is not None and _fast_valid(fast, doc)  # then jsonschema has nothing to say
    errors = [] if valid_shape else _schema_validator().iter_errors(doc)
    for err in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        problems.append(f"{_field_path(doc, list(err.absolute_path))}: {_message(err)}")
    # The checks a schema cannot express run too, so one pass names every problem (a bad URL
    # is not hidden until a missing field is fixed). Where the schema already refused the
    # shape they need, they stop: the schema's problems above say what to fix there.
    semantic: list[str] = []
    try:
        _semantic_problems(doc, semantic)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError):
        if not problems:
            raise
    return problems + [p for p in semantic if p not in problems]


def _semantic_problems(doc: dict[str, Any], problems: list[str]) -> list[str]:
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
        if not _PLACEHOLDER.match(url) and not _is_safe_url(probe):
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
    path_injections = {i["name"] for i in auth.get("inject", []) if i.get("in") == "path"}
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
        if action.get("read_only") and action.get("destructive"):
            problems.append(f"{where}.destructive: an action cannot be both read_only and destructive")
        if "result_schema" in action:
            problems += [f"{where}.result_schema: {p}" for p in _schema_problems(action["result_schema"])]
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
            injected = set() if action.get("auth") is False else path_injections
            for var in sorted(in_path - declared - injected):
                problems.append(f"{where}.path: {{{var}}} has no parameter with in: path")
            for var in sorted(declared - in_path):
                problems.append(f"{where}.parameters[{var}]: in: path but the path has no {{{var}}}")
            for p in params:
                if p["in"] == "path" and not p.get("required", False):
                    problems.append(f"{where}.parameters[{p['name']}].required: path parameters are required")
                if p.get("keep_slashes") and p["in"] != "path":
                    problems.append(f"{where}.parameters[{p['name']}].keep_slashes: only for in: path")
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
    problems += _pin_problems(doc) + _identity_scope_problems(doc) + webhook_problems(doc)
    return problems


def _pin_problems(doc: dict[str, Any]) -> list[str]:
    """``api_version`` is where the pin is recorded: it must be what the requests carry (in
    base_url or a header value), and ``exclusive`` groups must name declared parameters."""
    problems: list[str] = []
    pin = doc.get("api_version")
    if pin is not None:
        places = [doc.get("base_url", ""), *(doc.get("headers") or {}).values()]
        for action in doc["actions"]:
            places += [action.get("base_url", ""), action.get("path", ""), *(action.get("headers") or {}).values()]
        if not any(pin in str(place) for place in places):
            problems.append(f"api_version: {pin!r} appears in neither base_url nor a header value")
    for action in doc["actions"]:
        declared = {p["name"] for p in action.get("parameters", [])}
        for i, group in enumerate(action.get("exclusive", [])):
            for name in group:
                if name not in declared:
                    problems.append(f"actions[{action['name']}].exclusive[{i}]: {name!r} is not a parameter")
    return problems


def _identity_scope_problems(doc: dict[str, Any]) -> list[str]:
    """test_connection is the identity call run right after authorization: the scopes it
    needs must be among the scopes asked by default (``a|b`` = either), or it cannot succeed."""
    auth = doc["auth"]
    defaults = auth.get("default_scopes")
    if auth["type"] != "oauth2" or defaults is None:
        return []
    test = next((a for a in doc["actions"] if a["name"] == "test_connection"), None)
    if test is None or test.get("auth") is False:
        return []
    return [
        f"actions[test_connection].scopes: {need!r} is not among auth.default_scopes "
        "(the identity call must work with a default authorization)"
        for need in test.get("scopes", [])
        if not any(alt in defaults for alt in need.split("|"))
    ]


def _schema_problems(schema: dict[str, Any]) -> list[str]:
    """``result_schema`` must itself be a valid JSON Schema (2020-12)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = ".".join(str(p) for p in exc.absolute_path)
        return [f"{where + ': ' if where else ''}not a valid JSON Schema: {exc.message}"]
    return []


_PAGINATION_PATHS = (
    "items_path",
    "next_url_path",
    "next_cursor_path",
    "has_more_path",
    "last_page_path",
    "cursor_from_last_item",
    "item_id_path",
    "since_path",
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
    slug = doc.get("slug") if isinstance(doc, dict) else None
    if isinstance(slug, str) and path.stem != slug:
        problems.append(f"slug: {slug!r} does not match the file name {path.name!r}")
    if problems:
        return None, [f"{path}: {p}" for p in problems]
    return doc, []


PARALLEL_FROM = 200  # files: below this, forking workers costs more than it saves


def validate_files(paths: list[Path]) -> list[tuple[dict[str, Any] | None, list[str]]]:
    """``validate_file`` of each path, in order. Parsing YAML and checking the schema are
    CPU-bound (~1 ms a file), so many files (a first run after adding 2,000 user manifests) are
    split across forked worker processes, one per core, when that is safe: Linux (fork), more
    than one core, and no other thread running in this process."""
    import os
    import sys
    import threading

    workers = min(os.cpu_count() or 1, 8)
    if len(paths) < PARALLEL_FROM or workers < 2 or not sys.platform.startswith("linux") or (
        threading.active_count() > 1
    ):
        return [validate_file(p) for p in paths]
    import multiprocessing

    _schema_validator()  # built once here; the workers inherit them
    _fast_validator()
    _yaml_load("{}")
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(validate_file, paths, chunksize=max(1, len(paths) // (workers * 4)))


def validate_paths(paths: list[Path]) -> tuple[int, list[str]]:
    """Validate files (folders are walked): ``(files checked, problems)``."""
    from .manifest import _manifest_files

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
