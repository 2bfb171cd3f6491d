"""`miniorch ctl`: kubectl's verbs over the daemon's API.

Each command is thin: parse flags, call the API, print as kubectl does.
Errors are raised as `CtlError`; the entry point prints them and sets the exit code.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Annotated, Any

import typer

from miniorch import kinds
from miniorch.cli import daemonsets as daemonsets_mod
from miniorch.cli import edit, logscmd, output
from miniorch.cli.client import Client, CtlError, read_token_file, resolve_socket

app = typer.Typer(help="Steer the miniorch daemon, kubectl style.", no_args_is_help=True, add_completion=False)
app.add_typer(daemonsets_mod.rollout, name="rollout")

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


# -- reading ---------------------------------------------------------------
def fetch(c: Client, kind: str, name: str | None, namespace: str | None, selector: str | None) -> list[dict[str, Any]]:
    if kind == "Node":
        if name:
            return [c.request("GET", f"/api/nodes/{name}")]
        return list(c.request("GET", "/api/nodes", params=_params(selector=selector))["items"])
    if kind == "Pod":
        if name:
            return [c.request("GET", f"/api/pods/{namespace or 'default'}/{name}")]
        return list(c.request("GET", "/api/pods", params=_params(namespace=namespace, selector=selector))["items"])
    if kind == "Event":
        items = list(c.request("GET", "/api/events", params=_params(namespace=namespace))["items"])
        return [e for e in items if not name or e["involvedObject"]["name"] == name]
    if name:
        return [c.request("GET", f"/api/objects/{PLURAL[kind]}/{namespace or 'default'}/{name}")]
    return list(
        c.request("GET", f"/api/objects/{PLURAL[kind]}", params=_params(namespace=namespace, selector=selector))[
            "items"
        ]
    )


def _params(**kw: str | None) -> dict[str, str]:
    return {k: v for k, v in kw.items() if v}


@app.command()
def get(
    kind: Annotated[str, typer.Argument(help="jobs, cronjobs, daemonsets (ds), pods, nodes or events")],
    name: Annotated[str | None, typer.Argument()] = None,
    namespace: Namespace = "default",
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A")] = False,
    selector: Annotated[str | None, typer.Option("--selector", "-l")] = None,
    output_fmt: Annotated[
        str | None, typer.Option("--output", "-o", help="wide, json, yaml, name, jsonpath=TEMPLATE")
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Print again whenever something changes.")] = False,
) -> None:
    """Show objects, as `kubectl get`."""
    k, name = split_ref(kind, name)
    ns = None if all_namespaces or k == "Node" else namespace
    c = client()
    if watch and k == "Event":
        _watch_events(c, name, ns, output_fmt)
        return
    last = None
    while True:
        items = fetch(c, k, name, ns, selector)
        text = output.render(
            k, items, output_fmt, _now(), single=bool(name), show_namespace=all_namespaces and k != "Node"
        )
        if not watch:
            if not items and output_fmt in (None, "", "wide"):
                typer.echo(f"No resources found in {ns} namespace." if ns else "No resources found", err=True)
            elif text:
                typer.echo(text, nl=not (output_fmt or "").startswith("jsonpath="))  # kubectl adds no newline
            return
        if text != last:
            typer.echo(text + "\n")
            last = text
        time.sleep(1)


def _watch_events(c: Client, name: str | None, namespace: str | None, output_fmt: str | None) -> None:
    """Print events as the daemon streams them: the current ones, then each new or repeated one."""
    header = True
    for change in c.watch("/api/events/watch", _params(namespace=namespace)):
        event = change["object"]
        if name and event["involvedObject"]["name"] != name:
            continue
        text = output.render("Event", [event], output_fmt, _now(), single=False, show_namespace=namespace is None)
        if output_fmt in (None, "", "wide") and not header:
            text = text.split("\n", 1)[1] if "\n" in text else ""
        header = False
        if text:
            typer.echo(text)


@app.command()
def describe(
    kind: Annotated[str, typer.Argument()],
    name: Annotated[str | None, typer.Argument()] = None,
    namespace: Namespace = "default",
) -> None:
    """Show an object in detail, with its pods and recent events."""
    k, name = split_ref(kind, name)
    c = client()
    items = fetch(c, k, name, namespace, None)
    from miniorch.cli import describe as describe_mod  # loaded only when needed: ctl starts fast

    texts = [describe_mod.describe(c, k, item, _now()) for item in items]
    typer.echo("\n\n".join(texts))


# -- writing and logs: miniorch.cli.edit and miniorch.cli.logscmd -----------
for _command in (*edit.COMMANDS, logscmd.logs):
    app.command()(_command)


def parse_duration(text: str) -> float:
    from miniorch.cli import durations

    try:
        return durations.parse_duration(text)
    except durations.DurationError as exc:
        raise typer.BadParameter(str(exc)) from exc


# -- nodes -----------------------------------------------------------------
@app.command()
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
    client().request("PATCH", f"/api/nodes/{name}", json={"labels": labels})
    typer.echo(f"node/{name} labeled")


def _cordon(name: str, value: bool) -> None:
    client().request("PATCH", f"/api/nodes/{name}", json={"unschedulable": value})
    typer.echo(f"node/{name} {'cordoned' if value else 'uncordoned'}")


@app.command()
def cordon(name: str) -> None:
    """Mark a node unschedulable: no new Job pods go there."""
    _cordon(name, True)


@app.command()
def uncordon(name: str) -> None:
    """Mark a node schedulable again."""
    _cordon(name, False)


@app.command()
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
        remaining = c.request("POST", f"/api/nodes/{name}/drain")["remaining"]
        for pod in sorted(set(remaining) - seen):
            typer.echo(f"evicting pod {pod}")
        seen |= set(remaining)
        if not remaining:
            typer.echo(f"node/{name} drained")
            return
        if time.monotonic() >= deadline:
            raise CtlError(f"timed out draining node {name}: still stopping {', '.join(sorted(remaining))}")
        time.sleep(0.5)


@app.command()
def version() -> None:
    """Client and daemon versions."""
    import miniorch

    typer.echo(f"Client Version: v{miniorch.__version__}")
    server = client().request("GET", "/version")
    typer.echo(f"Server Version: v{server['version']}")
    if server.get("role") == "standby":
        leader = f"{server['leader']} at {server['leader_address']}" if server.get("leader") else "none elected yet"
        typer.echo(f"Server Role: standby (leader: {leader})")
    elif server.get("role"):
        typer.echo(f"Server Role: leader ({server['name']})")
