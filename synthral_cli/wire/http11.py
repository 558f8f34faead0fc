"""One HTTP/1.1 exchange on one socket, for ``lean.py``: the request written as given, the
response read the way h11 (httpx's parser) reads it.

Why not ``http.client``: importing it loads ``ssl`` and most of the ``email`` package (~10 ms,
a tenth of an ``invoke``), to parse a status line and some headers. What is read here, and how:

- the status line ``HTTP/1.x NNN reason``; informational answers (1xx but 101) are skipped;
- header lines ``name: value`` (surrounding spaces stripped, as h11 does), at most
  :data:`MAX_HEADER_BYTES` in all; an obsolete folded line continues the header before it;
  names and values decoded as httpx decodes them (ASCII, else UTF-8, else Latin-1, all alike);
- the body: none for HEAD, 1xx, 204 and 304; ``Transfer-Encoding: chunked`` (trailers read and
  dropped); else ``Content-Length`` bytes exactly; else everything up to the close.

What h11 refuses is :class:`ProtocolError` here (a malformed line, a bad length, a body cut
short); a connection closed before any answer is :class:`Disconnected`. Both are "the connection
broke" to ``http.py``, as httpx's ``RemoteProtocolError`` is. Sending is a single ``sendall`` of
the request line, the headers and the body; :func:`sendable` says which requests may be written
here at all (anything else goes to httpx, which then answers as it would).
"""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import ssl

MAX_LINE = 65536  # one status or header line
MAX_HEADER_BYTES = 262144  # all the header lines of one answer
_NO_BODY = {204, 304}
_CHUNK_LINE = rb"([0-9A-Fa-f]{1,20})(?:;.*)?[ \t]*\r\n"  # h11's chunk header (compiled on first use)
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_VISIBLE = frozenset(range(0x20, 0x7F)) | {0x09}
_CONTROLS = b"\x00\x0b\x0c\r"  # what h11 refuses in a header value: NUL, VT, FF, a bare CR


class ProtocolError(Exception):
    """The answer is not HTTP/1.1 as h11 accepts it."""


class Disconnected(ProtocolError):
    """The server closed the connection without sending an answer."""

    def __init__(self) -> None:
        super().__init__("Server disconnected without sending a response.")


def sendable(method: str, headers: list[tuple[str, str]]) -> bool:
    """Whether this request is written here exactly as httpx would write it: a token method,
    token header names and printable ASCII values (httpx refuses or re-encodes the rest)."""
    return _only(method, _TOKEN) and all(_only(k, _TOKEN) and _only(v, _VISIBLE, empty=True) for k, v in headers)


def _only(text: str, allowed: frozenset[int], empty: bool = False) -> bool:
    return (empty or bool(text)) and text.isascii() and set(text.encode("ascii")) <= allowed


def connect(host: str, port: int, timeout: float, tls: ssl.SSLContext | None) -> socket.socket:
    """An open connection (the TLS handshake done, for ``tls``); ``OSError`` when there is none."""
    # an ASCII name as bytes: a str would be passed through the IDNA codec (another import)
    sock = socket.create_connection((host.encode("ascii"), port), timeout)  # type: ignore[arg-type]
    if tls is None:
        return sock
    try:
        return tls.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def exchange(
    sock: socket.socket, method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Send one request on ``sock`` and read its answer: status, reason, headers, body."""
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    sock.sendall(head.encode("ascii") + body)
    with sock.makefile("rb") as stream:
        while True:
            status, reason = _status_line(stream)
            raw = _header_lines(stream)
            if not 100 <= status < 200 or status == 101:
                break
        raw, chunked, length = _framing(raw)
        fields = _decode(raw)
        if method == "HEAD" or status in _NO_BODY or 100 <= status < 200:
            return status, reason, fields, b""
        return status, reason, fields, _chunked(stream) if chunked else _body(stream, length)


def _readline(stream: BinaryIO) -> bytes:
    line = stream.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ProtocolError("a line of the answer is too long")
    return line


def _status_line(stream: BinaryIO) -> tuple[int, str]:
    line = _readline(stream)
    if not line:
        raise Disconnected()
    if not line.endswith(b"\n"):
        raise ProtocolError("the connection closed in the middle of the status line")
    version, _, rest = line.rstrip(b"\r\n").partition(b" ")
    code, _, reason = rest.partition(b" ")
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise ProtocolError(f"malformed status line {line[:80]!r}")
    return int(code), reason.decode("ascii", errors="ignore")  # as httpx decodes reason_phrase


def _header_lines(stream: BinaryIO) -> list[tuple[bytes, bytes]]:
    raw: list[tuple[bytes, bytes]] = []
    size = 0
    while True:
        line = _readline(stream)
        size += len(line)
        if size > MAX_HEADER_BYTES:
            raise ProtocolError("the answer's headers are too long")
        if not line.endswith(b"\n"):
            raise ProtocolError("the connection closed in the middle of the headers")
        line = line.rstrip(b"\r\n")
        if not line:
            return raw
        if line[:1] in (b" ", b"\t"):  # obs-fold: h11 joins it to the header before, with a space
            if not raw:
                raise ProtocolError("the headers start with a continuation line")
            name, value = raw[-1]
            raw[-1] = (name, (value + b" " + line.strip(b" \t")).strip(b" \t"))
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or not set(name) <= _TOKEN or len(value.translate(None, _CONTROLS)) < len(value):
            raise ProtocolError(f"malformed header line {line[:80]!r}")
        raw.append((name, value.strip(b" \t")))


def _decode(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Names and values as ``httpx.Headers`` decodes them: one encoding for all of them."""
    joined = b"".join(n + v for n, v in raw)
    for encoding in ("ascii", "utf-8"):
        try:
            joined.decode(encoding)
        except UnicodeDecodeError:
            continue
        break
    else:
        encoding = "latin-1"
    return [(n.decode(encoding), v.decode(encoding)) for n, v in raw]


def _framing(raw: list[tuple[bytes, bytes]]) -> tuple[list[tuple[bytes, bytes]], bool, int | None]:
    """h11's checks of the framing headers, on every answer: only the ``chunked`` transfer
    coding; one Content-Length, which may repeat ("2, 2", or the header twice) and is then
    kept once. The headers so normalised, whether the body is chunked, and its length."""
    coding = [v.lower() for n, v in raw if n.lower() == b"transfer-encoding"]
    if coding and coding != [b"chunked"]:
        raise ProtocolError(f"unsupported Transfer-Encoding {b', '.join(coding).decode('latin-1')!r}")
    given = [i for i, (n, _) in enumerate(raw) if n.lower() == b"content-length"]
    if not given:
        return raw, bool(coding), None
    lengths = {part.strip() for i in given for part in raw[i][1].split(b",")}
    if len(lengths) > 1 or not next(iter(lengths)).isdigit():
        raise ProtocolError("bad Content-Length")
    length = next(iter(lengths))
    kept = [(n, length if i == given[0] else v) for i, (n, v) in enumerate(raw) if i not in given[1:]]
    return kept, bool(coding), int(length)


def _body(stream: BinaryIO, length: int | None) -> bytes:
    if length is None:
        return stream.read()
    data = stream.read(length)
    if len(data) < length:
        raise ProtocolError(f"the connection closed after {len(data)} of {length} bytes of the body")
    return data


def _chunked(stream: BinaryIO) -> bytes:
    parts: list[bytes] = []
    while True:
        m = re.fullmatch(_CHUNK_LINE, _readline(stream))
        if m is None:
            raise ProtocolError("bad chunk size line")
        size = int(m.group(1), 16)
        if size == 0:
            _header_lines(stream)  # trailers: read, not kept (httpx drops them too)
            return b"".join(parts)
        chunk = stream.read(size)
        if len(chunk) < size or stream.read(2) != b"\r\n":
            raise ProtocolError("the connection closed in the middle of a chunk")
        parts.append(chunk)
