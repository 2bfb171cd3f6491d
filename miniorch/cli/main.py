"""The `miniorch` command: `daemon`, `ctl ...`, `validate`, `schedule`, `schema`.

`errors.run` is the only place that exits the process: errors become one line on
stderr and kubectl's exit codes (1 error, 2 usage); tracebacks only with --debug.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from miniorch.cli import completion, errors
from miniorch.cli.lazy import LazyGroup


class MainGroup(LazyGroup):
    """Each command is made when used: `miniorch ctl get` builds the ctl group and its `get`, not
    the 30 other commands' parameters (20 ms of every ctl start-up)."""

    lazy = {
        **{name: f"miniorch.cli.main:{name}" for name in ("daemon", "validate", "schema")},
        "schedule": "miniorch.cli.main:schedule_times",
        "completion": "miniorch.cli.completion:completion",
        "ctl": "miniorch.cli.ctl:app",
        "db": "miniorch.cli.db:db",
    }
    order = ("daemon", "validate", "schedule", "schema", "completion", "ctl", "db")


app = typer.Typer(
    cls=MainGroup,
    help="miniorch: Kubernetes Jobs, CronJobs and DaemonSets on plain Docker hosts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
) -> None:
    """miniorch: Kubernetes Jobs, CronJobs and DaemonSets on plain Docker hosts."""


def daemon(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (YAML). Without it: $MINIORCH_CONFIG, else /etc/miniorch/miniorch.yaml if it "
            "exists, else the embedded defaults.",
        ),
    ] = None,
    check_config: Annotated[
        bool,
        typer.Option("--check-config", help="Only check the config (no node is contacted): exit 0 if usable, else 2."),
    ] = False,
) -> None:
    """Run the daemon in the foreground (systemd Type=notify)."""
    from miniorch import config as config_mod
    from miniorch import logs, preflight

    def refuse(exc: config_mod.ConfigError) -> typer.Exit:
        for problem in exc.problems:
            typer.echo(logs.error_line(f"error: {problem}"), err=True)
        return typer.Exit(2)

    if check_config:  # without the daemon's own imports: ExecReload runs this on every reload
        source = config_mod.resolve(config)
        try:
            preflight.validate(source)
        except config_mod.ConfigError as exc:
            raise refuse(exc) from exc
        typer.echo(f"config OK: {source}")
        raise typer.Exit(0)
    from miniorch import daemon as daemon_mod
    from miniorch.store import schema as schema_mod

    try:
        code = daemon_mod.run(config)
    except schema_mod.SchemaTooNew as exc:
        raise refuse(config_mod.ConfigError(str(exc))) from exc
    except config_mod.ConfigError as exc:
        raise refuse(exc) from exc
    except daemon_mod.DaemonError as exc:
        typer.echo(logs.error_line(f"error: {exc}"), err=True)
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


def validate(paths: Annotated[list[Path], typer.Argument(help="Manifest files or folders.")]) -> None:
    """Check manifests offline, with the daemon's own messages; exit 1 on any error."""
    from miniorch.spec import files  # the reader of `ctl apply -f` and the watched folder
    from miniorch.spec.errors import ManifestInvalid

    try:
        manifests = files.load_paths(paths)
    except ManifestInvalid as exc:
        for err in exc.errors:
            typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from exc
    except OSError as exc:
        typer.echo(
            f"error: cannot read {exc.filename or 'the manifests'}: {(exc.strerror or 'failed').lower()}", err=True
        )
        raise typer.Exit(1) from exc
    for m in manifests:
        for w in m.warnings:
            typer.echo(f"warning: {w}", err=True)
        typer.echo(f"{m.source}: {m.kind.lower()}/{m.name} valid")


def schedule_times(
    expr: Annotated[str, typer.Argument(help='A cron expression, e.g. "*/15 * * * *", "30 2 * * 1-5" or "@daily".')],
    tz: Annotated[str | None, typer.Option("--tz", help="IANA zone, as spec.timeZone (default UTC).")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="ISO 8601 start, included (default now; no offset: in --tz).")
    ] = None,
    count: Annotated[int, typer.Option("-n", min=1, max=10000, help="How many fire times.")] = 5,
) -> None:
    """Print the next fire times (UTC and local) exactly as the CronJob controller computes them, DST included."""
    import datetime as dt

    from miniorch.cli import schedule as schedule_mod  # off the `ctl` start-up path

    raise typer.Exit(schedule_mod.run(expr, tz, start, count, dt.datetime.now(dt.UTC)))


def schema() -> None:
    """Print the JSON Schema of the manifest format (for editors)."""
    from miniorch.spec import loader

    typer.echo(json.dumps(loader.json_schema(), indent=2))


def main() -> None:
    completion.activate()
    errors.run(app)


if __name__ == "__main__":
    main()
