"""Running a flow: ``{{...}}`` interpolation of inputs and earlier steps' outputs, the run loop
(``run_flow``), ``--input`` parsing, and ``SynthralRunner``, which performs each step through the
actions layer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..basics.errors import SynthralError, UsageError
from ..wire.params import Placeholder  # an earlier step's output not known yet (--dry-run): "<step.path>"
from .flow import _REF, CONNECTOR_META_KEYS, Flow, RunResult, Step, StepResult, StepRunner, _shown, _split, check_flow


class StepFailed(SynthralError):
    """A step failed and stopped the run: exits with that step's error class's code."""

    def __init__(self, result: StepResult) -> None:
        super().__init__(f"step {result.name!r} failed: {result.error}", result.hint)
        self.exit_code = result.exit_code
        self.step = result


def lookup(expr: str, context: Mapping[str, Any], step: str) -> Any:
    try:
        parts = _split(expr)
    except ValueError:
        raise UsageError(
            f"step {step!r}: {{{{{_shown(expr)}}}}} is not a valid reference.",
            "Write {{input.name}} or {{step_name.path.to.value}} (arrays: items[0]).",
        ) from None
    node: Any = context
    walked: list[str] = []
    for part in parts:
        if isinstance(node, Placeholder):
            return Placeholder(expr)
        if isinstance(part, int) or (isinstance(node, list) and str(part).isdigit()):
            index = int(part)
            if not isinstance(node, list) or index >= len(node):
                raise _missing(step, expr, ".".join(walked))
            node = node[index]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            raise _missing(step, expr, ".".join(walked))
        walked.append(str(part))
    return node


def _missing(step: str, expr: str, found: str) -> UsageError:
    where = f" ({found} has no such key or index)" if found else ""
    return UsageError(
        f"step {step!r}: {{{{{_shown(expr)}}}}} does not resolve{where}.",
        "Check the path against the earlier step's output (run with --json to see it).",
    )


def interpolate(value: Any, context: Mapping[str, Any], step: str) -> Any:
    if isinstance(value, dict):
        return {k: interpolate(v, context, step) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, context, step) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    whole = _REF.fullmatch(value.strip()) if value.strip() == value else None
    if whole:
        return lookup(whole.group(1), context, step)

    def text(m: re.Match[str]) -> str:
        found = lookup(m.group(1), context, step)
        if isinstance(found, str):  # a Placeholder is its "<step.path>" text
            return found
        return json.dumps(found, ensure_ascii=False)

    return _REF.sub(text, value)


def printable(value: Any) -> Any:
    """Placeholders as plain ``"<step.path>"`` strings, for ``--dry-run`` output."""
    if isinstance(value, Placeholder):
        return str.__str__(value)
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [printable(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------
# Running


def run_flow(
    flow: Flow,
    inputs: Mapping[str, Any],
    runner: StepRunner,
    *,
    dry_run: bool = False,
    on_step: Callable[[str, Step, StepResult | None], None] | None = None,
    trigger: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run the steps in order. The first failure stops the run unless the step has
    ``continue_on_error``; the caller turns a failed result into that error's exit code.
    ``trigger`` is the event that started the run (``{{trigger.payload...}}``)."""
    check_flow(flow, inputs, runner, triggered=trigger is not None)
    context: dict[str, Any] = {"input": dict(inputs)}
    if trigger is not None:
        context["trigger"] = dict(trigger)
    result = RunResult()
    for step in flow.steps:
        if on_step:
            on_step("start", step, None)
        try:
            config = interpolate(step.config, context, step.name)
            if step.type == "connector":
                params = {k: v for k, v in config.items() if k not in CONNECTOR_META_KEYS}
                output = runner.run_connector(
                    config["connectorType"],
                    config["action"],
                    params,
                    str(config.get("credentialId") or "default"),
                    dry_run=dry_run,
                )
            else:
                output = runner.run_http(config, dry_run=dry_run)
            if dry_run:
                sr = StepResult(step.name, step.type, True, request=printable(output))
                context[step.name] = Placeholder(step.name)
            else:
                sr = StepResult(step.name, step.type, True, output=output)
                context[step.name] = output
        except SynthralError as exc:
            sr = StepResult(step.name, step.type, False, error=exc.message, exit_code=exc.exit_code, hint=exc.hint)
            sr.output = getattr(exc, "result", None)
            context[step.name] = sr.output
        result.steps.append(sr)
        if on_step:
            on_step("end", step, sr)
        if not sr.success and not step.continue_on_error:
            break
    return result


def parse_inputs(items: list[str]) -> dict[str, Any]:
    """``--input KEY=VALUE`` (``KEY:=json`` for typed values) and ``--input @file.json``."""
    out: dict[str, Any] = {}
    for item in items:
        if item.startswith("@"):
            path = Path(item[1:])
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise UsageError(f"Cannot read {path}: {exc.strerror or exc}.", "Check the path.") from None
            except ValueError as exc:
                raise UsageError(f"{path} is not valid JSON: {exc}.", "Fix the file.") from None
            if not isinstance(data, dict):
                raise UsageError(f"{path} must hold a JSON object of inputs.", None)
            out.update(data)
        elif ":=" in item and item.index(":=") < item.index("=") + 1:
            key, raw = item.split(":=", 1)
            try:
                out[key] = json.loads(raw)
            except ValueError:
                raise UsageError(f"--input {key}:= needs JSON, got {raw!r}.", None) from None
        elif "=" in item:
            key, value = item.split("=", 1)
            out[key] = value
        else:
            raise UsageError(f"--input {item!r}: expected KEY=VALUE or @file.json.", None)
    return out


# ---------------------------------------------------------------------------------------------
# Performing steps with synthral itself


class SynthralRunner:
    """Performs steps with a ``Synthral``: connector steps through ``invoke`` (same connections,
    retries and refresh as ``synthral invoke``), ``http_request`` steps through the generic HTTP
    connector without credentials. One HTTP client is shared by every step of a run."""

    def __init__(self, sy: Any, *, retries: int = 3, timeout: float = 30.0, client: Any = None) -> None:
        self.sy = sy
        self.retries = retries
        self.timeout = timeout
        self._client: Any = client  # a caller's client (a server's) is shared, never closed here
        self._owned = client is None

    def _options(self, connection: str, dry_run: bool) -> Any:
        from ..actions.invoke import Options

        if self._client is None and not dry_run:
            from ..wire.http import new_client

            self._client = new_client(self.timeout, self.sy.settings.ca_bundle)
        return Options(connection=connection, dry_run=dry_run, retries=self.retries, timeout=self.timeout,
                       client=self._client)

    def close(self) -> None:
        if self._client is not None and self._owned:
            self._client.close()
            self._client = None

    def check_connector(self, slug: str, action: str, params: list[str]) -> None:
        spec = self.sy.connector(slug).action(action)
        known = {p.name for p in spec.parameters}
        unknown = [p for p in params if p not in known]
        if unknown:
            raise UsageError(
                f"{slug} {action} has no parameter {', '.join(repr(u) for u in unknown)}; "
                f"valid: {', '.join(sorted(known)) or '(none)'}.",
                f"See: synthral connectors actions {slug}",
            )

    def local_path_params(self, slug: str, action: str) -> list[str]:
        raw = self.sy.connector(slug).action(action).raw
        return [  # type: file, and arrays of them (items: {type: file}, e.g. email attachments)
            str(p["name"])
            for p in raw.get("parameters", [])
            if p.get("type") == "file" or (p.get("type") == "array" and (p.get("items") or {}).get("type") == "file")
        ]

    def run_connector(
        self, slug: str, action: str, params: dict[str, Any], connection: str, *, dry_run: bool
    ) -> Any:
        from ..actions.invoke import PreparedRequest, invoke

        out = invoke(self.sy, slug, action, params, self._options(connection, dry_run))
        if isinstance(out, PreparedRequest):  # with what it would still need (a connection, a setting)
            return {**out.to_dict(), **({"note": out.note} if out.note else {})}
        return out.result

    def run_http(self, request: dict[str, Any], *, dry_run: bool) -> Any:
        from ..actions.deliver import deliver
        from ..catalogue.manifest import Action
        from ..wire.params import check_params
        from ..wire.prepare import Invocation

        manifest = self.sy.connector("http")
        action = Action({**manifest.action("request").raw, "auth": False})
        if dry_run:  # an earlier step's output is not known yet: show "<step.path>" in the body
            request = printable(request)
        params = check_params(action, {k: v for k, v in request.items() if v is not None}, "http")
        inv = Invocation(manifest, action, params, None, self._options("default", dry_run))
        if dry_run:
            return inv.prepare(dry_run=True).to_dict()
        out = deliver(inv)
        return {"status": out.status, "headers": out.headers, "data": out.result}
