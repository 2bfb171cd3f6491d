"""`ctl get nodes -o wide`: transport, round-trip time and last error of each node."""

from __future__ import annotations

import datetime as dt
from typing import Any

from miniorch.cli import output

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def node(
    name: str, ready: bool, transport: str, rtt: float | None, error: str = "", error_ago: int = 0
) -> dict[str, Any]:
    """A Node as the API serves it."""
    status: dict[str, Any] = {
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "addresses": [{"type": "URL", "address": f"{transport}://{name}"}],
        "transport": transport,
        "capacity": {"cpu": "2", "memory": "2097152Ki"},
        "nodeInfo": {"containerRuntimeVersion": "docker://20.10.24"},
    }
    if rtt is not None:
        status["roundTripMilliseconds"] = rtt
    if error:
        when = NOW - dt.timedelta(seconds=error_ago)
        status["lastError"] = {"message": error, "time": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"zone": "a"}, "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {"unschedulable": False},
        "status": status,
    }


def test_wide_node_table_shows_transport_rtt_and_last_error() -> None:
    """Each node's transport, its last ping's round trip and its last error (with its age) are columns."""
    items = [
        node("a", True, "tls", 1.234),
        node("b", False, "ssh", None, "SSH: host key of h:22 has CHANGED", 90),
        node("c", True, "tcp-insecure", 0.5),
    ]
    lines = output.render("Node", items, "wide", NOW).splitlines()
    header = lines[0].split()
    assert header[:9] == ["NAME", "STATUS", "VERSION", "CPU", "MEMORY", "AGE", "URL", "TRANSPORT", "RTT"]
    assert lines[0].endswith("LABELS   LAST ERROR")
    assert lines[1].split()[7:9] == ["tls", "1.2ms"] and lines[1].endswith("<none>")
    assert lines[2].split()[1] == "NotReady" and lines[2].split()[7:9] == ["ssh", "<none>"]
    assert lines[2].endswith("90s ago: SSH: host key of h:22 has CHANGED")
    assert lines[3].split()[1] == "Ready,INSECURE" and lines[3].split()[7] == "tcp-insecure"


def test_plain_node_table_keeps_its_columns() -> None:
    """Without -o wide the node table is unchanged: no transport columns, no INSECURE mark."""
    lines = output.render("Node", [node("c", True, "tcp-insecure", 0.5)], None, NOW).splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "VERSION", "CPU", "MEMORY", "AGE", "LABELS"]
    assert lines[1].split()[1] == "Ready"
