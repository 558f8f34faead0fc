"""What ``synthral invoke`` does once its arguments are parsed, free of Typer: the Typer command
(``invoke.py``) and the fast entry path (``main.py``) both call :func:`invoke_action`, so the two
print the same bytes and exit the same way."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def call_options(
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


def run_call(rt: Any, what: str, call: Any, as_json: bool, output: Path | None) -> Any:
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


def invoke_action(
    rt: Any,
    slug: str,
    action: str,
    params: list[str],
    data: str | None,
    secret_stdin: str | None,
    connection: str,
    dry_run: bool,
    paginate: bool,
    retries: int,
    timeout: float,
    output: Path | None,
    ca_bundle: str | None,
    via_nango_proxy: bool,
    as_json: bool,
) -> None:
    """``synthral invoke SLUG ACTION``: parse the parameters, run the action, render the answer."""
    from ..wire.params import parse_cli_params

    manifest = rt.catalogue.get(slug)
    act = manifest.action(action)
    values = parse_cli_params(act, params or [], data, slug=slug)
    _secret_params(rt, slug, act, values, secret_stdin, data)
    opts = call_options(connection, dry_run, paginate, retries, timeout, ca_bundle)
    opts.via_nango_proxy = via_nango_proxy
    run_call(rt, f"{slug} {action}…", lambda: rt.sy.invoke(slug, action, values, options=opts), as_json, output)
