"""Parameters: ``-p KEY=VALUE`` / ``KEY:=JSON`` / ``KEY=@FILE`` and ``--data``, typed by the
action's schema; unknown, missing and mistyped values are usage errors (exit 2) that say what is
valid. Manifest defaults apply.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from ..basics.errors import UsageError
from ..catalogue.manifest import Action, Parameter
from .encoders import FileValue, read_file, scalar

_JSON_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a JSON array (or comma-separated values)",
    "object": "a JSON object",
    "file": "a file path (-p NAME=@PATH)",
}


class Placeholder(str):
    """A value not known yet, shown as ``<step.path>``: an earlier workflow step's output in a
    dry run. It stands for a value of whatever type the parameter takes, so it is not
    type-checked here (``run --check`` checks the flow; the real run checks the real value)."""

    expr: str

    def __new__(cls, expr: str) -> Placeholder:
        obj = super().__new__(cls, f"<{expr}>")
        obj.expr = expr
        return obj


def secret_alternatives(slug: str, name: str) -> str:
    """Where a ``secret: true`` parameter may come from instead of the command line."""
    from ..basics.settings import secret_param_var

    return (
        f"Set {secret_param_var(slug, name)}, pipe it with --secret-stdin {name}, "
        "or run on a terminal to be asked."
    )


def _no_secret_on_argv(action: Action, values: dict[str, Any], how: str, slug: str) -> None:
    for p in action.parameters:
        if p.secret and p.name in values:
            raise UsageError(
                f"{p.name} is a secret and may not be given with {how} "
                "(the command line shows in ps and in shell history).",
                secret_alternatives(slug, p.name),
            )


def _read_data(data: str, stdin: Any) -> dict[str, Any]:
    if data == "-":
        text, where = stdin.read(), "stdin"
    elif data.startswith("@"):
        text, where = read_file(data[1:]).decode("utf-8", "replace"), data[1:]
    else:
        text, where = data, "--data"
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(
            f"{where} is not valid JSON: {exc}.", "--data takes a JSON object, @FILE or -."
        ) from None
    if not isinstance(value, dict):
        raise UsageError(
            f"{where} must be a JSON object, not {type(value).__name__}.",
            'Example: --data \'{"channel": "C123", "text": "hi"}\'',
        )
    return value


def parse_cli_params(
    action: Action,
    pairs: list[str],
    data: str | None = None,
    stdin: Any = None,
    *,
    strict: bool = True,
    slug: str = "SLUG",
) -> dict[str, Any]:
    """``--data`` first, then each ``-p`` (which wins). Values are typed by :func:`check_params`;
    ``strict=False`` (``synthral request``) accepts any name."""
    values: dict[str, Any] = _read_data(data, stdin or sys.stdin) if data else {}
    if data and data != "-" and not data.startswith("@"):
        _no_secret_on_argv(action, values, "--data on the command line", slug)
    given: set[str] = set()  # names set by an earlier -p: an array parameter accumulates
    for pair in pairs:
        m = re.match(r"^([^=:]+)(:=|=)(.*)$", pair, re.S)
        if not m:
            raise UsageError(
                f"-p {pair!r} is not KEY=VALUE.", "Use -p KEY=VALUE, -p KEY:=JSON or -p KEY=@FILE."
            )
        key, op, raw = m.group(1).strip(), m.group(2), m.group(3)
        param = action.parameter(key)
        if param is None and strict:
            raise _unknown(action, [key], slug)
        if param is not None and param.secret:
            _no_secret_on_argv(action, {key: None}, "-p", slug)
        value: Any
        if op == ":=":
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise UsageError(f"-p {key}:= needs JSON: {exc}.", f"Example: -p {key}:='[1, 2]'") from None
        elif raw.startswith("@") and len(raw) > 1:
            if param is not None and param.type == "file":
                value = FileValue(raw[1:])
            else:
                text = read_file(raw[1:]).decode("utf-8", "replace")
                value = text[:-1] if text.endswith("\n") else text
        else:
            value = raw
        if key in given and (param is None or param.type != "array"):
            raise UsageError(
                f"-p {key} is given more than once; {key} takes one value.",
                "Pass it once; only array parameters repeat."
                if param is not None
                else f"Pass it once, or a list as JSON: -p {key}:='[\"a\", \"b\"]'.",
            )
        if param is not None and param.type == "array" and key in given:
            value = _as_list(param, values[key]) + _as_list(param, value)
        values[key] = value
        given.add(key)
    return values


def _as_list(param: Parameter, value: Any) -> list[Any]:
    """One ``-p`` value of an array parameter as a list (``a,b``, ``["a"]`` or a JSON item)."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return list(conform(param, value))
    return [value]


def _unknown(action: Action, names: list[str], slug: str) -> UsageError:
    valid = ", ".join(p.name for p in action.parameters) or "(none)"
    return UsageError(
        f"{action.name} has no parameter {', '.join(repr(n) for n in names)}. Valid: {valid}.",
        f"See them with: synthral connectors actions {slug}",
    )


def _wrong(param: Parameter, value: Any) -> UsageError:
    shown = value if isinstance(value, str) else json.dumps(value, default=str)
    return UsageError(
        f"Parameter {param.name!r} must be {_JSON_TYPES.get(param.type, param.type)}, got {shown!r}.",
        f"Example: -p {param.name}="
        + {
            "integer": "10",
            "number": "1.5",
            "boolean": "true",
            "array": '\'["a","b"]\'',
            "object": '\'{"k":"v"}\'',
            "file": "@report.pdf",
        }.get(param.type, "text"),
    )


def conform(param: Parameter, value: Any) -> Any:
    """One value typed by the parameter's schema: text is parsed, JSON values are checked."""
    t = param.type
    if isinstance(value, Placeholder) and t != "file":  # a local path is never an earlier output
        return value
    if t == "file":
        if isinstance(value, FileValue):
            return value
        if isinstance(value, str) and value:
            return FileValue(value[1:] if value.startswith("@") else value)
        raise _wrong(param, value)
    if t == "string":
        if isinstance(value, (dict, list)):
            raise _wrong(param, value)
        return scalar(value) if not isinstance(value, str) else value
    if isinstance(value, str):
        text = value.strip()
        if t == "integer":
            if re.fullmatch(r"[+-]?\d+", text):
                return int(text)
        elif t == "number":
            try:
                return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
            except ValueError:
                pass
        elif t == "boolean":
            low = text.lower()
            if low in {"true", "1", "yes", "on"}:
                return True
            if low in {"false", "0", "no", "off"}:
                return False
        elif t in ("array", "object"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
                if t == "array" and not text.startswith("["):
                    parsed = [s.strip() for s in text.split(",") if s.strip()]
            if isinstance(parsed, list if t == "array" else dict):
                return parsed
        raise _wrong(param, value)
    ok = {
        "integer": isinstance(value, int)
        and not isinstance(value, bool)
        or isinstance(value, float)
        and value.is_integer(),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(t, True)
    if not ok:
        raise _wrong(param, value)
    return int(value) if t == "integer" else value


def _check_text(param: Parameter, value: Any) -> None:
    """Text must be UTF-8: a non-UTF-8 byte in argv reaches Python as a lone surrogate."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_text(param, k)
            _check_text(param, v)
    elif isinstance(value, list):
        for v in value:
            _check_text(param, v)
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(
                f"Parameter {param.name!r} is not valid UTF-8 text.",
                "Check the encoding of the terminal or file the value came from.",
            ) from None


def check_params(action: Action, values: dict[str, Any], slug: str = "SLUG") -> dict[str, Any]:
    """Unknown names, types, enums, defaults and required parameters, in manifest order."""
    unknown = [k for k in values if action.parameter(k) is None]
    if unknown:
        raise _unknown(action, unknown, slug)
    for group in action.exclusive:
        given = [name for name in group if values.get(name) is not None]
        if len(given) > 1:
            raise UsageError(
                f"{action.name} takes only one of {', '.join(group)}; got {' and '.join(given)}.",
                f"Drop all but one of: {' '.join(f'-p {n}=...' for n in given)}",
            )
    out: dict[str, Any] = {}
    missing = []
    for p in action.parameters:
        if p.name in values and values[p.name] is not None:
            _check_text(p, values[p.name])
            v = conform(p, values[p.name])
            for item in v if p.type == "array" and isinstance(v, list) else [v]:
                if p.enum and item not in p.enum and not isinstance(item, Placeholder):
                    raise UsageError(
                        f"Parameter {p.name!r} must be one of {', '.join(map(str, p.enum))}; got {item!r}.",
                        None,
                    )
            out[p.name] = v
        elif p.default is not None:
            out[p.name] = p.default
        elif p.required:
            missing.append(p.name)
    if missing:
        secret = [m for m in missing if (action.parameter(m) or Parameter(m, "", "")).secret]
        raise UsageError(
            f"{action.name} needs {', '.join(missing)}.",
            secret_alternatives(slug, secret[0])
            if secret
            else "Pass " + " ".join(f"-p {m}=..." for m in missing),
        )
    return out
