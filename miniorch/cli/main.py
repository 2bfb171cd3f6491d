"""The `miniorch` command: `daemon`, `ctl ...`, `validate`, `schema`.

`errors.run` is the only place that exits the process: errors become one line on
stderr and kubectl's exit codes (1 error, 2 usage); tracebacks only with --debug.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from miniorch.cli import completion, ctl, errors

app = typer.Typer(
    help="miniorch: Kubernetes Jobs, CronJobs and DaemonSets on plain Docker hosts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(ctl.app, name="ctl")


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
) -> None:
    """miniorch: Kubernetes Jobs, CronJobs and DaemonSets on plain Docker hosts."""


@app.command()
def daemon(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Config file (YAML); defaults apply without one.")
    ] = None,
) -> None:
    """Run the daemon in the foreground (systemd Type=notify)."""
    from miniorch import config as config_mod
    from miniorch import daemon as daemon_mod

    try:
        code = daemon_mod.run(config)
    except config_mod.ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except daemon_mod.DaemonError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="Manifest files or folders.")]) -> None:
    """Check manifests offline, with the daemon's own messages; exit 1 on any error."""
    from miniorch.spec import loader
    from miniorch.spec.errors import ManifestInvalid

    try:
        manifests = loader.load_paths(paths)
    except ManifestInvalid as exc:
        for err in exc.errors:
            typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from exc
    except OSError as exc:
        typer.echo(f"error: cannot read {exc.filename or 'the manifests'}: {(exc.strerror or 'failed').lower()}", err=True)
        raise typer.Exit(1) from exc
    for m in manifests:
        for w in m.warnings:
            typer.echo(f"warning: {w}", err=True)
        typer.echo(f"{m.source}: {m.kind.lower()}/{m.name} valid")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the manifest format (for editors)."""
    from miniorch.spec import loader

    typer.echo(json.dumps(loader.json_schema(), indent=2))


app.command()(completion.completion)


def main() -> None:
    completion.activate()
    errors.run(app)


if __name__ == "__main__":
    main()
