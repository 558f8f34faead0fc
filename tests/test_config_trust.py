"""Issue 14, items 3, 4 and 10: what synthral reads from disk is its own.

- The config directory and every manifest folder and file must be the user's and not writable by
  group or others (ssh's StrictModes), or the command stops with exit 5 naming the path and the
  ``chmod``/``chown`` to run: real directories, modes and owners (uid 65534), real processes.
- The catalogue cache is authenticated: an edited cache file, or one made by another install, is
  rebuilt from the manifests, never trusted.
- YAML anchors and aliases are refused in manifests and flow files, without expanding them.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from synthral_cli.catalogue.cache import MAGIC, _mac
from synthral_cli.catalogue.manifest import bundled_dir
from synthral_cli.catalogue.syntax import YAMLAliasError, _yaml_load
from tests.conftest import synthral_exe
from tests.hardening_support import PROPERTY, Counter
from tests.test_catalogue import write_manifest

NOBODY = 65534
TOKEN_URL = "https://github.com/login/oauth/access_token"


def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([synthral_exe(), *argv], env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def refused(p: subprocess.CompletedProcess[str], path: Path, what: str, fix: str) -> None:
    assert p.returncode == 5, p.stderr
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert lines[0].startswith(f"error: {what} {path} "), p.stderr
    assert lines[1].endswith(fix), p.stderr
    assert "Traceback" not in p.stderr


# Commands that read the config directory: the fast path (list, connections list), Typer
# commands that load the catalogue, and ones that open the store.
READERS = [
    ["list", "--json"],
    ["connectors", "list"],
    ["connections", "list", "--json"],
    ["show", "slack"],
    ["invoke", "stripe", "test_connection", "--dry-run"],
    ["store", "status"],
]


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_config_directory_writable_by_others_stops_every_command(config_dir, mode):
    os.chmod(config_dir, mode)
    for argv in READERS:
        refused(run(*argv), config_dir, "the config directory", f"chmod 700 {config_dir}")
    assert sorted(os.listdir(config_dir)) == []  # nothing was written into it: no cache, no store, no key


def test_a_config_directory_owned_by_someone_else_stops_every_command(config_dir):
    os.chown(config_dir, NOBODY, NOBODY)
    for argv in READERS:
        p = run(*argv)
        refused(p, config_dir, "the config directory", "otherwise move it away.")
        assert f"is owned by another user (uid {NOBODY})" in p.stderr
        assert f"chown root {config_dir}" in p.stderr
    assert os.listdir(config_dir) == []


def test_a_private_config_directory_is_fine_and_stays_private(tmp_path):
    config = tmp_path / "fresh" / "synthral"
    p = run("list", "--json", env={"SYNTHRAL_CONFIG_DIR": str(config)})
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o700
    assert stat.S_IMODE((config / "cache.key").stat().st_mode) == 0o600
    os.chmod(config, 0o755)  # readable by others is the user's choice; writable is not
    assert run("list", "--json").returncode == 0


def test_manifest_folders_must_be_private(config_dir, tmp_path):
    user = config_dir / "manifests"
    write_manifest(user, "zz-mine")
    os.chmod(user, 0o775)  # a common umask 002 mkdir
    refused(run("list", "--json"), user, "the manifest folder", f"chmod 700 {user}")
    refused(run("show", "zz-mine"), user, "the manifest folder", f"chmod 700 {user}")
    os.chmod(user, 0o755)
    assert run("show", "zz-mine").returncode == 0

    extra = tmp_path / "extra"
    write_manifest(extra, "zz-extra")
    os.chown(extra, NOBODY, NOBODY)
    env = {"SYNTHRAL_MANIFESTS_PATH": str(extra)}
    p = run("list", "--json", env=env)
    refused(p, extra, "the manifest folder", "otherwise move it away.")
    assert f"chown root {extra}" in p.stderr
    os.chown(extra, 0, 0)
    assert run("show", "zz-extra", env=env).returncode == 0


def test_manifest_files_must_be_private(config_dir):
    user = config_dir / "manifests"
    path = write_manifest(user, "zz-file")
    assert run("list", "--json").returncode == 0  # cached now: the check must not depend on the cache
    os.chmod(path, 0o666)
    refused(run("list", "--json"), path, "the manifest file", f"chmod 600 {path}")
    refused(run("invoke", "zz-file", "test_connection", "--dry-run"), path, "the manifest file",
            f"chmod 600 {path}")
    os.chmod(path, 0o644)
    os.chown(path, NOBODY, NOBODY)
    p = run("list", "--json")
    refused(p, path, "the manifest file", "otherwise move it away.")
    os.chown(path, 0, 0)
    assert run("show", "zz-file").returncode == 0


def test_symlinked_manifest_folders_are_judged_by_link_and_target(config_dir, tmp_path):
    target = tmp_path / "real"
    write_manifest(target, "zz-linked")
    link = config_dir / "manifests"
    link.symlink_to(target)
    assert json.loads(run("show", "zz-linked", "--json").stdout)["slug"] == "zz-linked"
    os.chmod(target, 0o777)
    refused(run("list", "--json"), target, "the manifest folder", f"chmod 700 {target}")
    os.chmod(target, 0o755)
    os.lchown(link, NOBODY, NOBODY)
    p = run("list", "--json")
    refused(p, link, "the manifest folder", "synthral then creates its own file.")
    assert "symlink owned by another user" in p.stderr and f"rm {link}" in p.stderr
    link.unlink()
    link.symlink_to(tmp_path / "nowhere")
    refused(run("list", "--json"), link, "the manifest folder", "or create its target first.")


# -- the cache -------------------------------------------------------------------------------------


def cache_files(config: Path, kind: str) -> list[Path]:
    return sorted((config / "cache").glob(f"catalogue-*.{kind}.json"))


def bundled_cache(config: Path, kind: str) -> Path:
    """The bundled folder's cache file (the one that holds github)."""
    return next(f for f in cache_files(config, kind) if b'"github"' in f.read_bytes())


def show_github(env: dict[str, str] | None = None) -> dict:
    p = run("show", "github", "--json", env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_an_edited_cache_file_is_rebuilt_not_trusted(config_dir):
    assert show_github()["auth"]["token_url"] == TOKEN_URL  # builds the cache
    full, index = bundled_cache(config_dir, "full"), bundled_cache(config_dir, "index")
    full.write_bytes(full.read_bytes().replace(TOKEN_URL.encode(), b"http://127.0.0.1:9/steal"))
    index.write_bytes(index.read_bytes().replace(b'"name": "GitHub"', b'"name": "GitHub (planted)"'))
    assert show_github()["auth"]["token_url"] == TOKEN_URL
    listed = json.loads(run("list", "--json").stdout)["connectors"]
    assert next(c for c in listed if c["slug"] == "github")["name"] == "GitHub"
    assert b"127.0.0.1:9" not in full.read_bytes() and b"planted" not in index.read_bytes()  # rebuilt


def forge(path: Path, key_file: Path, old: bytes, new: bytes) -> None:
    """Rewrite a cache file with a valid MAC under the key in ``key_file``."""
    payload = path.read_bytes().partition(b"\n")[2].replace(old, new)
    key = bytes.fromhex(key_file.read_text())
    path.write_bytes(MAGIC + _mac(key, payload) + b"\n" + payload)


def test_a_cache_made_by_another_install_is_not_trusted(config_dir, tmp_path):
    """An attacker's own install (or a CI cache restored from a pull request) can make a cache
    with a valid MAC under its key; another install's key does not accept it."""
    other = tmp_path / "attacker"
    env = {"SYNTHRAL_CONFIG_DIR": str(other)}
    show_github(env)
    full = bundled_cache(other, "full")
    forge(full, other / "cache.key", TOKEN_URL.encode(), b"http://127.0.0.1:9/steal")
    assert show_github(env)["auth"]["token_url"] == "http://127.0.0.1:9/steal"  # its own key accepts it
    show_github()
    (config_dir / "cache").joinpath(full.name).write_bytes(full.read_bytes())  # restored into ours
    assert show_github()["auth"]["token_url"] == TOKEN_URL


@pytest.mark.parametrize("damage", ["world-readable", "symlink", "garbage", "missing"])
def test_a_key_that_is_not_ours_and_private_is_replaced(config_dir, tmp_path, damage):
    show_github()
    key_file = config_dir / "cache.key"
    old = key_file.read_text()
    full = bundled_cache(config_dir, "full")
    forge(full, key_file, TOKEN_URL.encode(), b"http://127.0.0.1:9/steal")  # valid under the old key
    if damage == "world-readable":
        os.chmod(key_file, 0o644)
    elif damage == "symlink":
        elsewhere = tmp_path / "known.key"
        elsewhere.write_text(old)
        os.chmod(elsewhere, 0o600)
        key_file.unlink()
        key_file.symlink_to(elsewhere)
    elif damage == "garbage":
        key_file.write_text("not a key")
    else:
        key_file.unlink()
    assert show_github()["auth"]["token_url"] == TOKEN_URL
    assert not key_file.is_symlink() and key_file.read_text() != old
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_an_edit_that_restores_the_modification_time_is_seen(config_dir):
    path = write_manifest(config_dir / "manifests", "zz-touch", name="Alpha")
    assert json.loads(run("show", "zz-touch", "--json").stdout)["name"] == "Alpha"
    before = path.stat()
    path.write_text(path.read_text().replace("name: Alpha", "name: Omega"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size, same mtime
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert json.loads(run("show", "zz-touch", "--json").stdout)["name"] == "Omega"


# -- YAML aliases ---------------------------------------------------------------------------------


def laughs(levels: int, width: int = 10) -> str:
    """Nested aliases: ``width ** levels`` strings once expanded, a few hundred bytes as text."""
    lines = ['x-l0: &l0 "lol lol lol lol lol lol lol lol lol lol"']
    for i in range(1, levels + 1):
        lines.append(f"x-l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def aliased_manifest(folder: Path, slug: str, levels: int) -> Path:
    path = write_manifest(folder, slug)
    path.write_text(path.read_text() + laughs(levels))
    return path


def test_nested_aliases_are_refused_without_being_expanded(config_dir):
    user = config_dir / "manifests"
    small = aliased_manifest(user, "zz-seven-mb", 5)  # the case: it used to be cached, 7 MB
    huge = aliased_manifest(user, "zz-billion", 9)  # 10^9 strings: expanding it never ends
    assert small.stat().st_size < 4096 and huge.stat().st_size < 4096
    limit = "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
    p = subprocess.run([sys.executable, "-c", limit + "from synthral_cli.cli.main import main; main()", "list",
                        "--json"], capture_output=True, text=True, timeout=60, env=os.environ)
    assert p.returncode == 0, p.stderr
    message = "line {}: invalid YAML: anchors and aliases (&name, *name) are not allowed here; write each value out"
    line = len(small.read_text().splitlines()) - 5  # the first anchor
    assert f"warning: skipped a broken manifest: {small}: {message.format(line)}" in p.stderr
    assert f"warning: skipped a broken manifest: {huge}: {message.format(line)}" in p.stderr
    assert "zz-seven-mb" not in p.stdout
    assert sum(f.stat().st_size for f in (config_dir / "cache").iterdir()) < 2_000_000  # no 7 MB file
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 400_000  # KiB: nothing blew up

    v = run("connectors", "validate", str(small))
    assert v.returncode == 2 and f"{small}: {message.format(line)}" in v.stdout + v.stderr


def test_aliases_in_flow_files_are_refused(tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text("steps: &s\n  - {name: a, type: connector, config: {connectorType: stripe, action: x}}\n"
                    "again: *s\n")
    p = run("run", str(flow))
    assert p.returncode == 2
    assert p.stderr.startswith(f"error: {flow} is not valid JSON/YAML: line 1: anchors and aliases")


def test_bundled_manifests_have_no_aliases_and_load_as_before():
    for path in bundled_dir().glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        assert _yaml_load(text) == yaml.load(text, Loader=yaml.CSafeLoader), path  # noqa: S506


TOKENS = ["&a", "*a", "&b ", "*b", " ", "  ", "\n", "\n- ", "- ", ": ", ":", "[", "]", "{", "}", ",", '"', "'",
          "x", "k", "1", "#", "? ", "!t ", "|\n", "&", "*", "a&b", "a*b", "---\n", "\ufeff", "\t", "<<: "]


def test_every_anchor_or_alias_the_parser_sees_is_refused():
    """The cheap pre-check must never let through a document whose events hold an anchor or alias."""
    counter = Counter("test_config_trust.py::test_every_anchor_or_alias_the_parser_sees_is_refused")

    @PROPERTY
    @given(st.lists(st.sampled_from(TOKENS), max_size=30))
    def check(parts: list[str]) -> None:
        counter()
        text = "".join(parts)
        try:
            events = list(yaml.parse(text, Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            events = None
        has = events is not None and any(
            isinstance(e, yaml.AliasEvent) or getattr(e, "anchor", None) is not None for e in events
        )
        try:
            _yaml_load(text)
        except YAMLAliasError:
            assert has or events is None
            return
        except yaml.YAMLError:
            return
        assert not has, text

    check()
    counter.done(minimum=20)


def test_an_edited_plugin_scan_cache_is_scanned_again(config_dir):
    """The scan of connector plugins names the modules to import: an edit that points the http
    connector at another module (here ``this``, which prints on import) is never followed."""
    env = {"SYNTHRAL_STRIPE_TOKEN": "sk_test_scan_cache_1234"}
    first = run("invoke", "stripe", "test_connection", "--dry-run", "--json", env=env)
    assert first.returncode == 0, first.stderr
    (scan,) = (config_dir / "cache").glob("connectors-*.json")
    data = scan.read_bytes()
    assert b"synthral_cli.actions.builtin:HttpConnector" in data
    scan.write_bytes(data.replace(b"synthral_cli.actions.builtin:HttpConnector", b"this:s"))
    again = run("invoke", "stripe", "test_connection", "--dry-run", "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout and "Beautiful is better than ugly" not in again.stdout + again.stderr
    assert b"this:s" not in scan.read_bytes()  # scanned again and rewritten
