"""SMTP for the ``smtp`` connector, with smtplib: ``test_connection`` (NOOP), ``send_email``
(a message built from parameters), ``send_raw_email`` (a prepared RFC 5322 message file sent as
it is) and ``verify_address`` (VRFY).

Credential fields: host, port, username, password, security (``starttls`` | ``tls`` for
implicit TLS | ``none``), from. Bcc recipients go in the envelope only, never in a header.
Date and Message-ID are added when sending (not in a dry run, which stays reproducible).
A password with ``security: none`` to a host that is not loopback is refused (exit 2) before
connecting, unless ``--allow-insecure`` (``basics.insecure``).
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..basics.errors import AuthError, NetworkError, ProviderError, UsageError
from .encoders import build_email, email_recipients

if TYPE_CHECKING:
    from ..catalogue.manifest import Manifest
    from .request import Options, PreparedRequest
    from .response import Outcome

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
    from ..basics import tls

    return tls.context(options.ca_bundle)


def _connect(manifest: Manifest, fields: dict[str, Any], options: Options) -> smtplib.SMTP:
    host, port, security = _settings(manifest, fields)
    where = f"{host}:{port}"
    if options.binding is not None:  # the login goes only to the server it was given for
        options.binding.check_server("smtp", host)
    if security == "none" and fields.get("username"):
        from ..basics.insecure import refuse_cleartext

        refuse_cleartext(
            f"SMTP security 'none' would send the password of {fields['username']} to {where}",
            host,
            allowed=bool(options.allow_insecure),
            fix=f"Use security starttls or tls (synthral authorize {manifest.slug})",
        )
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
    from .request import PreparedRequest
    from .response import Outcome

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
    if op == "send_raw_email":
        return _send_raw(manifest, params, fields, options, host, port, security)
    if op == "verify_address":
        return _verify(manifest, params, fields, options, host, port, security)
    if op != "send_email":
        raise UsageError(
            f"The smtp transport has no operation {op!r}.",
            "Use test_connection, send_email, send_raw_email or verify_address.",
        )
    sender = str(params.get("from") or fields.get("from") or fields.get("username") or "")
    need = None
    if not sender:
        who = ("Who is the email from?", "Pass -p from=you@example.com or set 'from' at authorization.")
        if not options.dry_run:
            raise UsageError(*who)
        sender = "<from>"  # a dry run shows what it would need
        need = "the sender is not known: give the parameter 'from' (you@example.com) or set 'from' at authorization."
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
            note=need,
        )
    from email.utils import formatdate, make_msgid

    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    started = time.monotonic()
    refused = _deliver(
        manifest,
        fields,
        options,
        sender,
        lambda s: s.send_message(msg, from_addr=sender, to_addrs=recipients),
    )
    accepted = [r for r in recipients if r not in refused]
    return Outcome(
        True,
        250,
        {"message_id": msg["Message-ID"], "accepted": accepted, "refused": _refused(refused)},
        elapsed=time.monotonic() - started,
    )


def _deliver(
    manifest: Manifest,
    fields: dict[str, Any],
    options: Options,
    sender: str,
    send: Callable[[smtplib.SMTP], dict[str, tuple[int, bytes]]],
) -> dict[str, tuple[int, bytes]]:
    """Connect, run ``send``, quit; the refused recipients, or a ProviderError / NetworkError."""
    server = _connect(manifest, fields, options)
    try:
        return send(server)
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


def _send_raw(
    manifest: Manifest,
    params: dict[str, Any],
    fields: dict[str, Any],
    options: Options,
    host: str,
    port: int,
    security: str,
) -> Outcome | PreparedRequest:
    """A prepared message file, byte for byte (only line endings become CRLF, as SMTP needs).
    Envelope: -p to / -p from, else the message's To/Cc/Bcc and From headers."""
    from email import message_from_bytes, policy
    from email.utils import getaddresses

    from .encoders import FileValue, _addresses
    from .request import PreparedRequest
    from .response import Outcome

    source = params.get("message")
    data = source.read() if isinstance(source, FileValue) else str(source or "").encode("utf-8")
    if not data.strip():
        raise UsageError("The message is empty.", "Pass a prepared RFC 5322 file: -p message=@mail.eml")
    head = message_from_bytes(data, policy=policy.compat32)
    recipients = _addresses(params.get("to")) or [
        addr
        for _, addr in getaddresses(head.get_all("To", []) + head.get_all("Cc", []) + head.get_all("Bcc", []))
        if addr
    ]
    if not recipients:
        raise UsageError(
            "Whom is the message for? It has no To, Cc or Bcc header.", "Pass -p to=someone@example.com"
        )
    from_header = [a for _, a in getaddresses(head.get_all("Sender", []) or head.get_all("From", [])) if a]
    sender = str(params.get("from") or (from_header[0] if from_header else "") or fields.get("from") or "")
    if not sender:
        raise UsageError("Who is the message from? It has no From header.", "Pass -p from=you@example.com")
    envelope = [("Mail-From", sender), ("Rcpt-To", ", ".join(recipients)), ("Security", security)]
    if options.dry_run:
        from .request import _display

        return PreparedRequest(
            "SMTP",
            f"smtp://{host}:{port}",
            envelope,
            None,
            _display(data),
            masked=[str(fields.get("password") or "")],
        )
    started = time.monotonic()
    refused = _deliver(manifest, fields, options, sender, lambda s: s.sendmail(sender, recipients, data))
    return Outcome(
        True,
        250,
        {
            "message_id": head.get("Message-ID"),
            "accepted": [r for r in recipients if r not in refused],
            "refused": _refused(refused),
            "bytes": len(data),
        },
        elapsed=time.monotonic() - started,
    )


def _verify(
    manifest: Manifest,
    params: dict[str, Any],
    fields: dict[str, Any],
    options: Options,
    host: str,
    port: int,
    security: str,
) -> Outcome | PreparedRequest:
    """VRFY (RFC 5321 3.5.1): 250/251 the server knows the mailbox, 252 it will not say but
    accepts mail for it; 550/551/553 it does not exist (a provider error, exit 1)."""
    from .request import PreparedRequest
    from .response import Outcome

    address = str(params.get("address") or "").strip()
    if not address or any(c in address for c in "\r\n"):
        raise UsageError("verify_address needs one address.", "Pass -p address=someone@example.com")
    if options.dry_run:
        return PreparedRequest(
            "SMTP", f"smtp://{host}:{port}", [("Security", security)], None, f"VRFY {address}"
        )
    started = time.monotonic()
    server = _connect(manifest, fields, options)
    try:
        code, reply = server.verify(address)
    except (OSError, smtplib.SMTPException) as exc:
        raise NetworkError(f"The SMTP connection failed during VRFY: {exc}.", "Try again.") from None
    finally:
        _quit(server)
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if code in (250, 251, 252):
        return Outcome(
            True,
            code,
            {"address": address, "code": code, "message": text, "verified": code != 252},
            elapsed=time.monotonic() - started,
        )
    if code in (502, 500, 504):
        raise ProviderError(
            f"The SMTP server {host}:{port} does not support VRFY ({code} {text}).",
            "Many servers disable VRFY; sending is the only test there.",
            status=code,
        )
    raise ProviderError(
        f"The SMTP server answered {code} for {address}: {text}",
        "Check the address.",
        status=code,
        result={"address": address, "code": code, "message": text},
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
