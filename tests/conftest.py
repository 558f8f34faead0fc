"""Shared fixtures: a hermetic environment for every test, and CLI runners.

Every test gets a fresh ``SYNTHRAL_CONFIG_DIR``; ``SYNTHRAL_*``/``NANGO_*`` variables from the
outer environment are removed; ``NO_COLOR`` and ``COLUMNS`` make output stable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_environ(tmp_path_factory, monkeypatch):
    for key in list(os.environ):
        if key.startswith(("SYNTHRAL_", "NANGO_")) or key == "BROWSER":
            monkeypatch.delenv(key)
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("SYNTHRAL_CONFIG_DIR", str(config))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    from synthral_cli.basics import redact

    redact.clear()
    yield config


@pytest.fixture
def config_dir(clean_environ) -> Path:
    return clean_environ


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL cluster per test worker (tests/pgcluster.py); a test that needs an
    empty store takes ``pg_cluster.new_database()``."""
    from tests.pgcluster import PgCluster

    cluster = PgCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_store_url(pg_cluster) -> str:
    """The URL of a fresh, empty database on the worker's cluster (password included)."""
    return pg_cluster.new_database()


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli():
    """Run synthral in-process: ``cli("connectors", "list", "--json")`` -> Result."""
    from typer.testing import CliRunner

    from synthral_cli.cli.app import app, hoist_global_flags

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        r = runner.invoke(app, hoist_global_flags(list(args)), input=input, env=env, catch_exceptions=False)
        return Result(r.exit_code, r.stdout, r.stderr)

    return run


def synthral_exe() -> str:
    exe = shutil.which("synthral", path=str(Path(sys.executable).parent))
    assert exe, "the synthral console script is not installed next to this Python"
    return exe


@pytest.fixture
def sh():
    """Run the installed ``synthral`` as a real subprocess."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60):
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        p = subprocess.run(
            [synthral_exe(), *args],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
        )
        return Result(p.returncode, p.stdout, p.stderr)

    return run


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say once, at the end, when the Nango double ran without Nango's OpenAPI spec beside the clone.

    Runs in the controlling process (also under pytest-xdist), so the line appears once per run.
    """
    from tests.nangoserver import SPEC, SPEC_VALIDATION

    if SPEC_VALIDATION:
        return
    ran = any(
        "nango_double" in getattr(report, "keywords", {})
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
    )
    if ran:
        terminalreporter.write_sep("-", "Nango OpenAPI spec validation was off")
        terminalreporter.write_line(
            f"{SPEC} is not there: the Nango double made its own request checks only. "
            "Put the spec there to validate every request and response against it."
        )
