"""The layers of docs/ARCHITECTURE.md hold: `lint-imports` (the contracts in pyproject.toml) keeps
every import pointing downwards and no cycle inside any package; grimp (import-linter's graph,
which counts imports inside functions and under TYPE_CHECKING) checks what those contracts do
not see: nothing imports the package's own ``__init__``, which reaches the library object."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "synthral_cli"
MAX_LINES = 400


def test_import_contracts_are_kept():
    exe = Path(sys.executable).parent / "lint-imports"
    p = subprocess.run([str(exe), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 kept, 0 broken" in p.stdout


def test_nothing_imports_the_package_init():
    import grimp

    graph = grimp.build_graph("synthral_cli", cache_dir=None)
    assert graph.find_modules_that_directly_import("synthral_cli") == set()
    allowed = {"synthral_cli.api", "synthral_cli.basics.version"}
    assert graph.find_modules_directly_imported_by("synthral_cli") <= allowed


def test_every_layer_is_named_in_the_contract():
    """A new top-level package must be placed in a layer (the contract is exhaustive, so
    lint-imports fails too; this says which)."""
    text = (REPO / "pyproject.toml").read_text()
    for child in PACKAGE.iterdir():
        name = child.stem if child.suffix == ".py" else child.name
        if name in {"__init__", "__pycache__", "manifests", "completions"} or not (
            child.suffix == ".py" or (child / "__init__.py").exists()
        ):
            continue
        assert f'"{name}"' in text, f"synthral_cli/{child.name} is in no layer of [tool.importlinter]"


def test_modules_are_rooms_a_person_can_hold():
    too_long = {
        str(p.relative_to(REPO)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"over {MAX_LINES} lines: {too_long}"


def test_every_module_states_its_job():
    texts = {p: p.read_text(encoding="utf-8").lstrip() for p in PACKAGE.rglob("*.py")}
    missing = [str(p.relative_to(REPO)) for p, text in texts.items() if not text.startswith(('"""', 'r"""'))]
    assert missing == []
