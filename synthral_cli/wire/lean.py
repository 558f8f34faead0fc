"""A lean HTTP/1.1 client on the standard library (a socket, ``http11.py``, ``ssl`` for https)
for the common request of one CLI call, so that ``synthral invoke`` does not load httpx (~30 ms)
nor build its TLS context for a plain-http call (~20 ms).

It is a drop-in for the ``httpx.Client`` that ``wire/http.py`` drives (``request()``,
``close()``, a response with ``status_code``, ``reason_phrase``, ``headers``, ``content``,
``text`` and ``request.url``): retries, redirects and the credential's origin binding stay in
``http.py`` and are the same for both. It sends what httpx sends (its default headers, ``Host``
without a default port, ``Content-Length`` as httpx sets it), trusts what httpx trusts (the CA
bundle of ``--ca-bundle``, else ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, else certifi; ALPN
``http/1.1``) and fails the way ``http.py`` expects (:class:`Failure` with the kind of failure
that httpx's exception would have meant). Anything it does not handle exactly as httpx would — a
URL that httpx would re-encode, a proxy in the environment, a response encoding only an installed
brotli/zstandard could decode, ``--debug`` HTTP logs — goes to a real httpx client instead:
:func:`usable` decides per call, :meth:`Client.request` per URL.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

if TYPE_CHECKING:
    import ssl

    import httpx

# scheme://host[:port][/path?query]: lower-case ASCII host, no user info, no fragment, and only
# characters in the path and query that httpx sends as they are (a valid %XX included)
_PLAIN = re.compile(
    r"(https?)://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::([1-9][0-9]{0,4}))?"
    r"((?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?)"
)
# type/subtype; name=value; ...: tokens only, nothing quoted or encoded (RFC 2231)
_SIMPLE_TYPE = r"[\w.+-]+/[\w.+-]+(?:\s*;\s*[\w.-]+=[\w.+-]+)*\s*;?\s*"  # compiled on first use
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy"}
_BODY_METHODS = ("POST", "PUT", "PATCH")
_version_cache: list[str] = []
_brotli_cache: list[str | None] = []


class Failure(Exception):
    """A request that failed on the network; ``kind`` is what httpx would have said:
    ``connect`` (nothing was sent: ConnectError/ConnectTimeout), ``timeout`` (no answer in
    time: ReadTimeout/WriteTimeout) or ``transport`` (the connection broke)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def failure_kind(exc: BaseException) -> str | None:
    """What a client's exception means: ``connect`` (nothing was sent), ``timeout`` (no answer
    in time), ``transport`` (the connection broke), or None (not a network failure); for
    :class:`Failure` and for httpx's exceptions alike."""
    if isinstance(exc, Failure):
        return exc.kind
    httpx = sys.modules.get("httpx")
    if httpx is None:
        return None
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return "connect"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TransportError):
        return "transport"
    return None


def usable(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process may use the lean client at all (else httpx does everything)."""
    env = os.environ if env is None else env
    if any(k.lower() in _PROXY_VARS and v for k, v in env.items()):
        return False  # httpx honours the proxy variables; the lean client does not speak to proxies
    logging = sys.modules.get("logging")  # not imported: nobody asked for --debug (~3 ms saved)
    if logging is not None and logging.getLogger().isEnabledFor(logging.DEBUG):
        return False  # --debug: httpx's and httpcore's HTTP logs are wanted
    return _installed("zstandard") is None  # httpx then asks for zstd too: let it do it all


def _installed(*names: str) -> str | None:
    """The first of ``names`` that can be imported (found without importing it)."""
    import importlib.util

    return next((name for name in names if importlib.util.find_spec(name) is not None), None)


def _brotli() -> str | None:
    """The brotli module httpx would use (``brotli``, else ``brotlicffi``), if installed."""
    if not _brotli_cache:
        _brotli_cache.append(_installed("brotli", "brotlicffi"))
    return _brotli_cache[0]


def _httpx_version() -> str:
    """httpx's version from its metadata file name, without importing httpx (its User-Agent)."""
    if not _version_cache:
        import importlib.util

        spec = importlib.util.find_spec("httpx")
        version = "0"
        if spec is not None and spec.origin:
            with open(os.path.join(os.path.dirname(spec.origin), "__version__.py"), encoding="utf-8") as f:
                text = f.read()
            m = re.search(r"__version__\s*=\s*[\"']([^\"']+)", text)
            version = m.group(1) if m else version
        _version_cache.append(version)
    return _version_cache[0]


class URL(str):
    """A request URL: a ``str`` (so ``auth.binding.origin`` reads it as text) with the parts
    ``http.py`` asks of an ``httpx.URL``."""

    @property
    def scheme(self) -> str:
        m = _PLAIN.fullmatch(self)
        return m.group(1) if m else _httpx_url(self).scheme

    @property
    def host(self) -> str:
        m = _PLAIN.fullmatch(self)
        return m.group(2).strip("[]") if m else _httpx_url(self).host

    def join(self, location: str) -> URL:  # type: ignore[override]  # httpx.URL.join, not str.join
        """The URL ``location`` (a redirect) points to, resolved against this one."""
        return URL(urljoin(str(self), location))


def _httpx_url(url: str) -> httpx.URL:
    import httpx

    return httpx.URL(url)


class Headers(Mapping[str, str]):
    """Response headers as httpx gives them: case-insensitive, repeated ones joined with ``, ``,
    iterated as lower-case names."""

    def __init__(self, raw: list[tuple[str, str]]) -> None:
        self.raw = raw
        self._joined: dict[str, str] = {}
        for name, value in raw:
            key = name.lower()
            self._joined[key] = f"{self._joined[key]}, {value}" if key in self._joined else value

    def __getitem__(self, name: str) -> str:
        return self._joined[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._joined

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)


class Request:
    __slots__ = ("method", "url")

    def __init__(self, method: str, url: URL) -> None:
        self.method = method
        self.url = url


class Response:
    """The parts of an ``httpx.Response`` that ``http.py`` reads; the body is read in full."""

    def __init__(self, request: Request, status: int, reason: str, headers: Headers, content: bytes) -> None:
        self.request = request
        self.status_code = status
        self.reason_phrase = reason
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        """Decoded as httpx does: the ``charset`` of Content-Type when Python knows it, else
        UTF-8, undecodable bytes replaced."""
        import codecs

        encoding = "utf-8"
        charset = _charset(self.headers.get("Content-Type", ""))
        if charset:
            try:
                codecs.lookup(charset)
                encoding = charset
            except LookupError:
                pass
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        return decoder.decode(self.content) + decoder.decode(b"", final=True)

    def close(self) -> None:
        """Nothing to release: the body is read and the connection closed."""


def _charset(content_type: str) -> str | None:
    """The ``charset`` parameter, read as httpx reads it (``email.message``), which a plain
    ``type/subtype; name=value`` header does not need loaded (~5 ms)."""
    if "charset" not in content_type.lower():
        return None
    if re.fullmatch(_SIMPLE_TYPE, content_type, re.ASCII):
        params = dict(p.strip().lower().split("=", 1) for p in content_type.split(";")[1:] if p.strip())
        return params.get("charset") or None
    import email.message

    msg = email.message.Message()
    msg["content-type"] = content_type
    return msg.get_content_charset(failobj=None)


class Client:
    """One call's HTTP client: ``request()`` like ``httpx.Client.request``. Each request opens
    its own connection (a CLI call makes one, or a few for redirects and retries); URLs it
    would not send exactly as httpx does go to an httpx client made on first need."""

    def __init__(self, timeout: float, ca_bundle: str | None, fallback: Callable[[], httpx.Client]) -> None:
        self.timeout = timeout
        self.ca_bundle = ca_bundle
        self.fallback = fallback  # makes the httpx client (``http.new_client``) for what this one leaves
        self._tls: ssl.SSLContext | None = None
        self._httpx: httpx.Client | None = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._httpx is not None:
            self._httpx.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: list[tuple[str, str]],
        content: bytes | None = None,
        timeout: float | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> Any:
        from ..auth.binding import EXTENSION
        from . import http11

        binding = (extensions or {}).get(EXTENSION)
        if binding is not None:
            binding.check(url)  # as the httpx client's request hook does, before anything is sent
        m = _PLAIN.fullmatch(url)
        if m is None:
            return self._fallback().request(
                method, url, headers=headers, content=content, timeout=timeout, extensions=extensions
            )
        scheme, host, port_text, target = m.group(1), m.group(2), m.group(3), m.group(4) or "/"
        port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
        if port > 65535:
            return self._fallback().request(
                method, url, headers=headers, content=content, timeout=timeout, extensions=extensions
            )
        netloc = host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
        body = content or b""
        sent = self._headers(netloc, headers, body, method)
        if not http11.sendable(method, sent):  # httpx refuses or re-encodes it: let it say so
            return self._fallback().request(
                method, url, headers=headers, content=content, timeout=timeout, extensions=extensions
            )
        return self._send(method, URL(url), scheme, host.strip("[]"), port, target, sent, body,
                          self.timeout if timeout is None else timeout)

    def _fallback(self) -> httpx.Client:
        if self._httpx is None:
            self._httpx = self.fallback()
        return self._httpx

    @staticmethod
    def _headers(netloc: str, given: list[tuple[str, str]], body: bytes, method: str) -> list[tuple[str, str]]:
        """httpx's: Host and the content length first, then its defaults overridden by ``given``."""
        names = {k.lower() for k, _ in given}
        auto = [("Host", netloc)] if "host" not in names else []
        if "content-length" not in names and "transfer-encoding" not in names:
            if body:
                auto.append(("Content-Length", str(len(body))))
            elif method in _BODY_METHODS:
                auto.append(("Content-Length", "0"))
        encodings = "gzip, deflate, br" if _brotli() else "gzip, deflate"
        defaults = [("Accept", "*/*"), ("Accept-Encoding", encodings), ("Connection", "keep-alive"),
                    ("User-Agent", f"python-httpx/{_httpx_version()}")]
        return [*auto, *[(k, v) for k, v in defaults if k.lower() not in names], *given]

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            import ssl

            from ..basics import tls

            if self.ca_bundle:
                ctx = tls.context(self.ca_bundle)
            elif os.environ.get("SSL_CERT_FILE"):
                ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                ctx = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi

                ctx = ssl.create_default_context(cafile=certifi.where())
            ctx.set_alpn_protocols(["http/1.1"])
            self._tls = ctx
        return self._tls

    def _send(
        self, method: str, url: URL, scheme: str, host: str, port: int, target: str,
        headers: list[tuple[str, str]], body: bytes, timeout: float,
    ) -> Response:
        from . import http11

        try:
            sock = http11.connect(host, port, timeout, self._context() if scheme == "https" else None)
        except OSError as exc:  # refused, unreachable, name not found, TLS refused, timed out
            raise Failure("connect", _message(exc)) from None
        try:
            status, reason, raw, data = http11.exchange(sock, method, target, headers, body)
        except TimeoutError:
            raise Failure("timeout", "timed out") from None
        except (OSError, http11.ProtocolError) as exc:
            raise Failure("transport", _message(exc)) from None
        finally:
            sock.close()
        answer = Headers(raw)
        content = _decode(data, answer.get("Content-Encoding", ""))
        return Response(Request(method, url), status, reason, answer, content)


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _decode(raw: bytes, encoding: str) -> bytes:
    """Undo gzip / deflate / br as httpx does (in the order the encodings were applied)."""
    import zlib

    for name in reversed([e.strip().lower() for e in encoding.split(",") if e.strip()]):
        try:
            if name == "gzip":
                raw = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(raw)
            elif name == "deflate":
                try:
                    raw = zlib.decompressobj().decompress(raw)
                except zlib.error:
                    raw = zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw)
            elif name == "br" and _brotli():
                import importlib

                raw = importlib.import_module(str(_brotli())).decompress(raw)
        except Exception as exc:  # noqa: BLE001 - zlib.error, brotli.error
            raise Failure("transport", f"Could not decode the {name} body: {exc}") from None
    return raw
