"""Workflows: a JSON or YAML file of steps, run in order, with ``{{...}}`` interpolation.

    {"steps": [
      {"name": "fetch", "type": "http_request", "config": {"method": "GET", "url": "https://..."}},
      {"name": "mail", "type": "connector",
       "config": {"connectorType": "smtp", "action": "send_email", "credentialId": "default",
                  "to": "{{fetch.data.email}}", "subject": "Hi {{input.name}}"}}]}

Interpolation: ``{{input.x}}`` reads an input; ``{{step.path.to.value}}`` reads an earlier step's
output (an ``http_request`` step's output is ``{status, headers, data}``, a connector step's is the
action's result); ``items[0]`` and ``items.0`` index arrays. A string that is exactly one reference
keeps the referenced value's JSON type; text around references is kept as is.

The runner does no I/O itself: a ``StepRunner`` (``Synthral`` in practice) performs each step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..basics.errors import SynthralError, UsageError

_REF = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
STEP_TYPES = ("connector", "http_request")
HTTP_KEYS = {"method", "url", "headers", "params", "body", "timeout"}
CONNECTOR_META_KEYS = {"connectorType", "action", "credentialId"}


class StepRunner(Protocol):
    def run_connector(
        self, slug: str, action: str, params: dict[str, Any], connection: str, *, dry_run: bool
    ) -> Any: ...

    def run_http(self, request: dict[str, Any], *, dry_run: bool) -> Any: ...

    def check_connector(self, slug: str, action: str, params: list[str]) -> None: ...

    def local_path_params(self, slug: str, action: str) -> list[str]: ...


@dataclass
class Step:
    name: str
    type: str
    config: dict[str, Any]
    continue_on_error: bool = False


@dataclass
class Flow:
    steps: list[Step]
    source: str = ""


@dataclass
class StepResult:
    name: str
    type: str
    success: bool
    output: Any = None
    error: str | None = None
    exit_code: int = 0
    request: Any = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "success": self.success}
        if self.request is not None:
            out["request"] = self.request
        if self.success:
            out["output"] = self.output
        else:
            out["error"] = self.error
            out["exit_code"] = self.exit_code
        return out


@dataclass
class RunResult:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(s.success for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"success": self.success, "steps": [s.to_dict() for s in self.steps]}


# ---------------------------------------------------------------------------------------------
# Loading and static validation


def load_flow(path: Path) -> Flow:
    """Read a JSON or YAML flow file and check its structure."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read the flow {path}: {exc.strerror or exc}.", "Check the path.") from None
    try:
        if path.suffix.lower() == ".json":
            doc = json.loads(text)
        else:
            from ..catalogue.syntax import _yaml_load

            doc = _yaml_load(text)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"{path} is not valid JSON/YAML: {first}", "Fix the syntax and retry.") from None
    return parse_flow(doc, str(path))


def parse_flow(doc: Any, source: str = "flow") -> Flow:
    def bad(where: str, what: str) -> UsageError:
        return UsageError(f"{source}: {where}: {what}", "See `synthral run --help` for the flow format.")

    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        raise bad("steps", "a flow is an object with a non-empty list 'steps'")
    steps: list[Step] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["steps"]):
        where = f"steps[{i}]"
        if not isinstance(raw, dict):
            raise bad(where, "each step is an object with name, type and config")
        name = raw.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
            raise bad(f"{where}.name", "a name of letters, digits, _ or - is required")
        if name in ("input", "trigger"):
            raise bad(f"{where}.name", f"{name!r} is reserved ({{{{{name}...}}}} reads the flow's {name})")
        if name in seen:
            raise bad(f"{where}.name", f"duplicate step name {name!r}")
        seen.add(name)
        kind = raw.get("type")
        if kind not in STEP_TYPES:
            raise bad(f"steps[{name}].type", f"must be one of {', '.join(STEP_TYPES)}, not {kind!r}")
        config = raw.get("config", {})
        if not isinstance(config, dict):
            raise bad(f"steps[{name}].config", "must be an object")
        if kind == "connector":
            for key in ("connectorType", "action"):
                if not isinstance(config.get(key), str) or not config[key]:
                    raise bad(f"steps[{name}].config.{key}", "required (a string)")
        else:
            if not isinstance(config.get("url"), str):
                raise bad(f"steps[{name}].config.url", "required (a string)")
            unknown = set(config) - HTTP_KEYS
            if unknown:
                raise bad(f"steps[{name}].config", f"unknown keys {sorted(unknown)}; allowed: {sorted(HTTP_KEYS)}")
        steps.append(Step(name, kind, config, bool(raw.get("continue_on_error", False))))
    return Flow(steps, source)


def references(value: Any) -> Iterator[str]:
    """Every ``{{...}}`` expression inside a (nested) value."""
    if isinstance(value, str):
        for m in _REF.finditer(value):
            yield m.group(1)
    elif isinstance(value, dict):
        for v in value.values():
            yield from references(v)
    elif isinstance(value, list):
        for v in value:
            yield from references(v)


def _split(expr: str) -> list[str | int]:
    parts: list[str | int] = []
    pos = 0
    for m in _SEGMENT.finditer(expr):
        if m.start() != pos and expr[pos:m.start()] not in (".", ""):
            raise ValueError(expr)
        parts.append(int(m.group(2)) if m.group(2) is not None else m.group(1))
        pos = m.end()
    if pos != len(expr) or not parts or not isinstance(parts[0], str):
        raise ValueError(expr)
    return parts


def _shown(expr: str) -> str:
    """An expression as it can appear in a one-line message (line breaks escaped)."""
    return expr if expr.isprintable() else repr(expr)[1:-1]


def check_flow(
    flow: Flow, inputs: Mapping[str, Any] | None, runner: StepRunner | None, *, triggered: bool = False
) -> None:
    """Everything knowable before running: references point at inputs or *earlier* steps,
    connectors and actions exist, parameter names are valid. ``{{trigger...}}`` (the event that
    started the run) is there only when ``triggered`` (``listen``/``watch --run``). Raises
    ``UsageError``."""
    earlier: set[str] = set()
    for step in flow.steps:
        for expr in references(step.config):
            try:
                head = _split(expr)
            except ValueError:
                raise UsageError(
                    f"step {step.name!r}: {{{{{_shown(expr)}}}}} is not a valid reference.",
                    "Write {{input.name}} or {{step_name.path.to.value}} (arrays: items[0]).",
                ) from None
            root = head[0]
            if root == "trigger":
                if not triggered:
                    raise UsageError(
                        f"step {step.name!r}: {{{{{_shown(expr)}}}}} reads the event that started the run, "
                        "and this run has none.",
                        "Run it from a trigger: synthral listen SLUG --run FLOW (or synthral watch ... --run FLOW).",
                    )
            elif root == "input":
                if inputs is not None and len(head) > 1 and head[1] not in inputs:
                    raise UsageError(
                        f"step {step.name!r}: {{{{{_shown(expr)}}}}} needs the input {head[1]!r}, "
                        "which was not given.",
                        f"Pass it: synthral run FLOW --input {head[1]}=VALUE",
                    )
            elif root not in earlier:
                later = any(s.name == root for s in flow.steps)
                raise UsageError(
                    f"step {step.name!r}: {{{{{_shown(expr)}}}}} refers to "
                    + (f"step {root!r}, which runs later." if later else f"an unknown step {root!r}."),
                    "A step can use the inputs and the outputs of the steps before it.",
                )
        if step.type == "connector" and runner is not None:
            params = [k for k in step.config if k not in CONNECTOR_META_KEYS]
            try:
                runner.check_connector(step.config["connectorType"], step.config["action"], params)
            except SynthralError as exc:
                raise UsageError(f"step {step.name!r}: {exc.message}", exc.hint) from None
            _check_local_paths(step, runner)
        earlier.add(step.name)


def _check_local_paths(step: Step, runner: StepRunner) -> None:
    """A parameter that names a local file (``type: file``, attachments) takes its path only from
    the flow file or ``--input``: a value interpolated from a step's output (a provider's answer)
    could name any file on this machine, which would then be uploaded or mailed."""
    paths = getattr(runner, "local_path_params", None)
    if paths is None:
        return
    for name in paths(step.config["connectorType"], step.config["action"]):
        for expr in references(step.config.get(name)):
            try:
                root = _split(expr)[0]
            except ValueError:
                continue
            if root != "input":
                raise UsageError(
                    f"step {step.name!r}: parameter {name!r} is a local file path and may not come from "
                    f"{{{{{_shown(expr)}}}}} (an earlier step's output).",
                    f"Write the path in the flow file, or pass it with --input {name}=PATH and use "
                    f"{{{{input.{name}}}}}.",
                )


# ---------------------------------------------------------------------------------------------
# Interpolation
