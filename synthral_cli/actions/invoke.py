"""Invocation: check an action's parameters and scopes, resolve the credential, then hand the
call to the connector that serves the manifest's transport: its ``preview`` for a dry run, its
``execute`` otherwise.

    check_params(action, values)            (wire/params.py) unknown / missing / wrong-type, defaults
    ctx.registry.connector(transport)       (registry.py) http, smtp, postgresql or a plugin
    run(ctx, manifest, action, params, options)  -> Outcome, or PreparedRequest for a dry run

The HTTP connector and the SMTP and PostgreSQL transports are in ``builtin.py``; connectors
written in Python by others come through the same entry-point group (``connector.py``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..basics import redact
from ..basics.errors import AuthError, NetworkError, SynthralError, UsageError
from ..catalogue.manifest import Action, Manifest
from ..catalogue.templates import render_url
from ..wire.params import check_params
from ..wire.prepare import Invocation
from ..wire.request import SECRET_FIELDS, Options, PreparedRequest
from ..wire.response import Outcome, ProviderAuthError
from .connector import Call

if TYPE_CHECKING:
    from ..auth.credential import Credential
    from .context import Context as Synthral

__all__ = [
    "Invocation",
    "Options",
    "Outcome",
    "PreparedRequest",
    "ProviderAuthError",
    "invoke",
    "request",
    "run",
    "test",
]


def missing_scopes(required: list[str], granted: list[str] | None) -> list[str]:
    """Entries of ``required`` (``a|b`` = either) that ``granted`` does not cover. Unknown
    grants (``None`` or an empty list) are not checked: the provider will say."""
    if not granted:  # None: an env override; []: the provider did not say what it granted
        return []
    have = set(granted)
    return [r for r in required if not any(alt in have for alt in r.split("|"))]


def _check_scopes(manifest: Manifest, action: Action, credential: Credential | None, connection: str) -> None:
    if credential is None or action.raw.get("auth", True) is False:
        return
    missing = missing_scopes(action.scopes, credential.scopes)
    if missing:
        wanted = [m.split("|")[0] for m in missing]
        conn = f" --connection {connection}" if connection != "default" else ""
        raise AuthError(
            f"{manifest.slug} {action.name} needs the scope {', '.join(missing)}, "
            f"which the {connection!r} connection was not granted.",
            f"Run: synthral authorize {manifest.slug}{conn} " + " ".join(f"--scope {w}" for w in wanted),
        )


def _credential(
    sy: Synthral, manifest: Manifest, action: Action, options: Options
) -> tuple[Credential | None, str | None]:
    """The resolved credential; a dry run or an ``auth: false`` action can do without one."""
    from ..auth.credential import Credential
    from ..auth.credentials import resolve
    from ..auth.envcreds import env_settings

    try:
        return resolve(sy, manifest, options.connection), None
    except AuthError:
        if manifest.auth_type == "none" or action.raw.get("auth", True) is False:
            return None, None
        if not options.dry_run:
            raise
    declared = manifest.auth.get("fields", [])
    optional = {f["name"] for f in declared if f.get("secret") is False and f.get("required") is False}
    fields = ({f["name"] for f in declared} | SECRET_FIELDS | {"username"}) - optional
    fields |= {f["name"] for f in declared if "default" in f}
    defaults = {f["name"]: str(f["default"]) for f in manifest.auth.get("fields", []) if "default" in f}
    placeholder = Credential(
        slug=manifest.slug,
        connection=options.connection,
        kind=manifest.auth_type,
        secrets={f: defaults.get(f, f"<{f}>") for f in sorted(fields)},
        config=dict(env_settings(sy, manifest)),
        scopes=None,
        source="placeholder",
    )
    return (
        placeholder,
        f"no {manifest.slug} connection {options.connection!r} yet: credentials are placeholders",
    )


def secret_params(sy: Synthral, manifest: Manifest, action: Action, params: dict[str, Any]) -> dict[str, Any]:
    """``secret: true`` parameters not given are read from ``SYNTHRAL_<SLUG>_<NAME>``; every
    secret value is registered for redaction (``--debug`` URLs included)."""
    from ..basics.settings import secret_param_var

    out = dict(params)
    for p in action.parameters:
        if not p.secret:
            continue
        if out.get(p.name) in (None, ""):
            value = sy.settings.env.get(secret_param_var(manifest.slug, p.name))
            if value:
                out[p.name] = value
        if isinstance(out.get(p.name), str):
            redact.register(out[p.name])
    return out


def run(
    sy: Synthral, manifest: Manifest, action: Action, params: dict[str, Any], options: Options
) -> Outcome | PreparedRequest:
    """Check parameters and scopes, then preview (dry run) or send."""
    params = check_params(action, secret_params(sy, manifest, action, params), manifest.slug)
    if options.ca_bundle is None:
        options.ca_bundle = sy.settings.ca_bundle
    if options.allow_insecure is None:
        options.allow_insecure = sy.settings.allow_insecure
    if options.via_nango_proxy:  # Nango adds the credential; it never reaches this process
        from .nango_proxy import run_via_proxy

        return run_via_proxy(sy, manifest, action, params, options)
    credential, note = _credential(sy, manifest, action, options)
    _check_scopes(manifest, action, credential, options.connection)
    call = Call(manifest, action, params, credential, options)
    call.refresh = lambda: _refresh(sy, call)
    return _perform(sy, call, note)


def _perform(sy: Synthral, call: Call, note: str | None = None) -> Outcome | PreparedRequest:
    """Hand ``call`` to the connector registered for the manifest's transport: ``preview`` for
    a dry run, ``execute`` otherwise. A plugin's unexpected exception is reported as a fault of
    its package (``registry.failure``), never as a crash of synthral."""
    registry = sy.registry
    transport = call.manifest.transport
    connector = registry.connector(transport, call.manifest.slug)
    entry = registry.entry(transport)
    try:
        if call.options.dry_run:
            req = connector.preview(call)
            if not isinstance(req, PreparedRequest):
                raise TypeError(f"preview() returned {type(req).__name__}, not a PreparedRequest")
            req.masked.extend(call.secrets)
            req.note = "\n".join(n for n in (note, req.note) if n) or None  # one line each
            return req
        out = connector.execute(call)
        if not isinstance(out, Outcome):
            raise TypeError(f"execute() returned {type(out).__name__}, not an Outcome")
        return out
    except SynthralError:
        raise
    except Exception as exc:
        if entry is None or entry.builtin:
            raise  # a bug in synthral itself: exit 70 with "rerun with --debug"
        from .registry import failure

        raise failure(entry, exc) from exc


def _refresh(sy: Synthral, call: Call) -> Credential | None:
    """``Call.refresh``: one forced refresh after the provider refused the credential."""
    if call.credential is None:
        return None
    from ..auth.credentials import refresh_after_401

    fresh = refresh_after_401(sy, call.manifest, call.credential)
    if fresh is not None:
        call.credential = fresh
    return fresh


def adhoc_action(manifest: Manifest, method: str, path: str, values: dict[str, Any]) -> Action:
    """``synthral request``: an action for METHOD PATH whose ``-p`` values are query parameters
    for GET/HEAD/DELETE and body fields otherwise (like ``gh api``), in the connector's body
    encoding (:func:`body_encoding`: Stripe's form fields, JSON elsewhere)."""
    method = method.upper()
    if method not in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}:
        raise UsageError(f"Unknown HTTP method {method!r}.", "Use GET, POST, PUT, PATCH, DELETE or HEAD.")
    if re.match(r"^https?://", path):
        base = render_url(manifest.base_url, {}, None) if "{" not in manifest.base_url else ""
        if not base or not path.startswith(base.rstrip("/") + "/"):
            raise UsageError(
                f"{path} is not under {manifest.slug}'s base URL {manifest.base_url}.",
                "Give a path relative to the base URL, e.g. /users/me.",
            )
        path = path[len(base.rstrip("/")) :]
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"The path {path!r} is not valid UTF-8 text.", "Check the terminal's encoding.") from None
    loc = "query" if method in {"GET", "HEAD", "DELETE"} else "body"
    types = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}
    raw = {
        "name": "request",
        "description": f"{method} {path}",
        "method": method,
        # spaces, controls, non-ASCII, # and {} are escaped; an existing %XX and ?a=b stay as given
        "path": quote(path, safe="/?&=%:@!$'()*+,;[]~"),
        "idempotent": method in {"GET", "HEAD", "PUT", "DELETE"},
        "body": body_encoding(manifest),
        "parameters": [
            {"name": k, "in": loc, "type": types.get(type(v), "string")} for k, v in values.items()
        ],
    }
    if "pagination" in manifest.raw:
        raw["pagination"] = manifest.raw["pagination"]
    return Action(raw)


def body_encoding(manifest: Manifest) -> str:
    """How this connector's own actions encode body fields: ``form`` when most of those that
    send fields use it (Stripe, Twilio, Mailgun), else ``json``."""
    counts = {"json": 0, "form": 0}
    for action in manifest.actions:
        if action.body in counts and any(p.location == "body" for p in action.parameters):
            counts[action.body] += 1
    return "form" if counts["form"] > counts["json"] else "json"


def _options(options: Options | None, settings: dict[str, Any]) -> Options:
    opts = options or Options()
    for key, value in settings.items():
        if not hasattr(opts, key):
            raise TypeError(f"unknown option {key!r}")
        setattr(opts, key, value)
    return opts


def invoke(
    sy: Synthral,
    slug: str,
    action: str,
    params: dict[str, Any] | None = None,
    options: Options | None = None,
    **settings: Any,
) -> Outcome | PreparedRequest:
    """``Synthral.invoke``: run ``action`` of ``slug`` with typed (or text) parameter values."""
    manifest = sy.connector(slug)
    return run(sy, manifest, manifest.action(action), dict(params or {}), _options(options, settings))


def request(
    sy: Synthral,
    slug: str,
    method: str,
    path: str,
    values: dict[str, Any] | None = None,
    options: Options | None = None,
    **settings: Any,
) -> Outcome | PreparedRequest:
    """``synthral request``: a raw authenticated call relative to the connector's base URL."""
    manifest = sy.connector(slug)
    if manifest.transport != "http":
        raise UsageError(f"{slug} is not an HTTP connector.", f"Use: synthral invoke {slug} ACTION")
    values = dict(values or {})
    return run(
        sy, manifest, adhoc_action(manifest, method, path, values), values, _options(options, settings)
    )


def test(sy: Synthral, slug: str, options: Options | None = None, **settings: Any) -> Outcome:
    """Run ``test_connection`` and record ok / message / time on the stored connection."""
    opts = _options(options, settings)
    opts.dry_run = False
    manifest = sy.connector(slug)
    try:
        out = run(sy, manifest, manifest.action("test_connection"), {}, opts)
    except SynthralError as exc:  # a network failure is no verdict on the credential: "unreachable"
        _record(sy, slug, opts.connection, None if isinstance(exc, NetworkError) else False, exc.message)
        raise
    assert isinstance(out, Outcome)  # noqa: S101 - not a dry run
    _record(sy, slug, opts.connection, True, f"ok ({out.status})" if out.status else "ok")
    return out


def test_credential(
    sy: Synthral,
    slug: str,
    secrets: dict[str, str],
    config: dict[str, Any] | None = None,
    options: Options | None = None,
) -> Outcome:
    """Run ``test_connection`` with a credential that is not stored: check a configuration before
    saving it. Nothing is written to the store; the secrets are registered for redaction."""
    from ..auth.binding import check_settings, connection_origins
    from ..auth.credential import Credential

    opts = options or Options()
    opts.dry_run = False
    if opts.ca_bundle is None:
        opts.ca_bundle = sy.settings.ca_bundle
    manifest = sy.connector(slug)
    action = manifest.action("test_connection")
    params = check_params(action, {}, slug)
    for value in secrets.values():
        redact.register(value)
    credential = Credential(
        slug=slug,
        connection=opts.connection,
        kind=manifest.auth_type,
        secrets=dict(secrets),
        config=dict(config or {}),
        scopes=None,
        source="given",
        # bound as `authorize` would bind it, to the manifest's origins with these settings
        origins=connection_origins(manifest, {**check_settings(manifest, config or {}), **secrets}),
    )
    out = _perform(sy, Call(manifest, action, params, credential, opts))  # nothing stored to refresh
    assert isinstance(out, Outcome)  # noqa: S101 - not a dry run
    return out


def _record(sy: Synthral, slug: str, connection: str, ok: bool | None, message: str) -> None:
    """Health for ``connections list``; only stored connections have a row to record it in."""
    from ..basics.errors import NetworkError, StoreError
    from ..store.encrypted import Store

    if sy.settings.token_override(slug) is not None or not Store.exists(sy.settings):
        return
    try:
        sy.store.record_test(slug, connection, ok, redact.redact(message)[:500])
    except (StoreError, NetworkError):  # best effort: a shared store that is down is not a failed call
        return
