"""Connectors written in Python: a real plugin package, built and installed with pip into a
folder of its own (``pip install --target``), driven end to end through the installed
``synthral`` (PYTHONPATH points at that folder, so this environment is not changed) against a
real HTTP server on loopback. A second package holds plugins that fail in every way synthral
must survive: reported once on stderr, skipped, and the catalogue still works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import Result, synthral_exe

PLUGINS = Path(__file__).parent / "data" / "plugins"
KEY = "acme-key-5f0c9a1e77d24b1b"
BUNDLED = len(list((Path(__file__).parent.parent / "manifests").glob("*.yaml")))


def pip_install(source: Path, target: Path) -> Path:
    """Build and install the package at ``source`` into ``target`` (no index, no other deps)."""
    work = target.parent / (source.name + "-src")
    shutil.copytree(source, work)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(work)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    return target


@pytest.fixture(scope="module")
def acme_site(tmp_path_factory) -> Path:
    return pip_install(PLUGINS / "acme-notes", tmp_path_factory.mktemp("acme") / "site")


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    return pip_install(PLUGINS / "broken", tmp_path_factory.mktemp("broken") / "site")


class NotesServer:
    """The Acme Notes API: GET /me, GET /notes?limit=N, POST /notes {"text", "tags"}."""

    def __init__(self) -> None:
        self.notes: list[dict] = []
        self.requests: list[tuple[str, str, dict, object]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                server.requests.append((method, self.path, dict(self.headers), body))
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    return self._answer(401, {"error": "unknown key"})
                if (method, url.path) == ("GET", "/me"):
                    return self._answer(200, {"user": "ada"})
                if (method, url.path) == ("GET", "/notes"):
                    limit = int(parse_qs(url.query).get("limit", ["10"])[0])
                    return self._answer(200, {"notes": server.notes[-limit:]})
                if (method, url.path) == ("POST", "/notes"):
                    if not (body or {}).get("text"):
                        return self._answer(422, {"error": "a note needs text"})
                    note = {"id": len(server.notes) + 1, "text": body["text"], "tags": body.get("tags") or []}
                    server.notes.append(note)
                    return self._answer(201, note)
                return self._answer(404, {"error": "no such endpoint"})

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def notes():
    server = NotesServer()
    yield server
    server.close()


def run_with(site: Path):
    """Run the installed ``synthral`` with ``site`` on PYTHONPATH (beside synthral)."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        full = {**os.environ, "PYTHONPATH": str(site), **(env or {})}
        p = subprocess.run([synthral_exe(), *args], input=input, capture_output=True, text=True, env=full,
                           timeout=60)
        return Result(p.returncode, p.stdout, p.stderr)

    return run


def authorize(run, url: str, key: str = KEY, connection: str = "default") -> Result:
    return run("authorize", "acme-notes", "--with-token", "--connection", connection, "--json",
               input=f"api_key={key}\nurl={url}\n")


# -- the catalogue ---------------------------------------------------------------------------------


def test_a_plugin_is_listed_shown_and_described_like_a_bundled_connector(acme_site):
    run = run_with(acme_site)
    listed = run("connectors", "list", "--json")
    assert listed.exit_code == 0 and listed.stderr == ""
    data = json.loads(listed.stdout)
    assert data["total_count"] == BUNDLED + 1
    (acme,) = [c for c in data["connectors"] if c["slug"] == "acme-notes"]
    assert acme == {
        "id": "acme-notes", "slug": "acme-notes", "name": "Acme Notes", "status": "beta",
        "category": "Productivity & Notes",
        "description": "Read and write notes on an Acme Notes server (self-hosted).",
        "latest_version": "0.1.0", "nango_enabled": False, "nango_provider_key": None, "auth_type": "api_key",
    }
    # the Typer path (filters) agrees with the fast path, and the table shows it too
    assert json.loads(run("list", "--search", "acme notes", "--json").stdout)["connectors"] == [acme]
    table = run("connectors", "list", "--category", "productivity")
    assert table.exit_code == 0 and "acme-notes\tAcme Notes\tProductivity & Notes\tapi_key\tbeta" in table.stdout

    shown = run("connectors", "show", "acme-notes", "--json")
    assert shown.exit_code == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["transport"] == "acme-notes"
    assert doc["source"] == "acme_notes:AcmeNotes (synthral-acme-notes 0.1.0)"
    assert [f["name"] for f in doc["auth"]["fields"]] == ["api_key", "url"]
    assert [a["name"] for a in doc["actions"]] == ["test_connection", "list_notes", "add_note"]
    text = run("show", "acme-notes")
    assert text.exit_code == 0 and "credential: api_key (secret)\ncredential: url\n" in text.stdout

    actions = run("connectors", "actions", "acme-notes", "--json")
    assert actions.exit_code == 0
    add = json.loads(actions.stdout)["actions"][2]
    assert add["name"] == "add_note"
    assert add["parameters"] == [
        {"name": "text", "in": "body", "type": "string", "required": True, "description": "The note."},
        {"name": "tags", "in": "body", "type": "array", "required": False, "description": "Labels."},
    ]
    limit = json.loads(actions.stdout)["actions"][1]["parameters"][0]
    assert limit == {"name": "limit", "in": "body", "type": "integer", "required": False,
                     "description": "How many.", "default": 10}


# -- authorize, invoke, test, run ------------------------------------------------------------------


def test_a_plugin_is_authorized_invoked_tested_and_run_end_to_end(acme_site, notes, tmp_path):
    run = run_with(acme_site)
    auth = authorize(run, notes.url)
    assert auth.exit_code == 0, auth.stderr
    assert json.loads(auth.stdout) == {"success": True, "connector_slug": "acme-notes", "connection": "default",
                                       "oauth_method": "direct", "scopes": [], "expires_at": None}
    outputs = [auth]

    test = run("test", "acme-notes")
    assert test.exit_code == 0, test.stderr
    assert json.loads(test.stdout) == {"user": "ada"} and "acme-notes (default): ok in" in test.stderr
    health = json.loads(run("connections", "list", "--json").stdout)["connections"]
    assert [(c["connector_slug"], c["health"]) for c in health] == [("acme-notes", "ok")]

    added = run("invoke", "acme-notes", "add_note", "-p", "text=buy milk", "-p", "tags=home,urgent", "--json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout) == {
        "success": True, "status": 201, "result": {"id": 1, "text": "buy milk", "tags": ["home", "urgent"]},
    }
    method, path, headers, body = notes.requests[-1]
    assert (method, path, body) == ("POST", "/notes", {"text": "buy milk", "tags": ["home", "urgent"]})
    assert headers["Authorization"] == f"Bearer {KEY}"  # the stored key reached the server

    listed = run("invoke", "acme-notes", "list_notes", "-p", "limit=5", "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout)["result"] == {"notes": [notes.notes[0]]}
    assert notes.requests[-1][1] == "/notes?limit=5"  # typed and defaulted by the action's schema
    outputs += [test, added, listed]

    dry = run("invoke", "acme-notes", "add_note", "-p", "text=draft", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout) == {
        "method": "POST", "url": f"{notes.url}/notes", "headers": {"Authorization": "Bearer ***"},
        "body": {"text": "draft"},
    }
    dry_text = run("invoke", "acme-notes", "list_notes", "--dry-run")
    assert dry_text.stdout == f"GET {notes.url}/notes?limit=10\nAuthorization: Bearer ***\n"
    sent = len(notes.requests)
    debug = run("--debug", "invoke", "acme-notes", "list_notes", "--json")
    assert debug.exit_code == 0 and len(notes.requests) == sent + 1
    outputs += [dry, dry_text, debug]

    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps({"steps": [
        {"name": "add", "type": "connector",
         "config": {"connectorType": "acme-notes", "action": "add_note", "text": "{{input.what}}"}},
        {"name": "check", "type": "connector",
         "config": {"connectorType": "acme-notes", "action": "list_notes", "limit": "{{add.id}}"}},
    ]}))
    ran = run("run", str(flow), "--input", "what=call bob", "--json")
    assert ran.exit_code == 0, ran.stderr
    steps = json.loads(ran.stdout)["steps"]
    assert [s["name"] for s in steps] == ["add", "check"] and all(s["success"] for s in steps)
    assert notes.notes[-1]["text"] == "call bob" and notes.requests[-1][1] == "/notes?limit=2"
    outputs.append(ran)

    for out in outputs:
        assert KEY not in out.stdout and KEY not in out.stderr


def test_a_plugin_s_errors_have_the_contract_s_exit_codes(acme_site, notes):
    run = run_with(acme_site)
    assert authorize(run, notes.url).exit_code == 0
    refused = run("invoke", "acme-notes", "add_note", "-p", "text=", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout) == {"success": False, "status": 422, "result": {"error": "a note needs text"}}
    assert "error: Acme Notes answered 422: a note needs text" in refused.stderr

    missing = run("invoke", "acme-notes", "add_note")
    assert missing.exit_code == 2 and "add_note needs text" in missing.stderr
    unknown = run("invoke", "acme-notes", "add_note", "-p", "text=x", "-p", "colour=red")
    assert unknown.exit_code == 2 and "has no parameter 'colour'" in unknown.stderr
    typed = run("invoke", "acme-notes", "list_notes", "-p", "limit=many")
    assert typed.exit_code == 2 and "must be an integer" in typed.stderr
    nothing = run("invoke", "acme-notes", "list_notes", "--connection", "work")
    assert nothing.exit_code == 3 and "No acme-notes connection 'work' yet" in nothing.stderr

    assert authorize(run, notes.url, key="wrong-key-123456", connection="stale").exit_code == 0
    stale = run("test", "acme-notes", "--connection", "stale")
    assert stale.exit_code == 3 and "Acme Notes refused the API key" in stale.stderr
    rows = json.loads(run("connections", "list", "--json").stdout)["connections"]
    health = {c["connection"]: c["health"] for c in rows}
    assert health["stale"] == "failed"

    down = f"http://127.0.0.1:{_free_port()}"
    assert authorize(run, down, connection="down").exit_code == 0
    unreachable = run("invoke", "acme-notes", "list_notes", "--connection", "down")
    assert unreachable.exit_code == 4, unreachable.stderr
    assert "could not reach its service" in unreachable.stderr and "Traceback" not in unreachable.stderr
    for out in (refused, stale, unreachable):
        assert KEY not in out.stdout + out.stderr and "wrong-key-123456" not in out.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_yaml_manifest_names_the_connector_that_serves_it(acme_site, notes, config_dir):
    """``transport:`` in a YAML manifest picks a registered connector: here the plugin's."""
    run = run_with(acme_site)
    folder = config_dir / "manifests"
    folder.mkdir()
    doc = {
        "schema_version": 1, "slug": "team-notes", "name": "Team notes", "category": "Productivity & Notes",
        "status": "beta", "version": "1.0.0", "description": "The team's Acme Notes server.",
        "docs_url": "https://acme-notes.example/", "transport": "acme-notes",
        "auth": {"type": "api_key", "fields": [{"name": "api_key"}, {"name": "url", "secret": False}]},
        "nango": {"enabled": False},
        "actions": [{"name": "test_connection", "description": "Who am I?"}],
    }
    (folder / "team-notes.yaml").write_text(json.dumps(doc))
    assert run("authorize", "team-notes", "--with-token", input=f"api_key={KEY}\nurl={notes.url}\n").exit_code == 0
    ok = run("test", "team-notes", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["result"] == {"user": "ada"}

    (folder / "orphan.yaml").write_text(json.dumps({**doc, "slug": "orphan", "transport": "carrier-pigeon"}))
    orphan = run("invoke", "orphan", "test_connection", "--dry-run")
    assert orphan.exit_code == 2
    assert "orphan is served by the connector 'carrier-pigeon', which is not installed" in orphan.stderr


# -- broken plugins --------------------------------------------------------------------------------


def test_broken_plugins_are_reported_once_and_skipped(broken_site):
    run = run_with(broken_site)
    expected = [
        "warning: connector plugin 'broken' (synthral-broken 0.1.0) failed to import: "
        "ModuleNotFoundError: No module named 'acme_missing_dependency'; skipped.",
        "warning: connector plugin 'http' (synthral-broken 0.1.0): the name 'http' is already taken by "
        "synthral 0.1.0; skipped.",
        "warning: connector plugin 'raising' (synthral-broken 0.1.0) failed to register: "
        "RuntimeError: the registration blew up; skipped.",
        "warning: connector plugin 'clash' (synthral-broken 0.1.0): the slug 'github' belongs to a bundled "
        "connector; refused.",
    ]
    listed = run("connectors", "list", "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout)["total_count"] == BUNDLED + 1  # + crashing, which loads fine
    assert listed.stderr.splitlines() == expected
    # every command reports them once, and the bundled github and http transport are untouched
    shown = run("show", "github", "--json")
    assert shown.exit_code == 0 and shown.stderr.splitlines() == expected
    assert json.loads(shown.stdout)["name"] == "GitHub"
    dry = run("invoke", "github", "get_repo", "-p", "owner=a", "-p", "repo=b", "--dry-run", "--json")
    assert dry.exit_code == 0
    assert dry.stderr.splitlines() == [*expected, "warning: no github connection 'default' yet: credentials "
                                       "are placeholders"]
    assert json.loads(dry.stdout)["url"] == "https://api.github.com/repos/a/b"
    gone = run("show", "raising")
    assert gone.exit_code == 2 and "Unknown connector 'raising'" in gone.stderr

    # a plugin that fails while it runs is a fault of its package: exit 1, named, no traceback
    crash = run("invoke", "crashing", "test_connection", "--json")
    assert crash.exit_code == 1
    assert json.loads(crash.stdout) == {"success": False, "status": None, "result": None}
    assert crash.stderr.splitlines()[len(expected):] == [
        "error: The 'crashing' connector (synthral-broken 0.1.0) failed: KeyError: 'oops'.",
        "  This is a fault in the synthral-broken package; rerun with --debug for the traceback and report it "
        "to its authors.",
    ]
    tested = run("test", "crashing")
    assert tested.exit_code == 1 and "failed: KeyError: 'oops'" in tested.stderr
    preview = run("invoke", "crashing", "test_connection", "--dry-run")
    assert preview.exit_code == 1
    assert "failed: TypeError: preview() returned dict, not a PreparedRequest." in preview.stderr
    debug = run("--debug", "invoke", "crashing", "test_connection")
    assert debug.exit_code == 1 and "Traceback" in debug.stderr and "broken_plugins.py" in debug.stderr


# -- the door, and what it costs -------------------------------------------------------------------


def test_synthral_s_own_transports_come_through_the_entry_point_group(tmp_path):
    from importlib.metadata import entry_points

    from synthral_cli.actions.builtin import HttpConnector, PostgresqlConnector, SmtpConnector
    from synthral_cli.actions.registry import Registry

    own = {ep.name: ep.value for ep in entry_points(group="synthral.connectors") if ep.dist.name == "synthral"}
    assert own == {
        "http": "synthral_cli.actions.builtin:HttpConnector",
        "smtp": "synthral_cli.actions.builtin:SmtpConnector",
        "postgresql": "synthral_cli.actions.builtin:PostgresqlConnector",
    }
    registry = Registry(tmp_path)
    assert registry.problems == [] and registry.described() == []
    for name, cls in (("http", HttpConnector), ("smtp", SmtpConnector), ("postgresql", PostgresqlConnector)):
        assert registry.entry(name).dist == "synthral"
        assert type(registry.connector(name, "x")) is cls


def test_listing_with_a_plugin_imports_neither_it_nor_importlib_metadata_once_cached(acme_site, tmp_path):
    """The scan is cached: the hot path reads one small file. Editing the plugin's module (an
    editable install) or installing or removing a package invalidates it; a plugin that fails
    is reported from the cache too, without scanning again."""
    probe = textwrap.dedent(
        """
        import json, sys
        from synthral_cli.cli.main import main
        try:
            main(["connectors", "list", "--json"])
        except SystemExit as e:
            assert e.code == 0, e.code
        sys.stderr.write("@@" + json.dumps(sorted(m for m in sys.modules if m in {
            "importlib.metadata", "acme_notes", "httpx", "jsonschema", "synthral_cli.actions.builtin"})))
        """
    )
    site = tmp_path / "site"
    shutil.copytree(acme_site, site)
    env = {**os.environ, "PYTHONPATH": str(site)}

    def listing() -> tuple[list[dict], list[str], str]:
        p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        acme = [c for c in json.loads(p.stdout)["connectors"] if c["slug"] == "acme-notes"]
        warnings, _, loaded = p.stderr.rpartition("@@")
        return acme, json.loads(loaded), warnings

    first, loaded, _ = listing()
    assert "importlib.metadata" in loaded and "acme_notes" in loaded  # the scan
    second, loaded, _ = listing()
    assert second == first and loaded == []

    module = site / "acme_notes.py"
    module.write_text(module.read_text().replace("(self-hosted)", "(edited)"))
    (third,), loaded, _ = listing()
    assert third["description"] == "Read and write notes on an Acme Notes server (edited)."
    assert "acme_notes" in loaded

    module.write_text(module.read_text().replace("from typing import Any", "from typing import Any, Nonesuch"))
    gone, loaded, warnings = listing()
    assert gone == [] and "importlib.metadata" in loaded  # rescanned
    problem = ("warning: connector plugin 'acme-notes' (synthral-acme-notes 0.1.0) failed to import: "
               "ImportError: cannot import name 'Nonesuch' from 'typing'")
    assert warnings.startswith(problem) and warnings.count("\n") == 1
    again, loaded, warnings = listing()
    assert again == [] and loaded == [] and warnings.startswith(problem)  # from the cache
    module.write_text(module.read_text().replace("from typing import Any, Nonesuch", "from typing import Any"))
    fixed, loaded, warnings = listing()  # the fix is picked up
    assert fixed == [third] and warnings == ""

    module.unlink()  # "uninstalled" (its folder changes too)
    p = subprocess.run([synthral_exe(), "list", "--search", "acme notes", "--json"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert p.returncode == 0 and json.loads(p.stdout)["total_count"] == 0
    assert "connector plugin 'acme-notes' (synthral-acme-notes 0.1.0) failed to import" in p.stderr


def test_an_install_whose_metadata_predates_the_entry_points_still_has_the_builtin_transports(
    tmp_path, monkeypatch
):
    """An editable install made before synthral declared its entry points has no metadata for
    them (a fault no peer can produce here): the built-in names are used as they are."""
    import importlib.metadata

    from synthral_cli.actions import registry as reg

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [])
    monkeypatch.setattr(reg, "_memo", {})
    registry = reg.Registry(None)
    assert registry.names() == ["http", "postgresql", "smtp"] and registry.problems == []
    assert all(registry.entry(n).dist == "synthral" for n in registry.names())
    assert type(registry.connector("smtp", "smtp")).__name__ == "SmtpConnector"
