"""Transports other than plain manifest HTTP: SMTP and PostgreSQL actions (``transport_op``),
and the SigV4 signer used by ``auth.scheme: aws_sigv4``. HTTP delivery is in ``http.py``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..basics.errors import UsageError

if TYPE_CHECKING:
    from ..auth.credential import Credential
    from ..catalogue.manifest import Action, Manifest
    from ..wire.request import Options, PreparedRequest
    from ..wire.response import Outcome


def dispatch(
    manifest: Manifest,
    action: Action,
    params: dict[str, Any],
    credential: Credential | None,
    options: Options,
) -> Outcome | PreparedRequest:
    """Run ``action.transport_op`` of an smtp or postgresql connector."""
    op = str(action.raw.get("transport_op") or action.name)
    fields: dict[str, Any] = {
        **(credential.config if credential else {}),
        **(credential.secrets if credential else {}),
    }
    if manifest.transport == "smtp":
        from ..wire import smtp

        return smtp.run(manifest, op, params, fields, options)
    if manifest.transport == "postgresql":
        from ..wire import postgresql

        return postgresql.run(manifest, op, params, fields, options)
    raise UsageError(f"Unknown transport {manifest.transport!r}.", None)  # pragma: no cover - schema enum
