"""`miniorch ctl`: kubectl's verbs over the daemon's API.

Each command is thin: parse flags, call the API, print as kubectl does.
Errors are raised as `CtlError`; the entry point prints them and sets the exit code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from miniorch import kinds
from miniorch.cli import completion, explain, getcmd, output
from miniorch.cli import daemonsets as daemonsets_mod
from miniorch.cli.client import Client, CtlError, NotFoundError, read_token_file, resolve_socket

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


# -- reading: `get` and `describe` live in getcmd ---------------------------
fetch = getcmd.fetch
app.command()(getcmd.get)
app.command()(getcmd.describe)
app.command()(completion.completion)
app.command()(explain.explain)


# -- writing ---------------------------------------------------------------
def _read_sources(filename: str) -> list[tuple[str, str]]:
    if filename == "-":
        return [("<stdin>", sys.stdin.read())]
    path = Path(filename)
    if path.is_dir():
        from miniorch.manifests import manifest_files  # heavy (store, loader): only for -f DIR

        files = manifest_files(path)
        if not files:
            raise CtlError(f"no .yaml or .yml files in {path}")
        return [(str(f), f.read_text()) for f in files]
    if not path.exists():
        raise CtlError(f'the path "{filename}" does not exist')
    return [(str(path), path.read_text())]


@app.command()
def apply(filename: Annotated[str, typer.Option("--filename", "-f", help="File, folder or - for stdin.")]) -> None:
    """Create or update objects from YAML manifests."""
    c = client()
    sources = _read_sources(filename)
    for source, text in sources:  # check everything before changing anything
        c.request("POST", "/apply", json={"source": source, "text": text, "dry_run": True})
    for source, text in sources:
        result = c.request("POST", "/apply", json={"source": source, "text": text})
        for warning in result.get("warnings", []):
            typer.echo(f"Warning: {warning}", err=True)
        for r in result["results"]:
            typer.echo(f"{output.GROUPS[r['kind']]}/{r['name']} {r['action']}")


def _wait_gone(c: Client, kind: str, name: str, namespace: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fetch(c, kind, name, namespace, None)
        except NotFoundError:
            return
        time.sleep(0.3)
    raise CtlError(f"timed out waiting for {output.GROUPS[kind]}/{name} to be deleted")


@app.command()
def delete(
    kind: Annotated[str | None, typer.Argument()] = None,
    name: Annotated[str | None, typer.Argument()] = None,
    filename: Annotated[str | None, typer.Option("--filename", "-f")] = None,
    namespace: Namespace = "default",
    wait: Annotated[bool, typer.Option(help="Wait until the object and its containers are gone.")] = True,
    timeout: Annotated[str, typer.Option(help="How long to wait, e.g. 60s or 2m.")] = "120s",
) -> None:
    """Delete objects; their pods' containers are stopped and removed on every node."""
    c = client()
    targets: list[tuple[str, str, str]] = []
    if filename:
        from miniorch.spec import loader

        for source, text in _read_sources(filename):
            targets += [(m.kind, m.namespace, m.name) for m in loader.load_text(text, source)]
    elif kind:
        k, n = split_ref(kind, name)
        if not n:
            raise typer.BadParameter("a resource name is required, e.g. 'delete job pi'")
        if k not in PLURAL:
            raise CtlError(f"deleting {k} objects is not supported; delete their owner instead")
        targets.append((k, namespace, n))
    else:
        raise typer.BadParameter("give KIND NAME or -f FILE")
    for k, ns, n in targets:
        c.request("DELETE", f"/api/objects/{PLURAL[k]}/{ns}/{n}")
        if wait:
            _wait_gone(c, k, n, ns, parse_duration(timeout))
        typer.echo(f'{output.GROUPS[k]} "{n}" deleted')


@app.command()
def create(
    kind: Annotated[str, typer.Argument(help="job")],
    name: Annotated[str, typer.Argument(help="Name of the new Job.")],
    from_: Annotated[str, typer.Option("--from", help="cronjob/NAME: run that CronJob's template now.")],
    namespace: Namespace = "default",
) -> None:
    """Create a Job from a CronJob's template now (a manual run, outside its concurrency policy)."""
    if resource(kind) != "Job":
        raise typer.BadParameter("only 'create job NAME --from=cronjob/CJ' is supported")
    source_kind, source_name = split_ref(from_, None)
    if source_kind != "CronJob" or not source_name:
        raise typer.BadParameter("--from must be cronjob/NAME")
    client().request("POST", f"/api/objects/cronjobs/{namespace}/{source_name}/jobs", json={"name": name})
    typer.echo(f"job.batch/{name} created")


@app.command()
def patch(
    kind: Annotated[str, typer.Argument()],
    name: Annotated[str | None, typer.Argument()] = None,
    patch_json: Annotated[str, typer.Option("--patch", "-p", help="A JSON merge patch.")] = "{}",
    patch_type: Annotated[str, typer.Option("--type", help="Only 'merge' is supported.")] = "merge",
    namespace: Namespace = "default",
) -> None:
    """Change an object with a JSON merge patch, e.g. -p '{"spec":{"suspend":true}}'."""
    k, n = split_ref(kind, name)
    if patch_type not in ("merge", "strategic"):
        raise typer.BadParameter("only --type merge is supported")
    try:
        body = json.loads(patch_json)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--patch is not valid JSON: {exc}") from exc
    c = client()
    if k == "Node":
        raise CtlError("nodes are changed with 'label', 'cordon' and 'uncordon'")
    result = c.request("PATCH", f"/api/objects/{PLURAL[k]}/{namespace}/{n}", json=body)
    suffix = "patched" if result["action"] == "patched" else "patched (no change)"
    typer.echo(f"{output.GROUPS[k]}/{n} {suffix}")


@app.command()
def logs(
    ref: Annotated[str, typer.Argument(help="POD, pod/NAME or job/NAME")],
    namespace: Namespace = "default",
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    tail: Annotated[int | None, typer.Option(help="Lines from the end.")] = None,
    all_pods: Annotated[bool, typer.Option("--all-pods", help="For job/NAME: every attempt, oldest first.")] = False,
) -> None:
    """Print a pod's output, also after its container is gone."""
    c = client()
    kind, _, name = ref.rpartition("/")
    pods = [name]
    if kind and resource(kind) == "Job":
        job = fetch(c, "Job", name, namespace, None)[0]
        items = c.request("GET", "/api/pods", params={"owner": job["metadata"]["uid"]})["items"]
        if not items:
            raise CtlError(f"job {name} has no pods yet")
        items.sort(key=lambda p: p["metadata"]["creationTimestamp"])
        pods = [p["metadata"]["name"] for p in items] if all_pods else [items[-1]["metadata"]["name"]]
        if not all_pods and len(items) > 1:
            typer.echo(f"Found {len(items)} pods, using pod/{pods[0]}", err=True)
    params: dict[str, Any] = {"tail": tail} if tail is not None else {}
    for pod in pods:
        if all_pods:
            typer.echo(f"==> pod/{pod} <==")
        if follow:
            for chunk in c.stream(f"/api/pods/{namespace}/{pod}/log", {**params, "follow": "true"}):
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
        else:
            typer.echo(c.request("GET", f"/api/pods/{namespace}/{pod}/log", params=params), nl=False)


def parse_duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total, num = 0.0, ""
    i = 0
    try:
        while i < len(text):
            if text[i].isdigit() or text[i] == ".":
                num += text[i]
                i += 1
                continue
            unit = "ms" if text[i : i + 2] == "ms" else text[i]
            total += float(num) * units[unit]
            num, i = "", i + len(unit)
        return total + (float(num) if num else 0.0)
    except (KeyError, ValueError) as exc:
        raise typer.BadParameter(f"invalid duration {text!r}; use e.g. 30s, 5m, 1h") from exc


@app.command()
def wait(
    ref: Annotated[str, typer.Argument(help="KIND/NAME, e.g. job/pi")],
    for_: Annotated[str, typer.Option("--for", help="condition=COND[=value] or delete")],
    timeout: Annotated[str, typer.Option(help="e.g. 60s, 5m")] = "30s",
    namespace: Namespace = "default",
) -> None:
    """Wait until a condition is met: exit 0 when met, 1 on timeout."""
    kind, name = split_ref(ref, None)
    if not name:
        raise typer.BadParameter("give KIND/NAME, e.g. job/pi")
    c = client()
    deadline = time.monotonic() + parse_duration(timeout)
    label = f"{output.GROUPS[kind]}/{name}"
    if for_ == "delete":
        _wait_gone(c, kind, name, namespace, parse_duration(timeout))
        typer.echo(f"{label} condition met")
        return
    if not for_.startswith("condition="):
        raise typer.BadParameter("--for must be condition=NAME or delete")
    cond, _, want = for_[len("condition=") :].partition("=")
    want = want or "True"
    while True:
        try:
            obj = fetch(c, kind, name, namespace, None)[0]
            conds = obj.get("status", {}).get("conditions", [])
            if any(x.get("type", "").lower() == cond.lower() and x.get("status") == want for x in conds):
                typer.echo(f"{label} condition met")
                return
        except NotFoundError:
            pass
        if time.monotonic() >= deadline:
            raise CtlError(f"timed out waiting for the condition on {PLURAL.get(kind, kind.lower())}/{name}")
        time.sleep(0.25)


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
