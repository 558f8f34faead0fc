"""Invocation through Nango's proxy (``--via-nango-proxy``): the request is built as for a direct
call and sent to Nango's ``/proxy/{path}``, which adds the credential; the token never reaches
this process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..auth.nango import _reconnect, client, reference
from ..basics.errors import AuthError, ProviderError, SynthralError, UsageError
from ..basics.settings import NANGO_SECRET_KEY
from ..wire.prepare import Invocation
from ..wire.request import PreparedRequest

if TYPE_CHECKING:
    from ..catalogue.manifest import Action, Manifest
    from ..wire.request import Options
    from ..wire.response import Outcome
    from .context import Context as Synthral




def run_via_proxy(
    sy: Synthral, manifest: Manifest, action: Action, params: dict[str, Any], options: Options
) -> Outcome | PreparedRequest:
    """Send the request through Nango's ``/proxy/{path}``: Nango adds the token, which never
    reaches this process. The path is the action's path relative to the base URL (sent as
    ``Base-Url-Override``), the query and body are built as for a direct call, and the
    provider headers travel as ``Nango-Proxy-*`` (the ones Nango forwards)."""
    from ..auth.credential import Credential
    from .deliver import deliver

    slug, name = manifest.slug, options.connection
    if manifest.transport != "http":
        raise UsageError(f"{slug} is not an HTTP connector; Nango's proxy only sends HTTP requests.", None)
    conn = sy.store.get(slug, name)
    flag = f" --connection {name}" if name != "default" else ""
    if conn is None:
        raise AuthError(
            f"No {slug} connection {name!r} yet.", f"Run: synthral authorize {slug}{flag} --method nango"
        )
    if conn.method != "nango":
        raise UsageError(
            f"{slug}/{name} is not a Nango connection, so --via-nango-proxy cannot use it.",
            f"Move it to Nango: synthral nango import {slug}{flag}",
        )
    from ..auth.credentials import check_shadowing

    check_shadowing(sy, manifest, conn)  # Nango would put the token on a request to these hosts
    conn_id, key = reference(conn)
    nango = client(sy.settings)
    cred = Credential(slug, name, manifest.auth_type, {}, dict(conn.config), None, "nango-proxy")
    inv = ProxyInvocation(manifest, action, params, cred, options)
    inv.target = (nango.base_url, sy.settings.nango_secret_key or "", conn_id, key)
    if options.dry_run:
        return inv.prepare(dry_run=True)
    try:
        return deliver(inv)  # Nango refreshes; no credential here to refresh
    except (ProviderError, AuthError) as exc:  # the provider's answers carry status and body
        mapped = _nango_failure(exc, slug, name)
        if mapped is exc:
            raise
        raise mapped from None


def _nango_failure(exc: SynthralError, slug: str, name: str) -> SynthralError:
    """Nango's own refusals (bad key, unknown connection, failed refresh), told apart from the
    provider's answers by Nango's error codes."""
    body = getattr(exc, "result", None)
    code = ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = str(body["error"].get("code") or "")
    status = getattr(exc, "status", None)
    if status == 401 and code in {"unknown_account", "invalid_secret_key", "missing_auth_header"}:
        return AuthError(
            "Nango refused the secret key (401).",
            f"Set {NANGO_SECRET_KEY} to an environment secret key from your Nango dashboard.",
        )
    if code in {"unknown_connection", "unknown_provider_config"} or status == 424:
        return AuthError(
            f"Nango could not use the {slug} connection {name!r} ({code or status}).",
            f"Reconnect it: {_reconnect(slug, name)}",
        )
    return exc


class ProxyInvocation(Invocation):
    """An ``Invocation`` whose request goes to Nango's proxy, carrying no credential itself."""

    target: tuple[str, str, str, str] = ("", "", "", "")  # nango URL, secret key, connection id, key

    def auth_parts(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        return [], []  # Nango adds them

    def prepare(self, *args: Any, **kwargs: Any) -> PreparedRequest:
        req = super().prepare(*args, **kwargs)
        nango_url, secret_key, conn_id, key = self.target
        base = self.base_url()
        if req.url != base and not req.url.startswith(base + "/") and not req.url.startswith(base + "?"):
            raise UsageError(
                f"{req.url} is not under {self.manifest.slug}'s base URL, so Nango's proxy cannot reach it.",
                "Run it without --via-nango-proxy.",
            )
        rest = req.url[len(base) :].lstrip("/")
        req.url = f"{nango_url}/proxy/{rest}" if rest else f"{nango_url}/proxy/"
        headers: list[tuple[str, str]] = []
        for k, v in req.headers:
            low = k.lower()
            if low in {"user-agent", "content-type"}:
                headers.append((k, v))
            else:
                headers.append((f"Nango-Proxy-{k}", v))
        headers += [
            ("Authorization", f"Bearer {secret_key}"),
            ("Connection-Id", conn_id),
            ("Provider-Config-Key", key),
            ("Base-Url-Override", base),
        ]
        req.headers = headers
        req.masked.append(secret_key)
        return req
