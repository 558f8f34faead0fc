"""AWS Signature Version 4 for ``auth.scheme: aws_sigv4``, via botocore (the ``aws`` extra).

Credential fields: access_key_id, secret_access_key, session_token (optional), region; the
service comes from the action's ``aws_service``, else the manifest's ``auth.aws_service``.
S3 is signed with botocore's ``S3SigV4Auth``, which adds ``X-Amz-Content-SHA256``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..basics.errors import AuthError, UsageError

if TYPE_CHECKING:
    from ..catalogue.manifest import Manifest
    from .request import PreparedRequest

SIGNED_HEADERS = ("X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256", "Authorization")


def sign(
    req: PreparedRequest, fields: dict[str, Any], manifest: Manifest, service: str | None = None
) -> list[str]:
    """Add the SigV4 headers to ``req``; returns the values to mask in a dry run."""
    try:
        from botocore.auth import S3SigV4Auth, SigV4Auth  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
        from botocore.credentials import Credentials  # type: ignore[import-untyped]
    except ImportError:
        raise UsageError(
            f"{manifest.slug} signs requests with AWS SigV4, which needs botocore.",
            "Install it: pip install 'synthral[aws]'",
        ) from None
    missing = [f for f in ("access_key_id", "secret_access_key", "region") if not fields.get(f)]
    if missing:
        raise AuthError(
            f"The {manifest.slug} connection has no {', '.join(missing)}.",
            f"Run: synthral authorize {manifest.slug}",
        )
    service = service or manifest.auth.get("aws_service")
    if not service:
        raise UsageError(f"{manifest.slug}'s manifest needs auth.aws_service for SigV4.", None)
    creds = Credentials(
        str(fields["access_key_id"]),
        str(fields["secret_access_key"]),
        str(fields["session_token"]) if fields.get("session_token") else None,
    )
    aws = AWSRequest(method=req.method, url=req.url, data=req.content or b"", headers=dict(req.headers))
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(creds, service, str(fields["region"])).add_auth(aws)
    masks = []
    for name in SIGNED_HEADERS:
        value = aws.headers.get(name)
        if value is None:
            continue
        req.headers = [(k, v) for k, v in req.headers if k.lower() != name.lower()] + [(name, str(value))]
        if name == "Authorization":
            masks.append(str(value).rsplit("Signature=", 1)[-1])
    return masks
