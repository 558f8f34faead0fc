"""Cleartext is refused unless asked for (issue 14, item 9).

The decision (``basics.insecure``) is tested directly; end to end, the peers listen on this
machine's own network address (not loopback by name, yet no packet leaves the machine) and
record every connection, so a refusal is proven to happen before anything is sent. With
``--allow-insecure`` / ``SYNTHRAL_ALLOW_INSECURE=1`` the same call reaches the peer.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

import pytest

from synthral_cli.basics.errors import UsageError
from synthral_cli.basics.insecure import is_loopback, refuse_cleartext
from synthral_cli.basics.settings import Settings
from tests.invoke_support import STORE_KEY, put_connection

SSL_REQUEST = struct.pack("!II", 8, 80877103)  # PostgreSQL's "let us speak TLS" packet


def network_address() -> str:
    """This machine's address on its default route (a UDP connect only looks up the route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            return ""
        addr = str(s.getsockname()[0])
    return "" if is_loopback(addr) or addr == "0.0.0.0" else addr


class Recorder:
    """A TCP listener on ``host`` recording each connection's first bytes, then closing it."""

    def __init__(self, host: str) -> None:
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(0.2)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(3)
                try:
                    self.seen.append(conn.recv(64))
                except OSError:
                    self.seen.append(b"")

    def wait_for(self, n: int, timeout: float = 5) -> list[bytes]:
        end = time.monotonic() + timeout
        while len(self.seen) < n and time.monotonic() < end:
            time.sleep(0.05)
        return self.seen

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


@pytest.fixture
def remote_host():
    host = network_address()
    assert host, "these tests need a network interface besides loopback (the peers listen on it)"
    return host


@pytest.fixture
def recorder(remote_host):
    rec = Recorder(remote_host)
    yield rec
    rec.close()


@pytest.fixture(autouse=True)
def store_env(monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)


# -- the decision ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST.", "db.localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1"],
)
def test_loopback_names_and_addresses(host):
    assert is_loopback(host)
    refuse_cleartext("the password", host, allowed=False, fix="Use TLS")  # no error


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "192.0.2.2",
        "example.com",
        "localhost.example.com",
        "127.0.0.1.nip.io",
        "0.0.0.0",
        "::ffff:10.0.0.1",
        "fe80::1%eth0",
        "",
    ],
)
def test_everything_else_is_the_network(host):
    assert not is_loopback(host)
    with pytest.raises(UsageError) as info:
        refuse_cleartext("X would send the password", host, allowed=False, fix="Use TLS")
    assert info.value.exit_code == 2
    assert "unencrypted" in info.value.message and "--allow-insecure" in str(info.value.hint)
    refuse_cleartext("X would send the password", host, allowed=True, fix="Use TLS")  # asked for


def test_the_setting():
    assert not Settings({}).allow_insecure
    assert not Settings({"SYNTHRAL_ALLOW_INSECURE": "0"}).allow_insecure
    assert Settings({"SYNTHRAL_ALLOW_INSECURE": "1"}).allow_insecure
    assert Settings({"SYNTHRAL_ALLOW_INSECURE": "true"}).allow_insecure


# -- SMTP ----------------------------------------------------------------------------------------


def smtp_connection(host: str, port: int, security: str = "none", username: str | None = "mailer") -> None:
    config = {"host": host, "port": str(port), "security": security, "from": "bot@example.com"}
    if username:
        config["username"] = username
    put_connection("smtp", method="custom", config=config, secrets={"password": "mail-pass-1"})


SEND = ("invoke", "smtp", "send_email", "-p", "to=ann@example.com", "-p", "subject=s", "-p", "text=t")


class Sink:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def network_smtp(remote_host):
    """A real aiosmtpd on this machine's network address, accepting AUTH without TLS."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    sink = Sink()
    with socket.socket() as s:
        s.bind((remote_host, 0))
        port = s.getsockname()[1]
    controller = Controller(
        sink,
        hostname=remote_host,
        port=port,
        authenticator=lambda *a: AuthResult(success=True),
        auth_require_tls=False,
    )
    controller.start()
    yield sink, port
    controller.stop()


def test_smtp_auth_without_tls_to_another_host_is_refused_before_connecting(cli, recorder):
    smtp_connection(recorder.host, recorder.port)
    for args in (SEND, ("test", "smtp")):
        r = cli(*args)
        assert r.exit_code == 2, r.stderr
        assert f"SMTP security 'none' would send the password of mailer to {recorder.host}" in r.stderr
        assert "--allow-insecure" in r.stderr and "mail-pass-1" not in r.stderr
    time.sleep(0.3)
    assert recorder.seen == []  # not even a TCP connection


def test_smtp_without_tls_to_another_host_when_asked_for(cli, network_smtp, remote_host, monkeypatch):
    sink, port = network_smtp
    smtp_connection(remote_host, port)
    r = cli(*SEND, "--allow-insecure", "--json")  # the flag works after the command too
    assert r.exit_code == 0, r.stderr
    monkeypatch.setenv("SYNTHRAL_ALLOW_INSECURE", "1")
    assert cli(*SEND).exit_code == 0
    assert len(sink.envelopes) == 2
    # Without a password there is no AUTH to protect: a plain relay is not refused.
    monkeypatch.delenv("SYNTHRAL_ALLOW_INSECURE")
    smtp_connection(remote_host, port, username=None)
    assert cli(*SEND).exit_code == 0 and len(sink.envelopes) == 3


def test_smtp_auth_without_tls_to_loopback_still_sends(cli):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    sink = Sink()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logins = []

    def check(server, session, envelope, mechanism, auth_data):
        logins.append(auth_data.login)
        return AuthResult(success=True)

    controller = Controller(sink, hostname="127.0.0.1", port=port, authenticator=check, auth_require_tls=False)
    controller.start()
    try:
        smtp_connection("127.0.0.1", port)
        r = cli(*SEND)
        assert r.exit_code == 0, r.stderr
    finally:
        controller.stop()
    assert logins == [b"mailer"] and len(sink.envelopes) == 1


# -- Nango ---------------------------------------------------------------------------------------


def test_plain_http_nango_url_to_another_host_is_refused(cli, recorder, monkeypatch):
    monkeypatch.setenv("NANGO_SECRET_KEY", "nango-secret-key-0123456789")
    monkeypatch.setenv("NANGO_URL", f"http://{recorder.host}:{recorder.port}")
    r = cli("nango", "status")
    assert r.exit_code == 2, r.stderr
    assert f"NANGO_URL http://{recorder.host}:{recorder.port} would send the Nango secret key" in r.stderr
    assert "https://" in r.stderr and "--allow-insecure" in r.stderr
    r = cli("nango", "status", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["reachable"] is None
    time.sleep(0.3)
    assert recorder.seen == []
    # Asked for: the request goes out (the recorder answers nothing, so it is exit 4).
    r = cli("--allow-insecure", "nango", "status", "--json")
    assert r.exit_code == 4
    (first,) = recorder.wait_for(1)
    assert first.startswith(b"GET ")


# -- PostgreSQL ------------------------------------------------------------------------------------


def pg_connection(host: str, port: int, sslmode: str | None = None, **extra: str) -> None:
    config = {"host": host, "port": str(port), "user": "synthral", "dbname": "postgres", **extra}
    if sslmode:
        config["sslmode"] = sslmode
    put_connection("postgresql", method="custom", config=config, secrets={"password": "pg-secret-pw"})


QUERY = ("invoke", "postgresql", "query", "-p", "sql=select 1", "--timeout", "3")


@pytest.mark.parametrize("sslmode", ["disable", "allow", "prefer"])
def test_postgresql_without_tls_to_another_host_is_refused(cli, recorder, sslmode):
    pg_connection(recorder.host, recorder.port, sslmode)
    r = cli(*QUERY)
    assert r.exit_code == 2, r.stderr
    assert f"PostgreSQL sslmode={sslmode} could send the password and every query to {recorder.host}" in r.stderr
    assert "pg-secret-pw" not in r.stderr
    time.sleep(0.3)
    assert recorder.seen == []


def test_postgresql_refusal_covers_dsn_and_pgsslmode(cli, recorder, monkeypatch):
    dsn = f"postgresql://synthral:pg-secret-pw@{recorder.host}:{recorder.port}/postgres?sslmode=disable"
    put_connection("postgresql", method="custom", secrets={"dsn": dsn})
    assert cli(*QUERY).exit_code == 2
    monkeypatch.setenv("PGSSLMODE", "prefer")
    pg_connection(recorder.host, recorder.port)
    assert cli(*QUERY).exit_code == 2
    time.sleep(0.3)
    assert recorder.seen == []


def test_postgresql_to_another_host_speaks_tls_first(cli, recorder):
    """No sslmode: synthral asks for ``require``, so the first packet is the SSLRequest."""
    pg_connection(recorder.host, recorder.port)
    r = cli(*QUERY)
    assert r.exit_code == 4  # the recorder is no PostgreSQL server
    assert recorder.wait_for(1)[0] == SSL_REQUEST


def test_postgresql_without_tls_when_asked_for(cli, recorder):
    pg_connection(recorder.host, recorder.port, "disable")
    r = cli("--allow-insecure", *QUERY)
    assert r.exit_code == 4
    (first,) = recorder.wait_for(1)
    assert first and first != SSL_REQUEST  # a plain StartupMessage: what was asked for
    assert b"synthral" in first
