"""``synthral connections|store|configure`` in-process and as subprocesses (issue 3)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthral_cli.basics.settings import Settings
from synthral_cli.store import keys
from synthral_cli.store.bundle import open_bundle
from synthral_cli.store.encrypted import Connection, Store

from .conftest import synthral_exe

TOKEN = "xoxb-CLI-7f3a9c1e-distinctive-token"
REFRESH = "xoxe-CLI-0b8d2e44-distinctive-refresh"
APP_SECRET = "app-secret-CLI-55aa91-distinctive"
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(autouse=True)
def no_os_keyring(monkeypatch):
    import keyring
    from keyring.backends import null

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    keyring.set_keyring(null.Keyring())


def store_for(config_dir: Path, extra: dict[str, str] | None = None) -> Store:
    env = {**os.environ, "SYNTHRAL_CONFIG_DIR": str(config_dir), **(extra or {})}
    return Store.open(Settings(env))


def seed(config_dir: Path) -> None:
    store = store_for(config_dir)
    store.put(
        Connection(
            "slack",
            scopes=["chat:write", "channels:read"],
            expires_at=1893456000.0,  # 2030-01-01T00:00:00Z
            config={"team": "T1"},
            secrets={"access_token": TOKEN, "refresh_token": REFRESH},
        )
    )
    store.record_test("slack", "default", True, None)
    store.put(Connection("slack", "work", method="nango", metadata={"connection_id": "n-1"}))
    store.put_app("slack", "client-123", APP_SECRET)
    store.close()


def files_digest(directory: Path) -> dict[str, str]:
    """The store's files (not the catalogue cache: ``cache/`` and its MAC key ``cache.key``)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file() and p.name != "cache.key"
    }


def no_secret_in(*texts: str) -> None:
    for t in texts:
        for s in (TOKEN, REFRESH, APP_SECRET, PASSPHRASE):
            assert s not in t


# -- connections list -------------------------------------------------------------------------


def test_list_empty(cli):
    r = cli("connections", "list", "--json")
    assert (r.exit_code, json.loads(r.stdout), r.stderr) == (0, {"connections": [], "total_count": 0}, "")
    r = cli("connections", "list")
    assert (r.exit_code, r.stdout) == (0, "SLUG\tCONNECTION\tMETHOD\tSCOPES\tEXPIRES\tHEALTH\tSOURCE\n")


def test_list_json_shape(cli, config_dir):
    seed(config_dir)
    r = cli("connections", "list", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    data = json.loads(r.stdout)
    tested = data["connections"][0].pop("last_tested_at")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", tested)
    assert data == {
        "connections": [
            {
                "connector_slug": "slack",
                "connection": "default",
                "method": "direct",
                "scopes": ["chat:write", "channels:read"],
                "expires_at": "2030-01-01T00:00:00Z",
                "health": "ok",
                "source": "store",
                "needs_reauth": False,
            },
            {
                "connector_slug": "slack",
                "connection": "work",
                "method": "nango",
                "scopes": [],
                "expires_at": None,
                "health": "untested",
                "last_tested_at": None,
                "source": "nango",
                "needs_reauth": False,
            },
        ],
        "total_count": 2,
    }
    no_secret_in(r.stdout)


def test_list_table_and_environment_source(cli, config_dir, monkeypatch):
    seed(config_dir)
    monkeypatch.setenv("SYNTHRAL_SLACK_TOKEN", "env-token-value")
    monkeypatch.setenv("SYNTHRAL_ASANA_TOKEN", "env-asana-value")
    r = cli("connections", "list")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "SLUG\tCONNECTION\tMETHOD\tSCOPES\tEXPIRES\tHEALTH\tSOURCE"
    assert lines[1] == "asana\tdefault\t-\t-\t-\tuntested\tenvironment"
    assert re.fullmatch(
        r"slack\tdefault\tdirect\tchat:write channels:read\tin \d+d\tok\tenvironment", lines[2]
    )
    assert lines[3] == "slack\twork\tnango\t-\t-\tuntested\tenvironment"
    assert len(lines) == 4


def test_list_shows_reauthorization_needed(cli, config_dir):
    seed(config_dir)
    store = store_for(config_dir)
    store.mark_needs_reauth("slack", "default", if_version=store.get("slack").version)
    r = cli("connections", "list")
    assert "\tok (re-authorize)\t" in r.stdout
    assert json.loads(cli("connections", "list", "--json").stdout)["connections"][0]["needs_reauth"] is True


def test_list_is_light_and_decrypts_nothing(config_dir):
    seed(config_dir)
    code = (
        "import sys\n"
        "from synthral_cli.cli.app import main\n"
        "try:\n    main(['connections', 'list', '--json'])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print(sorted(m for m in ('cryptography', 'sqlite_utils', 'keyring', 'httpx') if m in sys.modules),"
        " file=sys.stderr)\n"
    )
    env = {**os.environ, "SYNTHRAL_STORE_KEY": keys.encode_key(os.urandom(32))}  # wrong key: unused
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip() == "[]"
    assert json.loads(p.stdout)["total_count"] == 2


# -- remove ------------------------------------------------------------------------------------


def test_remove(cli, config_dir):
    seed(config_dir)
    r = cli("connections", "remove", "slack", "--connection", "work")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "Removed slack/work.\n")
    r = cli("connections", "remove", "slack", "--connection", "work")
    assert r.exit_code == 3 and "no stored connection slack/work" in r.stderr
    assert [c.name for c in store_for(config_dir).list()] == ["default"]


# -- export / import ---------------------------------------------------------------------------


def test_export_import_round_trip_through_environment_variables(cli, config_dir, tmp_path, monkeypatch):
    seed(config_dir)
    monkeypatch.setenv("BUNDLE_PASSPHRASE", PASSPHRASE)
    r = cli("connections", "export", "slack", "--passphrase-env", "BUNDLE_PASSPHRASE")
    assert r.exit_code == 0, r.stderr
    bundle = r.stdout.strip()
    assert bundle.startswith("synthral-bundle-v2.") and "\n" not in bundle
    no_secret_in(r.stdout, r.stderr)

    ci = tmp_path / "ci-config"
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(ci))
    monkeypatch.setenv("SLACK_BUNDLE", bundle)
    r = cli("connections", "import", "--from-env", "SLACK_BUNDLE", "--passphrase-env", "BUNDLE_PASSPHRASE")
    assert (r.exit_code, r.stdout) == (0, "")
    assert r.stderr.splitlines()[0] == "Imported slack/default and its OAuth app."
    assert r.stderr.splitlines()[1:] == [  # a new store here: its key went to a file, said once
        f"warning: no OS keyring backend is available: the store key was saved in the file {ci / 'store.key'}, "
        "readable by you only (set SYNTHRAL_STORE_KEY, or set up an OS keyring, to keep it off the disk)."
    ]
    store = store_for(ci)
    got = store.get("slack")
    assert got.secrets == {"access_token": TOKEN, "refresh_token": REFRESH}
    assert (got.scopes, got.expires_at, got.config) == (
        ["chat:write", "channels:read"],
        1893456000.0,
        {"team": "T1"},
    )
    assert store.get_app("slack").client_secret == APP_SECRET

    r = cli("connections", "import", "--from-env", "SLACK_BUNDLE", "--passphrase-env", "BUNDLE_PASSPHRASE")
    assert r.exit_code == 2 and "already exists" in r.stderr and "--replace" in r.stderr
    r = cli(
        "connections",
        "import",
        "--from-env",
        "SLACK_BUNDLE",
        "--passphrase-env",
        "BUNDLE_PASSPHRASE",
        "--replace",
    )
    assert r.exit_code == 0 and store_for(ci).get("slack").version == 2
    r = cli(
        "connections",
        "import",
        "--from-env",
        "SLACK_BUNDLE",
        "--passphrase-env",
        "BUNDLE_PASSPHRASE",
        "-c",
        "ci",
    )
    assert r.exit_code == 0 and r.stderr == "Imported slack/ci.\n"  # the app was already there
    assert store_for(ci).get("slack", "ci").secrets["access_token"] == TOKEN


def test_import_from_stdin_and_passphrase_from_stdin(cli, config_dir, tmp_path, monkeypatch):
    seed(config_dir)
    r = cli("connections", "export", "slack", input=PASSPHRASE + "\n")
    assert r.exit_code == 0
    bundle = r.stdout
    ci = tmp_path / "ci"
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(ci))
    monkeypatch.setenv("P", PASSPHRASE)
    assert cli("connections", "import", "--passphrase-env", "P", input=bundle).exit_code == 0
    monkeypatch.setenv("B", bundle)
    r = cli("connections", "import", "--from-env", "B", "-c", "second", input=PASSPHRASE + "\n")
    assert r.exit_code == 0, r.stderr
    assert [c.name for c in store_for(ci).list()] == ["default", "second"]
    r = cli("connections", "import", "-c", "third", input=bundle)
    assert r.exit_code == 2 and "--passphrase-env" in r.stderr


@pytest.mark.parametrize(
    "bundle, passphrase, message",
    [
        (None, "wrong passphrase!", "does not open this bundle"),
        ("hello", PASSPHRASE, "not a synthral bundle"),
        ("synthral-bundle-v9.abc", PASSPHRASE, "synthral-bundle-v9 bundle"),
        ("synthral-bundle-v1.AAAA", PASSPHRASE, "truncated"),
        ("synthral-bundle-v2.AAAA", PASSPHRASE, "truncated"),
    ],
)
def test_import_rejects_bad_input(cli, config_dir, monkeypatch, bundle, passphrase, message):
    seed(config_dir)
    monkeypatch.setenv("P", PASSPHRASE)
    if bundle is None:
        bundle = cli("connections", "export", "slack", "--passphrase-env", "P").stdout
    monkeypatch.setenv("P2", passphrase)
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(config_dir / "other"))
    r = cli("connections", "import", "--passphrase-env", "P2", input=bundle)
    assert r.exit_code == 2 and message in r.stderr
    assert r.stderr.count("\n") == 2  # what happened, what to do


def test_export_needs_a_stored_connection_and_a_long_passphrase(cli, config_dir, monkeypatch):
    monkeypatch.setenv("P", PASSPHRASE)
    assert cli("connections", "export", "slack", "--passphrase-env", "P").exit_code == 3
    seed(config_dir)
    monkeypatch.setenv("SHORT", "abc")
    r = cli("connections", "export", "slack", "--passphrase-env", "SHORT")
    assert r.exit_code == 2 and "too short" in r.stderr and r.stdout == ""
    r = cli("connections", "export", "slack", "--passphrase-env", "UNSET_VAR")
    assert r.exit_code == 2 and "UNSET_VAR" in r.stderr


def test_export_pipe_import_as_real_processes(sh, config_dir, tmp_path):
    seed(config_dir)
    env = {"P": PASSPHRASE}
    exported = sh("connections", "export", "slack", "--passphrase-env", "P", env=env)
    assert exported.exit_code == 0, exported.stderr
    ci = tmp_path / "ci"
    imported = sh(
        "connections",
        "import",
        "--passphrase-env",
        "P",
        input=exported.stdout,
        env={**env, "SYNTHRAL_CONFIG_DIR": str(ci)},
    )
    assert imported.exit_code == 0, imported.stderr
    listed = sh("connections", "list", "--json", env={"SYNTHRAL_CONFIG_DIR": str(ci)})
    assert json.loads(listed.stdout)["connections"][0]["connector_slug"] == "slack"
    no_secret_in(exported.stdout, exported.stderr, imported.stdout, imported.stderr, listed.stdout)
    assert store_for(ci).get("slack").secrets["refresh_token"] == REFRESH


def test_export_prompts_for_a_hidden_passphrase_on_a_terminal(config_dir):
    import pty
    import select

    seed(config_dir)
    pid, fd = pty.fork()
    if pid == 0:  # the child: synthral on a real terminal
        os.execv(synthral_exe(), [synthral_exe(), "connections", "export", "slack"])
    seen = b""
    answers = [b"Bundle passphrase:", b"Repeat the passphrase:"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if answers and answers[0] in seen:
            answers.pop(0)
            os.write(fd, PASSPHRASE.encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert PASSPHRASE not in text  # not echoed
    bundle = re.search(r"synthral-bundle-v2\.[A-Za-z0-9_-]+", text).group(0)
    payload = json.loads(open_bundle(bundle, PASSPHRASE))
    assert payload["connection"]["secrets"]["access_token"] == TOKEN


# -- configure ---------------------------------------------------------------------------------


def test_configure_stores_the_app_encrypted(cli, config_dir):
    r = cli("configure", "slack", "--client-id", "cid-1", "--client-secret-stdin", input=APP_SECRET + "\n")
    assert (r.exit_code, r.stdout) == (0, "")
    fallback = (  # said once, when the key is created (issue 14: the keyring fallback is not silent)
        f"warning: no OS keyring backend is available: the store key was saved in the file "
        f"{config_dir / 'store.key'}, readable by you only (set SYNTHRAL_STORE_KEY, or set up an OS "
        "keyring, to keep it off the disk).\n"
    )
    assert r.stderr == "Saved the OAuth app of slack with its client secret (encrypted).\n" + fallback
    app = store_for(config_dir).get_app("slack")
    assert (app.client_id, app.client_secret) == ("cid-1", APP_SECRET)
    for p in config_dir.iterdir():
        if p.is_file() and p.name != "store.key":
            assert APP_SECRET.encode() not in p.read_bytes()
    r = cli("configure", "slack", "--client-id", "cid-2")
    assert r.exit_code == 0 and "public client" in r.stderr and "warning" not in r.stderr
    assert store_for(config_dir).get_app("slack").client_secret is None


def test_configure_rejects_unknown_connector_and_empty_secret(cli):
    r = cli("configure", "no-such-connector", "--client-id", "x")
    assert r.exit_code == 2 and "no-such-connector" in r.stderr
    r = cli("configure", "slack", "--client-id", "x", "--client-secret-stdin", input="")
    assert r.exit_code == 2 and "no client secret" in r.stderr


# -- store status / rotate-key -----------------------------------------------------------------


def test_store_status(cli, config_dir):
    r = cli("store", "status", "--json")
    data = json.loads(r.stdout)
    assert r.exit_code == 0 and data["key_source"] is None and data["key_ok"] is None
    seed(config_dir)
    r = cli("store", "status", "--json")
    data = json.loads(r.stdout)
    assert data == {
        "backend": "sqlite",  # issue 19: the backend is named (sqlite | postgresql)
        "store_path": str(config_dir / "store.db"),
        "key_source": "file",
        "key_location": str(config_dir / "store.key"),
        "key_file": str(config_dir / "store.key"),
        "schema_version": 3,
        "migrations": ["m001_initial", "m002_origins", "m003_aad_v2"],
        "connection_count": 2,
        "app_count": 1,
        "key_ok": True,
    }
    r = cli("store", "status")
    assert r.exit_code == 0 and f"store: {config_dir / 'store.db'}\n" in r.stdout
    assert "key source: file\n" in r.stdout and "connections: 2\n" in r.stdout
    key = (config_dir / "store.key").read_text().strip()
    no_secret_in(r.stdout)
    assert key not in r.stdout


def test_wrong_key_exits_5_names_the_source_and_changes_nothing(sh, config_dir):
    seed(config_dir)
    before = files_digest(config_dir)
    wrong = {"SYNTHRAL_STORE_KEY": keys.encode_key(os.urandom(32)), "P": PASSPHRASE}
    for args, stdin in [
        (("connections", "export", "slack", "--passphrase-env", "P"), None),
        (("configure", "slack", "--client-id", "x", "--client-secret-stdin"), "new-secret-value"),
        (("store", "status"), None),
        (("store", "rotate-key", "--new-key-stdin"), keys.encode_key(os.urandom(32))),
    ]:
        r = sh(*args, input=stdin, env=wrong)
        assert r.exit_code == 5, (args, r.stderr)
        assert "SYNTHRAL_STORE_KEY does not open the store" in r.stderr and "Traceback" not in r.stderr
    assert files_digest(config_dir) == before


def test_rotate_key_commands(cli, config_dir, monkeypatch):
    seed(config_dir)
    old = (config_dir / "store.key").read_text()
    r = cli("store", "rotate-key")
    assert r.exit_code == 0 and "saved in the key file" in r.stderr
    assert (config_dir / "store.key").read_text() != old
    assert store_for(config_dir).get("slack").secrets["access_token"] == TOKEN

    env_key = keys.encode_key(os.urandom(32))
    fresh = config_dir / "env-store"
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(fresh))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", env_key)
    store_for(fresh).put(Connection("slack", secrets={"access_token": TOKEN}))
    r = cli("store", "rotate-key")
    assert r.exit_code == 2 and "--new-key-stdin" in r.stderr
    new_key = keys.encode_key(os.urandom(32))
    r = cli("store", "rotate-key", "--new-key-stdin", input=new_key + "\n")
    assert r.exit_code == 0 and "set SYNTHRAL_STORE_KEY to the new key" in r.stderr
    assert new_key not in r.stdout + r.stderr
    assert cli("store", "status").exit_code == 5
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", new_key)
    assert cli("store", "status").exit_code == 0


def test_foreign_file_as_a_subprocess(sh, config_dir):
    path = config_dir / "store.db"
    path.write_bytes(b"this is my shopping list, not a database\n" * 100)
    before = path.read_bytes()
    r = sh("connections", "list")
    assert r.exit_code == 5 and r.stdout == ""
    assert r.stderr == (
        f"error: {path} is not a synthral store (not an SQLite database, or a damaged one); it was left "
        "untouched.\n  Move the file away (synthral will create a new store), or point SYNTHRAL_CONFIG_DIR "
        "elsewhere.\n"
    )
    assert path.read_bytes() == before and sorted(p.name for p in config_dir.iterdir()) == ["store.db"]


@pytest.mark.parametrize(
    "args",
    [
        ("connections",),
        ("connections", "list"),
        ("connections", "remove"),
        ("connections", "export"),
        ("connections", "import"),
        ("store", "status"),
        ("store", "rotate-key"),
        ("configure",),
    ],
)
def test_every_command_has_help_with_an_example(cli, args):
    r = cli(*args, "--help")
    assert r.exit_code == 0 and len(r.stdout) > 100
    if len(args) > 1 or args == ("configure",):
        assert (
            "Example: synthral" in r.stdout or "Example: openssl" in r.stdout or "Example: printf" in r.stdout
        )


# -- remove --revoke against a real RFC 7009 endpoint on 127.0.0.1 ----------------------------


@pytest.fixture
def revocation_server():
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import parse_qs

    seen: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            seen.append(parse_qs(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/revoke", seen
    server.shutdown()
    server.server_close()


def test_remove_revoke_calls_the_revocation_endpoint(cli, config_dir, monkeypatch, revocation_server):
    url, seen = revocation_server
    repo = Path(__file__).resolve().parent.parent
    text = (repo / "manifests" / "asana.yaml").read_text()
    text = text.replace("slug: asana", "slug: revoketest").replace(
        "https://app.asana.com/-/oauth_revoke", url
    )
    manifests = config_dir / "manifests"
    manifests.mkdir()
    (manifests / "revoketest.yaml").write_text(text)
    store = store_for(config_dir)
    store.put(Connection("revoketest", secrets={"access_token": TOKEN, "refresh_token": REFRESH}))
    store.put_app("revoketest", "client-123", APP_SECRET)
    store.close()
    r = cli("connections", "remove", "revoketest", "--revoke")
    assert r.exit_code == 0, r.stderr
    assert (
        r.stderr == "Revoked the token of revoketest/default at the provider.\nRemoved revoketest/default.\n"
    )
    assert (
        len(seen) == 1 and seen[0]["token"] == [REFRESH] and seen[0]["token_type_hint"] == ["refresh_token"]
    )
    assert store_for(config_dir).get("revoketest") is None


def test_remove_revoke_without_an_endpoint_still_removes(cli, config_dir):
    store = store_for(config_dir)
    store.put(Connection("slack", secrets={"access_token": TOKEN}))
    store.close()
    r = cli("connections", "remove", "slack", "--revoke")
    assert r.exit_code == 0, r.stderr
    assert "has no revocation endpoint" in r.stderr and "Removed slack/default." in r.stderr
    r = cli("connections", "remove", "slack", "--revoke")
    assert r.exit_code == 3
