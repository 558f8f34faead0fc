"""``synthral batch``: NDJSON requests on stdin, one NDJSON result per request on stdout."""

from __future__ import annotations

import typer

from ._common import runtime
from .invoke import CA_OPTION, RETRIES_OPTION, TIMEOUT_OPTION


def batch(
    ctx: typer.Context,
    parallel: int = typer.Option(1, "--parallel", "-P", min=1, max=64, help="Calls to run at once (1-64)."),
    unordered: bool = typer.Option(
        False, "--unordered", help="Print each result as soon as it is ready, not in input order."
    ),
    retries: int = RETRIES_OPTION,
    timeout: float = TIMEOUT_OPTION,
    ca_bundle: str = CA_OPTION,
) -> None:
    """Run one action per line of stdin: {"connector", "action", "params", "connection"?, "id"?}.

    Each result is one line on stdout, {"id", "success", "status", "result"} or {"id", "success":
    false, "status", "error": {"code", "message", "hint", "exit_code"}}, in input order unless
    --unordered; "id" is the line's own or its line number. A failing or malformed line never
    stops the batch; the exit code is the largest of the lines' (0 when all succeeded).

    Example: synthral batch --parallel 8 < requests.ndjson > results.ndjson
    """
    import json
    import sys

    from ..actions.batch import run_batch
    from ..actions.invoke import Options
    from ..wire.http import new_client

    rt = runtime(ctx)
    sy = rt.sy
    sy.catalogue  # noqa: B018 - loaded (and announced) once, before the threads share it
    ca = ca_bundle if ca_bundle is not None else sy.settings.ca_bundle
    out = sys.stdout

    def emit(line: dict[str, object]) -> None:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()

    with new_client(timeout, ca) as client:
        options = Options(retries=retries, timeout=timeout, ca_bundle=ca, client=client)
        worst = run_batch(sys.stdin.buffer, sy.sibling, options, emit, parallel=parallel, ordered=not unordered)
    if worst:
        raise typer.Exit(worst)


def register(root: typer.Typer) -> None:
    root.command("batch")(batch)
