"""Issue 2, point 3: the manifests ship inside the wheel; a clean venv lists the catalogue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_ships_manifests_and_lists_the_catalogue_in_a_clean_venv(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = dist.glob("synthral-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    bundled = sorted(p.name for p in (REPO / "manifests").glob("*.yaml"))
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("synthral_cli/manifests/"))
    assert shipped == bundled
    assert "synthral_cli/catalogue/schema/manifest-v1.json" in names
    assert "synthral_cli/completions/synthral.bash" in names
    (eps,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]  # the connectors' door
    assert "[synthral.connectors]\nhttp = synthral_cli.actions.builtin:HttpConnector\n" in (
        zipfile.ZipFile(wheel).read(eps).decode()
    )

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True, text=True)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["SYNTHRAL_CONFIG_DIR"] = str(tmp_path / "config")
    p = subprocess.run(
        [str(env_dir / "bin" / "synthral"), "connectors", "list", "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["total_count"] == len(bundled)
    # the installed package reads its own copy, not this checkout
    p = subprocess.run(
        [str(py), "-c", "from synthral_cli.catalogue.manifest import bundled_dir; print(bundled_dir())"],
        capture_output=True, text=True, env=env, cwd=tmp_path,
    )
    assert str(env_dir) in p.stdout
