"""`miniorch completion bash|zsh|fish`: the shell script that completes `miniorch`, as kubectl prints its own.

The script calls `miniorch` back with `_MINIORCH_COMPLETE` set; `activate()` must run before
the app when that variable is there (Typer's completion classes are registered lazily,
so the normal start-up pays nothing for them).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from miniorch import kinds

PROG = "miniorch"
COMPLETE_VAR = "_MINIORCH_COMPLETE"
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
RESOURCES = ("all", *sorted(kinds.PLURAL.values()))


def activate() -> None:
    """Register Typer's completion protocol when the shell is asking for completions."""
    if os.environ.get(COMPLETE_VAR):
        from typer import _completion_classes

        _completion_classes.completion_init()


def script(shell: str) -> str:
    if shell not in SHELLS:
        raise typer.BadParameter(f'shell "{shell}" is not supported; use one of {", ".join(SHELLS)}')
    from typer import _completion_shared

    return _completion_shared.get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell)


def complete_resource(incomplete: str) -> list[str]:
    """Resource types for `ctl get <TAB>` (after a comma too: `jobs,cr<TAB>`)."""
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    return [prefix + r for r in RESOURCES if r.startswith(last)]


def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh, fish or powershell")],
) -> None:
    """Print the shell completion script for miniorch, e.g. `source <(miniorch completion bash)`."""
    typer.echo(script(shell))
