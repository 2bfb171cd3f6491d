"""A Typer group whose commands live in modules imported only when one of them is used.

`ctl version` then loads neither the printers nor the edit verbs: each command is named with
the module and attribute that define it, and turned into a click command on first use
(`--help`, shell completion and a mistyped name's suggestions load them all).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer import _click as click  # Typer's own click (the separate `click` package is another copy)
from typer.core import TyperGroup
from typer.models import CommandInfo


class LazyGroup(TyperGroup):
    """Set `lazy` (command name -> "module:attribute", a function or a Typer app) on a subclass."""

    lazy: dict[str, str] = {}
    order: tuple[str, ...] = ()  # the commands in the order `--help` lists them

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = [*super().list_commands(ctx), *(n for n in self.lazy if n not in self.commands)]
        rank = {name: i for i, name in enumerate(self.order)}
        return sorted(names, key=lambda n: rank.get(n, len(rank)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(load(cmd_name, self.lazy[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in self.lazy:
            for name in self.lazy:  # an unknown name: "Did you mean ...?" compares with every command
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


def load(name: str, target: str) -> click.Command:
    """The click command for `module:attribute`, as Typer would have built it at start-up."""
    module, _, attr = target.partition(":")
    obj: Any = getattr(importlib.import_module(module), attr)
    if isinstance(obj, typer.Typer):
        command: click.Command = typer.main.get_group(obj)
    else:
        command = typer.main.get_command_from_info(
            CommandInfo(name=name, callback=obj),
            pretty_exceptions_short=True,
            rich_markup_mode=typer.core.DEFAULT_MARKUP_MODE,
        )
    command.name = name
    return command
