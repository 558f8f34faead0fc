"""SMTP against a real aiosmtpd server on 127.0.0.1: plain, STARTTLS and implicit TLS."""

from __future__ import annotations

import email
import json
import ssl
from email import policy

import pytest

from tests.invoke_support import STORE_KEY, put_connection


class Sink:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    async def handle_VRFY(self, server, session, envelope, address):
        if address == "ann@example.com":
            return "250 Ann <ann@example.com>"
        if address == "maybe@example.com":
            return "252 Cannot VRFY user, but will accept message"
        return "550 5.1.1 No such user here"


def _auth(user, password):
    from aiosmtpd.smtp import AuthResult

    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok)

    return check


def _free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _refusing_smtp_server():
    """An SMTP peer that offers AUTH and answers 535 to every attempt."""
    import socketserver
    import threading

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(b"220 refuser ready\r\n")
            for line in self.rfile:
                verb = line.split(b" ")[0].strip().upper()
                if verb in (b"EHLO", b"HELO"):
                    self.wfile.write(b"250-refuser\r\n250 AUTH PLAIN LOGIN\r\n")
                elif verb == b"AUTH":
                    self.wfile.write(b"535 5.7.8 Authentication credentials invalid\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 OK\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


@pytest.fixture(scope="module")
def tls_ca():
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    return ca, server_ctx


@pytest.fixture
def smtp_server(tls_ca, tmp_path):
    """Yields ``start(security)`` -> (sink, port, ca_file)."""
    from aiosmtpd.controller import Controller

    ca, server_ctx = tls_ca
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    controllers = []

    def start(security="none"):
        sink = Sink()
        kwargs = {"authenticator": _auth("mailer", "mail-pass-1"), "auth_require_tls": security != "none"}
        if security == "starttls":
            kwargs.update(tls_context=server_ctx, require_starttls=True)
        if security == "tls":  # aiosmtpd only counts STARTTLS as TLS for AUTH; the socket is TLS here
            kwargs.update(ssl_context=server_ctx, auth_require_tls=False)
        if security == "none":
            kwargs["auth_require_tls"] = False
        port = _free_port()
        c = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
        c.start()
        controllers.append(c)
        return sink, port, str(ca_file)

    yield start
    for c in controllers:
        c.stop()


@pytest.fixture(autouse=True)
def store_env(monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)


def connect(port, security, password="mail-pass-1"):
    config = {
        "host": "127.0.0.1",
        "port": str(port),
        "security": security,
        "username": "mailer",
        "from": "bot@example.com",
    }
    put_connection("smtp", method="custom", config=config, secrets={"password": password})


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
def test_send_with_cc_bcc_alternative_and_attachment(cli, smtp_server, tmp_path, security):
    sink, port, ca = smtp_server(security)
    connect(port, security)
    att = tmp_path / "report.csv"
    att.write_text("a,b\n1,2\n")
    r = cli(
        "invoke",
        "smtp",
        "send_email",
        "-p",
        "to=ann@example.com,bob@example.com",
        "-p",
        "cc=cat@example.com",
        "-p",
        "bcc=dan@example.com",
        "-p",
        "subject=Weekly report",
        "-p",
        "text=Plain body",
        "-p",
        "html=<p>HTML body</p>",
        "-p",
        f"attachments={att}",
        "--ca-bundle",
        ca,
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["success"] is True and out["status"] == 250
    assert out["result"]["accepted"] == [
        "ann@example.com",
        "bob@example.com",
        "cat@example.com",
        "dan@example.com",
    ]
    (env,) = sink.envelopes
    assert env.mail_from == "bot@example.com"
    assert env.rcpt_tos == ["ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"]
    msg = email.message_from_bytes(env.original_content, policy=policy.default)
    assert msg["To"] == "ann@example.com, bob@example.com" and msg["Cc"] == "cat@example.com"
    assert msg["Bcc"] is None and b"dan@example.com" not in env.original_content  # envelope only
    assert msg["Subject"] == "Weekly report" and msg["Message-ID"] and msg["Date"]
    assert msg.get_body(("plain",)).get_content().strip() == "Plain body"
    assert msg.get_body(("html",)).get_content().strip() == "<p>HTML body</p>"
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "report.csv" and attachment.get_content() == "a,b\n1,2\n"


def test_test_connection_and_wrong_password(cli, smtp_server):
    sink, port, ca = smtp_server("starttls")
    connect(port, "starttls")
    r = cli("test", "smtp", "--ca-bundle", ca, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["result"] == {
        "host": "127.0.0.1",
        "port": port,
        "security": "starttls",
        "authenticated": True,
    }
    # aiosmtpd 1.4 stalls after a failed AUTH under pytest, so a minimal server refuses the login
    port = _refusing_smtp_server()
    connect(port, "none", password="wrong-pass")
    r = cli(
        "invoke",
        "smtp",
        "send_email",
        "-p",
        "to=a@example.com",
        "-p",
        "subject=x",
        "-p",
        "text=y",
        "--timeout",
        "10",
    )
    assert r.exit_code == 3 and "refused the login (535)" in r.stderr
    assert "wrong-pass" not in r.stderr and sink.envelopes == []


def test_untrusted_certificate_exits_4(cli, smtp_server):
    sink, port, ca = smtp_server("tls")
    connect(port, "tls")
    r = cli("test", "smtp")
    assert r.exit_code == 4 and "TLS with 127.0.0.1" in r.stderr and "--ca-bundle" in r.stderr


def test_nothing_listening_exits_4(cli):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    connect(port, "none")
    r = cli(
        "invoke",
        "smtp",
        "send_email",
        "-p",
        "to=a@example.com",
        "-p",
        "subject=x",
        "-p",
        "text=y",
        "--timeout",
        "2",
    )
    assert r.exit_code == 4 and f"Could not talk to the SMTP server 127.0.0.1:{port}" in r.stderr


def test_bad_input_and_dry_run(cli, tmp_path):
    connect(2525, "none")
    r = cli("invoke", "smtp", "send_email", "-p", "subject=x", "-p", "text=y")
    assert r.exit_code == 2 and "send_email needs to." in r.stderr
    r = cli("invoke", "smtp", "send_email", "-p", "to=a@example.com", "-p", "subject=x")
    assert r.exit_code == 2 and "needs text or html" in r.stderr
    r = cli(
        "invoke",
        "smtp",
        "send_email",
        "-p",
        "to=a@example.com",
        "-p",
        "subject=x",
        "-p",
        "text=y",
        "-p",
        f"attachments={tmp_path}/none.pdf",
    )
    assert r.exit_code == 2 and "Cannot read" in r.stderr
    r = cli(
        "invoke",
        "smtp",
        "send_email",
        "-p",
        "to=a@example.com",
        "-p",
        "bcc=z@example.com",
        "-p",
        "subject=Hi",
        "-p",
        "text=Body",
        "--dry-run",
        "--json",
    )
    assert r.exit_code == 0
    req = json.loads(r.stdout)
    assert req["method"] == "SMTP" and req["url"] == "smtp://127.0.0.1:2525"
    assert req["headers"] == {
        "Mail-From": "bot@example.com",
        "Rcpt-To": "a@example.com, z@example.com",
        "Security": "none",
    }
    assert "Subject: Hi" in req["body"] and "z@example.com" not in req["body"]
    assert "mail-pass-1" not in r.stdout


RAW = (
    b"From: Ann <ann@example.com>\r\n"
    b"To: bob@example.com\r\n"
    b"Cc: Carol <carol@example.com>\r\n"
    b"Subject: prepared\r\n"
    b"Message-ID: <fixed-1@example.com>\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; b=abc\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Exactly these bytes.\r\n.leading dot\r\n"
)


def test_send_raw_email_sends_the_file_as_it_is(cli, smtp_server, tmp_path):
    sink, port, _ = smtp_server("none")
    connect(port, "none")
    eml = tmp_path / "mail.eml"
    eml.write_bytes(RAW)
    r = cli("invoke", "smtp", "send_raw_email", "-p", f"message=@{eml}", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)["result"]
    assert out == {
        "message_id": "<fixed-1@example.com>",
        "accepted": ["bob@example.com", "carol@example.com"],
        "refused": {},
        "bytes": len(RAW),
    }
    env = sink.envelopes[0]
    assert env.mail_from == "ann@example.com"
    assert env.rcpt_tos == ["bob@example.com", "carol@example.com"]
    assert env.original_content == RAW  # dot-stuffing undone by the server: byte for byte
    r = cli(
        "invoke",
        "smtp",
        "send_raw_email",
        "-p",
        f"message=@{eml}",
        "-p",
        "to=dan@example.com",
        "-p",
        "from=bounces@example.com",
    )
    assert r.exit_code == 0, r.stderr
    assert sink.envelopes[1].mail_from == "bounces@example.com"
    assert sink.envelopes[1].rcpt_tos == ["dan@example.com"]


def test_send_raw_email_needs_recipients_and_a_file(cli, tmp_path):
    connect(2525, "none")
    eml = tmp_path / "norcpt.eml"
    eml.write_bytes(b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n")
    r = cli("invoke", "smtp", "send_raw_email", "-p", f"message=@{eml}")
    assert r.exit_code == 2 and "no To, Cc or Bcc header" in r.stderr
    r = cli("invoke", "smtp", "send_raw_email", "-p", f"message=@{tmp_path}/missing.eml")
    assert r.exit_code == 2 and "Cannot read" in r.stderr
    r = cli(
        "invoke",
        "smtp",
        "send_raw_email",
        "-p",
        f"message=@{eml}",
        "-p",
        "to=z@example.com",
        "--dry-run",
        "--json",
    )
    req = json.loads(r.stdout)
    assert req["headers"]["Mail-From"] == "a@example.com" and req["headers"]["Rcpt-To"] == "z@example.com"
    assert req["body"].startswith("From: a@example.com")


def test_verify_address(cli, smtp_server):
    _, port, _ = smtp_server("none")
    connect(port, "none")
    r = cli("invoke", "smtp", "verify_address", "-p", "address=ann@example.com", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {
        "success": True,
        "status": 250,
        "result": {
            "address": "ann@example.com",
            "code": 250,
            "message": "Ann <ann@example.com>",
            "verified": True,
        },
    }
    r = cli("invoke", "smtp", "verify_address", "-p", "address=maybe@example.com", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["result"]["verified"] is False
    r = cli("invoke", "smtp", "verify_address", "-p", "address=nobody@example.com", "--json")
    assert r.exit_code == 1
    assert "The SMTP server answered 550 for nobody@example.com: 5.1.1 No such user here" in r.stderr
    assert json.loads(r.stdout)["status"] == 550
