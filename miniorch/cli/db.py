"""`miniorch db`: the state database's schema, outside the daemon (the daemon upgrades at start too).

`upgrade` applies the Alembic migrations to the database the config names and says what
it did; `current` prints the revision a database is at. Passwords never reach the output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

db = typer.Typer(help="The state database's schema (Alembic migrations).", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config file (YAML) naming `database`/`state_dir`.")
]


def _url(config: Path | None) -> tuple[str, str]:
    """The database URL of the config, and the same for display (password hidden)."""
    from miniorch import config as config_mod
    from miniorch.store import schema

    try:
        cfg = config_mod.load(config)
    except config_mod.ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    cfg.state_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    url = cfg.database_url
    return url, schema.display_url(url)


@db.command("upgrade")
def upgrade(config: ConfigOption = None) -> None:
    """Bring the database to the newest schema this miniorch knows (exit 2 if it is newer)."""
    from miniorch.store import schema
    from miniorch.store.store import Store

    url, shown = _url(config)
    try:
        store = Store(url)
    except schema.SchemaTooNew as exc:
        typer.echo(f"error: {shown}: {exc}", err=True)
        raise typer.Exit(2) from exc
    store.close()
    done = store.schema
    if done.changed:
        typer.echo(f"{shown}: schema upgraded from {done.before or 'none (new or 0.1.0 database)'} to {done.after}")
    else:
        typer.echo(f"{shown}: schema already at {done.after} (the newest)")


@db.command("current")
def current(config: ConfigOption = None) -> None:
    """Print the database's schema revision and the newest this miniorch knows."""
    from miniorch.store import schema

    url, shown = _url(config)
    revision = schema.current_of(url)
    typer.echo(f"{shown}: schema {revision or 'unversioned (new or 0.1.0)'}; newest known {schema.head()}")
