"""Issue 2: the catalogue commands, manifest loading, validation and the error model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from synthral_cli.catalogue.manifest import CATEGORIES, SUMMARY_KEYS, bundled_dir

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """\
schema_version: 1
slug: {slug}
name: {name}
category: {category}
status: beta
version: 0.1.0
description: {description}
docs_url: https://example.com/docs
base_url: https://api.example.com
auth:
  type: api_key
  fields: [{{name: api_key, label: API key}}]
  inject: [{{in: header, name: X-Api-Key, value: "{{api_key}}"}}]
nango: {{enabled: false, provider_key: null}}
actions:
  - name: test_connection
    description: Who am I.
    method: GET
    path: /me
  - name: get_thing
    description: Get one thing.
    method: GET
    path: /things/{{thing_id}}
    parameters:
      - {{name: thing_id, in: path, type: string, required: true, description: The thing.}}
"""


def write_manifest(folder: Path, slug: str, **kw: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    values = {"slug": slug, "name": slug.title(), "category": "Analytics & Data", "description": "A test API."}
    values.update(kw)
    path = folder / f"{slug}.yaml"
    path.write_text(MINIMAL.format(**values))
    return path


# -- list ---------------------------------------------------------------------------------------


def test_list_json_shape_matches_contract(cli):
    r = cli("connectors", "list", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == {"connectors", "total_count"}
    assert data["total_count"] == len(data["connectors"]) > 0
    for c in data["connectors"]:
        assert tuple(c) == SUMMARY_KEYS
        assert c["category"] in CATEGORIES
        assert c["auth_type"] in {"oauth2", "api_key", "basic", "bearer", "custom", "none"}
    slugs = [c["slug"] for c in data["connectors"]]
    assert slugs == sorted(slugs)
    assert "slack" in slugs
    assert r.stderr == ""


def test_list_alias_is_the_same_command(cli):
    assert cli("list", "--json").stdout == cli("connectors", "list", "--json").stdout


def test_list_filters(cli, config_dir):
    user = config_dir / "manifests"
    write_manifest(user, "zz-alpha", category="CRM & Sales", description="Knows the Zebra API.")
    write_manifest(user, "zz-beta", category="Payments", name="Quux Pay")

    def slugs(*args: str) -> list[str]:
        r = cli("connectors", "list", "--json", *args)
        assert r.exit_code == 0, r.stderr
        return [c["slug"] for c in json.loads(r.stdout)["connectors"]]

    assert "zz-alpha" in slugs("--category", "crm & SALES")
    assert "zz-alpha" in slugs("--category", "crm")
    assert "zz-beta" not in slugs("--category", "crm")
    assert slugs("--search", "zebra") == ["zz-alpha"]  # description
    assert slugs("--search", "QUUX") == ["zz-beta"]  # name
    assert "zz-beta" in slugs("--search", "zz-b")  # slug
    assert set(slugs("--status", "beta")) >= {"zz-alpha", "zz-beta"}
    assert "slack" not in slugs("--status", "beta")
    assert cli("connectors", "list", "--json", "--category", "no such category").exit_code == 2  # issue 15.9


def test_list_table_when_piped_is_plain_text(cli):
    r = cli("list")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].split("\t")[:2] == ["SLUG", "NAME"]
    assert any(line.startswith("slack\t") for line in lines)


# -- show / actions -----------------------------------------------------------------------------


def test_show_json(cli):
    r = cli("show", "slack", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["slug"] == "slack"
    assert data["auth"]["type"] == "oauth2"
    assert data["auth"]["authorization_url"].startswith("https://")
    assert data["nango"]["provider_key"] == "slack"
    names = [a["name"] for a in data["actions"]]
    assert "test_connection" in names and "send_message" in names
    send = next(a for a in data["actions"] if a["name"] == "send_message")
    channel = next(p for p in send["parameters"] if p["name"] == "channel")
    assert channel == {
        "name": "channel",
        "in": "body",
        "type": "string",
        "required": True,
        "description": channel["description"],
    }
    assert cli("connectors", "show", "slack", "--json").stdout == r.stdout


def test_show_human(cli):
    r = cli("show", "slack")
    assert r.exit_code == 0
    assert "send_message" in r.stdout and "https://slack.com/oauth/v2/authorize" in r.stdout


def test_actions(cli):
    r = cli("connectors", "actions", "slack", "--json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["connector_slug"] == "slack"
    assert {a["name"] for a in data["actions"]} >= {"send_message", "update_message", "add_reaction"}
    r = cli("connectors", "actions", "slack")
    assert "add_reaction" in r.stdout


@pytest.mark.parametrize("command", [["show"], ["connectors", "show"], ["connectors", "actions"]])
def test_unknown_slug_exits_2_with_suggestion(cli, command):
    r = cli(*command, "slak")
    assert r.exit_code == 2
    assert r.stdout == ""
    first, second = r.stderr.splitlines()
    assert first.startswith("error: Unknown connector 'slak'. Did you mean 'slack'")
    assert second == "  See them all with: synthral connectors list"


# -- loading order, broken user manifests --------------------------------------------------------


def test_user_manifest_replaces_bundled_one(cli, config_dir):
    write_manifest(config_dir / "manifests", "slack", name="My Slack")
    data = json.loads(cli("show", "slack", "--json").stdout)
    assert data["name"] == "My Slack"
    assert data["source"] == str(config_dir / "manifests" / "slack.yaml")


def test_manifests_path_wins_over_config_dir(cli, config_dir, tmp_path, monkeypatch):
    write_manifest(config_dir / "manifests", "zz-mine", name="From config")
    a, b = tmp_path / "a", tmp_path / "b"
    write_manifest(a, "zz-mine", name="From A")
    write_manifest(b, "zz-mine", name="From B")
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", os.pathsep.join([str(a), str(b)]))
    assert json.loads(cli("show", "zz-mine", "--json").stdout)["name"] == "From B"


def test_broken_user_manifest_is_reported_and_skipped(cli, config_dir):
    user = config_dir / "manifests"
    write_manifest(user, "zz-good")
    bad = write_manifest(user, "zz-bad")
    bad.write_text(bad.read_text().replace("method: GET\n    path: /me", "method: FETCH\n    path: /me"))
    (user / "zz-worse.yaml").write_text("slug: [unclosed\n")
    r = cli("connectors", "list", "--json")
    assert r.exit_code == 0
    slugs = [c["slug"] for c in json.loads(r.stdout)["connectors"]]
    assert "zz-good" in slugs and "zz-bad" not in slugs and "slack" in slugs
    assert f"{bad}: actions[test_connection].method: 'FETCH' is not one of" in r.stderr
    assert f"{user / 'zz-worse.yaml'}: line 2: invalid YAML" in r.stderr
    assert r.stderr.count("warning: skipped a broken manifest") == 2


def test_cache_is_invalidated_when_a_file_changes(cli, config_dir):
    path = write_manifest(config_dir / "manifests", "zz-cached", name="First")
    assert json.loads(cli("show", "zz-cached", "--json").stdout)["name"] == "First"
    assert list((config_dir / "cache").glob("catalogue-*.index.json"))
    path.write_text(path.read_text().replace("name: First", "name: Second, longer"))
    assert json.loads(cli("show", "zz-cached", "--json").stdout)["name"] == "Second, longer"
    path.unlink()
    assert cli("show", "zz-cached").exit_code == 2


def test_a_corrupt_cache_is_rebuilt(cli, config_dir):
    cli("list", "--json")
    for f in (config_dir / "cache").glob("*.json"):
        f.write_text("{not json")
    r = cli("show", "slack", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["slug"] == "slack"


# -- validate -----------------------------------------------------------------------------------


def test_validate_bundled_manifests(cli):
    r = cli("connectors", "validate", str(bundled_dir()))
    assert r.exit_code == 0, r.stderr
    assert re.fullmatch(r"\d+ manifests valid\.", r.stderr.strip())


def test_validate_names_every_problem_with_file_and_field(cli, tmp_path):
    path = write_manifest(tmp_path, "zz-broken")
    text = path.read_text()
    text = text.replace("category: Analytics & Data", "category: Nonsense")
    text = text.replace("path: /things/{thing_id}", "path: /things/{thing}")
    path.write_text(text)
    r = cli("connectors", "validate", str(path))
    assert r.exit_code == 2
    assert f"{path}: category: 'Nonsense' is not one of" in r.stderr
    # issue 15.11: the semantic problems in the same pass as the schema's
    assert f"{path}: actions[get_thing].path: {{thing}} has no parameter with in: path" in r.stderr
    assert "error: 3 problems in 1 file." in r.stderr
    path.write_text(text.replace("category: Nonsense", "category: Payments"))
    r = cli("connectors", "validate", str(path))
    assert r.exit_code == 2
    lines = [line for line in r.stderr.splitlines() if line.startswith(str(path))]
    assert lines == [
        f"{path}: actions[get_thing].path: {{thing}} has no parameter with in: path",
        f"{path}: actions[get_thing].parameters[thing_id]: in: path but the path has no {{thing_id}}",
    ]
    assert "error: 2 problems in 1 file." in r.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("base_url: https://api.example.com", "base_url: http://api.example.com"),
         "base_url: must be an https:// URL"),
        (("base_url: https://api.example.com", "base_url: https://{tenant}.example.com"),
         "base_url: {tenant} is not a connection_config variable"),
        (("name: test_connection", "name: whoami"), "actions: every connector needs a test_connection action"),
        (("slug: zz-x", "slug: Not A Slug"), "slug: 'Not A Slug' does not match"),
        (("actions:", "actionz:"), "(top): unknown field 'actionz'. Did you mean 'actions'?"),
    ],
)
def test_validate_rejects(cli, tmp_path, edit, expected):
    path = write_manifest(tmp_path, "zz-x")
    path.write_text(path.read_text().replace(*edit))
    r = cli("connectors", "validate", str(path))
    assert r.exit_code == 2
    assert expected in r.stderr


def test_validate_missing_file(cli, tmp_path):
    r = cli("connectors", "validate", str(tmp_path / "nope.yaml"))
    assert r.exit_code == 2
    assert "nope.yaml: (file): no such file or directory" in r.stderr


def test_loopback_http_is_allowed_for_local_servers(cli, tmp_path):
    path = write_manifest(tmp_path, "zz-local")
    path.write_text(path.read_text().replace("https://api.example.com", "http://127.0.0.1:8080"))
    assert cli("connectors", "validate", str(path)).exit_code == 0


# -- errors, help, version ----------------------------------------------------------------------


def test_unexpected_error_is_one_line_without_debug(cli, monkeypatch):
    from synthral_cli import api as core

    def boom(self, **kw):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(core.Synthral, "connectors", boom)
    r = cli("list", "--json", "--status", "stable")
    assert r.exit_code == 70
    assert r.stderr.splitlines() == [
        "error: unexpected error: RuntimeError: kaboom",
        "  This is a bug in synthral; rerun with --debug for the traceback and report it.",
    ]
    r = cli("list", "--json", "--status", "stable", "--debug")
    assert r.exit_code == 70
    assert "Traceback (most recent call last)" in r.stderr


def test_debug_shows_traceback_for_synthral_errors(cli):
    r = cli("--debug", "show", "nope-nope")
    assert r.exit_code == 2
    assert "Traceback" in r.stderr and "UsageError" in r.stderr


def test_every_command_has_help_with_an_example(cli):
    from typer.main import get_command

    from synthral_cli.cli.app import app

    root = get_command(app)

    def walk(cmd, path):
        sub = getattr(cmd, "commands", None)
        if sub:
            for name, child in sub.items():
                yield from walk(child, [*path, name])
        else:
            yield path, cmd

    for path, cmd in walk(root, []):
        r = cli(*path, "--help")
        assert r.exit_code == 0, path
        assert cmd.help, f"{' '.join(path)} has no help"
        assert "Example:" in cmd.help or (cmd.help or "").startswith("Same as"), path


def test_version(cli, sh):
    from synthral_cli import __version__

    assert cli("--version").stdout == f"synthral {__version__}\n"
    assert sh("--version").stdout == f"synthral {__version__}\n"


# -- subprocess ---------------------------------------------------------------------------------


def test_subprocess_and_python_m_behave_the_same(sh):
    a = sh("connectors", "list", "--json")
    b = subprocess.run(
        [sys.executable, "-m", "synthral_cli", "connectors", "list", "--json"],
        capture_output=True, text=True, env=os.environ,
    )
    assert a.exit_code == b.returncode == 0
    assert a.stdout == b.stdout
    bad = sh("show", "slak")
    assert bad.exit_code == 2 and bad.stdout == "" and "Did you mean 'slack'" in bad.stderr


def test_catalogue_commands_do_not_import_heavy_libraries(config_dir):
    probe = textwrap.dedent(
        """
        import json, sys
        from synthral_cli.cli.app import main
        for argv in (["connectors", "list", "--json"], ["show", "slack", "--json"], ["list"]):
            try:
                main(argv)
            except SystemExit as e:
                assert e.code in (0, None), e.code
        sys.stderr.write(json.dumps(sorted(m for m, mod in sys.modules.items() if mod is not None)))
        """
    )
    # twice: the first run builds the cache (that path may parse YAML), the second is the hot path
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=os.environ)
        assert p.returncode == 0, p.stderr
    loaded = {m.split(".")[0] for m in json.loads(p.stderr)}
    assert not loaded & {"httpx", "authlib", "cryptography", "sqlite_utils", "pydantic", "yaml", "jsonschema"}


# -- the fast entry path ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["connectors", "list", "--json"],
        ["list", "--json", "--category", "crm"],
        ["list", "--search=slack", "--json"],
        ["list", "--status", "stable"],
        ["connectors", "list"],
        ["--version"],
        ["connections", "list"],
        ["connections", "list", "--json"],
    ],
)
def test_fast_path_matches_the_typer_command(argv, cli, capsys):
    from synthral_cli.cli.main import fast_path

    code = fast_path(argv)
    fast = capsys.readouterr()
    assert code == 0
    typer_result = cli(*argv)
    assert typer_result.exit_code == 0
    assert fast.out == typer_result.stdout
    assert fast.err == typer_result.stderr


@pytest.mark.parametrize(
    "argv",
    [["list", "--help"], ["list", "--category"], ["list", "--json", "--json-x"], ["list", "extra"],
     ["list", "--search", "a", "--search", "b"], ["show", "slack"], ["--version", "x"], [],
     ["connections", "list", "--help"], ["connections", "list", "--json", "x"]],
)
def test_fast_path_leaves_everything_else_to_typer(argv):
    from synthral_cli.cli.main import fast_path

    assert fast_path(argv) is None


def test_fast_path_reports_broken_user_manifests_like_typer(config_dir, sh):
    write_manifest(config_dir / "manifests", "zz-bad").write_text("slug: [\n")
    r = sh("list", "--json")
    assert r.exit_code == 0
    assert "warning: skipped a broken manifest" in r.stderr and "zz-bad.yaml" in r.stderr


def test_piped_listing_joins_rendered_summaries_exactly_as_print_json_would(cli, config_dir):
    from synthral_cli.api import Synthral

    write_manifest(config_dir / "manifests", "zz-unicode", name="Ünïcode ✓", description='Quotes " and \\ too.')
    r = cli("connectors", "list", "--json")
    assert r.exit_code == 0
    found = Synthral().connectors()
    assert r.stdout == json.dumps({"connectors": found, "total_count": len(found)}, ensure_ascii=False) + "\n"
    assert json.loads(r.stdout)["connectors"] == found


def test_a_truncated_cache_index_is_rebuilt(cli, config_dir):
    write_manifest(config_dir / "manifests", "zz-one")
    first = cli("list", "--json").stdout
    for f in (config_dir / "cache").glob("*.index.json"):
        lines = f.read_text().split("\n")
        f.write_text("\n".join(lines[:-1]))  # one summary short of the header's slugs
    assert cli("list", "--json").stdout == first


@pytest.mark.parametrize("umask", [0o000, 0o022])
def test_directories_synthral_creates_are_owner_only_whatever_the_umask(tmp_path, umask):
    """The first command may be a catalogue one (it writes the cache): the config directory it
    creates must already be private, before any store exists."""
    config = tmp_path / "a" / "b" / "synthral"
    env = {**os.environ, "SYNTHRAL_CONFIG_DIR": str(config), "SYNTHRAL_STORE_KEY": ""}
    script = f"import os, sys; os.umask({umask}); from synthral_cli.cli.main import main; main(sys.argv[1:])"
    for argv, stdin in ((["list", "--json"], None), (["authorize", "stripe", "--with-token"], "sk_test_perm1\n")):
        p = subprocess.run([sys.executable, "-c", script, *argv], env=env, input=stdin, capture_output=True,
                           text=True)
        assert p.returncode == 0, p.stderr
    for d in (tmp_path / "a", tmp_path / "a" / "b", config, config / "cache"):
        assert oct(d.stat().st_mode & 0o777) == oct(0o700), d
    for f in [*config.glob("store*"), *(config / "cache").iterdir()]:
        assert oct(f.stat().st_mode & 0o777) == oct(0o600), f
