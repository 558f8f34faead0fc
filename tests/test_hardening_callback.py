"""Issue 9.2 — the loopback callback server under abuse, over real sockets on 127.0.0.1.

Already proven in tests/test_oauth_loopback.py (not repeated here): one valid callback then
nothing listens; wrong and missing state are refused and the server keeps waiting; POST/PUT/
DELETE get 405; other paths 404; a foreign Host 400; one idle connection blocks nothing; a
repeated callback gets 409; timeout returns None. tests/test_authorize.py proves the same for
the installed CLI (wrong state, timeout closes the port).

Here: a callback without a code, a 100 KB query string, oversized headers, HEAD/OPTIONS/PATCH/
unknown methods, absolute-form request targets, HTTP/1.0 without Host, Host spoofing variants,
twenty concurrent callbacks (exactly one wins), many idle and half-sent connections (the real
callback still lands; closing does not wait for them; silent connections are dropped), and a
whole authorization-code flow against the Authlib server with all of that going on at once:
the flow completes with the one right callback, and afterwards nothing listens.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import os
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from synthral_cli.auth import codeflow, grants, loopback
from synthral_cli.auth.interaction import Interaction, SilentInteraction
from synthral_cli.auth.loopback import CallbackServer
from synthral_cli.auth.tokens import TokenSet
from synthral_cli.basics.errors import AuthError
from tests.authserver import USERS, oauth_server, provider  # noqa: F401
from tests.hardening_support import refused, tally

STATE = "t" * 43


def raw(port: int, data: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes, return everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            out += chunk
    return out


def status_of(answer: bytes) -> int:
    if answer.startswith(b"HTTP/"):
        return int(answer.split(b" ", 2)[1])
    m = re.search(rb"Error code: (\d+)", answer)  # an HTTP/0.9-style answer has no status line
    return int(m.group(1)) if m else 0


def test_callback_without_code_or_error_is_refused_and_waiting_goes_on():
    with CallbackServer(STATE) as server:
        r = httpx.get(f"{server.redirect_uri}?state={STATE}")
        assert r.status_code == 400 and "neither a code nor an error" in r.text
        r = httpx.get(f"{server.redirect_uri}?state={STATE}&code=")
        assert r.status_code == 400
        assert server.wait(0.1) is None
        assert httpx.get(f"{server.redirect_uri}?state={STATE}&code=real").status_code == 200
        assert server.wait(1).code == "real"
    tally("callback: missing code", inputs=2)


def test_oversized_query_and_headers_are_refused_then_the_real_callback_lands():
    with CallbackServer(STATE) as server:
        port = server.port
        huge = "a" * 100_000
        answer = raw(
            port, f"GET /callback?code={huge}&state={STATE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        )
        assert status_of(answer) == 414  # the request line is longer than 64 KiB
        big_header = raw(
            port,
            f"GET /callback?code=x&state={STATE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Big: {huge}\r\n\r\n".encode(),
        )
        assert status_of(big_header) == 431
        many = "".join(f"X-{i}: v\r\n" for i in range(200))
        assert status_of(raw(port, f"GET /callback HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{many}\r\n".encode())) == 431
        # 60 KB of query with a wrong state: read, refused, nothing counted
        big = httpx.get(f"{server.redirect_uri}?code={'b' * 60_000}&state=wrong")
        assert big.status_code == 400
        assert server.wait(0.1) is None
        ok = httpx.get(f"{server.redirect_uri}?code=good&state={STATE}")
        assert ok.status_code == 200 and server.wait(1).code == "good"
    assert refused(port)
    tally("callback: oversized requests", faults=4)


@pytest.mark.parametrize(
    ("request_line", "expected"),
    [
        ("HEAD /callback?code=a&state={state}", 405),
        ("OPTIONS /callback?code=a&state={state}", 405),
        ("PATCH /callback?code=a&state={state}", 405),
        ("BREW /callback?code=a&state={state}", 501),
        ("GET http://evil.example/callback?code=a&state=bad", 400),
        ("GET //evil.example/callback?code=a&state={state}", 404),
        ("GET /callback/../callback?code=a&state=bad", 404),
        ("GET /CALLBACK?code=a&state={state}", 404),
        ("GARBAGE", 400),
    ],
)
def test_other_methods_and_odd_targets_never_count(request_line, expected):
    with CallbackServer(STATE) as server:
        port = server.port
        line = request_line.format(state=STATE)
        answer = raw(port, f"{line} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert status_of(answer) == expected, answer[:200]
        assert server.wait(0.05) is None
        assert httpx.get(f"{server.redirect_uri}?code=ok&state={STATE}").status_code == 200
    tally("callback: methods and targets", inputs=1)


@pytest.mark.parametrize(
    "host",
    [
        None,  # HTTP/1.0 without a Host header
        "",
        "localhost:{port}",  # the redirect URI names 127.0.0.1: another name is a rebinding attempt
        "127.0.0.1",  # no port
        "127.0.0.1:{other}",
        "127.0.0.1.evil.example:{port}",
        "evil.example",
        "127.0.0.1:{port}@evil.example",
        "[::1]:{port}",
        "127.0.0.2:{port}",
    ],
)
def test_hosts_other_than_the_redirect_name_are_refused(host):
    with CallbackServer(STATE) as server:
        port = server.port
        target = f"/callback?code=evil&state={STATE}"
        if host is None:
            answer = raw(port, f"GET {target} HTTP/1.0\r\n\r\n".encode())
        else:
            value = host.format(port=port, other=port + 1)
            answer = raw(port, f"GET {target} HTTP/1.1\r\nHost: {value}\r\n\r\n".encode())
        assert status_of(answer) == 400, answer[:200]
        assert server.wait(0.05) is None and server.rejected == 0
        # the names that are allowed, in any case
        upper = httpx.get(
            f"http://127.0.0.1:{port}{target.replace('evil', 'good')}", headers={"Host": f"127.0.0.1:{port}"}
        )
        assert upper.status_code == 200 and server.wait(1).code == "good"
    tally("callback: foreign Host", inputs=1)


def test_twenty_concurrent_callbacks_exactly_one_wins():
    with CallbackServer(STATE) as server:
        barrier = threading.Barrier(20)

        def hit(i: int) -> tuple[int, int]:
            barrier.wait()
            r = httpx.get(f"{server.redirect_uri}?code=c{i}&state={STATE}", timeout=10)
            return i, r.status_code

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(hit, range(20)))
        winners = [i for i, s in results if s == 200]
        assert len(winners) == 1
        assert sorted(s for _, s in results) == [200] + [409] * 19
        assert server.wait(1).code == f"c{winners[0]}"
    tally("callback: concurrent callbacks", inputs=20)


def test_many_idle_and_half_sent_connections_block_nothing_and_close_is_prompt():
    with CallbackServer(STATE) as server:
        port = server.port
        flooding = time.monotonic()
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(30)]
        half = []
        for _ in range(30):  # slowloris: a request line that never ends
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /callback?code=slow&state=" + STATE.encode())
            half.append(s)
        try:
            assert time.monotonic() - flooding < 1.5  # accepted at once, not left in SYN retries
            started = time.monotonic()
            r = httpx.get(f"{server.redirect_uri}?code=real&state={STATE}", timeout=3)
            assert r.status_code == 200 and time.monotonic() - started < 2
            assert server.wait(1).code == "real"
            closing = time.monotonic()
            server.close()
            assert time.monotonic() - closing < 2  # does not wait for the idle connections
            assert refused(port)
        finally:
            for s in idle + half:
                s.close()
    tally("callback: idle and half-sent connections", faults=60)


def test_a_silent_connection_is_dropped_after_the_connection_timeout(monkeypatch):
    monkeypatch.setattr(loopback._Handler, "timeout", 0.5)
    with CallbackServer(STATE) as server:
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(5)
        started = time.monotonic()
        try:
            assert s.recv(1024) == b""  # the server hung up on us
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < 3
        s.close()
    tally("callback: silent connection dropped", faults=1)


# ---------------------------------------------------------------------------------------------
# The whole flow against the Authlib server, under attack


def _consent(auth_url: str) -> str:
    """Sign in and approve like a person; return the redirect URL the browser would open."""
    base = f"{urlsplit(auth_url).scheme}://{urlsplit(auth_url).netloc}"
    user, password = next(iter(USERS.items()))
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        target = auth_url[len(base) :]
        r = client.post(f"{base}/login", data={"username": user, "password": password, "next": target})
        assert r.status_code == 302, r.text
        r = client.get(auth_url)
        assert "Authorize application" in r.text
        r = client.post(auth_url, data={"decision": "allow"})
        assert r.status_code == 302
        return r.headers["Location"]


class AttackingBrowser(SilentInteraction):
    """Opens the URL: attacks the callback server from several sides, then consents."""

    def __init__(self, deliver: bool = True) -> None:
        super().__init__()
        self.deliver = deliver
        self.answers: list[int] = []
        self.port = 0
        self.idle: list[socket.socket] = []
        self.thread: threading.Thread | None = None

    def open_browser(self, url: str) -> bool:
        self.thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self.thread.start()
        return True

    def _run(self, url: str) -> None:
        redirect = dict(httpx.URL(url).params)["redirect_uri"]
        self.port = httpx.URL(redirect).port
        self.idle = [socket.create_connection(("127.0.0.1", self.port)) for _ in range(5)]
        attacks = [
            f"{redirect}?code=forged&state=guess",
            f"{redirect}?code=forged",
            f"{redirect}?state=guess&error=access_denied",
            f"{redirect}?code={'z' * 50_000}&state=guess",
        ]
        for a in attacks:
            self.answers.append(httpx.get(a, timeout=5).status_code)
        self.answers.append(httpx.post(redirect, timeout=5).status_code)
        rebinding = httpx.get(redirect, headers={"Host": "attacker.example"}, timeout=5)
        self.answers.append(rebinding.status_code)
        if self.deliver:
            callback = _consent(url)
            self.answers.append(httpx.get(callback, timeout=5).status_code)
            try:  # replayed: 409 if the server is still closing, refused once the flow returned
                self.answers.append(httpx.get(callback, timeout=5).status_code)
            except httpx.TransportError:
                self.answers.append(0)


def _flow(provider, interaction: Interaction, timeout: float) -> TokenSet:
    from synthral_cli.api import Synthral

    manifest = Synthral(env=dict(os.environ)).connector(provider.slug)
    return codeflow.authorization_code_flow(
        manifest,
        grants.ClientApp(provider.client_id, provider.client_secret),
        interaction=interaction,
        scopes=["read"],
        config={},
        timeout=timeout,
    )


def test_flow_under_attack_completes_with_the_one_right_callback_then_nothing_listens(provider):
    browser = AttackingBrowser()
    try:
        tokens = _flow(provider, browser, timeout=30)
    finally:
        for s in browser.idle:
            s.close()
    browser.thread.join(5)
    assert browser.answers[:7] == [400, 400, 400, 400, 405, 400, 200]
    assert browser.answers[7] in (409, 0)
    me = httpx.get(f"{provider.server.url}/api/me", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert me.status_code == 200 and me.json()["user"] == "alice"
    assert refused(browser.port)
    tally("callback: flow under attack", faults=len(browser.answers) + len(browser.idle))


def test_flow_under_attack_without_the_real_callback_times_out_cleanly(provider):
    browser = AttackingBrowser(deliver=False)
    started = time.monotonic()
    try:
        with pytest.raises(AuthError) as info:
            _flow(provider, browser, timeout=3)
    finally:
        for s in browser.idle:
            s.close()
    assert 3 <= time.monotonic() - started < 8
    assert "Timed out after 3 s" in info.value.message
    browser.thread.join(5)
    assert browser.answers == [400, 400, 400, 400, 405, 400]
    assert refused(browser.port)
    assert provider.server.count("authorization_code", provider.client_id) == 0
    tally("callback: flow timeout under attack", faults=len(browser.answers) + len(browser.idle))
