"""``synthral invoke``, ``synthral test`` and ``synthral request``: call a provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ._common import CONNECTION_OPTION, JSON_OPTION, complete_action, complete_param, complete_slug, runtime
from .invoking import call_options, invoke_action, run_call

SLUG = typer.Argument(..., help="Connector slug, e.g. slack.", autocompletion=complete_slug)
PARAM_OPTION = typer.Option(
    None,
    "--param",
    "-p",
    metavar="KEY=VALUE",
    autocompletion=complete_param,
    help="KEY=VALUE (typed by the action), KEY:=JSON (raw JSON) or KEY=@FILE (read a file). Repeatable.",
)
DATA_OPTION = typer.Option(
    None, "--data", "-d", metavar="JSON|@FILE|-", help="Parameters as a JSON object, @FILE, or - for stdin."
)
DRY_RUN_OPTION = typer.Option(
    False, "--dry-run", help="Print the exact request (secrets masked); send nothing."
)
PAGINATE_OPTION = typer.Option(False, "--paginate", help="Follow the pages and merge their items.")
RETRIES_OPTION = typer.Option(
    3, "--retries", min=0, max=10, metavar="N", help="Retries on 429/502/503/504 and network errors."
)
TIMEOUT_OPTION = typer.Option(30.0, "--timeout", min=0.1, metavar="SECONDS", help="Seconds to wait for an answer.")
PROXY_OPTION = typer.Option(
    False,
    "--via-nango-proxy",
    help="Send through Nango's proxy (a Nango connection; the token stays in Nango).",
)
OUTPUT_OPTION = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the response body to this file.")
SECRET_STDIN_OPTION = typer.Option(
    None,
    "--secret-stdin",
    metavar="NAME",
    help="Read the secret parameter NAME from the first line of stdin (secrets never go in -p).",
)
CA_OPTION = typer.Option(
    None,
    "--ca-bundle",
    metavar="FILE",
    help="PEM file of CA certificates to trust (private CA).",
    envvar="SYNTHRAL_CA_BUNDLE",
)


def invoke(
    ctx: typer.Context,
    slug: str = SLUG,
    action: str = typer.Argument(
        None, help="Action name, e.g. send_message; without it, the actions are listed.", autocompletion=complete_action
    ),
    params: list[str] = PARAM_OPTION,
    data: str = DATA_OPTION,
    secret_stdin: str = SECRET_STDIN_OPTION,
    connection: str = CONNECTION_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
    paginate: bool = PAGINATE_OPTION,
    retries: int = RETRIES_OPTION,
    timeout: float = TIMEOUT_OPTION,
    output: Path = OUTPUT_OPTION,
    ca_bundle: str = CA_OPTION,
    via_nango_proxy: bool = PROXY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Run one action of a connector and print the provider's answer.

    Secret parameters (e.g. a webhook token) never go in -p: they come from
    SYNTHRAL_<SLUG>_<NAME>, --secret-stdin NAME or a hidden prompt.

    Without ACTION it lists the connector's actions on stderr and exits 2 (nothing was run).

    Example: synthral invoke slack send_message -p channel=C0123 -p text="deploy done" --json
    """
    rt = runtime(ctx)
    if action is None:
        _missing_action(rt.catalogue.get(slug))
    invoke_action(
        rt, slug, action, params, data, secret_stdin, connection, dry_run, paginate, retries,
        timeout, output, ca_bundle, via_nango_proxy, as_json,
    )


def _missing_action(manifest: Any) -> None:
    """``synthral invoke SLUG``: a usage error (exit 2, as for any missing argument: a script
    that lost its action name must not pass), whose hint is the list of actions."""
    import shutil

    from ..basics.errors import UsageError
    from .views import action_names

    width = shutil.get_terminal_size((80, 24)).columns - 4
    lines = [line if len(line) <= width else line[: width - 1].rstrip() + "…" for line in action_names(manifest)]
    raise UsageError(
        f"Missing argument 'ACTION': which action of {manifest.slug}?",
        f"synthral invoke {manifest.slug} ACTION, where ACTION is one of:"
        + "".join(f"\n    {line}" for line in lines)
        + f"\n  Details: synthral connectors actions {manifest.slug}",
    )


def request(
    ctx: typer.Context,
    slug: str = SLUG,
    method: str = typer.Argument(..., help="GET, POST, PUT, PATCH, DELETE or HEAD."),
    path: str = typer.Argument(..., help="Path relative to the connector's base URL, e.g. /users/me."),
    params: list[str] = PARAM_OPTION,
    data: str = DATA_OPTION,
    connection: str = CONNECTION_OPTION,
    dry_run: bool = DRY_RUN_OPTION,
    paginate: bool = PAGINATE_OPTION,
    retries: int = RETRIES_OPTION,
    timeout: float = TIMEOUT_OPTION,
    output: Path = OUTPUT_OPTION,
    ca_bundle: str = CA_OPTION,
    via_nango_proxy: bool = PROXY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a raw authenticated call against a connector's base URL (like gh api): -p values are
    query parameters for GET/HEAD/DELETE and body fields otherwise, encoded as the connector's
    own actions encode them (form fields for Stripe, JSON for most).

    Example: synthral request github GET /user/repos -p per_page=100 --paginate --json
    """
    from ..actions.invoke import adhoc_action
    from ..actions.invoke import request as call
    from ..wire.params import parse_cli_params

    rt = runtime(ctx)
    manifest = rt.catalogue.get(slug)
    probe = adhoc_action(manifest, method, path, {})
    values = parse_cli_params(probe, params or [], data, strict=False, slug=slug)
    opts = call_options(connection, dry_run, paginate, retries, timeout, ca_bundle)
    opts.via_nango_proxy = via_nango_proxy
    run_call(
        rt,
        f"{method.upper()} {path}…",
        lambda: call(rt.sy, slug, method, path, values, opts),
        as_json,
        output,
    )


def test(
    ctx: typer.Context,
    slug: str = SLUG,
    connection: str = CONNECTION_OPTION,
    timeout: float = TIMEOUT_OPTION,
    ca_bundle: str = CA_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check a connection with the connector's test_connection action; the result and time are
    recorded (connections list shows them). Exit 0 only when it works.

    Example: synthral test slack --connection work
    """
    from ..actions.invoke import test as call
    from . import ui

    rt = runtime(ctx)
    rt.catalogue.get(slug)
    opts = call_options(connection, False, False, 1, timeout, ca_bundle)
    out = run_call(rt, f"testing {slug}…", lambda: call(rt.sy, slug, opts), as_json, None)
    if not as_json:
        ui.err(f"{slug} ({connection}): ok in {out.elapsed:.2f} s")


def register(root: typer.Typer) -> None:
    root.command("invoke")(invoke)
    root.command("request")(request)
    root.command("test")(test)
