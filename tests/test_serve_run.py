"""Running ``synthral serve``: loopback by default, other binds only with --allow-remote and TLS
(or --insecure-http), HTTPS with a trustme certificate, CORS off unless asked, JSON log lines with
nothing secret, a graceful stop on SIGTERM and Ctrl-C with in-flight requests finished, and no
Starlette/uvicorn import in the other commands."""

# ruff: noqa: F811 - pytest fixtures imported from tests.serve_support
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from synthral_cli.basics.errors import UsageError
from synthral_cli.serve.options import ServeOptions, check
from tests.invoke_support import manifest, write_manifests
from tests.serve_support import ServeProcess, bearer, new_key, serve  # noqa: F401


def test_binds_other_than_loopback_need_allow_remote_and_tls_or_insecure_http(sh, tmp_path):
    refused = sh("serve", "--host", "0.0.0.0", "--port", "0", timeout=30)
    assert refused.exit_code == 2 and "--allow-remote" in refused.stderr
    clear = sh("serve", "--host", "0.0.0.0", "--port", "0", "--allow-remote", timeout=30)
    assert clear.exit_code == 2 and "TLS" in clear.stderr and "--insecure-http" in clear.stderr
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check(ServeOptions(host=host))
    check(ServeOptions(host="0.0.0.0", allow_remote=True, insecure_http=True))  # noqa: S104
    check(ServeOptions(host="192.0.2.1", allow_remote=True, tls_cert=cert, tls_key=key))
    with pytest.raises(UsageError):
        check(ServeOptions(host="192.0.2.1", allow_remote=True, tls_cert=cert))
    with pytest.raises(UsageError):
        check(ServeOptions(cors_origins=["*"]))
    wildcard = sh("serve", "--port", "0", "--cors-origin", "*", timeout=30)
    assert wildcard.exit_code == 2


def test_https_with_a_certificate(serve, tmp_path):
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    cert, key, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    srv = serve("--tls-cert", str(cert), "--tls-key", str(key))
    assert srv.url.startswith("https://127.0.0.1:")
    import ssl

    r = httpx.get(srv.url + "/api/v1/health", verify=ssl.create_default_context(cafile=str(ca_file)))
    assert r.status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(srv.url + "/api/v1/health")  # not trusted without the CA


def test_cors_is_off_unless_origins_are_named(serve):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    off = serve()
    r = httpx.options(off.url + "/api/v1/connectors/list", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    key = new_key("connectors:read")
    plain = httpx.get(off.url + "/api/v1/connectors/list", headers={**bearer(key), "Origin": "https://app.example"})
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers
    on = serve("--cors-origin", "https://app.example")
    ok = httpx.options(on.url + "/api/v1/connectors/list", headers=preflight)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.options(on.url + "/api/v1/connectors/list", headers={**preflight, "Origin": "https://evil.example"})
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"


@pytest.fixture
def slowpeer(httpbin, tmp_path, monkeypatch):
    actions = [{"name": "delay", "description": "slow", "method": "GET", "path": "/delay/{n}",
                "parameters": [{"name": "n", "in": "path", "type": "integer", "required": True}]}]
    folder = write_manifests(tmp_path / "m", manifest("slow", httpbin.url, actions, auth={"type": "none"}))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    return httpbin


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_gracefully_after_in_flight_requests_finish(slowpeer, sig):
    srv = ServeProcess.start()
    key = new_key("actions:execute")
    result: dict[str, httpx.Response] = {}

    def slow_call() -> None:
        result["r"] = httpx.post(srv.url + "/api/v1/connectors/slow/delay", headers=bearer(key), json={"n": 2},
                                 timeout=30)

    caller = threading.Thread(target=slow_call)
    caller.start()
    time.sleep(0.8)  # the call is in flight
    started = time.monotonic()
    code = srv.stop(sig)
    caller.join(30)
    assert code == 0, "\n".join(srv.lines)
    assert result["r"].status_code == 200 and result["r"].json()["status"] == 200
    assert time.monotonic() - started < 15
    assert srv.events("stopped")
    with pytest.raises(httpx.ConnectError):
        httpx.get(srv.url + "/api/v1/health")


def test_log_lines_are_json_and_hold_no_secret(serve, httpbin, tmp_path, monkeypatch):
    folder = write_manifests(tmp_path / "m", manifest("bin", httpbin.url, []))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    srv = serve()
    key = new_key("all")
    httpx.post(srv.url + "/api/v1/connections", headers=bearer(key),
               json={"connector_slug": "bin", "credentials": {"token": "log-secret-token-1"}})
    httpx.post(srv.url + "/api/v1/connectors/bin/test_connection", headers=bearer(key))
    httpx.get(srv.url + "/api/v1/connections", headers={"Authorization": "Bearer " + key + "x"})
    time.sleep(0.3)
    lines = [json.loads(line) for line in srv.lines]  # every line is JSON
    requests = [e for e in lines if e["event"] == "request"]
    assert {"method", "path", "status", "duration_ms", "ts", "level"} <= set(requests[-1])
    assert any(e["status"] == 401 for e in requests)
    text = "\n".join(srv.lines)
    for secret in (key, "log-secret-token-1"):
        assert secret not in text
    assert srv.login_url.split("token=")[1] in text  # the login link is printed for the person, once


def test_other_commands_do_not_import_starlette_or_uvicorn(tmp_path):
    code = (
        "import sys\nfrom synthral_cli.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in {'starlette', 'uvicorn', 'anyio'})\n"
        "print(json.dumps(loaded))\n"
    ).replace("import sys", "import json, sys")
    for args in (["--version"], ["invoke", "http", "request", "-p", "url=http://127.0.0.1:9/x", "--dry-run"],
                 ["serve", "keys", "list", "--json"]):
        run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60,
                             cwd=Path(tmp_path))
        assert json.loads(run.stdout.strip().splitlines()[-1]) == [], (args, run.stdout, run.stderr)
