"""The Docker API's shapes into ours (nodes/shapes.py): times, health, listings, inspects, create arguments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from miniorch.nodes import records, shapes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0001-01-01T00:00:00Z", None),  # Docker's "never"
        ("2026-12-02T03:04:05.123456789Z", dt.datetime(2026, 12, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)),
        ("2026-12-02T03:04:05Z", dt.datetime(2026, 12, 2, 3, 4, 5, tzinfo=dt.UTC)),
    ],
)
def test_docker_times_become_utc_datetimes(value: str | None, expected: dt.datetime | None) -> None:
    assert shapes.parse_time(value) == expected


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("Up 5 seconds (healthy)", "healthy"),
        ("Up 2 minutes (unhealthy)", "unhealthy"),
        ("Up 1 second (health: starting)", "starting"),
        ("Exited (0) 3 seconds ago", ""),
    ],
)
def test_a_listing_row_takes_health_from_its_status_text(status: str, health: str) -> None:
    row: dict[str, Any] = {"Id": "c1", "Names": ["/pi-a"], "Labels": {"a": "b"}, "State": "running", "Status": status}
    state = shapes.state_of_row(row, "node0")
    assert (state.name, state.node, state.status, state.health, state.exit_code) == (
        "pi-a",
        "node0",
        "running",
        health,
        None,
    )


def test_an_inspect_gives_the_exit_code_only_once_the_container_ended() -> None:
    data: dict[str, Any] = {
        "Id": "c1",
        "Name": "/pi-a",
        "Config": {"Labels": None},
        "RestartCount": 2,
        "State": {"Status": "exited", "ExitCode": 3, "OOMKilled": True, "StartedAt": "2026-12-02T03:04:05Z"},
    }
    state = shapes.state_of_inspect(data, "node0")
    assert (state.exit_code, state.oom_killed, state.restart_count, state.inspected) == (3, True, 2, True)
    running = shapes.state_of_inspect({**data, "State": {"Status": "running", "ExitCode": 0}}, "node0")
    assert running.exit_code is None


def test_create_arguments_follow_the_spec() -> None:
    spec = records.ContainerSpec(
        name="pi-a",
        image="busybox",
        command=("sh", "-c"),
        args=("true",),
        env={"A": "1"},
        labels={"miniorch.io/managed": "true"},
        host_network=True,
        hostname="pi-a",
    )
    args = shapes.create_args(spec)
    assert (args["entrypoint"], args["command"], args["environment"], args["hostname"]) == (
        ["sh", "-c"],
        ["true"],
        {"A": "1"},
        None,  # host network: the host's name
    )
    assert shapes.host_config_args(spec)["network_mode"] == "host"
