"""Sanity checks of the test harness itself: the Docker nodes and the busybox image."""

from __future__ import annotations

from support import dockernodes


def test_three_nodes_answer_ping(docker_nodes: list[dockernodes.DockerNode]) -> None:
    """Every test node answers a ping on its own socket."""
    assert len(docker_nodes) >= 3
    assert len({n.url for n in docker_nodes}) == len(docker_nodes)
    for node in docker_nodes:
        with dockernodes.client(node.url) as client:
            assert client.ping()


def test_every_node_has_the_test_image(docker_nodes: list[dockernodes.DockerNode], test_image: str) -> None:
    """The busybox test image is present on every node."""
    for node in docker_nodes:
        with dockernodes.client(node.url) as client:
            assert test_image in client.images.get(test_image).tags


def test_container_exit_code_is_reported(docker_nodes: list[dockernodes.DockerNode], test_image: str) -> None:
    """A container running `sh -c 'echo hi; exit 3'` on node1 exits with 3 and logs hi."""
    with dockernodes.client(docker_nodes[1].url) as client:
        container = client.containers.run(test_image, ["sh", "-c", "echo hi; exit 3"], detach=True)
        try:
            assert container.wait(timeout=30)["StatusCode"] == 3
            assert container.logs() == b"hi\n"
        finally:
            container.remove(force=True)


def test_stopped_node_comes_back_with_its_image(node_guard: list[dockernodes.DockerNode], test_image: str) -> None:
    """A stopped node stops answering, and answers again with its image after start."""
    node = node_guard[2]
    node.stop()
    assert not node.is_running()
    assert node.pid() is None
    assert node.processes() == []
    node.start()
    assert node.is_running()
    assert dockernodes.image_exists(node.url, test_image)


def test_killed_node_restarts_and_reports_its_container_dead(
    node_guard: list[dockernodes.DockerNode], test_image: str
) -> None:
    """A crashed (SIGKILLed) node restarts; its running container is then no longer running."""
    node = node_guard[0]
    with dockernodes.client(node.url) as client:
        container = client.containers.run(test_image, ["sleep", "600"], detach=True)
    node.kill()
    assert not node.is_running()
    node.start()
    with dockernodes.client(node.url) as client:
        state = client.containers.get(container.id).attrs["State"]
        client.containers.get(container.id).remove(force=True)
    assert state["Running"] is False


def test_nodes_env_round_trips(docker_nodes: list[dockernodes.DockerNode]) -> None:
    """MINIORCH_TEST_NODES text parses back into the same nodes."""
    value = dockernodes.nodes_env(docker_nodes)
    assert value.startswith(f"node0=unix://{docker_nodes[0].base_dir}/node0/docker.sock,")
    assert dockernodes.parse_nodes_env(value) == docker_nodes


def test_calls_on_many_containers_reuse_one_connection_to_a_unix_node(
    docker_nodes: list[dockernodes.DockerNode],
) -> None:
    """docker-py's unix adapter opened a new pool and connection for every container a call named
    (its pools are keyed by the whole URL); miniorch's transport keeps one pool per engine."""
    from miniorch.nodes import transport

    dials = transport.Dials()
    client = transport.connect(transport.Endpoint(docker_nodes[0].url), timeout=10, dials=dials)
    try:
        for i in range(30):
            try:
                client.api.inspect_container(f"miniorch-no-such-container-{i}")
            except Exception as exc:  # 404 for each: still one request and its answer on the connection
                assert "404" in str(exc) or "No such container" in str(exc)
        assert dials.count <= 2, dials.count
    finally:
        client.close()
