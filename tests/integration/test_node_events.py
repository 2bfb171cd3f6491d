"""A real engine's event stream tells a run's end (exit code, times, kills) without an inspect."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support import dockernodes

from miniorch.nodes import records as nr
from miniorch.nodes.client import NodeClient
from miniorch.nodes.events import RunEnd

ACTIONS = {"start", "die", "kill", "oom"}


@contextmanager
def watching(node: dockernodes.DockerNode) -> Iterator[NodeClient]:
    client = NodeClient(node.name, node.url, timeout=10)
    stop, opened = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=client.watch_events, args=(lambda action, pod: None, stop, ACTIONS, opened.set), daemon=True
    )
    thread.start()
    try:
        assert opened.wait(10), "the event stream did not open"
        yield client
    finally:
        stop.set()
        client.close()


def taken(client: NodeClient, name: str, timeout: float = 10.0) -> RunEnd:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (end := client.exits.take(name)) is not None:
            return end
        time.sleep(0.02)
    raise AssertionError(f"no run end of {name} from the event stream")


def run(docker: Any, name: str, command: str) -> Any:
    labels = {nr.MANAGED: "true", nr.POD: name}
    return docker.containers.run(dockernodes.TEST_IMAGE, ["sh", "-c", command], name=name, labels=labels, detach=True)


def test_die_event_tells_the_exit_code_and_times_the_inspect_would(docker_nodes: list[dockernodes.DockerNode]) -> None:
    node = docker_nodes[1]
    with watching(node) as client, dockernodes.client(node.url) as docker:
        container = run(docker, "events-exit", "exit 3")
        try:
            end = taken(client, "events-exit")
            state = docker.api.inspect_container(container.id)["State"]
            inspected = client.inspect("events-exit")
            assert end.exit_code == 3 == state["ExitCode"]
            assert not end.killed and not end.oom
            assert inspected.started_at and inspected.finished_at
            # a few ms apart on a quiet host; 74 ms was seen on a loaded 2-core CI run
            assert abs((end.started_at - inspected.started_at).total_seconds()) < 0.5
            assert abs((end.finished_at - inspected.finished_at).total_seconds()) < 0.5
        finally:
            container.remove(force=True)


def test_a_kill_by_someone_else_is_told_with_the_run_end(docker_nodes: list[dockernodes.DockerNode]) -> None:
    """`docker kill` (as the engine's own shutdown does before the `die`): the run end says killed."""
    node = docker_nodes[1]
    with watching(node) as client, dockernodes.client(node.url) as docker:
        container = run(docker, "events-killed", "sleep 30")
        try:
            time.sleep(0.3)
            container.kill()
            end = taken(client, "events-killed")
            assert end.killed and end.exit_code == 137
        finally:
            container.remove(force=True)
