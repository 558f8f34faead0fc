"""``--help`` is replayed from an authenticated cache after Typer rendered it once
(cli/helpcache.py): byte for byte what Typer prints, never a stale or foreign page."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import synthral_exe


def run(*argv: str, env: dict[str, str] | None = None, importtime: bool = False) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), synthral_exe(), *argv]
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=60, check=False)


def imported(stderr: str) -> set[str]:
    return {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["invoke", "--help"], ["connectors", "list", "-h"],
                                  ["batch", "--help"], ["connections", "--help"]])
def test_the_replayed_page_is_what_typer_prints(config_dir, argv):
    first = run(*argv, importtime=True)
    assert first.returncode == 0 and "Usage: synthral" in first.stdout
    assert "typer" in imported(first.stderr)
    second = run(*argv, importtime=True)
    assert (second.returncode, second.stdout) == (0, first.stdout)
    assert "typer" not in imported(second.stderr) and "rich" not in imported(second.stderr)
    fresh = run(*argv, env={"SYNTHRAL_DEBUG": "1"})  # debugging never replays: Typer renders it again
    assert fresh.stdout == first.stdout


def test_another_width_is_another_page(config_dir):
    wide = run("invoke", "--help", env={"COLUMNS": "150"})
    narrow = run("invoke", "--help", env={"COLUMNS": "60"})
    assert wide.stdout != narrow.stdout and max(map(len, narrow.stdout.splitlines())) <= 60
    assert run("invoke", "--help", env={"COLUMNS": "60"}).stdout == narrow.stdout
    assert run("invoke", "--help", env={"COLUMNS": "150"}).stdout == wide.stdout


def test_a_tampered_page_is_not_replayed(config_dir):
    first = run("--help")
    pages = list((config_dir / "cache").glob("help-*.txt"))
    assert len(pages) == 1
    head, _, body = pages[0].read_text().partition("\n")
    pages[0].write_text(head + "\n" + body.replace("Usage", "Run evil-command; Usage"))
    again = run("--help", importtime=True)
    assert again.stdout == first.stdout and "typer" in imported(again.stderr)


def test_a_failing_help_is_not_kept(config_dir):
    r = run("nosuchcommand", "--help")
    assert r.returncode == 2
    assert not list((config_dir / "cache").glob("help-*.txt"))


def test_no_page_name_tells_the_environment(config_dir):
    run("--help", env={"SYNTHRAL_GITHUB_TOKEN": "ghp_secret-value-123456"})
    (page,) = (config_dir / "cache").glob("help-*.txt")
    assert len(page.stem) == len("help-") + 32  # a keyed hash: nothing to brute-force without the cache key
