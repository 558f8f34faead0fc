"""``synthral run FLOW``: run a workflow file of steps with ``{{...}}`` interpolation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from ._common import JSON_OPTION, runtime


def run(
    ctx: typer.Context,
    flow: Path = typer.Argument(..., help="A JSON or YAML file: {\"steps\": [{name, type, config}]}."),
    inputs: list[str] = typer.Option(
        [], "--input", "-i", help="KEY=VALUE, KEY:=JSON, or @file.json with an object of inputs. Repeatable."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Resolve and print each request; send nothing."),
    check: bool = typer.Option(False, "--check", help="Validate the flow against the manifests; run nothing."),
    retries: int = typer.Option(3, "--retries", min=0, help="Retries per step for transient failures."),
    timeout: float = typer.Option(30.0, "--timeout", min=0.1, help="Seconds to wait for each request."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a workflow: steps in order, each step's output available to later ones as {{step.path}}.

    Example: synthral run examples/new-customer.json --input email=ada@example.com --input name=Ada
    """
    from ..basics.redact import redact
    from ..workflows.flow import check_flow, load_flow
    from ..workflows.run import StepFailed, SynthralRunner, parse_inputs, run_flow
    from . import ui

    rt = runtime(ctx)
    parsed = load_flow(flow)
    given = parse_inputs(inputs)
    runner = SynthralRunner(rt.sy, retries=retries, timeout=timeout)
    if check:
        check_flow(parsed, None, runner)
        ui.err(f"{flow}: {len(parsed.steps)} step(s) valid.")
        return
    total = len(parsed.steps)
    started: dict[str, float] = {}
    live = ui.Live()

    def progress(event: str, step: Any, result: Any) -> None:
        index = parsed.steps.index(step) + 1
        if event == "start":
            started[step.name] = time.monotonic()
            live.update(f"[{index}/{total}] {step.name} ...")
            return
        took = time.monotonic() - started[step.name]
        verdict = "ok" if result.success else f"failed (exit {result.exit_code})"
        if dry_run and result.success:
            verdict = "resolved"
        live.line(f"[{index}/{total}] {step.name}: {verdict} ({took:.2f} s)")

    try:
        with live:
            result = run_flow(parsed, given, runner, dry_run=dry_run, on_step=progress)
    finally:
        runner.close()
    if as_json:
        ui.echo_json(redact(_dumps(result.to_dict(), _json_indent())))
    elif dry_run:
        for step in (s for s in result.steps if s.success):
            ui.echo(f"# step {step.name} ({step.type})")
            ui.echo(redact(_render_request(step.request)))
    else:
        last = result.steps[-1] if result.steps else None
        if last is not None and last.success:
            ui.echo_json(redact(_dumps(last.output, _json_indent())))
    stopped = result.steps[-1] if result.steps and not result.steps[-1].success else None
    for skipped in result.steps[:-1] if stopped else result.steps:
        if not skipped.success:  # continue_on_error let the run go on
            ui.warn(f"step {skipped.name!r} failed (continue_on_error): {skipped.error}")
    if stopped is not None:
        raise StepFailed(stopped)


def _json_indent() -> int | None:
    """Indented for a person, one compact line when piped (as every ``--json``)."""
    from . import ui

    return 2 if ui.is_terminal() else None


def _dumps(value: Any, indent: int | None = 2) -> str:
    import json

    return json.dumps(value, indent=indent, ensure_ascii=False, default=str)


def _render_request(request: Any) -> str:
    if not isinstance(request, dict):
        return _dumps(request)
    if {"method", "url"} <= set(request):
        lines = [f"# note: {note}" for note in str(request.get("note") or "").splitlines()]
        lines += [f"{request['method']} {request['url']}"]
        lines += [f"{k}: {v}" for k, v in (request.get("headers") or {}).items()]
        body = request.get("body")
        if body not in (None, ""):
            lines += ["", body if isinstance(body, str) else _dumps(body)]
        return "\n".join(lines)
    return _dumps(request)


def register(root: typer.Typer) -> None:
    root.command("run")(run)
