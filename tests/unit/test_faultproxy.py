"""The test suite's fault-injecting TCP proxy, in front of a local echo server."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest
from support.faultproxy import FaultProxy, Mode


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    with FaultProxy("127.0.0.1", server.server_address[1]) as p:
        yield p
    server.shutdown()
    server.server_close()


def _connect(proxy: FaultProxy, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)


def _echo(sock: socket.socket, payload: bytes = b"ping") -> bytes:
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def test_pass_mode_forwards_both_ways(proxy: FaultProxy) -> None:
    """In pass mode bytes go through unchanged, and the proxy counts the connection."""
    with _connect(proxy) as sock:
        assert _echo(sock, b"hello" * 1000) == b"hello" * 1000
        assert proxy.stats().open == 1
    assert proxy.stats().accepted == 1


def test_latency_adds_the_delay_to_each_direction_and_pipelines(proxy: FaultProxy) -> None:
    """50 ms per direction: a round trip takes >= 100 ms, and ten chunks in a row are not 10 x slower."""
    proxy.latency(50)
    assert proxy.mode is Mode.LATENCY
    with _connect(proxy) as sock:
        start = time.monotonic()
        assert _echo(sock) == b"ping"
        rtt = time.monotonic() - start
        assert 0.1 <= rtt < 0.5
        start = time.monotonic()
        for i in range(10):
            sock.sendall(b"%d;" % i)
            time.sleep(0.005)
        want = b"".join(b"%d;" % i for i in range(10))
        got = b""
        while len(got) < len(want):
            got += sock.recv(65536)
        assert got == want  # in order
        assert time.monotonic() - start < 0.5


def test_drop_blackholes_new_and_open_connections_without_refusing_or_resetting(proxy: FaultProxy) -> None:
    """drop: connections are accepted but hear nothing; open ones go quiet; heal delivers what waited."""
    with _connect(proxy) as old:
        assert _echo(old) == b"ping"
        proxy.drop()
        old.settimeout(0.4)
        old.sendall(b"during")
        with pytest.raises(TimeoutError):
            old.recv(10)
        new = _connect(proxy, timeout=1.0)  # accepted, not refused
        new.settimeout(0.4)
        new.sendall(b"new")
        with pytest.raises(TimeoutError):
            new.recv(10)
        proxy.heal()
        old.settimeout(2)
        new.settimeout(2)
        assert old.recv(10) == b"during"
        assert new.recv(10) == b"new"
        new.close()


def test_stop_closes_the_listener_and_every_connection(proxy: FaultProxy) -> None:
    """After stop() the port refuses and an open connection sees EOF."""
    sock = _connect(proxy)
    assert _echo(sock) == b"ping"
    proxy.stop()
    sock.settimeout(2)
    assert sock.recv(10) == b""
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()


def test_requests_are_counted_by_method_and_path_with_ids_replaced(proxy: FaultProxy) -> None:
    """HTTP requests going to the target are counted as `METHOD /path`, API version and ids left out."""
    with _connect(proxy) as sock:
        payload = (
            b"POST /v1.41/containers/job-0-ab12c/start HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /v1.41/containers/json?all=1 HTTP/1.1\r\n\r\nGET /_ping HTTP/1.1\r\n\r\n"
            b"POST /v1.41/containers/job-1-zz9yx/start HTTP/1.1\r\n\r\n"
        )
        assert _echo(sock, payload) == payload
    assert proxy.requests(reset=True) == {
        "POST /containers/{id}/start": 2,
        "GET /containers/json": 1,
        "GET /_ping": 1,
    }
    assert proxy.requests() == {}
