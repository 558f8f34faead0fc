"""Ordinary situations end with the contract's exit codes, never 70 (issue 15, items 1 and 6).

The installed ``synthral`` runs as a subprocess: on a pseudo-terminal (``pexpect``) for Ctrl-D at a
hidden prompt, with a closed pipe as stdout for exit 141, and against a local server that answers
HTML where ``NANGO_URL`` should be Nango's API.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pexpect
import pytest

from tests.conftest import REPO, synthral_exe

CANCELLED = (
    "error: cancelled: no answer at the prompt (end of input).\n"
    "  Nothing was changed; run the command again to answer it.\n"
)


def on_terminal(*args: str, prompt: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``synthral ARGS`` on a pty, wait for ``prompt``, press Ctrl-D; (exit code, output)."""
    child = pexpect.spawn(
        synthral_exe(), list(args), env={**os.environ, **(env or {})}, encoding="utf-8", timeout=30
    )
    child.expect_exact(prompt)
    before = child.before + prompt
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, (before + child.before).replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("args", "prompt"),
    [
        (("configure", "slack", "--client-id", "1"), "Client secret (empty for a public client): "),
        (("authorize", "sendgrid"), "SendGrid API key: "),
        (("authorize", "zendesk", "--method", "direct"), "[subdomain]: "),
        (("connections", "export", "stripe"), "Bundle passphrase: "),
        (("invoke", "discord", "send_webhook", "-p", "webhook_id=1", "-p", "content=hi"), "[webhook_token]: "),
    ],
)
def test_ctrl_d_at_a_prompt_cancels_with_130_and_stores_nothing(args, prompt, sh, config_dir, monkeypatch):
    if args[:2] == ("connections", "export"):
        r = sh("authorize", "stripe", "--with-token", input="sk_test_stored_0123456789\n")
        assert r.exit_code == 0, r.stderr
    before = sh("connections", "list", "--json").stdout
    code, out = on_terminal(*args, prompt=prompt)
    assert code == 130, out
    assert out.endswith(prompt + "\n" + CANCELLED), out
    assert "Traceback" not in out and "EOFError" not in out
    assert sh("connections", "list", "--json").stdout == before
    if args[0] == "configure":  # no OAuth app was saved: authorize still asks for one
        r = sh("authorize", "slack", "--no-browser", "--timeout", "1")
        assert r.exit_code == 2 and "configure slack" in r.stderr, r.stderr


def closed_stdout(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``synthral ARGS`` with a stdout whose reader is gone (``... | head -0``)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [synthral_exe(), *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=60,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("invoke", "--help"),
        ("connections", "--help"),
        ("--version",),
        ("connectors", "list"),
        ("connectors", "list", "--json"),
        ("connections", "list", "--json"),
        ("show", "stripe"),
        ("connectors", "actions", "stripe", "--json"),
        ("store", "status"),
        ("token", "stripe"),
        ("invoke", "stripe", "list_customers", "--dry-run"),
        ("request", "stripe", "GET", "/v1/customers", "--dry-run"),
        ("run", str(REPO / "examples" / "new-customer.json"), "--input", "email=a@b.c", "--input", "name=A",
         "--dry-run"),
        ("completion", "bash"),
    ],
)
def test_a_closed_stdout_is_exit_141_for_every_command(args):
    p = closed_stdout(*args, env={"SYNTHRAL_STRIPE_TOKEN": "sk_test_0123456789abcdef"})
    assert p.returncode == 141, p.stderr
    assert "error" not in p.stderr and "Traceback" not in p.stderr


class _NotNango(BaseHTTPRequestHandler):
    """Answers every GET like a web app would: the dashboard's HTML, or JSON of another shape."""

    body = b"<!doctype html><html><body>Nango dashboard</body></html>"
    ctype = "text/html; charset=utf-8"

    def do_GET(self):  # noqa: N802 - stdlib naming
        self.send_response(200)
        self.send_header("Content-Type", self.ctype)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class _OtherJson(_NotNango):
    body = b'{"status": "ok", "version": "1.0"}'
    ctype = "application/json"


@pytest.fixture(params=[_NotNango, _OtherJson], ids=["html", "other-json"])
def not_nango(request):
    server = ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", request.param
    server.shutdown()
    server.server_close()


def test_a_nango_url_that_is_not_nangos_api_is_exit_4_and_never_key_accepted(not_nango, sh, monkeypatch):
    url, kind = not_nango
    monkeypatch.setenv("NANGO_URL", url)
    monkeypatch.setenv("NANGO_SECRET_KEY", "nango-secret-key-0123456789")
    why = (
        "it answered HTTP 200 with text/html, not JSON"
        if kind is _NotNango
        else "GET /connections did not answer an object with 'connections'"
    )
    error = (
        f"error: {url} does not look like Nango's API: {why}.\n"
        "  Set NANGO_URL to Nango's API (https://api.nango.dev for Nango Cloud; a self-hosted server's "
        "API address, not its dashboard).\n"
    )
    r = sh("nango", "status")
    assert (r.exit_code, r.stderr) == (4, error)
    assert r.stdout == (
        f"url: {url}\nsecret key: set\nenabled: yes\nreachable: yes\nkey accepted: -\n"
    )
    r = sh("nango", "status", "--json")
    assert r.exit_code == 4 and r.stderr == error
    assert json.loads(r.stdout) == {
        "configured": True,
        "enabled": True,
        "url": url,
        "secret_key_set": True,
        "reachable": True,
        "authenticated": None,
        "message": f"{url} does not look like Nango's API: {why}.",
    }
    # The local connections are still listed, with a warning about Nango.
    r = sh("authorize", "stripe", "--with-token", input="sk_test_local_0123456789\n")
    assert r.exit_code == 0, r.stderr
    for args in (("connections", "list"), ("connections", "list", "--json")):
        r = sh(*args)
        assert r.exit_code == 0, r.stderr
        assert r.stderr == (
            f"warning: Nango's connections are not shown: {url} does not look like Nango's API: {why}.\n"
        )
    rows = json.loads(r.stdout)["connections"]
    assert [(c["connector_slug"], c["connection"], c["source"]) for c in rows] == [("stripe", "default", "store")]
