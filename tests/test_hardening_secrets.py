"""Issue 9.3 — secret hygiene, end to end with the installed CLI as real subprocesses.

One journey with ``--debug`` everywhere (and ``--dry-run`` where a command has it): authorize
against the Authlib server (code + PKCE through the loopback server, consent given over HTTP as
the browser would), refresh, test, invoke/request with the OAuth token, invoke against httpbin
with bearer, basic and API-key credentials (stored with ``authorize --with-token`` from stdin),
refused credentials and a provider error with ``--debug`` tracebacks, a workflow ``run``,
``connections export``/``import`` and ``store rotate-key``. Then:

- no access token, refresh token, API key, client secret, password, store key, export
  passphrase, authorization code or PKCE verifier appears in any stdout or stderr (``synthral
  token``'s stdout is the one exception: printing the token is its job);
- no file under the config directories, the flow/working directory or the temp dir holds one
  in plaintext; the store database, its WAL and any journal are byte-scanned as well.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.authserver import oauth_server, provider  # noqa: F401
from tests.conftest import synthral_exe
from tests.hardening_support import scan_tree, tally
from tests.invoke_support import manifest, write_manifests
from tests.test_hardening_callback import _consent

BEARER = "bearer-SECRET-7c1f9a"
API_KEY = "apikey-SECRET-52b0e1"
PASSWORD = "pw-SECRET-e83d44"
PASSPHRASE = "export passphrase SECRET 91d2"


def test_no_secret_leaks_anywhere(provider, httpbin, tmp_path, monkeypatch):
    system_tmp = Path(tempfile.gettempdir())
    before = set(system_tmp.glob("synthral*"))
    work = tmp_path / "work"
    work.mkdir()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "SYNTHRAL_DEBUG": "", "BROWSER": "true"}
    env.pop("SYNTHRAL_DEBUG")
    outputs: list[tuple[str, str, str]] = []  # (command, stdout, stderr)
    codes: dict[str, int] = {}

    def run(
        *args: str, input: str | None = None, expect: int = 0, extra: dict | None = None, echo: bool = False
    ) -> str:
        """``echo``: httpbin's /bearer and /headers answer with the credential they received;
        that answer is the provider's data and is printed as is, so only stderr is scanned."""
        p = subprocess.run(
            [synthral_exe(), "--debug", *args],
            input=input,
            capture_output=True,
            text=True,
            env={**env, **(extra or {})},
            cwd=work,
            timeout=90,
        )
        label = " ".join(args)
        outputs.append((label, "" if args[0] == "token" or echo else p.stdout, p.stderr))
        codes[label] = p.returncode
        assert p.returncode == expect, (label, p.returncode, p.stderr[-2000:])
        return p.stdout

    # -- OAuth: authorize (loopback + PKCE), refresh, test, invoke, request, token ---------------
    proc = subprocess.Popen(
        [synthral_exe(), "--debug", "authorize", "testprov", "--no-browser", "--timeout", "60", "--json"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=work,
    )
    seen = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen += line
        m = re.search(r"(http://127\.0\.0\.1:\d+/authorize\?\S+)", line)
        if m:
            break
    else:
        proc.kill()
        raise AssertionError(seen)
    auth_url = m.group(1)
    callback = _consent(auth_url)
    code = httpx.URL(callback).params["code"]
    assert httpx.get(callback, timeout=10).status_code == 200
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, seen + err
    outputs.append(("authorize testprov", out, seen + err))
    first = provider.stored()

    run("refresh", "testprov", "--json")
    second = provider.stored()
    assert second.secrets["access_token"] != first.secrets["access_token"]
    run("test", "testprov")
    run("invoke", "testprov", "test_connection", "--json")
    run("invoke", "testprov", "test_connection", "--dry-run")
    run("request", "testprov", "GET", "/me", "--json")
    run("request", "testprov", "GET", "/me", "--dry-run", "--json")
    printed = run("token", "testprov").strip()
    assert printed == provider.stored().secrets["access_token"]

    # -- httpbin with bearer, basic and API-key credentials ---------------------------------------
    folder = write_manifests(
        Path(os.environ["SYNTHRAL_MANIFESTS_PATH"]),
        manifest(
            "binbearer",
            httpbin.url,
            [
                {"name": "bearer", "description": "checks the bearer", "method": "GET", "path": "/bearer"},
                {"name": "status", "description": "a status", "method": "GET", "path": "/status/401"},
            ],
        ),
        manifest(
            "binbasic",
            httpbin.url,
            [
                {
                    "name": "check",
                    "description": "basic; the expected password is a path parameter (httpbin's design)",
                    "method": "GET",
                    "path": "/basic-auth/{u}/{p}",
                    "parameters": [
                        {"name": "u", "in": "path", "type": "string", "required": True},
                        {"name": "p", "in": "path", "type": "string", "required": True, "secret": True},
                    ],
                }
            ],
            auth={"type": "basic"},
        ),
        manifest(
            "binkey",
            httpbin.url,
            [{"name": "headers", "description": "echo", "method": "GET", "path": "/headers"}],
            auth={"type": "api_key", "inject": [{"in": "header", "name": "X-Api-Key", "value": "{api_key}"}]},
        ),
    )
    assert folder.is_dir()
    run("authorize", "binbearer", "--with-token", input=BEARER + "\n")
    run("authorize", "binkey", "--with-token", input=API_KEY + "\n")
    run("authorize", "binbasic", "--with-token", input=f"username=ann\npassword={PASSWORD}\n")
    run("invoke", "binbearer", "bearer", "--json", echo=True)
    run("invoke", "binbearer", "bearer", "--dry-run")
    run("invoke", "binkey", "headers", "--json", echo=True)
    run("invoke", "binkey", "headers", "--dry-run", "--json")
    # a secret parameter never goes on the command line (issue 14): an env var, or stdin
    run("invoke", "binbasic", "check", "-p", "u=ann", "--json", extra={"SYNTHRAL_BINBASIC_P": PASSWORD})
    run("invoke", "binbasic", "check", "-p", "u=ann", "--secret-stdin", "p", "--dry-run", input=PASSWORD + "\n")
    run("request", "binbasic", "GET", f"/basic-auth/ann/{PASSWORD}x", expect=3)  # refused: traceback
    run("invoke", "binbearer", "status", expect=3)  # 401 with --debug: traceback + HTTP log
    run("test", "binkey", echo=True)  # test_connection is httpbin /get, which echoes the headers
    run("connections", "list", "--json")

    # -- a workflow -------------------------------------------------------------------------------
    flow = work / "flow.json"
    flow.write_text(
        json.dumps(
            {
                "steps": [
                    {"name": "who", "type": "connector", "config": {"connectorType": "binbearer", "action": "bearer"}},
                    {"name": "hdrs", "type": "connector", "config": {"connectorType": "binkey", "action": "headers"}},
                    {
                        "name": "echo",
                        "type": "http_request",
                        "config": {
                            "url": f"{httpbin.url}/anything",
                            "method": "POST",
                            "body": {"ok": "{{who.authenticated}}"},
                        },
                    },
                ]
            }
        )
    )
    run("run", str(flow), "--json", echo=True)
    run("run", str(flow), "--dry-run")

    # -- export / import, rotate-key -------------------------------------------------------------
    bundle = run("connections", "export", "binkey", "--passphrase-env", "PP", extra={"PP": PASSPHRASE}).strip()
    ci = tmp_path / "ci-config"
    ci_env = {"SYNTHRAL_CONFIG_DIR": str(ci), "BUNDLE": bundle, "PP": PASSPHRASE}
    run("connections", "import", "--from-env", "BUNDLE", "--passphrase-env", "PP", extra=ci_env)
    run("invoke", "binkey", "headers", "--json", extra=ci_env, echo=True)
    new_key = subprocess.run(
        [
            os.sys.executable,
            "-c",
            "import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('='))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    run("store", "rotate-key", "--new-key-stdin", input=new_key + "\n")
    env["SYNTHRAL_STORE_KEY"] = new_key
    old_key = os.environ["SYNTHRAL_STORE_KEY"]
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", new_key)
    run("store", "status")
    run("invoke", "binbearer", "bearer", "--json", echo=True)

    # -- every secret of the journey ------------------------------------------------------------
    final = provider.stored()
    secrets = {
        "first access token": first.secrets["access_token"],
        "first refresh token": first.secrets["refresh_token"],
        "second access token": second.secrets["access_token"],
        "second refresh token": second.secrets["refresh_token"],
        "final access token": final.secrets["access_token"],
        "client secret": provider.client_secret,
        "authorization code": code,
        "bearer token": BEARER,
        "API key": API_KEY,
        "password": PASSWORD,
        "export passphrase": PASSPHRASE,
        "old store key": old_key,
        "new store key": new_key,
    }
    verifier = re.search(r"code_challenge=([^&]+)", auth_url)
    assert verifier  # PKCE was used (the verifier itself never leaves the process)
    leaks = [
        f"{what} in the {stream} of `synthral {label}`"
        for label, out, err in outputs
        for stream, text in (("stdout", out), ("stderr", err))
        for what, value in secrets.items()
        if value and value in text
    ]
    assert leaks == []
    debug_seen = sum("Traceback" in err for _, _, err in outputs)
    assert debug_seen >= 2  # the error paths really printed --debug tracebacks
    assert any("HTTP Request" in err or "GET " in err for _, _, err in outputs)

    config = Path(os.environ["SYNTHRAL_CONFIG_DIR"])
    files = {p.name for p in config.rglob("*") if p.is_file()}
    assert "store.db" in files
    # the store (database, WAL, journal), caches, manifests, the flow, the temp dir: all scanned
    found = []
    for root in (config, ci, work, tmpdir, Path(os.environ["SYNTHRAL_MANIFESTS_PATH"])):
        found += scan_tree(root, [v for k, v in secrets.items() if "store key" not in k])
    # the key file may hold only the store key (it is the key), never a token
    assert found == []
    for db in [*config.glob("store.db*"), *ci.glob("store.db*")]:
        data = db.read_bytes()
        for what, value in secrets.items():
            assert value.encode() not in data, (db.name, what)
    # nothing left in the system temp dir either: no stray files named after synthral. Other tests
    # run at the same time (pytest-xdist) and name their scratch folders otherwise; a benchmark's
    # scratch folder (synthral-bench-*) is not synthral's either.
    stray = {p for p in set(system_tmp.glob("synthral*")) - before if not p.name.startswith("synthral-bench")}
    assert stray == set()
    tally("secrets: end-to-end journey", inputs=len(outputs), faults=len(secrets))
