"""The browser synthral starts gets none of its secrets (issue 14, item 8).

``BROWSER`` is a real script that writes the environment it was started with to a file and then
hands the URL to the headless Chromium of ``tests/browser.py``, which signs in and consents, so
the whole authorization completes while the test reads what the child could see.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import sys

from synthral_cli.basics import redact
from synthral_cli.basics.childenv import child_environment, secret_names
from tests.authserver import BROWSER_SCRIPT, browser_log, oauth_server, provider  # noqa: F401

DUMPING_BROWSER = """\
import json, os, subprocess, sys
with open(os.environ["DUMP_TO"], "w") as f:
    json.dump(dict(os.environ), f)
subprocess.run([sys.executable, {browser!r}, sys.argv[1]], check=True)
"""


def test_browser_child_gets_no_synthral_or_nango_secret(provider, sh, tmp_path, monkeypatch):
    script = tmp_path / "dumping_browser.py"
    script.write_text(DUMPING_BROWSER.format(browser=str(BROWSER_SCRIPT)), encoding="utf-8")
    dump = tmp_path / "browser-env.json"
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} %s")
    monkeypatch.setenv("DUMP_TO", str(dump))
    secrets = {
        "SYNTHRAL_GITHUB_TOKEN": "ghp_envtoken0123456789abcdef",
        "SYNTHRAL_OTHER_CLIENT_SECRET": "other-app-secret-0123456789",
        "SYNTHRAL_OTHER_CLIENT_ID": "other-app-id",
        "NANGO_SECRET_KEY": "nango-secret-key-0123456789",
        # Not synthral's name, but it holds the client secret synthral registered for redaction.
        "COPY_OF_THE_APP_SECRET": str(provider.client_secret),
        "CI_AUTH_HEADER": "Bearer abcdefghijklmnop0123",  # a credential's shape
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HARMLESS_SETTING", "keep-me")
    store_key = os.environ["SYNTHRAL_STORE_KEY"]
    r = sh("authorize", "testprov", "--method", "direct", "--timeout", "60", timeout=90)
    assert r.exit_code == 0, r.stderr
    assert browser_log(os.environ["TESTBROWSER_LOG"], until="final")[-1]["title"] == "Connected"
    seen = json.loads(dump.read_text(encoding="utf-8"))
    leaked = sorted(k for k in seen if k.startswith(("SYNTHRAL_", "NANGO_")) or k in secrets)
    assert leaked == []
    values = "\n".join(seen.values())
    for value in [*secrets.values(), store_key, str(provider.client_secret)]:
        assert value not in values
    # The rest of the environment is the browser's to use.
    assert seen["HARMLESS_SETTING"] == "keep-me" and seen["PATH"] == os.environ["PATH"]
    assert seen["TESTBROWSER_LOG"] == os.environ["TESTBROWSER_LOG"]


def test_secret_names_rule():
    redact.register("registered-secret-value")
    env = {
        "SYNTHRAL_STORE_KEY": "k",
        "synthral_lowercase_token": "t",
        "NANGO_URL": "https://nango.example",
        "HOLDS_IT": "prefix registered-secret-value suffix",
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
    }
    assert sorted(secret_names(env)) == ["HOLDS_IT", "NANGO_URL", "SYNTHRAL_STORE_KEY", "synthral_lowercase_token"]
    assert child_environment(env) == {"PATH": "/usr/bin", "LANG": "C.UTF-8"}
