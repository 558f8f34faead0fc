"""Workflows over HTTP: ``POST /workflows/run`` (a flow document and its inputs) checks the flow,
starts it in the background and answers with an execution id (or, with ``"wait": true``, the
finished execution); ``GET /executions/{id}`` shows each step's status, timing and redacted result.
The run loop is ``workflows.run.run_flow``, the same as ``synthral run``."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from ..basics import redact
from .replies import Problem, field, json_response, not_found, read_json
from .routes_api import hub_of
from .state import Execution, StepRecord

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from ..api import Synthral
    from .hub import Hub

CODES = {1: "provider_error", 2: "bad_request", 3: "not_authorized", 4: "network_error", 5: "store_error"}


def _redacted(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(redact.redact(json.dumps(value, ensure_ascii=False, default=str)))


def _execute(hub: Hub, sy: Synthral, flow: Any, inputs: dict[str, Any], ex: Execution) -> None:
    """Run the flow, recording every step as it starts and ends."""
    from ..basics.errors import SynthralError
    from ..workflows.flow import RunResult
    from ..workflows.run import run_flow

    runner = hub.flow_runner(sy)
    current: dict[str, StepRecord] = {}

    def on_step(phase: str, step: Any, result: Any) -> None:
        if phase == "start":
            current[step.name] = record = StepRecord(step.name, step.type)
            ex.steps.append(record)
            return
        record = current[step.name]
        record.finished = time.time()
        record.status = "succeeded" if result.success else "failed"
        record.result = _redacted(result.output)
        if not result.success:
            record.error = {
                "code": CODES.get(result.exit_code, "bad_request"),
                "message": redact.redact(result.error or ""),
                "hint": redact.redact(result.hint) if result.hint else None,
            }

    outcome: RunResult | None = None
    try:
        outcome = run_flow(flow, inputs, runner, on_step=on_step)
    except SynthralError as exc:
        ex.error = {
            "code": CODES.get(exc.exit_code, "bad_request"),
            "message": redact.redact(exc.message),
            "hint": redact.redact(exc.hint) if exc.hint else None,
        }
    except Exception as exc:  # noqa: BLE001 - a bug must not leave the execution "running" forever
        ex.error = {
            "code": "internal_error",
            "message": f"{type(exc).__name__}: {redact.redact(str(exc))}",
            "hint": "This is a bug in synthral; please report it.",
        }
    finally:
        runner.close()
    ex.finished = time.time()
    ex.status = "succeeded" if outcome is not None and outcome.success and ex.error is None else "failed"
    if ex.error is None and outcome is not None and not outcome.success:
        failed = next(s for s in ex.steps if s.status == "failed")
        ex.error = failed.error


async def run(request: Request) -> Response:
    from ..workflows.flow import check_flow, parse_flow

    hub = hub_of(request)
    key = hub.authenticate(request, "workflows:execute")
    body = await read_json(request, hub.options.max_body, empty_ok=False)
    doc = body.get("flow")
    if not isinstance(doc, dict):
        raise Problem(
            400,
            "bad_request",
            "'flow' must be a flow document (an object with 'steps').",
            'Example: {"flow": {"steps": [...]}, "inputs": {}}',
        )
    inputs = field(body, "inputs", dict, {})
    wait = field(body, "wait", bool, False)
    flow = parse_flow(doc, "flow")
    await hub.call(lambda sy: check_flow(flow, inputs, hub.flow_runner(sy)))
    ex = hub.executions.new(key.id)
    if wait:
        await hub.call(lambda sy: _execute(hub, sy, flow, inputs, ex))
        return json_response(ex.to_dict())

    def background() -> None:
        from ..wire.encoders import without_local_files

        sy = hub.sy.sibling()
        try:
            with without_local_files():
                _execute(hub, sy, flow, inputs, ex)
        finally:
            if "store" in sy.__dict__:
                sy.store.close()

    threading.Thread(target=background, name=f"synthral-{ex.id}", daemon=True).start()
    return json_response({"execution_id": ex.id, "status": ex.status}, 202)


async def get_execution(request: Request) -> Response:
    hub = hub_of(request)
    key = hub.authenticate(request, "workflows:execute")
    ex = hub.executions.get(request.path_params["execution_id"], key.id)
    if ex is None:
        raise not_found(
            "No such execution (or it was started with another API key, or forgotten).",
            "Executions are kept in memory for the most recent 500 runs.",
        )
    return json_response(ex.to_dict())
