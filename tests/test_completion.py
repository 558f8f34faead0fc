"""Issue 2, point 7: shell completion scripts, kept in sync with completions/, driven for real."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import synthral_exe

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_matches_shipped_file(cli, shell):
    r = cli("completion", shell)
    assert r.exit_code == 0
    assert r.stdout == (REPO / "completions" / f"synthral.{shell}").read_text()
    assert "_SYNTHRAL_COMPLETE" in r.stdout


def test_unknown_shell_is_bad_usage(cli):
    assert cli("completion", "tcsh").exit_code == 2


def _complete_bash(words: str, cword: int) -> list[str]:
    env = dict(os.environ, _SYNTHRAL_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
    p = subprocess.run([synthral_exe()], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_bash_completes_commands_and_slugs():
    assert "connectors" in _complete_bash("synthral con", 1)
    assert _complete_bash("synthral show sla", 2) == ["slack"]
    assert _complete_bash("synthral connectors actions sla", 3) == ["slack"]
    assert set(_complete_bash("synthral connectors ", 2)) >= {"list", "show", "actions", "validate"}


def test_bash_completes_action_names_when_a_command_takes_one():
    from typer.main import get_command

    from synthral_cli.cli.app import app

    root = get_command(app)
    if "invoke" not in root.commands:
        pytest.fail("the invoke command is missing: action-name completion cannot be exercised")
    words = _complete_bash("synthral invoke slack send_", 3)
    assert words == ["send_message"]


def test_bash_script_sources_and_completes_in_a_real_shell(tmp_path):
    """Source the shipped script in bash and run its completion function as bash would."""
    script = REPO / "completions" / "synthral.bash"
    exe_dir = str(Path(synthral_exe()).parent)
    program = f"""
        source {script}
        COMP_WORDS=(synthral show sla)
        COMP_CWORD=2
        _synthral_completion synthral
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    env = dict(os.environ, PATH=exe_dir + os.pathsep + os.environ["PATH"])
    p = subprocess.run(["bash", "-c", program], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["slack"]
