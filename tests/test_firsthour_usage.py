"""Issue 15, items 9, 11 and 12: filters that refuse what matches nothing valid, one error style,
usage lines in capitals, and the smaller things a new user notices, each driven through the
installed ``synthral`` (a pty where a terminal matters)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, synthral_exe
from tests.firsthour_support import on_terminal

CATEGORIES_HINT = (
    '  Categories (a word of one works too, e.g. crm): "Communication & Collaboration", "CRM & Sales", '
    '"Project Management", "File Storage & Cloud", "E-commerce & Payments", "Social Media", '
    '"Analytics & Data", "Development & Code", "AI & Machine Learning", "Productivity & Notes", '
    '"Calendar & Scheduling", "Payments".\n'
)


# -- item 9: filters -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["list"], ["connectors", "list", "--json"]])
def test_an_unknown_category_or_status_exits_2_naming_the_valid_ones(sh, command):
    r = sh(*command, "--category", "comunication")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == "error: No category 'comunication'. Did you mean 'communication'?\n" + CATEGORIES_HINT
    r = sh(*command, "--status", "production")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == "error: No status 'production'.\n  Statuses: alpha, beta, stable, deprecated.\n"
    r = sh(*command, "--status", "Stabel")
    assert r.stderr.splitlines()[0] == "error: No status 'Stabel'. Did you mean 'stable'?"


def test_repeating_category_selects_the_union(sh):
    def slugs(*args: str) -> list[str]:
        r = sh("connectors", "list", "--json", *args)
        assert r.exit_code == 0, r.stderr
        return [c["slug"] for c in json.loads(r.stdout)["connectors"]]

    crm, social = slugs("--category", "crm"), slugs("--category", "social media")
    assert crm and social and not set(crm) & set(social)
    assert slugs("--category", "crm", "--category", "social media") == sorted(crm + social)
    bad = sh("connectors", "list", "--category", "crm", "--category", "nonsense-x")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: No category 'nonsense-x'.")


# -- item 11: usage lines, help and one error style --------------------------------------------------


def _command_paths() -> list[list[str]]:
    from typer.main import get_command

    from synthral_cli.cli.app import app

    out: list[list[str]] = []

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            out.append(path)

    walk(get_command(app), [])
    return out


def test_every_usage_line_names_arguments_in_capitals(cli):
    paths = _command_paths()
    assert ["invoke"] in paths and ["connectors", "validate"] in paths
    for path in paths:
        r = cli(*path, "--help")
        assert r.exit_code == 0, path
        usage = r.stdout.splitlines()[0]
        assert usage.startswith(f"Usage: synthral {' '.join(path)} "), usage
        assert not re.search(r"[{}<>]|:\w", usage), usage  # no {slug}, <str> or shell:<...>
        assert "<str>" not in r.stdout and "╭" not in r.stdout, path
        assert "(default: default)" not in r.stdout, path


def test_invoke_help_on_the_installed_command(sh):
    r = sh("invoke", "--help", env={"COLUMNS": "80"})
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "Usage: synthral invoke [OPTIONS] SLUG [ACTION]"
    at = lines.index("  -c, --connection NAME    Which account of this connector.  [default:")
    assert lines[at + 1] == "                           default]"
    assert "  -p, --param KEY=VALUE    KEY=VALUE (typed by the action), KEY:=JSON (raw" in lines


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["invoke", "stripe", "x", "--jsn"],
         "error: No such option: --jsn (Possible options: --json).\n"
         "  Usage: synthral invoke [OPTIONS] SLUG [ACTION]  (more: synthral invoke --help)\n"),
        (["frob"],
         "error: No such command 'frob'.\n"
         "  Usage: synthral [OPTIONS] COMMAND [ARGS]...  (more: synthral --help)\n"),
        (["list", "--bogus"],
         "error: No such option: --bogus.\n"
         "  Usage: synthral list [OPTIONS]  (more: synthral list --help)\n"),
        (["completion", "tcsh"],
         "error: Invalid value for 'SHELL': 'tcsh' is not one of 'bash', 'zsh', 'fish'.\n"
         "  Usage: synthral completion [OPTIONS] SHELL  (more: synthral completion --help)\n"),
        (["request", "stripe", "GET", "/v1/x", "--retries", "11"],
         "error: Invalid value for '--retries': 11 is not in the range 0<=x<=10.\n"
         "  Usage: synthral request [OPTIONS] SLUG METHOD PATH  (more: synthral request --help)\n"),
    ],
)
def test_usage_errors_are_error_lines_with_a_hint(sh, args, expected):
    r = sh(*args)
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", expected)


def test_show_in_capitals_gets_a_suggestion(sh):
    r = sh("show", "SLACK")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        "error: Unknown connector 'SLACK'. Did you mean 'slack'?\n  See them all with: synthral connectors list\n"
    )


# -- validate: everything in one pass ------------------------------------------------------------


def test_validate_reports_schema_and_url_problems_in_one_pass(sh, tmp_path):
    from tests.firsthour_support import DEMO

    path = tmp_path / "zz-demo.yaml"
    path.write_text(DEMO.replace("category: Analytics & Data", "category: Nonsense").replace(
        "base_url: https://api.example.com/v1", "base_url: http://api.example.com/v1"))
    r = sh("connectors", "validate", str(path))
    assert (r.exit_code, r.stdout) == (2, "")
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"{path}: category: 'Nonsense' is not one of ")
    assert lines[1:] == [
        f"{path}: base_url: must be an https:// URL (plain http only for loopback)",
        "error: 2 problems in 1 file.",
        "  Fix the fields named above; the schema is synthral_cli/catalogue/schema/manifest-v1.json.",
    ]


def test_validate_of_a_missing_path_says_so(sh, tmp_path):
    r = sh("connectors", "validate", str(tmp_path / "nope.yaml"))
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        f"{tmp_path / 'nope.yaml'}: (file): no such file or directory\n"
        f"error: 1 path not found: {tmp_path / 'nope.yaml'}.\n"
        "  Pass manifest files (.yaml) or folders that hold them.\n"
    )


# -- -p and --with-token take each value once -------------------------------------------------------


def test_a_repeated_scalar_parameter_is_an_error(sh):
    r = sh("invoke", "stripe", "get_customer", "-p", "customer_id=cus_1", "-p", "customer_id=cus_2", "--dry-run",
           env={"SYNTHRAL_STRIPE_TOKEN": "sk_test_firsthour"})
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        "error: -p customer_id is given more than once; customer_id takes one value.\n"
        "  Pass it once; only array parameters repeat.\n"
    )


def test_extra_with_token_lines_are_errors_and_nothing_is_stored(sh):
    r = sh("authorize", "stripe", "--with-token", input="sk_test_first\nsk_test_second\n")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        "error: --with-token read 2 lines; stripe takes one (api_key).\n  Pipe only the api_key, on one line.\n"
    )
    r = sh("authorize", "smtp", "--with-token", input="host=a.example.com\nhost=b.example.com\n")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr.splitlines()[0] == "error: --with-token read host twice."
    listed = json.loads(sh("connections", "list", "--json").stdout)
    assert listed["total_count"] == 0


def test_request_uses_the_connectors_body_encoding(sh):
    env = {"SYNTHRAL_STRIPE_TOKEN": "sk_test_firsthour", "SYNTHRAL_GITHUB_TOKEN": "ghp_firsthour0000"}
    r = sh("request", "stripe", "POST", "/v1/customers", "-p", "email=ada@example.com", "-p", "name=Ada",
           "--dry-run", env=env)
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout.endswith("Content-Type: application/x-www-form-urlencoded\n\nemail=ada%40example.com&name=Ada\n")
    r = sh("request", "github", "POST", "/user/repos", "-p", "name=x", "--dry-run", env=env)
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout.endswith('Content-Type: application/json\n\n{"name":"x"}\n')


# -- completion of -p names ----------------------------------------------------------------------


def _complete(shell: str, line: str) -> list[str]:
    env = dict(os.environ, _SYNTHRAL_COMPLETE=f"complete_{shell}")
    if shell == "bash":
        words = line.split(" ")
        env.update(COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    else:
        env.update(_TYPER_COMPLETE_ARGS=line, _TYPER_COMPLETE_FISH_ACTION="get-args")
    p = subprocess.run([synthral_exe()], env=env, capture_output=True, text=True, timeout=30)
    assert (p.returncode, p.stderr) == (0, "")
    return p.stdout.split()


def test_parameter_names_complete_in_bash_zsh_and_fish():
    assert _complete("bash", "synthral invoke slack send_message -p ch") == ["channel="]
    assert _complete("bash", "synthral invoke slack send_message -p channel=C1 --param t") == ["text=", "thread_ts="]
    assert _complete("zsh", "synthral invoke box search -p q") == ["_arguments", "'*:", ':(("query="))\'']
    assert _complete("fish", "synthral invoke box search -p type=f") == ["type=file", "type=folder"]
    assert _complete("fish", "synthral invoke box search -p ") == [
        "query=", "type=", "file_extensions=", "ancestor_folder_ids=", "limit=", "offset="]


def test_parameter_names_complete_in_a_real_bash(tmp_path):
    script = REPO / "completions" / "synthral.bash"
    program = f"""
        source {script}
        COMP_WORDS=(synthral invoke slack send_message -p ch)
        COMP_CWORD=5
        _synthral_completion synthral
        printf '%s\\n' "${{COMPREPLY[@]}}"
        compopt 2>/dev/null | grep -o nospace || true
    """
    env = dict(os.environ, PATH=str(Path(synthral_exe()).parent) + os.pathsep + os.environ["PATH"])
    p = subprocess.run(["bash", "-c", program], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[0] == "channel="


# -- connections list, the store, the config directory ---------------------------------------------


def test_empty_connections_list_suggests_authorize_and_creates_no_store(sh, config_dir):
    r = sh("connections", "list")
    assert (r.exit_code, r.stdout) == (0, "SLUG\tCONNECTION\tMETHOD\tSCOPES\tEXPIRES\tHEALTH\tSOURCE\n")
    assert r.stderr == (
        "No connections yet. Connect one with: synthral authorize SLUG (slugs: synthral connectors list)\n"
    )
    assert json.loads(sh("connections", "list", "--json").stdout) == {"connections": [], "total_count": 0}
    status = sh("store", "status", "--json")
    assert status.exit_code == 0 and json.loads(status.stdout)["connection_count"] == 0
    assert "(not created yet)" in sh("store", "status").stdout
    assert not (config_dir / "store.db").exists()
    assert sh("authorize", "stripe", "--with-token", input="sk_test_firsthour\n").exit_code == 0
    assert (config_dir / "store.db").exists()
    assert "(not created yet)" not in sh("store", "status").stdout


def test_a_config_directory_others_can_read_is_reported(sh, config_dir):
    assert sh("list", "--json").stderr == ""
    config_dir.chmod(0o750)
    for args in (["list", "--json"], ["connections", "list", "--json"], ["show", "slack", "--json"]):
        r = sh(*args)
        assert r.exit_code == 0
        assert r.stderr == (
            f"warning: the config directory {config_dir} has mode 750: others can look into it; "
            f"synthral keeps it private (700). Run: chmod 700 {config_dir}\n"
        )


# -- item 12: the README says first that OAuth needs your own app ------------------------------------


def test_readme_quick_start_says_oauth_needs_your_own_app(sh):
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first = quick.split("```", 1)[0]  # before the first command
    assert "OAuth connectors need your own OAuth app" in first and "redirect URI" in first
    assert "synthral configure slack --client-id" in quick
    claimed = re.search(r"# (redirect uri: .*)", quick).group(1)
    shown = sh("show", "slack").stdout.splitlines()
    assert f"{claimed}: register it in your OAuth app" in shown
    # and the error a newcomer meets names the same URI
    r = sh("authorize", "slack", "--no-browser")
    assert r.exit_code == 2 and "redirect URI http://localhost/callback (any port)" in r.stderr
    assert "Nango" not in r.stderr  # nobody asked for Nango


# -- run --json and --debug against httpbin ----------------------------------------------------------


def test_run_json_is_compact_when_piped_and_indented_on_a_terminal(sh, httpbin, tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text(yaml.safe_dump({"steps": [
        {"name": "echo", "type": "http_request", "config": {"url": f"{httpbin.url}/get", "params": {"q": "1"}}}]}))
    r = sh("run", str(flow), "--json")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.count("\n") == 1 and json.loads(r.stdout)["steps"][0]["output"]["data"]["args"] == {"q": "1"}
    shown = on_terminal("run", str(flow), "--json", columns=80)
    assert shown.exit_code == 0
    assert shown.screen.startswith('{\n  "success": true,\n')


def test_debug_logs_the_request_line_and_masked_headers(sh, httpbin, config_dir):
    folder = config_dir / "manifests"
    folder.mkdir(mode=0o700)
    (folder / "zz-bin.yaml").write_text(f"""\
schema_version: 1
slug: zz-bin
name: Bin
category: Development & Code
status: beta
version: 0.1.0
description: httpbin.
docs_url: https://example.com/docs
base_url: {httpbin.url}
auth: {{type: bearer}}
nango: {{enabled: false, provider_key: null}}
actions:
  - {{name: test_connection, description: Echo., method: GET, path: /get}}
""")
    secret = "zz-bin-secret-token-4242"
    r = sh("--debug", "test", "zz-bin", env={"SYNTHRAL_ZZ_BIN_TOKEN": secret})
    assert r.exit_code == 0, r.stderr
    logged = [line.removeprefix("debug: synthral.http: ") for line in r.stderr.splitlines()
              if line.startswith("debug: synthral.http: ")]
    assert logged[0] == f"> GET {httpbin.url}/get"
    assert "> authorization: Bearer ***" in logged
    assert "< HTTP/1.1 200 OK" in logged
    assert secret not in r.stderr
    assert "httpcore" not in r.stderr and "connect_tcp" not in r.stderr
