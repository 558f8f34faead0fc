"""The lean client's own HTTP/1.1 reader (wire/http11.py) against answers httpbin never gives:
a loopback server that replies with exact bytes. Each answer goes through the lean client and
through httpx; what they make of it must be equal — the same result for a well-formed answer,
the same kind of failure (exit 4, the connection broke) for a broken one."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from tests.invoke_support import STORE_KEY, alike_through_both_clients, manifest, write_manifests

ACTIONS = [
    {"name": "get", "description": "get", "method": "GET", "path": "/x"},
    {"name": "head", "description": "head", "method": "HEAD", "path": "/x"},
]


class Canned:
    """Answers every connection with ``self.reply`` (bytes) once the request's head has arrived,
    then closes it; ``self.seen`` keeps each request as it arrived."""

    def __init__(self) -> None:
        self.reply = b""
        self.seen: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.seen.append(data)
                conn.sendall(self.reply)
                conn.shutdown(socket.SHUT_WR)


@pytest.fixture
def canned(tmp_path, monkeypatch):
    server = Canned()
    folder = write_manifests(tmp_path / "m", manifest("raw", server.url, ACTIONS))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    monkeypatch.setenv("SYNTHRAL_RAW_TOKEN", "raw-token-123")
    yield server
    server.sock.close()


def outcome(action: str) -> Any:
    from synthral_cli.api import Synthral
    from synthral_cli.basics.errors import NetworkError, SynthralError

    try:
        out = Synthral().invoke("raw", action, {}, retries=0)
    except SynthralError as exc:  # an answer's error is worded alike; a broken connection's need not be
        said = None if isinstance(exc, NetworkError) else (exc.message, exc.hint)
        return ("error", type(exc).__name__, exc.exit_code, getattr(exc, "status", None), said)
    return ("ok", out.to_dict(), dict(out.headers), out.content_type, out.binary)


def both(monkeypatch, action: str = "get") -> Any:
    return alike_through_both_clients(monkeypatch, lambda: outcome(action))


JSON = b"Content-Type: application/json\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
GOOD = {
    "chunked, with extensions and trailers": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + JSON
    + b"\r\n5;name=v\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\nX-Trailer: t\r\n\r\n",
    "100 Continue first": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 7\r\n" + JSON
    + b"\r\n{\"a\":2}",
    "no length: read to the close": b"HTTP/1.1 200 OK\r\n" + JSON + b"\r\n{\"a\": [1, 2, 3]}",
    "HTTP/1.0": b"HTTP/1.0 200 OK\r\n" + JSON + b"\r\n{\"v\": 1.0}",
    "a folded header": b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n  two\r\nContent-Length: 2\r\n" + JSON + b"\r\n{}",
    "repeated headers": b"HTTP/1.1 200 OK\r\nX-Twice: a\r\nx-twice: b\r\nContent-Length: 2\r\n" + JSON + b"\r\n{}",
    "spaces around a value": b"HTTP/1.1 200 OK\r\nX-Space:   padded   \r\nContent-Length: 2\r\n" + JSON + b"\r\n{}",
    "a UTF-8 header": b"HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9\r\nContent-Length: 2\r\n" + JSON + b"\r\n{}",
    "a Latin-1 header": b"HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 2\r\n" + JSON + b"\r\n{}",
    "one length given twice": b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n" + JSON + b"\r\n{}",
    "other control characters in a header": b"HTTP/1.1 200 OK\r\nX-Odd: a\x08b\x7f\x01\r\nContent-Length: 2\r\n"
    + JSON + b"\r\n{}",
    "a reason phrase beyond ASCII": b"HTTP/1.1 404 Nicht gefunden \xe2\x80\x94 weg\r\nContent-Length: 0\r\n\r\n",
    "no reason phrase": b"HTTP/1.1 200 \r\nContent-Length: 2\r\n" + JSON + b"\r\n{}",
    "a Latin-1 body by its charset": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n"
    b"Content-Length: 4\r\n\r\ncaf\xe9",
    "a quoted charset": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=\"utf-8\"; x=\"a;b\"\r\n"
    b"Content-Length: 5\r\n\r\ncaf\xc3\xa9",
    "204 with no body": b"HTTP/1.1 204 No Content\r\n\r\n",
    "an error status with a JSON message": b"HTTP/1.1 422 Unprocessable\r\nContent-Length: 25\r\n" + JSON
    + b"\r\n{\"error\": \"bad argument\"}",
}
BROKEN = {
    "closed without an answer": b"",
    "closed in the status line": b"HTTP/1.1 200",
    "not HTTP": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "a bad status code": b"HTTP/1.1 2000 OK\r\n\r\n",
    "a header line without a colon": b"HTTP/1.1 200 OK\r\nBroken header\r\n\r\n",
    "a NUL in a header": b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\n{}",
    "a bare CR in a header": b"HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 2\r\n\r\n{}",
    "a form feed in a header": b"HTTP/1.1 200 OK\r\nX-Bad: a\x0cb\r\nContent-Length: 2\r\n\r\n{}",
    "a body cut short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n" + JSON + b"\r\n{\"a\": 1}",
    "two different lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "a length that is not a number": b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n{}",
    "a chunk cut short": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"a\"",
    "a bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "a chunk size too long": CHUNKED + b"0" * 21 + b"2\r\n{}\r\n0\r\n\r\n",
    "a space before a chunk extension": CHUNKED + b"2 ;x\r\n{}\r\n0\r\n\r\n",
    "an unknown transfer coding": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}",
}


@pytest.mark.parametrize("name", list(GOOD))
def test_a_well_formed_answer_reads_alike(canned, monkeypatch, name):
    canned.reply = GOOD[name]
    got = both(monkeypatch)
    assert got[0] == "ok" or got[:3] == ("error", "ProviderError", 1)


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_answer_is_a_broken_connection_alike(canned, monkeypatch, name):
    canned.reply = BROKEN[name]
    assert both(monkeypatch) == ("error", "NetworkError", 4, None, None)


def test_head_reads_no_body_even_with_a_length(canned, monkeypatch):
    canned.reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Head: yes\r\n\r\n"
    got = both(monkeypatch, "head")
    assert got[0] == "ok" and got[2]["x-head"] == "yes"
    canned.reply = b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"  # framing is checked all the same
    assert both(monkeypatch, "head") == ("error", "NetworkError", 4, None, None)


def test_the_request_is_written_as_httpx_writes_it(canned, monkeypatch):
    canned.reply = GOOD["204 with no body"]
    both(monkeypatch)
    lean_head, httpx_head = canned.seen[-2:]
    assert lean_head == httpx_head
    assert lean_head.startswith(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:") and b"Bearer raw-token-123" in lean_head


def test_a_header_httpx_would_refuse_is_left_to_httpx():
    from synthral_cli.wire import http11

    assert http11.sendable("GET", [("Accept", "*/*"), ("X-Empty", "")])
    for method, headers in [("GET", [("X-Bad", "a\r\nInjected: 1")]), ("GET", [("X-Name", "café")]),
                            ("GET", [("Bad Name", "v")]), ("GET", [("", "v")]), ("G T", []), ("", [])]:
        assert not http11.sendable(method, headers)


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "text/html;charset=ISO-8859-1",
    "text/plain; Charset=UTF-8 ; format=flowed", "text/plain; foo=bar; charset=latin1", "text/plain; charset=utf-8;",
    "text/plain; charset=", 'text/plain; charset="utf-8"', "text/plain; charset*=utf-8''utf-8",
    'text/plain; x="a;charset=b"; charset=c', "text/plain; charset=ütf-8", "text/plain;  charset = utf-8",
])
def test_the_charset_is_read_as_httpx_reads_it(content_type):
    """``lean._charset`` reads a plain ``type/subtype; k=v`` itself and anything else with
    ``email.message``, which is what httpx uses: the answers must agree."""
    import email.message

    from synthral_cli.wire import lean

    msg = email.message.Message()
    msg["content-type"] = content_type
    assert lean._charset(content_type) == msg.get_content_charset(failobj=None)
