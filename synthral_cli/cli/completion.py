"""``synthral completion bash|zsh|fish``: print a shell completion script."""

from __future__ import annotations

from enum import Enum

import typer


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    text = get_completion_script(prog_name="synthral", complete_var="_SYNTHRAL_COMPLETE", shell=shell) + "\n"
    if shell == "bash":  # `-p chan<TAB>` gives `-p channel=`: the value follows without a space
        text = text.replace(
            "    return 0\n",
            '    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]]; then compopt -o nospace; fi\n'
            "    return 0\n",
            1,
        )
    return text


def completion(shell: Shell = typer.Argument(..., help="bash, zsh or fish.")) -> None:
    """Print the completion script for a shell; connector slugs, action names and -p parameter
    names (and enum values) complete.

    Example: synthral completion bash > ~/.local/share/bash-completion/completions/synthral
    """
    import sys

    sys.stdout.write(script(shell.value))


def register(root: typer.Typer) -> None:
    root.command("completion")(completion)
