"""``synthral batch`` against real peers: httpbin for the calls, the Authlib OAuth server for the
one shared refresh; the installed command as a subprocess (stdin and stdout are the interface)."""

from __future__ import annotations

import json

import pytest

from tests.authserver import oauth_server, provider  # noqa: F401 - pytest fixtures
from tests.invoke_support import STORE_KEY, manifest, write_manifests

ACTIONS = [
    {"name": "echo", "description": "echo", "method": "GET", "path": "/anything",
     "parameters": [{"name": "n", "in": "query", "type": "integer"}]},
    {"name": "status", "description": "a status", "method": "GET", "path": "/status/{code}",
     "parameters": [{"name": "code", "in": "path", "type": "integer", "required": True}]},
    {"name": "delay", "description": "slow", "method": "GET", "path": "/delay/{n}",
     "parameters": [{"name": "n", "in": "path", "type": "number", "required": True}]},
]


@pytest.fixture
def binpeer(httpbin, tmp_path, monkeypatch):
    folder = write_manifests(tmp_path / "m", manifest("bin", httpbin.url, ACTIONS))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_BIN_TOKEN", "bin-token-123")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    return httpbin


def ndjson(*lines: object) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def results(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_results_come_in_input_order_with_their_ids(binpeer, sh):
    lines = [{"connector": "bin", "action": "echo", "params": {"n": i}, "id": f"r{i}"} for i in range(40)]
    lines[3] = {"connector": "bin", "action": "delay", "params": {"n": 0.5}, "id": "r3"}
    r = sh("batch", "--parallel", "8", input=ndjson(*lines))
    assert r.exit_code == 0, r.stderr
    out = results(r.stdout)
    assert [o["id"] for o in out] == [f"r{i}" for i in range(40)]
    assert all(o["success"] is True and o["status"] == 200 for o in out)
    assert out[5]["result"]["args"] == {"n": "5"}
    assert out[5]["result"]["headers"]["Authorization"] == "Bearer bin-token-123"
    assert r.stderr == ""


@pytest.fixture
def threaded_bin(tmp_path, monkeypatch):
    """httpbin behind a threaded server (pytest-httpbin's answers one request at a time)."""
    import logging
    import threading

    from httpbin import app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = write_manifests(tmp_path / "tm", manifest("bin", f"http://127.0.0.1:{server.server_port}", ACTIONS))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_BIN_TOKEN", "bin-token-123")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    yield server
    server.shutdown()


def test_unordered_prints_every_result_as_it_is_ready(threaded_bin, sh):
    lines = [{"connector": "bin", "action": "delay", "params": {"n": 1}, "id": "slow"},
             *[{"connector": "bin", "action": "echo", "id": f"f{i}"} for i in range(5)]]
    r = sh("batch", "--parallel", "4", "--unordered", input=ndjson(*lines))
    assert r.exit_code == 0, r.stderr
    ids = [o["id"] for o in results(r.stdout)]
    assert sorted(ids) == sorted(["slow", *[f"f{i}" for i in range(5)]])
    assert ids[-1] == "slow"  # the slow call did not hold the quick ones back


def test_failing_and_malformed_lines_never_stop_the_batch(binpeer, sh):
    r = sh("batch", "--parallel", "2", input=ndjson(
        {"connector": "bin", "action": "status", "params": {"code": 404}},
        "this is not json",
        {"connector": "bin"},
        "",
        [1, 2],
        {"connector": "bin", "action": "echo", "extra": 1},
        {"connector": "nope", "action": "x", "id": 7},
        {"connector": "bin", "action": "echo", "params": {"n": "many"}},
        {"connector": "bin", "action": "echo", "id": "last"},
    ))
    out = results(r.stdout)
    assert [o["id"] for o in out] == [1, 2, 3, 5, 6, 7, 8, "last"]  # blank line 4 skipped
    assert out[0]["success"] is False and out[0]["status"] == 404
    assert out[0]["error"]["code"] == "provider_error" and out[0]["error"]["exit_code"] == 1
    assert out[0]["error"]["message"].startswith("bin answered 404")
    for o in out[1:7]:
        assert o["success"] is False and o["error"]["code"] == "bad_request" and o["error"]["exit_code"] == 2
        assert o["error"]["message"] and o["error"]["hint"]
    assert "not JSON" in out[1]["error"]["message"] and "unknown field(s) 'extra'" in out[4]["error"]["message"]
    assert out[-1]["success"] is True
    assert r.exit_code == 2  # the largest of the lines' codes
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(("codes", "exit_code"), [([200, 200], 0), ([404, 200], 1), ([404, 401, 200], 3)])
def test_the_exit_code_is_the_largest_of_the_lines(binpeer, sh, codes, exit_code):
    r = sh("batch", input=ndjson(*[{"connector": "bin", "action": "status", "params": {"code": c}} for c in codes]))
    assert r.exit_code == exit_code
    assert [o["success"] for o in results(r.stdout)] == [c == 200 for c in codes]


def test_undecodable_input_is_an_error_line(binpeer, tmp_path):
    import subprocess

    from tests.conftest import synthral_exe

    p = subprocess.run([synthral_exe(), "batch"], input=b'\xff\xfe\n{"connector":"bin","action":"echo"}\n',
                       capture_output=True, check=False)
    out = results(p.stdout.decode())
    assert p.returncode == 2 and out[0]["error"]["message"] == "Line 1 is not UTF-8 text." and out[1]["success"]


def test_parallel_lines_share_one_refresh_of_an_expired_token(provider, sh):  # noqa: F811
    provider.manifest()
    provider.seed(expires_in=-5)
    before = provider.server.count("refresh_token", provider.client_id)
    lines = [{"connector": "testprov", "action": "test_connection", "id": i} for i in range(16)]
    r = sh("batch", "--parallel", "8", input=ndjson(*lines))
    assert r.exit_code == 0, r.stdout + r.stderr
    assert all(o["success"] for o in results(r.stdout))
    assert provider.server.count("refresh_token", provider.client_id) - before == 1


@pytest.mark.parametrize("argv", [["--parallel", "0"], ["--parallel", "65"], ["--unknown"]])
def test_bad_options_are_usage_errors(binpeer, sh, argv):
    r = sh("batch", *argv, input="")
    assert r.exit_code == 2 and r.stdout == ""
