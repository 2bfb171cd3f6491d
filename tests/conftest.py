"""Shared pytest fixtures: the real Docker Engine test nodes and the test image.

Nodes come from MINIORCH_TEST_NODES (as set by ./scripts/test.sh) or are started
here in /tmp/miniorch-nodes. Tests that need Docker FAIL when it is unavailable;
they never skip. A test that stops a node gets it restarted afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

_TESTS_DIR = Path(__file__).resolve().parent
if str(_TESTS_DIR) not in sys.path:  # robust whether or not tests/ is a package
    sys.path.insert(0, str(_TESTS_DIR))

from support import dockernodes  # noqa: E402

DEFAULT_NODE_COUNT = 3


def _docker_unavailable(exc: BaseException) -> None:
    pytest.fail(
        "the Docker test nodes are not available: "
        f"{exc}\nRun the suite with ./scripts/test.sh (as root; it installs docker.io and "
        "busybox-static and starts the nodes), or start nodes yourself with "
        "./scripts/test-nodes.sh start 3 and export the MINIORCH_TEST_NODES line it prints.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def docker_nodes() -> Iterator[list[dockernodes.DockerNode]]:
    """The running test nodes (node0, node1, ...), each with the test image."""
    value = os.environ.get(dockernodes.ENV_NODES)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:  # under pytest-xdist every worker runs its own nodes: tests never share an engine
        value = None
    try:
        if value:
            nodes = dockernodes.parse_nodes_env(value)
        else:
            base = dockernodes.default_base_dir()
            if worker:
                base = base.with_name(f"{base.name}-{worker}")
            nodes = [dockernodes.DockerNode(n, base) for n in dockernodes.node_names(DEFAULT_NODE_COUNT)]
        started = dockernodes.restart_stopped_nodes(nodes, dockernodes.TEST_IMAGE)
        dockernodes.ensure_test_image(nodes, dockernodes.TEST_IMAGE)
        error = None
    except (dockernodes.NodeError, OSError) as exc:
        error = exc
    if error is not None:
        _docker_unavailable(error)
    yield nodes
    if not value:
        # Only nodes this session started itself; nodes given to us stay up.
        for node in started:
            node.stop()


@pytest.fixture(scope="session")
def test_image() -> str:
    """Tag of the busybox test image present on every node."""
    return dockernodes.TEST_IMAGE


@pytest.fixture
def node_guard(docker_nodes: list[dockernodes.DockerNode]) -> Iterator[list[dockernodes.DockerNode]]:
    """The nodes, all up before the test and restarted after it if the test stopped any."""
    yield docker_nodes
    _restart_or_fail(docker_nodes)


def _restart_or_fail(nodes: list[dockernodes.DockerNode]) -> None:
    try:
        dockernodes.restart_stopped_nodes(nodes)
        error = None
    except (dockernodes.NodeError, OSError) as exc:
        error = exc
    if error is not None:
        _docker_unavailable(error)


@pytest.fixture(autouse=True)
def _restart_nodes_around_docker_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Any test using docker_nodes starts with every node up and leaves them up."""
    if "docker_nodes" not in request.fixturenames:
        yield
        return
    nodes: list[dockernodes.DockerNode] = request.getfixturevalue("docker_nodes")
    _restart_or_fail(nodes)
    yield
    _restart_or_fail(nodes)


# The longest modules go first, so that pytest-xdist's workers do not end waiting on one of them
# (the image build alone takes minutes; at the end of the run it was the whole tail).
SLOW_FIRST = ("test_image.py", "test_partitions.py", "test_ha.py", "test_remote_nodes.py", "test_start_failures.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the Docker nodes with `docker` (select with -m docker); slow modules first."""
    for item in items:
        if "docker_nodes" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """The daemon's `database`: None (SQLite in its state_dir) or a new PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "postgresql":
        url: str = request.getfixturevalue("postgres").create_database()
        return url
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_backends` run their `daemon` on SQLite and on PostgreSQL."""
    if "daemon" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def daemon(docker_nodes: list[dockernodes.DockerNode], tmp_path: Path, database_url: str | None) -> Iterator[Any]:
    """A running miniorch daemon on all test nodes; stopped (and its containers removed) after the test."""
    from support.daemon import Daemon

    extra = {"database": database_url} if database_url else None
    _remove_managed_containers(docker_nodes)  # what an earlier test's own daemons left (another cluster's)
    d = Daemon(tmp_path, [(n.name, n.url) for n in docker_nodes], extra=extra)
    d.start()
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.stop()
    _remove_managed_containers(docker_nodes)


def _remove_managed_containers(nodes: list[dockernodes.DockerNode]) -> None:
    """Leave the nodes clean for the next test, whatever this one did."""
    for node in nodes:
        if not node.is_running():
            continue
        with dockernodes.client(node.url) as c:
            for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}, ignore_removed=True):
                with contextlib.suppress(docker.errors.NotFound):  # an engine may still be removing it
                    ctr.remove(force=True)


def managed_containers(nodes: list[dockernodes.DockerNode]) -> dict[str, list[Any]]:
    """Containers miniorch made, by node name."""
    out: dict[str, list[Any]] = {}
    for node in nodes:
        with dockernodes.client(node.url) as c:
            out[node.name] = c.containers.list(
                all=True, filters={"label": "miniorch.io/managed=true"}, ignore_removed=True
            )
    return out


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A PostgreSQL cluster of this test session (one per xdist worker); FAILS when PostgreSQL is missing."""
    import shutil
    import tempfile

    from support.postgres import PgCluster, PostgresError

    # Not under pytest's tmp dir: that is root's alone, and the cluster runs as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="miniorch-pg-"))
    cluster = PgCluster(base)
    try:
        cluster.start()
        error = None
    except (PostgresError, OSError) as exc:
        error = exc
    if error is not None:
        pytest.fail(f"PostgreSQL is not available: {error}", pytrace=False)
    yield cluster
    cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    """A Store on a new SQLite file, closed after the test."""
    from miniorch.store.store import Store

    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.close()
