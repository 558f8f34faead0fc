"""The callback page tells the truth (issue 15, item 3): it answers the browser only after the
token exchange, with "Connected" or the exchange's error in one sentence.

The real Authlib server of ``tests/authserver.py`` and the headless Chromium of ``tests/browser.py``
sign in and consent; the installed ``synthral`` runs as a subprocess.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import os

from tests.authserver import browser_log, oauth_server, provider  # noqa: F401


def test_a_failing_exchange_is_what_the_browser_shows(provider, sh, monkeypatch):
    # The authorization endpoint only checks the client id; the token endpoint refuses this secret.
    monkeypatch.setenv("SYNTHRAL_TESTPROV_CLIENT_SECRET", "not-the-app-secret")
    r = sh("authorize", "testprov", "--method", "direct", "--timeout", "60", timeout=90)
    assert r.exit_code == 3, r.stderr
    assert r.stdout == ""
    last = r.stderr.strip().splitlines()
    assert last[-2].startswith("error: ") and "invalid_client" in last[-2]
    events = browser_log(os.environ["TESTBROWSER_LOG"], until="final")
    assert [e.get("page") for e in events[:2]] == ["Sign in to Test Provider", "Authorize application"]
    final = events[-1]
    assert final["title"] == "Not connected"
    sentence = last[-2].removeprefix("error: ").rstrip(".") + "."
    assert final["text"] == f"Not connected\n\n{sentence} See the terminal for what to do next."
    assert "not-the-app-secret" not in final["text"]
    assert provider.stored() is None


def test_a_successful_exchange_says_connected_after_it(provider, sh):
    r = sh("authorize", "testprov", "--method", "direct", "--timeout", "60", timeout=90)
    assert r.exit_code == 0, r.stderr
    final = browser_log(os.environ["TESTBROWSER_LOG"], until="final")[-1]
    assert final["title"] == "Connected"
    assert final["text"] == (
        "Connected\n\nConnected to Test Provider. You can close this tab and go back to the terminal."
    )
    assert provider.server.count("authorization_code", provider.client_id) == 1
