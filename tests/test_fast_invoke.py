"""``synthral invoke`` on the fast entry path (cli/main.py, no Typer) prints the same bytes and
exits the same way as the Typer command, against a real httpbin; what its exact parser does not
take goes to Typer."""

from __future__ import annotations

import pytest

from tests.invoke_support import STORE_KEY, manifest, write_manifests

ACTIONS = [
    {"name": "echo", "description": "echo", "method": "GET", "path": "/anything",
     "parameters": [{"name": "q", "in": "query", "type": "string"}, {"name": "n", "in": "query", "type": "integer"}]},
    {"name": "post", "description": "json echo", "method": "POST", "path": "/anything",
     "parameters": [{"name": "title", "in": "body", "type": "string", "required": True}]},
    {"name": "status", "description": "a status", "method": "GET", "path": "/status/{code}",
     "parameters": [{"name": "code", "in": "path", "type": "integer", "required": True}]},
    {"name": "html", "description": "text", "method": "GET", "path": "/html"},
]


@pytest.fixture
def binpeer(httpbin, tmp_path, monkeypatch):
    folder = write_manifests(tmp_path / "m", manifest("bin", httpbin.url, ACTIONS))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_BIN_TOKEN", "bin-token-123")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    return httpbin


@pytest.mark.parametrize(
    "argv",
    [
        ["invoke", "bin", "echo", "--json"],
        ["invoke", "bin", "echo"],
        ["invoke", "--json", "bin", "echo", "-p", "q=a b", "--param=n=3"],
        ["invoke", "bin", "echo", "-p", "n=notanumber", "--json"],
        ["invoke", "bin", "echo", "-p", "nope=1"],
        ["invoke", "bin", "post", "--data", '{"title": "t"}', "--json"],
        ["invoke", "bin", "post", "--json"],
        ["invoke", "bin", "status", "-p", "code=418", "--json"],
        ["invoke", "bin", "status", "-p", "code=401"],
        ["invoke", "bin", "status", "-p", "code=503", "--retries", "0", "--json"],
        ["invoke", "bin", "status", "-p", "code=204", "--timeout=5", "-c", "default"],
        ["invoke", "bin", "html"],
        ["invoke", "bin", "echo", "--dry-run"],
        ["invoke", "bin", "echo", "--dry-run", "--json", "-p", "q=x"],
        ["invoke", "bin", "nosuchaction"],
        ["invoke", "nosuchslug", "echo", "--json"],
        ["invoke", "bin", "echo", "--connection", "work", "--json"],
    ],
)
def test_fast_invoke_matches_the_typer_command(binpeer, argv, cli, capsys):
    from synthral_cli.cli.main import fast_path

    code = fast_path(argv)
    fast = capsys.readouterr()
    assert code is not None, "the fast path should take this command line"
    typer_result = cli(*argv)
    assert (code, fast.out, ours(fast.err)) == (typer_result.exit_code, typer_result.stdout, ours(typer_result.stderr))


def ours(stderr: str) -> str:
    """stderr without httpbin's own request log lines (its server thread writes there too)."""
    return "".join(line for line in stderr.splitlines(True) if not line.startswith("127.0.0.1 - - ["))


@pytest.mark.parametrize(
    "argv",
    [
        ["invoke", "bin", "echo", "--help"],
        ["invoke", "bin"],
        ["invoke", "bin", "echo", "extra"],
        ["invoke", "bin", "echo", "--retries", "11"],
        ["invoke", "bin", "echo", "--retries", "1.5"],
        ["invoke", "bin", "echo", "--timeout", "0"],
        ["invoke", "bin", "echo", "--timeout", "-1"],
        ["invoke", "bin", "echo", "-p"],
        ["invoke", "bin", "echo", "-p", "-x"],
        ["invoke", "bin", "echo", "-pq=1"],
        ["invoke", "bin", "echo", "--json=1"],
        ["invoke", "bin", "echo", "--output", "f"],
        ["invoke", "bin", "echo", "--data", "-"],
        ["invoke", "bin", "echo", "-c", "a", "-c", "b"],
        ["invoke", "bin", "echo", "--debug"],
        ["invoke", "bin", "echo", "--"],
        ["invoke", "bin", "echo", "--secret-stdin", "x"],
    ],
)
def test_fast_invoke_leaves_everything_else_to_typer(argv):
    from synthral_cli.cli.main import fast_path

    assert fast_path(argv) is None


def test_the_installed_command_takes_the_fast_path_without_typer_or_httpx(binpeer, sh):
    assert sh("invoke", "bin", "echo", "--json").exit_code == 0  # the first run fills the caches
    r = sh("invoke", "bin", "echo", "--json", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert r.exit_code == 0
    assert '"authenticated"' not in r.stdout and '"success": true' in r.stdout
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    heavy = {"typer", "rich", "httpx", "httpcore", "authlib", "yaml", "jsonschema", "importlib.metadata"}
    assert imported & heavy == set()


@pytest.mark.parametrize(
    ("argv", "stored"),
    [
        (["token", "bin"], False),
        (["token", "bin"], True),  # the variable shadows the stored token: a warning on stderr
        (["token", "bin", "--connection", "work"], True),
        (["token", "bin", "-c", "nope"], True),
        (["token", "--connection=work", "bin"], True),
        (["token", "nosuchslug"], False),
        (["token", "github"], False),  # no connection at all: exit 3
    ],
)
def test_fast_token_matches_the_typer_command(binpeer, argv, stored, cli, capsys, monkeypatch):
    from synthral_cli.cli.main import fast_path
    from tests.invoke_support import put_connection

    if stored:
        put_connection("bin", method="bearer", secrets={"token": "stored-token-1"})
        put_connection("bin", name="work", method="bearer", secrets={"token": "stored-token-work"})
        if "--connection" in argv or "-c" in argv or "--connection=work" in argv:
            monkeypatch.delenv("SYNTHRAL_BIN_TOKEN")
    code = fast_path(argv)
    fast = capsys.readouterr()
    assert code is not None
    typer_result = cli(*argv)
    assert (code, fast.out, fast.err) == (typer_result.exit_code, typer_result.stdout, typer_result.stderr)


@pytest.mark.parametrize("argv", [["token"], ["token", "a", "b"], ["token", "bin", "-c"], ["token", "bin", "--help"],
                                  ["token", "bin", "-c", "a", "-c", "b"], ["token", "bin", "--json"]])
def test_fast_token_leaves_everything_else_to_typer(argv):
    from synthral_cli.cli.main import fast_path

    assert fast_path(argv) is None
