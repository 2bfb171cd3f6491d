"""Docker Swarm `replicated-job` services as the peer in the throughput benchmark.

The swarm is formed from the bench's own local engines: each engine advertises
and listens on the address of its own bridge (10.x.N.1:2377), so several engines
on one host get distinct swarm addresses without touching the host's ports.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from typing import Any

import docker
from docker.types import RestartPolicy, ServiceMode

SWARM_PORT = 2377
POLL_SECONDS = 0.05


def _addr(node: Any) -> str:
    return str(ipaddress.ip_interface(node.bridge_cidr).ip)


class Swarm:
    """A swarm over `nodes` (the first is the only manager); `leave()` dissolves it."""

    def __init__(self, nodes: list[Any]) -> None:
        self.nodes = nodes
        self.clients = [docker.DockerClient(base_url=n.url, timeout=60) for n in nodes]
        self.manager = self.clients[0]
        self.joined: list[str] = []  # node names that are swarm members

    def form(self) -> None:
        """Init on the first node and join the others as workers; a member that cannot join is reported."""
        self.leave()
        addr = _addr(self.nodes[0])
        self.manager.swarm.init(advertise_addr=f"{addr}:{SWARM_PORT}", listen_addr=f"{addr}:{SWARM_PORT}")
        self.joined = [self.nodes[0].name]
        token = self.manager.swarm.attrs["JoinTokens"]["Worker"]
        for node, client in zip(self.nodes[1:], self.clients[1:], strict=True):
            own = _addr(node)
            client.swarm.join(
                remote_addrs=[f"{addr}:{SWARM_PORT}"],
                join_token=token,
                advertise_addr=f"{own}:{SWARM_PORT}",
                listen_addr=f"{own}:{SWARM_PORT}",
            )
            self.joined.append(node.name)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = [n for n in self.manager.nodes.list() if n.attrs["Status"]["State"] == "ready"]
            if len(ready) == len(self.nodes):
                return
            time.sleep(0.2)
        raise RuntimeError(f"swarm: only {len(ready)} of {len(self.nodes)} nodes became ready")

    def leave(self) -> None:
        for client in self.clients:
            with contextlib.suppress(docker.errors.APIError):  # not in a swarm
                client.swarm.leave(force=True)
        self.joined = []

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def run(self, completions: int, parallelism: int, tag: str, manager_only: bool) -> float:
        """Makespan of a replicated-job service: create until every task is `complete`.

        docker-py does not resolve the image to a registry digest (the CLI's
        `--no-resolve-image`), so the local test image is used as it is."""
        api = self.manager.api
        constraints = ["node.role==manager"] if manager_only else None
        start = time.perf_counter()
        service = self.manager.services.create(
            "miniorch.local/busybox:latest",
            command=["true"],
            name=f"bench-{tag}",
            mode=ServiceMode("replicated-job", replicas=completions, concurrency=parallelism),
            restart_policy=RestartPolicy(condition="none"),
            constraints=constraints,
        )
        while True:
            tasks = api.tasks(filters={"service": service.id})
            done = sum(1 for t in tasks if t["Status"]["State"] == "complete")
            failed = [t for t in tasks if t["Status"]["State"] in ("failed", "rejected")]
            if failed:
                raise RuntimeError(f"swarm task failed: {failed[0]['Status']}")
            if done >= completions:
                break
            time.sleep(POLL_SECONDS)
        elapsed = time.perf_counter() - start
        service.remove()
        self._remove_containers(service.id)
        return elapsed

    def _remove_containers(self, service_id: str) -> None:
        """Engine 20.10 keeps the exited containers of a job's tasks even after `service rm`; remove
        them (untimed) so that runs do not pile up containers the next run's engine must list."""
        for client in self.clients:
            for c in client.api.containers(all=True, filters={"label": f"com.docker.swarm.service.id={service_id}"}):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_container(c["Id"], force=True)
