"""What one Docker API call costs the caller's CPU: the Docker SDK (docker-py over requests) as
shipped, the same through miniorch's transport (as the daemon calls the engines: one connection
pool per engine, where docker-py's unix adapter makes one per URL), and plain HTTP/1.1 on the same
unix socket (http.client, one kept connection), for the calls a Job's pod makes. The figure behind
the big Job's CPU per pod.

    .venv/bin/python bench/sdk_overhead.py [--calls 300]

Each container is created (not started), inspected, asked for its (empty) log and removed, so the
engines do little and the caller's CPU is the client's own. Uses the bench's nodes in
/tmp/miniorch-bench-nodes (started if needed). Writes bench/results/sdk-overhead.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import docker  # noqa: E402
from support import dockernodes  # noqa: E402

from miniorch.nodes import transport  # noqa: E402

NODES_DIR = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench-nodes"))
CALLS = ("create", "inspect", "logs", "remove")


def sdk_calls(url: str, api: docker.APIClient | None = None) -> dict[str, Callable[[str], object]]:
    api = api or docker.APIClient(base_url=url, version="auto", timeout=60)
    return {
        "create": lambda name: api.create_container(dockernodes.TEST_IMAGE, ["true"], name=name),
        "inspect": lambda name: api.inspect_container(name),
        "logs": lambda name: api._result(
            api._get(api._url("/containers/{0}/logs", name), params={"stdout": 1, "stderr": 1, "tail": 200})
        ),
        "remove": lambda name: api.remove_container(name, force=True, v=True),
    }


def miniorch_calls(url: str) -> dict[str, Callable[[str], object]]:
    """docker-py as the daemon reaches an engine: `nodes.transport`, one connection pool per engine."""
    return sdk_calls(url, transport.connect(transport.Endpoint(url), timeout=60).api)


def raw_calls(url: str) -> dict[str, Callable[[str], object]]:
    conn = dockernodes._connection(url, 60)

    def call(method: str, path: str, body: dict[str, object] | None = None) -> bytes:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        out = response.read()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {out[:200]!r}")
        return out

    return {
        "create": lambda name: json.loads(
            call("POST", f"/containers/create?name={name}", {"Image": dockernodes.TEST_IMAGE, "Cmd": ["true"]})
        ),
        "inspect": lambda name: json.loads(call("GET", f"/containers/{name}/json")),
        "logs": lambda name: call("GET", f"/containers/{name}/logs?stdout=1&stderr=1&tail=200"),
        "remove": lambda name: call("DELETE", f"/containers/{name}?force=1&v=1"),
    }


def measure(calls: dict[str, Callable[[str], object]], count: int, prefix: str) -> dict[str, float]:
    """CPU ms of this process per call, for each kind of call."""
    names = [f"{prefix}-{i}" for i in range(count)]
    out: dict[str, float] = {}
    for what in CALLS:
        cpu0 = time.process_time()
        for name in names:
            calls[what](name)
        out[what] = 1000 * (time.process_time() - cpu0) / count
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    (node,) = dockernodes.start_nodes(1, NODES_DIR)
    dockernodes.ensure_test_image([node])
    for make in (raw_calls, sdk_calls, miniorch_calls):
        measure(make(node.url), 5, f"sdk-bench-warm-{make.__name__.replace('_', '-')}")
    raw = measure(raw_calls(node.url), args.calls, "sdk-bench-raw")
    sdk = measure(sdk_calls(node.url), args.calls, "sdk-bench-sdk")
    ours = measure(miniorch_calls(node.url), args.calls, "sdk-bench-miniorch")
    lines = [
        "# One Docker API call's CPU for the caller: the SDK against plain HTTP",
        "",
        f"`bench/sdk_overhead.py --calls {args.calls}`, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
        "CPU of the calling process per call (the engine's own work is not counted).",
        "",
        "| call | docker-py as shipped (a pool per URL) | docker-py on miniorch's transport (one pool) "
        "| http.client, one kept connection | shipped / plain | miniorch / plain |",
        "|---|---|---|---|---|---|",
    ]
    rows = [(what, sdk[what], ours[what], raw[what]) for what in CALLS]
    rows.append(("the four", sum(sdk.values()), sum(ours.values()), sum(raw.values())))
    for what, a, b, c in rows:
        lines.append(
            f"| {what} | {a:.3f} ms | {b:.3f} ms | {c:.3f} ms | {a / max(c, 1e-6):.1f} | {b / max(c, 1e-6):.1f} |"
        )
    lines.append("")
    text = "\n".join(lines)
    (ROOT / "bench" / "results" / "sdk-overhead.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
