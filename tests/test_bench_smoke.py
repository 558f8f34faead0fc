"""Issue 10: CI runs the benchmark quickly (few runs, small inputs, no thresholds) so it never rots.
The targets live in bench/run.py, not here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
                "tool-call overhead over httpx"):
        assert row in table, row
    assert "| 16 parallel invokes: successes | 16 of 16 |" in table
    assert "| 16 parallel invokes: refresh grants at the server | 1 grants |" in table
    assert "PASS" not in table and "MISS" not in table  # --quick gives figures, not verdicts
