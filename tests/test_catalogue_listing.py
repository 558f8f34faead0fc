"""The cached catalogue listing (issue 21): ``connectors list --json`` is served from one
authenticated file keyed on every manifest folder's files, and never serves a stale manifest.

Each test runs the installed ``synthral`` (the fast entry path a script runs) against a hermetic
config directory, at least twice where the second run is the one served from the cache."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from synthral_cli.catalogue.cache import MAGIC, _mac
from tests.conftest import synthral_exe
from tests.test_catalogue import write_manifest


def listed(sh) -> dict[str, dict]:
    r = sh("connectors", "list", "--json")
    assert r.exit_code == 0, r.stderr
    return {c["slug"]: c for c in json.loads(r.stdout)["connectors"]}


def cache_files(config: Path, kind: str) -> list[Path]:
    return sorted((config / "cache").glob(f"catalogue-*.{kind}.json"))


def test_an_in_place_edit_of_the_same_size_shows_on_the_next_listing(sh, config_dir):
    path = write_manifest(config_dir / "manifests", "zz-edited", name="Alpha")
    assert listed(sh)["zz-edited"]["name"] == "Alpha"
    assert listed(sh)["zz-edited"]["name"] == "Alpha"  # served from the listing file
    before = path.stat()
    with open(path, "r+", encoding="utf-8") as f:  # same inode, same size, mtime put back
        text = f.read()
        f.seek(0)
        f.write(text.replace("name: Alpha", "name: Omega"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert listed(sh)["zz-edited"]["name"] == "Omega"  # the change time gave it away
    assert listed(sh)["zz-edited"]["name"] == "Omega"


def test_added_and_removed_manifests_show_on_the_next_listing(sh, config_dir, tmp_path):
    extra = tmp_path / "extra"
    write_manifest(extra, "zz-first")
    env = {"SYNTHRAL_MANIFESTS_PATH": str(extra)}
    for _ in range(2):
        r = sh("connectors", "list", "--json", env=env)
        assert "zz-first" in r.stdout and "zz-second" not in r.stdout
    write_manifest(extra, "zz-second", description="Added after the listing was cached.")
    r = sh("connectors", "list", "--json", env=env)
    found = {c["slug"]: c for c in json.loads(r.stdout)["connectors"]}
    assert found["zz-second"]["description"] == "Added after the listing was cached."
    (extra / "zz-first.yaml").unlink()
    r = sh("connectors", "list", "--json", env=env)
    slugs = [c["slug"] for c in json.loads(r.stdout)["connectors"]]
    assert "zz-first" not in slugs and "zz-second" in slugs
    assert json.loads(r.stdout)["total_count"] == len(slugs)
    # and without the folder, the bundled catalogue alone again
    assert "zz-second" not in sh("connectors", "list", "--json").stdout


def test_a_cached_listing_reads_neither_the_folder_indexes_nor_the_manifests(sh, config_dir):
    write_manifest(config_dir / "manifests", "zz-listed")
    first = sh("connectors", "list", "--json")
    for kind in ("index", "origins", "full"):
        assert cache_files(config_dir, kind)
        for f in cache_files(config_dir, kind):
            f.unlink()
    again = sh("connectors", "list", "--json")
    assert (again.exit_code, again.stdout, again.stderr) == (first.exit_code, first.stdout, first.stderr)
    assert not cache_files(config_dir, "index")  # nothing was read, so nothing was rebuilt
    assert json.loads(sh("show", "zz-listed", "--json").stdout)["slug"] == "zz-listed"
    assert cache_files(config_dir, "index")  # show needs the folder's index: rebuilt


def test_an_edited_listing_file_is_rebuilt_not_trusted(sh, config_dir):
    honest = sh("connectors", "list", "--json").stdout
    (listing,) = cache_files(config_dir, "listing")
    listing.write_bytes(listing.read_bytes().replace(b'"name": "GitHub"', b'"name": "GitHub (planted)"'))
    assert sh("connectors", "list", "--json").stdout == honest
    assert b"planted" not in listing.read_bytes()


def test_a_listing_file_of_other_folders_is_not_served(sh, config_dir, tmp_path):
    """A listing file with a valid MAC but made for other files (its key) is rebuilt: here one
    made for an older state of the same folder, restored over the current one."""
    path = write_manifest(config_dir / "manifests", "zz-restored", name="Old")
    sh("connectors", "list", "--json")
    (listing,) = cache_files(config_dir, "listing")
    old = listing.read_bytes()
    path.write_text(path.read_text().replace("name: Old", "name: New"))
    assert listed(sh)["zz-restored"]["name"] == "New"
    listing.write_bytes(old)
    assert listed(sh)["zz-restored"]["name"] == "New"


def test_a_forged_listing_with_a_valid_mac_is_what_the_key_protects(sh, config_dir):
    """The MAC is the only thing between the listing file and stdout: one forged with our key is
    served (so the key must stay private, ``test_config_trust``), one with a wrong MAC is not."""
    honest = sh("connectors", "list", "--json").stdout
    (listing,) = cache_files(config_dir, "listing")
    payload = listing.read_bytes().partition(b"\n")[2].replace(b'"name": "GitHub"', b'"name": "GitHub (forged)"')
    listing.write_bytes(MAGIC + _mac(b"\0" * 32, payload) + b"\n" + payload)
    assert sh("connectors", "list", "--json").stdout == honest
    key = bytes.fromhex((config_dir / "cache.key").read_text())
    listing.write_bytes(MAGIC + _mac(key, payload) + b"\n" + payload)
    assert "GitHub (forged)" in sh("connectors", "list", "--json").stdout


def test_problems_and_replaced_connectors_are_announced_from_the_cache_too(sh, config_dir):
    user = config_dir / "manifests"
    write_manifest(user, "zz-bad").write_text("slug: [\n")
    write_manifest(user, "slack", name="My Slack")
    first = sh("connectors", "list", "--json")
    assert "warning: skipped a broken manifest" in first.stderr and "zz-bad.yaml" in first.stderr
    assert f"slack comes from {user / 'slack.yaml'}, which replaces the bundled slack connector" in first.stderr
    assert cache_files(config_dir, "notes")
    second = sh("connectors", "list", "--json")
    assert (second.stdout, second.stderr) == (first.stdout, first.stderr)
    assert json.loads(second.stdout)["connectors"][[c["slug"] for c in json.loads(second.stdout)["connectors"]].index(
        "slack")]["name"] == "My Slack"


def test_a_listing_to_a_stdout_that_is_not_utf8_is_the_same_text(config_dir, tmp_path):
    """The cached listing goes to stdout as bytes only when stdout writes UTF-8; otherwise it is
    written as text, so ``PYTHONIOENCODING`` is obeyed as before."""
    write_manifest(config_dir / "manifests", "zz-unicode", name="Ünïcode ✓")
    env = {**os.environ}

    def run(encoding: str | None) -> bytes:
        e = dict(env)
        if encoding:
            e["PYTHONIOENCODING"] = encoding
        p = subprocess.run([synthral_exe(), "connectors", "list", "--json"], capture_output=True, env=e, check=True)
        return p.stdout

    utf8 = run("utf-8")
    assert run("utf-8") == utf8  # cached
    assert run("utf-16").decode("utf-16") == utf8.decode("utf-8")
    assert run("utf-8") == utf8
