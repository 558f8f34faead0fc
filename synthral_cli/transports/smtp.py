"""SMTP: ``send_email`` and ``test_connection`` for the ``smtp`` connector, with smtplib.

Credential fields: host, port, username, password, security (``starttls`` | ``tls`` for
implicit TLS | ``none``), from. Bcc recipients go in the envelope only, never in a header.
Date and Message-ID are added when sending (not in a dry run, which stays reproducible).
"""

from __future__ import annotations

import smtplib
import ssl
import time
from typing import TYPE_CHECKING, Any

from ..encoders import build_email, email_recipients
from ..errors import AuthError, NetworkError, ProviderError, UsageError

if TYPE_CHECKING:
    from ..invoke import Options, Outcome, PreparedRequest
    from ..manifest import Manifest

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def _settings(manifest: Manifest, fields: dict[str, Any]) -> tuple[str, int, str]:
    host = str(fields.get("host") or "")
    if not host:
        raise AuthError(
            f"The {manifest.slug} connection has no host.", f"Run: synthral authorize {manifest.slug}"
        )
    security = str(fields.get("security") or "starttls").lower()
    if security not in DEFAULT_PORTS:
        raise UsageError(
            f"SMTP security must be starttls, tls or none, not {security!r}.",
            f"Re-run: synthral authorize {manifest.slug}",
        )
    try:
        port = int(fields.get("port") or DEFAULT_PORTS[security])
    except ValueError:
        raise UsageError(f"SMTP port {fields.get('port')!r} is not a number.", None) from None
    return host, port, security


def _context(options: Options) -> ssl.SSLContext:
    return (
        ssl.create_default_context(cafile=options.ca_bundle)
        if options.ca_bundle
        else ssl.create_default_context()
    )


def _connect(manifest: Manifest, fields: dict[str, Any], options: Options) -> smtplib.SMTP:
    host, port, security = _settings(manifest, fields)
    where = f"{host}:{port}"
    server: smtplib.SMTP | None = None
    try:
        if security == "tls":
            server = smtplib.SMTP_SSL(host, port, timeout=options.timeout, context=_context(options))
        else:
            server = smtplib.SMTP(host, port, timeout=options.timeout)
        server.ehlo()
        if security == "starttls":
            if not server.has_extn("starttls"):
                raise NetworkError(
                    f"The SMTP server {where} does not offer STARTTLS.",
                    f"Set security to tls or none with: synthral authorize {manifest.slug}",
                )
            server.starttls(context=_context(options))
            server.ehlo()
        if fields.get("username"):
            server.login(str(fields["username"]), str(fields.get("password") or ""))
        return server
    except BaseException as exc:
        if server is not None:
            server.close()
        raise _smtp_error(exc, where, manifest) from None


def _smtp_error(exc: BaseException, where: str, manifest: Manifest) -> BaseException:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return AuthError(
            f"The SMTP server {where} refused the login ({exc.smtp_code}).",
            f"Check the username and password: synthral authorize {manifest.slug}",
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ProviderError(f"The SMTP server {where}: {exc}.", None)
    if isinstance(exc, ssl.SSLError):
        return NetworkError(
            f"TLS with {where} failed: {exc.reason or exc}.",
            "Check security (starttls/tls) and, for a private CA, --ca-bundle.",
        )
    if isinstance(exc, (OSError, smtplib.SMTPException)):
        return NetworkError(
            f"Could not talk to the SMTP server {where}: {exc}.",
            "Check host, port and security, and your network.",
        )
    return exc


def run(
    manifest: Manifest, op: str, params: dict[str, Any], fields: dict[str, Any], options: Options
) -> Outcome | PreparedRequest:
    from ..invoke import Outcome, PreparedRequest

    host, port, security = _settings(manifest, fields)
    if op == "test_connection":
        if options.dry_run:
            return PreparedRequest("SMTP", f"smtp://{host}:{port}", [("Security", security)], None, "NOOP")
        started = time.monotonic()
        server = _connect(manifest, fields, options)
        try:
            code, _ = server.noop()
        finally:
            _quit(server)
        return Outcome(
            True,
            code,
            {"host": host, "port": port, "security": security, "authenticated": bool(fields.get("username"))},
            elapsed=time.monotonic() - started,
        )
    if op != "send_email":
        raise UsageError(f"The smtp transport has no operation {op!r}.", "Use send_email or test_connection.")
    sender = str(params.get("from") or fields.get("from") or fields.get("username") or "")
    if not sender:
        raise UsageError(
            "Who is the email from?", "Pass -p from=you@example.com or set 'from' at authorization."
        )
    recipients = email_recipients(params)
    if not recipients:
        raise UsageError("An email needs at least one recipient.", "Add -p to=someone@example.com")
    msg = build_email({**params, "from": sender})
    envelope = [("Mail-From", sender), ("Rcpt-To", ", ".join(recipients)), ("Security", security)]
    if options.dry_run:
        return PreparedRequest(
            "SMTP",
            f"smtp://{host}:{port}",
            envelope,
            None,
            msg.as_string(),
            masked=[str(fields.get("password") or "")],
        )
    from email.utils import formatdate, make_msgid

    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    started = time.monotonic()
    server = _connect(manifest, fields, options)
    try:
        refused = server.send_message(msg, from_addr=sender, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        raise ProviderError(
            f"The SMTP server refused every recipient: {_refusals(exc.recipients)}.",
            "Check the addresses.",
            result={"refused": _refused(exc.recipients)},
        ) from None
    except smtplib.SMTPSenderRefused as exc:
        raise ProviderError(
            f"The SMTP server refused the sender {sender}: {exc.smtp_error!r}.", "Check the from address."
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise ProviderError(f"The SMTP server answered {exc.smtp_code}: {exc.smtp_error!r}.", None) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise NetworkError(f"The SMTP connection failed while sending: {exc}.", "Try again.") from None
    finally:
        _quit(server)
    accepted = [r for r in recipients if r not in refused]
    return Outcome(
        True,
        250,
        {"message_id": msg["Message-ID"], "accepted": accepted, "refused": _refused(refused)},
        elapsed=time.monotonic() - started,
    )


def _refused(recipients: dict[str, tuple[int, bytes]]) -> dict[str, str]:
    return {r: f"{code} {msg.decode('utf-8', 'replace')}" for r, (code, msg) in recipients.items()}


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{r} ({v})" for r, v in _refused(recipients).items())


def _quit(server: smtplib.SMTP) -> None:
    try:
        server.quit()
    except (OSError, smtplib.SMTPException):
        server.close()
