"""Issue 10: CI runs the benchmark quickly (few runs, small inputs, no thresholds) so it never rots.
The targets live in bench/run.py, not here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_benchmark_runs_end_to_end_in_quick_mode():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHRAL_", "NANGO_"))}
    p = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick"], capture_output=True,
                       text=True, env=env, timeout=600, cwd=REPO)
    assert p.returncode == 0, p.stderr[-2000:]
    table = p.stdout
    for row in ("synthral connectors list --json", "user manifests (cached)", "synthral invoke",
                "connections list,", "per action inside one run", "refresh grants at the server",
                "peak memory, connectors list --json", "synthral mcp --all: initialize + tools/list",
                "tool-call overhead over httpx", "synthral listen: verified deliveries",
                "synthral listen: delivery sent -> its NDJSON line read"):
        assert row in table, row
    assert "| 16 parallel invokes: successes | 16 of 16 |" in table
    assert "| 16 parallel invokes: refresh grants at the server | 1 grants |" in table
    assert "| token, stored fresh token: PostgreSQL (loopback) |" in table  # issue 19
    assert "| 32 processes on 4 machines: successes | 32 of 32 |" in table
    assert "| 32 processes on 4 machines: refresh grants at the server | 1 grants |" in table
    assert "PASS" not in table and "MISS" not in table  # --quick gives figures, not verdicts


@pytest.mark.slow
def test_before_and_after_side_by_side_in_quick_mode():
    """``--vs REF`` installs REF and the current tree into two venvs (real pip installs) and times both.
    HEAD stands in for the baseline here: every clone has it."""
    import re

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNTHRAL_", "NANGO_"))}
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=7", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    p = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--vs", "HEAD", "--quick"],
                       capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = [line for line in p.stdout.splitlines() if line.startswith("|")]
    assert lines[0].startswith(f"| measurement | before: {head} | after: {head}")
    assert "1-minute load average was" in p.stdout
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert set(rows) == {"python -c pass (noise floor)", "synthral --version", "synthral connectors list --json",
                         "synthral invoke (stored bearer token, GET local httpbin, --json)"}
    for line in rows.values():
        cells = (r"\| .+ \| [\d,.]+ ms \(±[\d.]+\) \| [\d,.]+ ms \(±[\d.]+\) \| \d+\.\d\dx "
                 r"\| [\d,.]+ → [\d,.]+ ms \(\d+\.\d\dx\) \| (\d+) → (\d+) \|")
        m = re.fullmatch(cells, line)
        assert m and int(m[1]) > 0 and int(m[2]) > 0, line
    # Same interpreter on both sides; synthral itself imports more than bare Python does.
    floor = re.search(r"(\d+) → (\d+) \|$", rows["python -c pass (noise floor)"])
    version = re.search(r"(\d+) → (\d+) \|$", rows["synthral --version"])
    assert floor and version and floor[1] == floor[2] and int(version[1]) > int(floor[1])
    nope = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--vs", "no-such-ref-xyz"],
                          capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
    assert nope.returncode == 1 and "bench: git rev-parse" in nope.stderr
