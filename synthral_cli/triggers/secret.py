"""Where a listener's signing secret comes from: ``--secret-stdin``, else what the connector's
``webhooks.secret`` says: ``listener`` (``SYNTHRAL_<SLUG>_WEBHOOK_SECRET``) or ``credential``
(a field of the stored connection, e.g. a Slack app's signing secret). Checked against the
scheme at start (an Ed25519 public key must be one) and registered for redaction."""

from __future__ import annotations

from typing import Any

from ..basics import redact
from ..basics.errors import AuthError, UsageError
from ..basics.settings import webhook_secret_var
from .verify import check_secret


def listener_secret(sy: Any, manifest: Any, connection: str, given: str | None) -> tuple[Any, str]:
    """``(WebhookSpec, secret)`` for ``synthral listen``; ``UsageError``/``AuthError`` otherwise."""
    spec = manifest.webhooks
    slug = manifest.slug
    if spec is None:
        have = [m.slug for m in (sy.catalogue.get(s) for s in sy.catalogue.slugs()) if m.raw.get("webhooks")]
        raise UsageError(
            f"{slug} declares no webhooks, so synthral cannot verify its deliveries.",
            f"Connectors with webhooks: {', '.join(have) or 'none'}; or poll instead: synthral watch {slug} ACTION",
        )
    secret = given or sy.settings.env.get(webhook_secret_var(slug)) or None
    if secret is None and spec.secret == "credential" and spec.secret_field:  # noqa: S105 - a source name
        from ..auth.credentials import resolve

        credential = resolve(sy, manifest, connection)
        value = credential.secrets.get(spec.secret_field) or credential.config.get(spec.secret_field)
        if not value:
            conn = f" --connection {connection}" if connection != "default" else ""
            raise AuthError(
                f"the {slug} connection {connection!r} has no {spec.secret_field}, which signs its webhooks.",
                f"Store it: synthral authorize {slug}{conn}, or pass it with --secret-stdin.",
            )
        secret = str(value)
    if not secret:
        raise UsageError(
            f"synthral listen {slug} needs the webhook signing secret.",
            f"Pipe it in with --secret-stdin, or set {webhook_secret_var(slug)}. "
            + (f"Where to find it: {spec.docs_url}" if spec.docs_url else ""),
        )
    redact.register(secret)
    check_secret(spec, secret)
    return spec, secret
