"""Every command has help (checked in test_catalogue) and is documented in the README; so is
every environment variable synthral reads."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from synthral_cli.basics import settings
from synthral_cli.cli.app import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def command_paths():
    def walk(cmd, path):
        sub = getattr(cmd, "commands", None)
        if sub:
            for name, child in sub.items():
                yield from walk(child, [*path, name])
        else:
            yield " ".join(path)

    return sorted(walk(get_command(app), []))


def test_every_command_is_in_the_readme():
    missing = [p for p in command_paths() if f"synthral {p}" not in README]
    assert missing == []


def test_every_environment_variable_is_in_the_readme():
    names = [v for k, v in vars(settings).items() if k.isupper() and isinstance(v, str) and re.fullmatch(r"[A-Z_]+", v)
             and (v.startswith(("SYNTHRAL_", "NANGO_")) or v == "BROWSER")]
    assert names, "settings names no variables?"
    missing = [n for n in names if f"`{n}`" not in README and n not in README]
    assert missing == []


def test_readme_opens_with_the_two_commands():
    head = README.split("```", 2)[1]
    lines = [line for line in head.splitlines() if line.strip() and not line.startswith("sh")]
    assert lines[0].startswith("pip install . && synthral connectors list")
    assert lines[1].startswith("bash scripts/test")
    assert (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text().strip().endswith("bash scripts/test")
