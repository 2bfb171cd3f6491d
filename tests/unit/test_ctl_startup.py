"""`miniorch ctl version` stays light: what its start-up imports, and that every lazily
registered verb still resolves (timing itself: bench/ctl_startup.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from miniorch.cli import ctl

PROBE = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("MODULES " + " ".join(sorted(sys.modules)) + "\\n"))
sys.argv = ["miniorch", "ctl", "--socket", sys.argv[1], "version"]
from miniorch.cli.main import main
main()
"""

#: what `ctl version` must not load: the old HTTP client, the daemon's stack, the other verbs.
HEAVY = (
    "httpx",
    "http.client",
    "ssl",
    "pydantic",
    "fastapi",
    "yaml",
    "sqlalchemy",
    "docker",
    "miniorch.cli.getcmd",
    "miniorch.cli.edit",
    "miniorch.cli.describe",
    "miniorch.cli.output",
    "miniorch.spec",
)


def test_ctl_version_imports_none_of_the_heavy_modules(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "absent.sock")], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 1 and "no such socket" in run.stderr, run.stderr
    loaded = set(run.stderr.rsplit("MODULES ", 1)[1].split())
    assert sorted(m for m in loaded if m in HEAVY or m.split(".")[0] in HEAVY) == []


def _group() -> ctl.CtlGroup:
    group = typer.main.get_group(ctl.app)
    assert isinstance(group, ctl.CtlGroup)
    return group


def test_help_lists_every_verb_in_the_documented_order() -> None:
    group = _group()
    with typer.Context(group) as context:
        assert group.list_commands(context) == list(ctl.CtlGroup.order)


@pytest.mark.parametrize("name", sorted(ctl.CtlGroup.lazy))
def test_each_lazy_verb_resolves_to_its_command(name: str) -> None:
    group = _group()
    with typer.Context(group) as context:
        command = group.get_command(context, name)
    assert command is not None and command.name == name
    assert command.help, f"{name} has no help text"


def test_a_ctl_verb_builds_only_its_own_commands() -> None:
    """`miniorch ctl version` makes the ctl group and `version`, not the other commands' parameters."""
    from miniorch.cli import main

    root = typer.main.get_command(main.app)
    assert isinstance(root, main.MainGroup) and root.commands == {}
    with typer.Context(root) as context:
        group = root.get_command(context, "ctl")
    assert isinstance(group, ctl.CtlGroup) and set(root.commands) == {"ctl"}
    with typer.Context(group) as context:
        assert group.get_command(context, "version") is not None
    assert set(group.commands) == {"version"}


@pytest.mark.parametrize("name", ["daemon", "validate", "schedule", "schema", "completion", "db"])
def test_each_lazy_top_level_command_resolves_in_the_documented_order(name: str) -> None:
    from miniorch.cli import main

    root = typer.main.get_command(main.app)
    assert isinstance(root, main.MainGroup)
    with typer.Context(root) as context:
        assert root.list_commands(context) == list(main.MainGroup.order)
        command = root.get_command(context, name)
    assert command is not None and command.name == name and command.help
