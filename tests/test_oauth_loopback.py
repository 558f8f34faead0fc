"""The loopback callback server, over real sockets on 127.0.0.1."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from synthral_cli.auth import codeflow
from synthral_cli.auth.interaction import SilentInteraction
from synthral_cli.auth.loopback import CallbackServer
from synthral_cli.basics.errors import UsageError

STATE = "s" * 43


def refused(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_one_valid_callback_then_nothing_listens():
    with CallbackServer(STATE) as server:
        port = server.port
        assert server.redirect_uri == f"http://127.0.0.1:{port}/callback"
        r = httpx.get(f"{server.redirect_uri}?code=abc&state={STATE}")
        assert r.status_code == 200 and "Connected" in r.text
        again = httpx.get(f"{server.redirect_uri}?code=other&state={STATE}")
        assert again.status_code == 409
        result = server.wait(1)
    assert result is not None and result.code == "abc" and result.error is None
    assert refused(port)
    with CallbackServer(STATE, port=port) as again:  # a rerun with the same --port can bind it
        assert again.port == port


def test_wrong_or_missing_state_gets_an_error_page_and_the_server_keeps_waiting():
    with CallbackServer(STATE) as server:
        bad = httpx.get(f"{server.redirect_uri}?code=evil&state=wrong")
        assert bad.status_code == 400 and "does not match" in bad.text
        missing = httpx.get(f"{server.redirect_uri}?code=evil")
        assert missing.status_code == 400
        assert server.wait(0.2) is None
        assert server.rejected == 2
        ok = httpx.get(f"{server.redirect_uri}?code=good&state={STATE}")
        assert ok.status_code == 200
        assert server.wait(1).code == "good"


def test_provider_error_is_delivered_with_its_description():
    with CallbackServer(STATE) as server:
        r = httpx.get(
            f"{server.redirect_uri}?error=access_denied&error_description=The+user+said+no&state={STATE}"
        )
        assert r.status_code == 200 and "The user said no" in r.text
        result = server.wait(1)
    assert result.error == "access_denied" and result.error_description == "The user said no"


def test_an_idle_connection_blocks_nothing():
    with CallbackServer(STATE) as server:
        idle = socket.create_connection(("127.0.0.1", server.port))  # connects, never speaks
        try:
            r = httpx.get(f"{server.redirect_uri}?code=abc&state={STATE}", timeout=3)
            assert r.status_code == 200
            assert server.wait(1).code == "abc"
        finally:
            idle.close()


def test_other_methods_paths_and_hosts_are_refused():
    with CallbackServer(STATE) as server:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.post(f"{base}/callback?code=a&state={STATE}").status_code == 405
        assert httpx.put(f"{base}/callback?code=a&state={STATE}").status_code == 405
        assert httpx.delete(f"{base}/callback?code=a&state={STATE}").status_code == 405
        assert httpx.get(f"{base}/other?code=a&state={STATE}").status_code == 404
        rebound = httpx.get(
            f"{base}/callback?code=a&state={STATE}", headers={"Host": f"evil.example:{server.port}"}
        )
        assert rebound.status_code == 400
        assert server.wait(0.1) is None  # none of those counted


def test_localhost_redirect_name_and_its_host_header():
    with CallbackServer(STATE, host="localhost", path="/cb") as server:
        assert server.redirect_uri == f"http://localhost:{server.port}/cb"
        r = httpx.get(
            f"http://127.0.0.1:{server.port}/cb?code=x&state={STATE}",
            headers={"Host": f"localhost:{server.port}"},
        )
        assert r.status_code == 200


def test_port_in_use_names_the_port_option():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UsageError) as info:
            CallbackServer(STATE, port=port)
    assert str(port) in info.value.message
    assert "--port" in (info.value.hint or "")


def test_timeout_returns_none():
    with CallbackServer(STATE) as server:
        assert server.wait(0.2) is None


class _Pasting(SilentInteraction):
    def __init__(self, lines):
        super().__init__()
        self._lines = lines

    def paste_lines(self):
        return iter(self._lines)


def test_pasted_url_is_checked_for_its_state():
    with CallbackServer(STATE) as server:
        ui = _Pasting([])
        lines = [
            "",
            f"http://127.0.0.1:{server.port}/callback?code=evil&state=nope",
            f"http://127.0.0.1:{server.port}/callback?code=pasted&state={STATE}",
        ]
        t = threading.Thread(target=codeflow._read_pastes, args=(server, STATE, iter(lines), ui))
        t.start()
        t.join(5)
        result = server.wait(1)
    assert result.code == "pasted"
    assert any("does not match" in n for n in ui.notices)


def test_a_bare_pasted_code_is_accepted():
    with CallbackServer(STATE) as server:
        codeflow._read_pastes(server, STATE, iter(["  the-code  \n"]), SilentInteraction())
        assert server.wait(1).code == "the-code"
