"""``synthral authorize`` end to end: the installed CLI, the Authlib server on 127.0.0.1, and a
headless Chromium as ``BROWSER`` signing in and consenting like a person."""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.authserver import BROWSER_SCRIPT, browser_log, oauth_server, provider  # noqa: F401
from tests.conftest import synthral_exe


@pytest.fixture(autouse=True, scope="module")
def _chromium_is_installed():
    """These tests prove the browser flow; without Chromium they must fail, not skip."""
    assert os.path.exists("/usr/bin/chromium"), "needs chromium: run `bash scripts/test`, which installs it"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(*args: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen(
        [synthral_exe(), *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def read_until(proc: subprocess.Popen, pattern: str, timeout: float = 20) -> re.Match:
    """Read the process's stderr line by line until ``pattern`` matches."""
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return m
    proc.kill()
    raise AssertionError(f"{pattern!r} not in stderr:\n{''.join(seen)}")


def drive_browser(url: str, **env: str) -> None:
    """Run the browser script in the foreground, as the person at the keyboard."""
    subprocess.run(
        [sys.executable, str(BROWSER_SCRIPT), url],
        env={**os.environ, "TESTBROWSER_FOREGROUND": "1", **env},
        timeout=60,
        check=True,
    )


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_browser_consent_connects_and_stores_the_tokens(provider, sh):
    r = sh("authorize", "testprov", "--json", "--timeout", "60", timeout=90)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["success"] is True
    assert out["connector_slug"] == "testprov" and out["connection"] == "default"
    assert out["oauth_method"] == "direct"
    assert out["scopes"] == ["read", "write"]
    assert out["expires_at"].endswith("Z")
    assert set(out) == {"success", "connector_slug", "connection", "oauth_method", "scopes", "expires_at"}
    # The URL was printed to stderr, and the person's browser saw the "connected" page.
    assert f"{provider.server.url}/authorize?" in r.stderr and "Connected Test Provider" in r.stderr
    events = browser_log(os.environ["TESTBROWSER_LOG"], until="final")
    assert [e.get("page") for e in events[:3]] == [
        "Sign in to Test Provider",
        "Authorize application",
        "Connected",
    ]
    assert events[-1]["title"] == "Connected"
    # PKCE S256 was used, one code grant was made, and the stored token is the server's.
    assert provider.server.code_requests[-1] == {"client_id": provider.client_id, "pkce": "S256"}
    assert provider.server.count("authorization_code", provider.client_id) == 1
    conn = provider.stored()
    issued = provider.server.find(conn.secrets["access_token"])
    assert issued is not None and issued.refresh_token == conn.secrets["refresh_token"]
    assert conn.method == "direct" and conn.metadata["client_id"] == provider.client_id
    for secret in conn.secrets.values():
        assert secret not in r.stdout and secret not in r.stderr
    tok = sh("token", "testprov")
    assert tok.exit_code == 0 and tok.stdout == conn.secrets["access_token"] + "\n"


def test_consent_denied_exits_3_with_the_providers_message(provider, sh, monkeypatch):
    monkeypatch.setenv("TESTBROWSER_ACTION", "deny")
    r = sh("authorize", "testprov", "--timeout", "60", timeout=90)
    assert r.exit_code == 3
    assert "access_denied" in r.stderr and "synthral authorize testprov" in r.stderr
    assert "denied the request" in r.stderr  # Authlib's error_description, passed on
    assert provider.stored() is None
    events = browser_log(os.environ["TESTBROWSER_LOG"], until="final")
    assert events[-1]["title"] == "Authorization refused"


def test_wrong_state_is_refused_and_the_flow_keeps_waiting(provider):
    port = free_port()
    proc = start("authorize", "testprov", "--no-browser", "--port", str(port), "--timeout", "60")
    url = read_until(proc, r"(http://127\.0\.0\.1:\d+/authorize\?\S+)").group(1)
    callback = f"http://127.0.0.1:{port}/callback"
    idle = socket.create_connection(("127.0.0.1", port))  # a client that never sends a request
    try:
        forged = httpx.get(f"{callback}?code=forged&state=not-the-state", timeout=5)
        assert forged.status_code == 400 and "does not match" in forged.text
        assert httpx.post(f"{callback}?code=x", timeout=5).status_code == 405
        assert (
            httpx.get(f"{callback}?code=x", headers={"Host": "attacker.example"}, timeout=5).status_code
            == 400
        )
        assert proc.poll() is None  # still waiting
        drive_browser(url)
        out, err = proc.communicate(timeout=30)
    finally:
        idle.close()
    assert proc.returncode == 0, err
    assert provider.stored() is not None
    assert provider.server.count("authorization_code", provider.client_id) == 1
    assert not listening(port)  # after authorize returns nothing listens


def test_timeout_exits_3_and_closes_the_port(provider, sh):
    port = free_port()
    r = sh("authorize", "testprov", "--no-browser", "--port", str(port), "--timeout", "1")
    assert r.exit_code == 3
    assert "Timed out after 1 s" in r.stderr and "--timeout" in r.stderr
    assert not listening(port)


def test_port_in_use_suggests_another_port(provider, sh):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = sh("authorize", "testprov", "--no-browser", "--port", str(port), "--timeout", "5")
    assert r.exit_code == 2
    assert f"Port {port}" in r.stderr and "--port" in r.stderr


def test_pasted_redirect_url_completes_when_the_browser_cannot_reach_the_loopback(provider):
    # A remote machine: the browser runs elsewhere and its "localhost" is not ours.
    provider.manifest(auth={"redirect_host": "localhost"})
    proc = start("authorize", "testprov", "--no-browser", "--timeout", "60", "--json", stdin=subprocess.PIPE)
    url = read_until(proc, r"(http://127\.0\.0\.1:\d+/authorize\?\S+)").group(1)
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A" in url
    drive_browser(url, TESTBROWSER_BLOCK="http://localhost:")
    blocked = browser_log(os.environ["TESTBROWSER_LOG"], until="blocked")[-1]["blocked"]
    assert "code=" in blocked and "state=" in blocked
    # A URL from another sign-in is refused; the right one is accepted.
    proc.stdin.write(re.sub(r"state=[^&]+", "state=someone-elses", blocked) + "\n")
    proc.stdin.flush()
    read_until(proc, r"state does not match")
    proc.stdin.write(blocked + "\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["scopes"] == ["read", "write"]
    assert provider.stored().secrets["access_token"]


def test_device_flow_shows_the_code_and_polls_until_approved(provider):
    provider.server.device_interval = 1
    proc = start("authorize", "testprov", "--method", "device", "--no-browser", "--json", "--timeout", "60")
    m = read_until(proc, r"open (\S+) and enter the code: (\S+)")
    assert m.group(1) == provider.server.url + "/device"
    drive_browser(m.group(1), TESTBROWSER_USER_CODE=m.group(2))  # the person types the code
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["oauth_method"] == "direct"
    assert provider.server.count("urn:ietf:params:oauth:grant-type:device_code", provider.client_id) == 1
    assert provider.stored().method == "device"
    events = browser_log(os.environ["TESTBROWSER_LOG"], until="final")
    assert events[-1]["title"] == "Device connected"


def test_device_flow_opens_the_complete_verification_url_in_the_browser(provider, sh):
    provider.server.device_interval = 1
    r = sh("authorize", "testprov", "--method", "device", "--timeout", "60", timeout=90)
    assert r.exit_code == 0, r.stderr
    assert "enter the code:" in r.stderr
    events = browser_log(os.environ["TESTBROWSER_LOG"], until="final")
    assert events[-1]["title"] == "Device connected"
