"""``synthral invoke``, ``synthral test`` and ``synthral request``: call a provider."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from ._common import CONNECTION_OPTION, JSON_OPTION, complete_action, complete_param, complete_slug, runtime

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


def _options(
    connection: str, dry_run: bool, paginate: bool, retries: int, timeout: float, ca_bundle: str | None
) -> Any:
    from ..actions.invoke import Options
    from . import ui

    def on_wait(seconds: float, why: str) -> None:
        if ui.is_terminal(sys.stderr):
            ui.err(f"waiting {seconds:.1f} s ({why})")

    return Options(
        connection=connection,
        dry_run=dry_run,
        paginate=paginate,
        retries=retries,
        timeout=timeout,
        ca_bundle=ca_bundle,
        on_wait=on_wait,
    )


def _run(rt: Any, what: str, call: Any, as_json: bool, output: Path | None) -> Any:
    """Run ``call()`` with a spinner; render a dry run, an outcome or an error (``--json`` keeps
    the contract's shape on stdout for errors that carry a provider answer)."""
    from ..actions.invoke import PreparedRequest
    from ..basics.errors import SynthralError
    from . import ui

    try:
        with ui.status(what):
            out = call()
    except SynthralError as exc:
        if as_json and hasattr(exc, "result"):  # the provider answered: keep the contract's shape
            ui.print_json({"success": False, "status": getattr(exc, "status", None), "result": exc.result})
        raise
    if isinstance(out, PreparedRequest):
        for note in (out.note or "").splitlines():
            ui.warn(note)
        if as_json:
            ui.print_json(out.to_dict())
        else:
            ui.echo(out.render())
        return out
    _render(out, as_json, output)
    return out


def _render(out: Any, as_json: bool, output: Path | None) -> None:
    from ..basics.errors import UsageError
    from . import ui

    if out.truncated:
        ui.warn(f"stopped after {out.pages} pages (pagination.max_pages); more results exist.")
    if output is not None:
        data = out.content if out.content else (b"" if out.result is None else _as_text(out.result).encode())
        try:
            output.write_bytes(data)
        except OSError as exc:
            raise UsageError(
                f"Cannot write {output}: {exc.strerror or exc}.", "Choose another --output path."
            ) from None
        saved = {"saved_to": str(output), "bytes": len(data), "content_type": out.content_type}
        if as_json:
            ui.print_json({"success": out.success, "status": out.status, "result": saved})
        else:
            ui.err(f"saved {len(data)} bytes to {output}")
        return
    if as_json:
        ui.print_json(out.to_dict())
        return
    if out.binary:
        if ui.is_terminal(sys.stdout):
            raise UsageError(
                f"The answer is binary ({out.content_type or 'unknown type'}, {len(out.content)} bytes).",
                "Save it with --output FILE (or pipe stdout to a file).",
            )
        sys.stdout.buffer.write(out.content)
        sys.stdout.flush()
        return
    if isinstance(out.result, (dict, list)):
        ui.print_json(out.result)
    elif out.result is not None:
        ui.echo(str(out.result))


def _as_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def _secret_params(
    rt: Any, slug: str, act: Any, values: dict[str, Any], stdin_name: str | None, data: str | None
) -> None:
    """``secret: true`` parameters: ``--secret-stdin NAME``, else (for a required one that no
    ``SYNTHRAL_<SLUG>_<NAME>`` variable gives) a hidden prompt on a terminal."""
    from ..basics.errors import UsageError
    from ..basics.redact import register
    from ..basics.settings import secret_param_var

    secret = {p.name: p for p in act.parameters if p.secret}
    if stdin_name is not None:
        if stdin_name not in secret:
            raise UsageError(
                f"{act.name} has no secret parameter {stdin_name!r}.",
                f"Its secret parameters: {', '.join(secret) or 'none'}.",
            )
        if data == "-":
            raise UsageError("--secret-stdin and --data - both want stdin.", "Pass --data @FILE instead.")
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise UsageError(f"--secret-stdin {stdin_name} read nothing.", f"Pipe the {stdin_name} in.")
        register(value)
        values[stdin_name] = value
    for name, p in secret.items():
        if name in values or not p.required or rt.env.get(secret_param_var(slug, name)):
            continue
        if _stdin_is_terminal():
            from . import ui

            value = ui.hidden(f"{p.description or name} [{name}]: ")
            if value:
                register(value)
                values[name] = value


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


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
    from ..wire.params import parse_cli_params

    rt = runtime(ctx)
    manifest = rt.catalogue.get(slug)
    if action is None:
        _missing_action(manifest)
    act = manifest.action(action)
    values = parse_cli_params(act, params or [], data, slug=slug)
    _secret_params(rt, slug, act, values, secret_stdin, data)
    opts = _options(connection, dry_run, paginate, retries, timeout, ca_bundle)
    opts.via_nango_proxy = via_nango_proxy
    _run(rt, f"{slug} {action}…", lambda: rt.sy.invoke(slug, action, values, options=opts), as_json, output)


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
    opts = _options(connection, dry_run, paginate, retries, timeout, ca_bundle)
    opts.via_nango_proxy = via_nango_proxy
    _run(
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
    opts = _options(connection, False, False, 1, timeout, ca_bundle)
    out = _run(rt, f"testing {slug}…", lambda: call(rt.sy, slug, opts), as_json, None)
    if not as_json:
        ui.err(f"{slug} ({connection}): ok in {out.elapsed:.2f} s")


def register(root: typer.Typer) -> None:
    root.command("invoke")(invoke)
    root.command("request")(request)
    root.command("test")(test)
