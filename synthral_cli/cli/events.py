"""``synthral events list|replay``: the spool of accepted trigger events (``triggers/spool.py``)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import JSON_OPTION, runtime

app = typer.Typer(help="The spool of accepted webhook events and watch items: list, replay.", no_args_is_help=True)

STATUS_HELP = "pending, failed or done (repeat for several)."


@app.command("list")
def list_events(
    ctx: typer.Context,
    connector: str = typer.Option(None, "--connector", help="Only this connector's events."),
    status: list[str] = typer.Option(None, "--status", help=f"Only events that are {STATUS_HELP} Default: all."),
    limit: int = typer.Option(None, "--limit", min=1, help="At most this many (oldest first)."),
    payload: bool = typer.Option(False, "--payload", help="--json: include each event's payload."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List stored events: what arrived, when, and whether it was handled, failed or waits.

    Example: synthral events list --status failed --json
    """
    from ..triggers.spool import STATUSES, Spool
    from . import ui

    spool = Spool(runtime(ctx).sy.paths.spool)
    try:
        events = spool.select(statuses=tuple(status or STATUSES), connector=connector, limit=limit)
    finally:
        spool.close()
    if as_json:
        rows = [{**e.row(), **({"payload": e.payload} if payload else {})} for e in events]
        ui.print_json({"events": rows, "total_count": len(rows)})
        return
    ui.table(
        ["seq", "connector", "event type", "id", "received", "status", "error"],
        [(r["seq"], r["connector"], r["event_type"] or "", r["id"], r["received_at"], r["status"], r["error"] or "")
         for r in (e.row() for e in events)],
        title=f"{len(events)} events",
    )


@app.command("replay")
def replay_events(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(None, help="Event ids or seq numbers (default: every pending or failed event)."),
    connector: str = typer.Option(None, "--connector", help="Only this connector's events."),
    status: list[str] = typer.Option(None, "--status", help=f"Without ids: events that are {STATUS_HELP}"),
    run_flow: Path = typer.Option(None, "--run", help="Run this workflow per event instead of printing it."),
    inputs: list[str] = typer.Option([], "--input", "-i", help="--run: KEY=VALUE inputs of the workflow. Repeatable."),
) -> None:
    """Hand stored events on again: as NDJSON lines on stdout, or to a workflow with --run.
    Each one that succeeds is marked done; one that fails stays failed (exit code of the failure).

    Example: synthral events replay --run on-payment.yaml
    """
    from ..basics.errors import SynthralError
    from ..triggers import logs
    from ..triggers.replay import replay
    from . import ui
    from .listen import make_handler

    rt = runtime(ctx)
    logs.setup("events replay")
    handler, close = make_handler(rt, run_flow, inputs)
    try:
        out = replay(rt.sy.paths.spool, handler, ids=ids or (), connector=connector,
                     statuses=tuple(status or ("pending", "failed")))
    finally:
        close()
    total = out.done + len(out.failed)
    ui.err(f"replayed {total} event(s): {out.done} done, {len(out.failed)} failed.")
    if out.failed:
        err = SynthralError(
            f"{len(out.failed)} of {total} event(s) failed again; they stay in the spool.",
            "See why: synthral events list --status failed",
        )
        err.exit_code = max(e.exit_code for e in out.failed)
        raise err


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="events")
