"""The code we want to live in: ruff's rules (pyproject.toml) and mypy --strict on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff():
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "synthral_cli", "tests", "scripts", "bench"],
                       cwd=REPO, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_mypy_strict():
    p = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
