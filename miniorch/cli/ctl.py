"""`miniorch ctl`: kubectl's verbs over the daemon's API.

Each command is thin: parse flags, call the API, print as kubectl does.
Errors are raised as `CtlError`; the entry point prints them and sets the exit code.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Annotated

import typer

from miniorch import kinds
from miniorch.api.models import Manifest, NodePatch
from miniorch.cli.client import Client, CtlError, read_token_file, resolve_socket
from miniorch.cli.lazy import LazyGroup


class CtlGroup(LazyGroup):
    """Every verb is made into a command when used (`ctl version` builds one command and loads no
    other verb's module); the node verbs and `version` are defined here."""

    lazy = {
        "completion": "miniorch.cli.completion:completion",
        **{verb: f"miniorch.cli.ctl:{verb}" for verb in ("label", "cordon", "uncordon", "drain", "version")},
        "get": "miniorch.cli.getcmd:get",
        "describe": "miniorch.cli.getcmd:describe",
        "explain": "miniorch.cli.explain:explain",
        **{verb: f"miniorch.cli.edit:{verb}" for verb in ("apply", "diff", "create", "patch", "scale", "wait")},
        "delete": "miniorch.cli.deletecmd:delete",
        "logs": "miniorch.cli.logscmd:logs",
        "rollout": "miniorch.cli.daemonsets:rollout",
        "config": "miniorch.cli.kubeconfig:config",
    }
    order = (
        "get", "describe", "completion", "explain", "apply", "diff", "delete", "create", "patch", "scale", "wait",
        "logs", "label", "cordon", "uncordon", "drain", "version", "rollout", "config",
    )  # fmt: skip


app = typer.Typer(
    cls=CtlGroup, help="Steer the miniorch daemon, kubectl style.", no_args_is_help=True, add_completion=False
)

PLURAL = {k: kinds.PLURAL[k] for k in kinds.WORKLOADS}

Namespace = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the object.")]


class State:
    socket: str | None = None
    server: str | None = None
    token_file: str | None = None
    ca_file: str | None = None
    debug: bool = False


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def client() -> Client:
    if State.server:
        if not State.token_file:
            raise typer.BadParameter("--server needs --token-file (the TCP API requires a bearer token)")
        token = read_token_file(State.token_file)
        return Client(resolve_socket(None), server=State.server, token=token, ca_file=State.ca_file)
    return Client(resolve_socket(State.socket))


def resource(text: str) -> str:
    kind = kinds.resolve(text)
    if kind is None:
        raise CtlError(f'the server doesn\'t have a resource type "{text}"')
    return kind


def split_ref(ref: str, name: str | None) -> tuple[str, str | None]:
    """`job/pi` or (`job`, `pi`)."""
    if "/" in ref:
        kind, _, n = ref.partition("/")
        return resource(kind), n
    return resource(ref), name


@app.callback()
def main(
    socket: Annotated[
        str | None, typer.Option(help="Daemon socket (default: $MINIORCH_SOCKET, then the default path).")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(help="Daemon TCP API, e.g. https://host:7390 (default: $MINIORCH_SERVER; else the socket)."),
    ] = None,
    token_file: Annotated[
        str | None, typer.Option(help="File with the bearer token for --server (default: $MINIORCH_TOKEN_FILE).")
    ] = None,
    certificate_authority: Annotated[
        str | None, typer.Option(help="CA certificate that signed the daemon's api.tls_cert (for https).")
    ] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    State.socket = socket
    State.server = server or (None if socket else os.environ.get("MINIORCH_SERVER"))
    State.token_file = token_file or os.environ.get("MINIORCH_TOKEN_FILE")
    State.ca_file = certificate_authority
    State.debug = debug


# -- reading, writing and logs live in getcmd, edit and logscmd (CtlGroup.lazy) --


def fetch(c: Client, kind: str, name: str | None, namespace: str | None, selector: str | None) -> list[Manifest]:
    """`getcmd.fetch`: one object, or the list (for the verbs that read before they act)."""
    from miniorch.cli import getcmd

    return getcmd.fetch(c, kind, name, namespace, selector)


def parse_duration(text: str) -> float:
    from miniorch.cli import durations

    try:
        return durations.parse_duration(text)
    except durations.DurationError as exc:
        raise typer.BadParameter(str(exc)) from exc


# -- nodes -----------------------------------------------------------------
def label(
    kind: Annotated[str, typer.Argument(help="node")],
    name: Annotated[str, typer.Argument()],
    changes: Annotated[list[str], typer.Argument(help="key=value to set, key- to remove")],
) -> None:
    """Set or remove node labels (kept across daemon restarts)."""
    if resource(kind) != "Node":
        raise CtlError("only nodes can be labelled in this version")
    labels: dict[str, str | None] = {}
    for change in changes:
        if change.endswith("-"):
            labels[change[:-1]] = None
        elif "=" in change:
            k, _, v = change.partition("=")
            labels[k] = v
        else:
            raise typer.BadParameter(f"{change!r}: use key=value or key-")
    client().patch_node(name, NodePatch(labels=labels))
    typer.echo(f"node/{name} labeled")


def _cordon(name: str, value: bool) -> None:
    client().patch_node(name, NodePatch(unschedulable=value))
    typer.echo(f"node/{name} {'cordoned' if value else 'uncordoned'}")


def cordon(name: str) -> None:
    """Mark a node unschedulable: no new Job pods go there."""
    _cordon(name, True)


def uncordon(name: str) -> None:
    """Mark a node schedulable again."""
    _cordon(name, False)


def drain(
    name: str,
    timeout: Annotated[str, typer.Option(help="How long to wait for the pods to stop, e.g. 120s.")] = "120s",
) -> None:
    """Cordon a node and evict its Job pods (re-placed elsewhere, not counted as failures); DaemonSet pods stay."""
    c = client()
    deadline = time.monotonic() + parse_duration(timeout)
    seen: set[str] = set()
    typer.echo(f"node/{name} cordoned")
    while True:
        remaining = c.drain_node(name)["remaining"]
        for pod in sorted(set(remaining) - seen):
            typer.echo(f"evicting pod {pod}")
        seen |= set(remaining)
        if not remaining:
            typer.echo(f"node/{name} drained")
            return
        if time.monotonic() >= deadline:
            raise CtlError(f"timed out draining node {name}: still stopping {', '.join(sorted(remaining))}")
        time.sleep(0.5)


def version() -> None:
    """Client and daemon versions."""
    import miniorch

    typer.echo(f"Client Version: v{miniorch.__version__}")
    server = client().version()
    typer.echo(f"Server Version: v{server['version']}")
    if server.get("role") == "standby":
        leader = server.get("leader")
        where = f"{leader} at {server.get('leader_address')}" if leader else "none elected yet"
        typer.echo(f"Server Role: standby (leader: {where})")
    elif server.get("role"):
        typer.echo(f"Server Role: leader ({server.get('name')})")
