"""Messages are true (issue 15, item 10): ``test`` offline names no option it does not have; a
network failure is recorded as "unreachable" health, not as a bad credential; and in
``authorize --no-browser`` no spinner redraws over what the person types at the paste prompt.

The installed ``synthral`` runs as a subprocess: against a closed port on 127.0.0.1 and httpbin
(pytest-httpbin), and on a pseudo-terminal (``pexpect``) with the Authlib server of
``tests/authserver.py`` and headless Chromium for the pasted redirect URL.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import pexpect
import pytest

from tests.authserver import BROWSER_SCRIPT, browser_log, oauth_server, provider  # noqa: F401
from tests.conftest import synthral_exe
from tests.invoke_support import STORE_KEY, manifest, write_manifests


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


@pytest.fixture
def peers(httpbin, tmp_path, monkeypatch):
    port = closed_port()
    offline = manifest("offline", f"http://127.0.0.1:{port}", [])
    refused = manifest("refused", httpbin.url, [])
    refused["actions"][0]["path"] = "/status/401"
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", offline, refused)))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    return port


def health(sh) -> dict[str, str]:
    rows = json.loads(sh("connections", "list", "--json").stdout)["connections"]
    return {r["connector_slug"]: r["health"] for r in rows}


def test_offline_test_names_no_missing_option_and_records_unreachable(peers, sh):
    for slug in ("offline", "refused"):
        r = sh("authorize", slug, "--with-token", input=f"{slug}-token-0123456789\n")
        assert r.exit_code == 0, r.stderr
    assert health(sh) == {"offline": "untested", "refused": "untested"}
    r = sh("test", "offline")
    assert (r.exit_code, r.stdout) == (4, "")
    lines = r.stderr.splitlines()
    assert re.fullmatch(rf"error: Could not connect to 127\.0\.0\.1:{peers}: .+\.", lines[0]), r.stderr
    assert lines[1:] == ["  Check your network and the URL; tried 2 time(s)."]
    assert "--retries" not in r.stderr
    r = sh("test", "refused")
    assert r.exit_code == 3, r.stderr
    assert health(sh) == {"offline": "unreachable", "refused": "failed"}
    table = sh("connections", "list").stdout.splitlines()  # piped: tab-separated
    assert table[0].split("\t")[5] == "HEALTH"
    assert {row.split("\t")[0]: row.split("\t")[5] for row in table[1:]} == {
        "offline": "unreachable",
        "refused": "failed",
    }


def test_no_spinner_redraws_over_the_paste_prompt(provider):
    # A remote machine: the browser runs elsewhere and its "localhost" is not ours.
    provider.manifest(auth={"redirect_host": "localhost"})
    child = pexpect.spawn(
        synthral_exe(),
        ["authorize", "testprov", "--no-browser", "--timeout", "60"],
        env=dict(os.environ),
        encoding="utf-8",
        timeout=30,
        dimensions=(24, 100),
    )
    child.expect(r"(http://127\.0\.0\.1:\d+/authorize\?\S+)")
    url = child.match.group(1)
    child.expect_exact("paste the URL it ends on (or the code) here.\r\n")
    child.expect_exact("Waiting for the authorization of Test Provider in the browser...\r\n")
    subprocess.run(
        [sys.executable, str(BROWSER_SCRIPT), url],
        env={**os.environ, "TESTBROWSER_FOREGROUND": "1", "TESTBROWSER_BLOCK": "http://localhost:"},
        timeout=60,
        check=True,
    )
    blocked = browser_log(os.environ["TESTBROWSER_LOG"], until="blocked")[-1]["blocked"]
    # Half of the URL typed, then a pause: the terminal shows exactly what was typed, nothing redrawn.
    half = len(blocked) // 2
    child.send(blocked[:half])
    time.sleep(1.0)
    seen = ""
    while True:
        try:
            seen += child.read_nonblocking(4096, timeout=0.2)
        except pexpect.TIMEOUT:
            break
    assert seen == blocked[:half]  # the echo only: no spinner frame, no carriage return
    child.send(blocked[half:] + "\n")
    child.expect_exact("Connected Test Provider")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert provider.stored().secrets["access_token"]
