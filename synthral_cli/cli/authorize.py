"""``synthral authorize``, ``synthral refresh`` and ``synthral token``.

Secrets never come from the command line: OAuth goes through the browser (or a pasted URL, or
the device flow); API keys, passwords and custom fields through a hidden prompt or stdin
(``--with-token``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

import typer

from ._common import CONNECTION_OPTION, JSON_OPTION, complete_slug, runtime

SLUG = typer.Argument(..., help="Connector slug, e.g. slack.", autocompletion=complete_slug)
METHODS = ("auto", "direct", "nango", "device")


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


class TerminalInteraction:
    """The ``auth.interaction.Interaction`` of the CLI: stderr, ``webbrowser``, a paste prompt."""

    def __init__(self, paste: bool) -> None:
        self.paste = paste
        self._pasting = False  # stdin is read for a pasted URL: the person may be typing

    def notice(self, text: str) -> None:
        from . import ui

        ui.err(text)

    def show_link(self, text: str) -> None:
        """A link the person must open (Nango's connect link), shown as it is: its one-time
        session token is meant for them, so it is not redacted."""
        from . import ui

        ui.show_link(text)

    def open_browser(self, url: str) -> bool:
        """``BROWSER`` or the desktop's browser, started without synthral's secret variables."""
        import webbrowser

        from ..basics.childenv import without_secrets

        try:
            with without_secrets():
                return bool(webbrowser.open(url))
        except webbrowser.Error:
            return False

    def waiting(self, message: str) -> AbstractContextManager[None]:
        from contextlib import nullcontext

        from . import ui

        if self._pasting:  # a spinner's redraw would wipe what the person types at the paste prompt
            ui.err(message)
            return nullcontext()
        return ui.status(message)

    def paste_lines(self) -> Iterator[str] | None:
        if not self.paste:
            return None
        self._pasting = True
        return iter(sys.stdin.readline, "")


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _oauth_method(method: str) -> str:
    """The contract's ``oauth_method``: ``nango`` when Nango holds the credential, else ``direct``
    (browser, device flow, client credentials, or a key/password given to synthral)."""
    return "nango" if method == "nango" else "direct"


def _parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    from ..basics.errors import UsageError

    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{what} {pair!r} is not KEY=VALUE.", f"Example: {what} shop=acme")
        out[key] = value.strip()
    return out


def _ask(label: str, secret: bool) -> str:
    from . import ui

    return ui.hidden(f"{label}: ") if secret else ui.ask(f"{label}: ")


def _collect_config(manifest: Any, pairs: list[str], interactive: bool) -> dict[str, str]:
    """``--config KEY=VALUE`` values, prompting for missing required ones on a terminal."""
    from ..auth.authorize import askable_config
    from ..basics.errors import UsageError
    from ..catalogue.templates import check_config_value

    spec = askable_config(manifest)
    given = _parse_pairs(pairs, "--config")
    for key in given:
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise UsageError(f"{manifest.slug} has no setting {key!r} (settings: {known}).", None)
    out: dict[str, str] = {}
    for key, var in spec.items():
        value = given.get(key)
        if value is None and var.get("required", True) and not var.get("default"):
            if not interactive:
                example = var.get("example", "VALUE")
                raise UsageError(
                    f"{manifest.slug} needs the setting {key!r}: {var.get('description', '')}".rstrip(": "),
                    f"Pass it: synthral authorize {manifest.slug} --config {key}={example}",
                )
            hint = f" (e.g. {var['example']})" if var.get("example") else ""
            value = _ask(f"{var.get('description') or key}{hint} [{key}]", False)
        if value is None or value == "":
            continue
        check_config_value(manifest, key, value)
        out[key] = value
    return out


def _read_with_token(manifest: Any, fields: list[dict[str, Any]]) -> dict[str, str]:
    """Secrets from stdin: one line for a single-field type, ``name=value`` lines otherwise."""
    from ..basics.errors import UsageError

    lines = [ln.strip() for ln in sys.stdin.read().splitlines() if ln.strip()]
    names = [f["name"] for f in fields]
    if len(fields) == 1:
        if not lines:
            raise UsageError(
                "--with-token read nothing from stdin.", f"Pipe the {names[0]} into the command."
            )
        if len(lines) > 1:  # a second line is not silently dropped: it may be the real secret
            raise UsageError(
                f"--with-token read {len(lines)} lines; {manifest.slug} takes one ({names[0]}).",
                f"Pipe only the {names[0]}, on one line.",
            )
        line = lines[0]
        prefix = names[0] + "="
        return {names[0]: line[len(prefix) :] if line.startswith(prefix) else line}
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep or key.strip() not in names:
            raise UsageError(
                f"--with-token expects one name=value line per field of {manifest.slug}.",
                f"Fields: {', '.join(names)}",
            )
        if key.strip() in out:
            raise UsageError(
                f"--with-token read {key.strip()} twice.", f"Give each field once: {', '.join(names)}."
            )
        out[key.strip()] = value.strip()
    return out


def _check_fields(
    manifest: Any, fields: list[dict[str, Any]], values: dict[str, str], interactive: bool
) -> None:
    from ..basics.errors import UsageError

    for f in fields:
        name = f["name"]
        if name not in values and interactive:
            value = _ask(f.get("label") or name, bool(f.get("secret", True)))
            if value:
                values[name] = value
        if name not in values and f.get("default") is not None:
            values[name] = str(f["default"]).lower() if isinstance(f["default"], bool) else str(f["default"])
        if name not in values:
            if f.get("required", True):
                raise UsageError(
                    f"{manifest.slug} needs {name}"
                    + (f" ({f['description']})" if f.get("description") else "")
                    + ".",
                    f"Give it on stdin with --with-token as {name}=VALUE, or run on a terminal to be asked.",
                )
            continue
        value = values[name]
        if f.get("type") == "integer" and not value.lstrip("-").isdigit():
            raise UsageError(f"{name} must be a whole number, not {value!r}.", None)
        if f.get("enum") and value not in [str(e) for e in f["enum"]]:
            raise UsageError(f"{name} must be one of: {', '.join(map(str, f['enum']))}.", None)


def authorize(
    ctx: typer.Context,
    slug: str = SLUG,
    connection: str = CONNECTION_OPTION,
    scope: list[str] = typer.Option(
        None, "--scope", "-s", help="A scope to request (repeat; default: the manifest's)."
    ),
    method: str = typer.Option("auto", "--method", "-m", help="auto, direct, nango or device."),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Print the URL instead of opening a browser."
    ),
    port: int = typer.Option(
        None, "--port", min=1, max=65535, help="Loopback port for the redirect (default: free)."
    ),
    timeout: float = typer.Option(300.0, "--timeout", min=1, help="Seconds to wait for the browser."),
    with_token: bool = typer.Option(
        False, "--with-token", help="Read the secret(s) from stdin (name=value lines)."
    ),
    config: list[str] = typer.Option(
        None, "--config", help="A connection setting KEY=VALUE (not secret), e.g. shop=acme."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Connect an account: OAuth in the browser, device flow, or an API key / password.

    Example: synthral authorize slack --scope chat:write
    """
    from ..auth import authorize as authorizing
    from ..basics.errors import UsageError
    from . import ui

    if method not in METHODS:
        raise UsageError(f"Unknown --method {method!r}.", f"Use one of: {', '.join(METHODS)}.")
    rt = runtime(ctx)
    manifest = rt.catalogue.get(slug)
    interactive = _stdin_is_terminal() and not with_token
    settings = _collect_config(manifest, config or [], interactive)
    kind = manifest.auth_type
    if method == "nango" and (kind != "oauth2" or with_token):
        raise UsageError(
            f"--method nango connects OAuth accounts through Nango's hosted flow; {slug} "
            + ("is given a token here." if with_token else f"uses {kind} credentials."),
            f"Store it locally (synthral authorize {slug} --with-token), then: synthral nango import {slug}",
        )
    if kind == "oauth2" and not with_token:
        extra = manifest.auth.get("fields") or []  # e.g. Etsy's app key, sent beside the token
        if extra and not interactive and any(f.get("required", True) for f in extra):
            raise UsageError(
                f"{manifest.name} also needs {', '.join(f['name'] for f in extra)}, "
                "and there is no terminal to ask on.",
                f"Run on a terminal, or give an access token and them as name=value lines: "
                f"synthral authorize {slug} --with-token",
            )
        extra_values: dict[str, str] = {}
        _check_fields(manifest, [dict(f) for f in extra], extra_values, interactive)
        conn = authorizing.authorize_oauth(
            rt.sy,
            manifest,
            connection=connection,
            method=method,
            scopes=scope,
            config=settings,
            interaction=TerminalInteraction(paste=_stdin_is_terminal() or no_browser),
            port=port,
            timeout=timeout,
            open_browser=not no_browser,
            fields=extra_values,
        )
    else:
        if kind == "none" and not settings:
            ui.err(f"{manifest.name} needs no authorization.")
            if as_json:
                ui.print_json(_auth_json(slug, connection, "none", [], None))
            return
        fields = [{"name": "access_token", "label": "Access token"}] if kind == "oauth2" else []
        fields = [*fields, *authorizing.credential_fields(manifest)]
        if not with_token and not interactive and fields:
            raise UsageError(
                f"{manifest.name} needs {', '.join(f['name'] for f in fields)}, "
                "and there is no terminal to ask on.",
                f"Pipe it: printf '%s\\n' \"$SECRET\" | synthral authorize {slug} --with-token",
            )
        if kind != "oauth2" and manifest.auth.get("help") and interactive:
            ui.err(str(manifest.auth["help"]))
        values = _read_with_token(manifest, fields) if with_token and fields else {}
        _check_fields(manifest, fields, values, interactive)
        conn = authorizing.store_static(
            rt.sy, manifest, connection=connection, secrets=values, config=settings
        )
    how = {
        "device": "the device flow",
        "client_credentials": "client credentials",
        "nango": "through Nango",
    }.get(conn.method, conn.method)
    scopes = f"; scopes: {' '.join(conn.scopes)}" if conn.scopes else ""
    ui.err(f"✓ Connected {manifest.name} as {slug}/{connection} ({how}){scopes}.")
    if as_json:
        ui.print_json(_auth_json(slug, connection, _oauth_method(conn.method), conn.scopes, conn.expires_at))


def _auth_json(
    slug: str, connection: str, method: str, scopes: list[str], expires_at: float | None
) -> dict[str, Any]:
    return {
        "success": True,
        "connector_slug": slug,
        "connection": connection,
        "oauth_method": method,
        "scopes": list(scopes),
        "expires_at": _iso(expires_at),
    }


def refresh(
    ctx: typer.Context, slug: str = SLUG, connection: str = CONNECTION_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Refresh a connection's access token now.

    Example: synthral refresh gmail --json
    """
    import time

    from ..auth import credentials
    from . import ui

    rt = runtime(ctx)
    manifest = rt.catalogue.get(slug)
    method, expires_at = credentials.refresh_now(rt.sy, manifest, connection)
    expires_in = None if expires_at is None else max(0, int(expires_at - time.time()))
    if rt.sy.settings.token_override(slug):
        from ..basics.settings import token_var

        ui.warn(f"{token_var(slug)} is set and takes precedence over this connection.")
    ui.err(
        f"✓ Refreshed {slug}/{connection}"
        + (f"; expires in {expires_in} s." if expires_in is not None else ".")
    )
    if as_json:
        ui.print_json(
            {
                "success": True,
                "connector_slug": slug,
                "connection": connection,
                "expires_in": expires_in,
                "oauth_method": _oauth_method(method),
            }
        )


def token(ctx: typer.Context, slug: str = SLUG, connection: str = CONNECTION_OPTION) -> None:
    """Print a valid access token or API key (refreshed if needed) for scripts.

    Example: curl -H "Authorization: Bearer $(synthral token github)" https://api.github.com/user
    """
    from .tokens import print_token

    print_token(runtime(ctx), slug, connection)


def register(root: typer.Typer) -> None:
    root.command("authorize")(authorize)
    root.command("refresh")(refresh)
    root.command("token")(token)
