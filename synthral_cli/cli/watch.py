"""``synthral watch``: a polling trigger over a list action (``triggers/watch.py``)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import CONNECTION_OPTION, complete_action, complete_slug, runtime


def watch(
    ctx: typer.Context,
    slug: str = typer.Argument(..., help="Connector slug, e.g. github.", autocompletion=complete_slug),
    action: str = typer.Argument(..., help="A list action, e.g. list_issues.", autocompletion=complete_action),
    params: list[str] = typer.Option(
        None, "--param", "-p", help="KEY=VALUE for the action (as in invoke). Repeatable."
    ),
    connection: str = CONNECTION_OPTION,
    interval: float = typer.Option(60.0, "--interval", min=1.0, help="Seconds between polls."),
    once: bool = typer.Option(False, "--once", help="Poll once and exit (cron, CI); errors exit non-zero."),
    run_flow: Path = typer.Option(None, "--run", help="Run this workflow per new item ({{trigger.payload...}})."),
    inputs: list[str] = typer.Option([], "--input", "-i", help="--run: KEY=VALUE inputs of the workflow. Repeatable."),
    include_existing: bool = typer.Option(
        False,
        "--include-existing",
        help="The first poll of a new watch hands on what is there (default: only later items).",
    ),
    paginate: bool = typer.Option(False, "--paginate", help="Follow the pages of each poll and merge their items."),
    items_path: str = typer.Option(
        None, "--items-path", help="Where the list is in the answer (default: pagination.items_path)."
    ),
    id_path: str = typer.Option(
        None, "--id-path", help="An item's unique id (default: pagination.item_id_path or id)."
    ),
    since_param: str = typer.Option(
        None, "--since-param", help="Parameter that asks for newer items (with --since-path)."
    ),
    since_path: str = typer.Option(
        None, "--since-path", help="Item field whose newest value goes in --since-param."
    ),
    retries: int = typer.Option(
        3, "--retries", min=0, max=10, help="Retries per poll on 429/5xx and network errors."
    ),
    timeout: float = typer.Option(30.0, "--timeout", min=0.1, help="Seconds to wait for an answer."),
    as_json: bool = typer.Option(False, "--json", help="NDJSON on stdout (the only output format; for symmetry)."),
) -> None:
    """Poll a list action and emit only new items, one NDJSON line each on stdout.

    The position is kept under the config directory, so a restart neither repeats nor skips an
    item. The first poll of a new watch records what exists (--include-existing emits it).

    Example: synthral watch github list_issues -p owner=octo -p repo=hello --interval 60
    """
    from ..triggers import logs
    from ..triggers.watch import Watcher, WatchOptions
    from ..wire.params import parse_cli_params
    from .listen import make_handler

    rt = runtime(ctx)
    act = rt.catalogue.get(slug).action(action)
    values = parse_cli_params(act, params or [], None, slug=slug)
    logs.setup("watch")
    handler, close = make_handler(rt, run_flow, inputs, retries=retries, timeout=timeout)
    options = WatchOptions(
        connection=connection, interval=interval, once=once, include_existing=include_existing, paginate=paginate,
        items_path=items_path, id_path=id_path, since_param=since_param, since_path=since_path, retries=retries,
        timeout=timeout,
    )
    watcher = Watcher(rt.sy, slug, action, values, options, handler, rt.sy.paths.spool)
    try:
        watcher.run()
    finally:
        close()


def register(root: typer.Typer) -> None:
    root.command("watch")(watch)
