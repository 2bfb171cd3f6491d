"""Throughput over remote transports: a Job of 40 x `true`, 4 at a time, on a TLS node and on an SSH node.

Side by side in one run, per transport: the floor (the Docker SDK over the same transport: one
docker-py client, a pool of P threads doing create, start, wait, remove) and miniorch (`apply`
until Complete, the Job pinned to that node). The engines are the bench's own: a dockerd with
--tlsverify on 127.0.0.1 and a dockerd behind an OpenSSH server on 127.0.0.1 (the test
support's). Then one counting run per system with the engines' debug log on (reloaded by
SIGHUP), whose "Calling METHOD /path" lines give the Docker calls per pod.

    .venv/bin/python bench/transports.py [--completions 40] [--parallelism 4] [--runs 3]

The floor connects through miniorch.nodes.transport: stock docker-py cannot be told a CA that
wins over REQUESTS_CA_BUNDLE, nor an SSH key file; the adapter is the only difference.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import job_throughput  # noqa: E402
from support import dockernodes, sshd, tlsdocker  # noqa: E402
from support.daemon import Daemon, job_yaml  # noqa: E402

from miniorch.nodes import transport  # noqa: E402

IMAGE = dockernodes.TEST_IMAGE
BASE = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench-transports"))
TARGETS = {"tls": 1.10, "ssh": 1.15}
SETTLE_SECONDS = 3.0
# The daemon's heartbeats and resyncs, and the docker CLI's version ping when dial-stdio starts on the
# host (one per new SSH channel): counted apart from the calls made for the pods.
BACKGROUND = {"GET /_ping", "HEAD /_ping", "GET /containers/json", "GET /info", "GET /version"}


class Setup:
    """The two engines, their transports, and a daemon with both as nodes."""

    def __init__(self, work: Path) -> None:
        self.pki = tlsdocker.make_pki(work / "pki")
        self.tls = tlsdocker.TlsNode(BASE, self.pki, name="tls40")
        self.ssh_engine = dockernodes.DockerNode("node1", BASE)
        self.ssh = sshd.SshServer(work / "sshd", self.ssh_engine.socket)
        self.endpoints = {
            "tls": transport.Endpoint(
                self.tls.url,
                transport.TLS,
                ca=str(self.pki.ca),
                cert=str(self.pki.client_cert),
                key=str(self.pki.client_key),
            ),
            "ssh": transport.Endpoint(
                self.ssh.url, transport.SSH, identity_file=str(self.ssh.identity), known_hosts=str(self.ssh.known_hosts)
            ),
        }
        self.engines = {"tls": self.tls.node, "ssh": self.ssh_engine}

    def start(self, work: Path) -> Daemon:
        self.tls.start()
        self.ssh_engine.start()
        dockernodes.ensure_test_image([self.ssh_engine])
        self.ssh.start()
        timing = {"node_heartbeat_seconds": 2, "node_timeout_seconds": 10}  # the shipped ones
        entries = [self.tls.node_config("tls"), self.ssh.node_config("ssh")]
        d = Daemon(
            work / "daemon", [], timing=timing, extra={"nodes": entries, "log": {"format": "json", "level": "info"}}
        )
        d.start()
        d.wait_for(lambda: _all_ready(d), timeout=30, what="both nodes Ready")
        return d

    def stop(self) -> None:
        self.ssh.stop()
        self.tls.stop()
        self.ssh_engine.stop()
        self.ssh_engine.remove_bridge()


def _all_ready(d: Daemon) -> bool:
    items = d.api("GET", "/api/nodes")["items"]
    return len(items) == 2 and all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]) for n in items
    )


def floor_run(endpoint: transport.Endpoint, completions: int, parallelism: int, tag: str) -> float:
    """The Docker SDK over the node's transport: P threads, one client (its pool reused)."""
    client = transport.connect(endpoint, timeout=60)

    def one(i: int) -> None:
        api = client.api
        c = api.create_container(IMAGE, ["true"], name=f"floor-{tag}-{i}")
        api.start(c["Id"])
        api.wait(c["Id"])
        api.remove_container(c["Id"], force=True)

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(parallelism) as pool:
        list(pool.map(one, range(completions)))
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def miniorch_run(d: Daemon, node: str, completions: int, parallelism: int, tag: str) -> float:
    name = f"bench-{node}-{tag}"
    text = job_yaml(
        name,
        "true",
        parallelism=parallelism,
        completions=completions,
        container={"command": ["true"]},
        pod_spec={"nodeSelector": {"kubernetes.io/hostname": node}},
    )
    start = time.perf_counter()
    d.api("POST", "/apply", json={"source": "bench", "text": text})
    while True:
        job = d.job(name)
        if job and any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"].get("conditions", [])):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    d.api("DELETE", f"/api/objects/jobs/default/{name}")
    d.wait_for(lambda: d.job(name) is None, timeout=60, what="job deleted")
    return elapsed


def _set_debug(engine: dockernodes.DockerNode, on: bool) -> None:
    (engine.dir / "daemon.json").write_text(json.dumps({"debug": on}) + "\n")
    pid = engine.pid()
    if pid is not None:
        os.kill(pid, signal.SIGHUP)  # dockerd reloads `debug` from daemon.json
    time.sleep(0.5)


def _calls(engine: dockernodes.DockerNode, offset: int) -> Counter[str]:
    """Docker API calls the engine logged after byte `offset`, by method and path pattern."""
    text = engine.logfile.read_bytes()[offset:].decode(errors="replace")
    out: Counter[str] = Counter()
    for line in text.splitlines():
        if 'msg="Calling ' in line:
            call = line.split('msg="Calling ', 1)[1].split('"', 1)[0]
            method, _, path = call.partition(" ")
            parts = [p for p in path.split("?")[0].split("/") if p and not p.startswith("v1.")]
            shape = "/".join("{id}" if len(p) > 20 or p.startswith(("floor-", "bench-")) else p for p in parts)
            out[f"{method} /{shape}"] += 1
    return out


def count_calls(setup: Setup, d: Daemon, kind: str, completions: int, parallelism: int) -> dict[str, Any]:
    engine = setup.engines[kind]
    _set_debug(engine, True)
    try:
        result: dict[str, Any] = {}
        for system in ("floor", "miniorch"):
            offset = engine.logfile.stat().st_size
            if system == "floor":
                floor_run(setup.endpoints[kind], completions, parallelism, "count")
            else:
                miniorch_run(d, kind, completions, parallelism, "count")
            time.sleep(0.5)
            calls = _calls(engine, offset)
            own = sum(n for call, n in calls.items() if call not in BACKGROUND)
            result[system] = {
                "per_pod": round(own / completions, 2),
                "all_per_pod": round(sum(calls.values()) / completions, 2),
                "calls": dict(calls.most_common()),
            }
    finally:
        _set_debug(engine, False)
    return result


def measure(setup: Setup, d: Daemon, args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {k: {"floor": [], "miniorch": []} for k in ("tls", "ssh")}
    for kind in ("tls", "ssh"):
        floor_run(setup.endpoints[kind], 4, 2, f"warm-{kind}")
        miniorch_run(d, kind, 4, 2, "warm")
    for run in range(args.runs):
        for kind in ("tls", "ssh"):
            order = ["floor", "miniorch"] if run % 2 == 0 else ["miniorch", "floor"]
            for system in order:
                time.sleep(SETTLE_SECONDS)
                if system == "floor":
                    took = floor_run(setup.endpoints[kind], args.completions, args.parallelism, f"{kind}{run}")
                else:
                    took = miniorch_run(d, kind, args.completions, args.parallelism, str(run))
                times[kind][system].append(took)
                print(f"run {run + 1}: {kind} {system:8s} {took:6.2f}s", flush=True)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--completions", type=int, default=40)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--from-json", type=Path, help="only write the report again from a results file")
    args = parser.parse_args()
    if args.from_json:
        return _rereport(args)
    work = Path(tempfile.mkdtemp(prefix="miniorch-bench-transports-"))
    setup = Setup(work)
    d = setup.start(work)
    try:
        docker_ver = job_throughput.docker_version(setup.tls.node.url)
        times = measure(setup, d, args)
        calls = {kind: count_calls(setup, d, kind, args.completions, args.parallelism) for kind in ("tls", "ssh")}
    finally:
        d.stop()
        setup.stop()
    report(args, times, calls, docker_ver)
    return 0


def _rereport(args: argparse.Namespace) -> int:
    saved = json.loads(args.from_json.read_text())
    args.completions, args.parallelism = (int(x) for x in saved["shape"].split("x"))
    args.runs = saved["runs"]
    times = {k: {"floor": v["floor_s"], "miniorch": v["miniorch_s"]} for k, v in saved["transports"].items()}
    calls = {k: v["calls"] for k, v in saved["transports"].items()}
    for kind_calls in calls.values():
        for entry in kind_calls.values():
            own = sum(n for call, n in entry["calls"].items() if call not in BACKGROUND)
            entry["per_pod"] = round(own / args.completions, 2)
    report(args, times, calls, saved["docker"], saved)
    return 0


def report(
    args: argparse.Namespace,
    times: dict[str, dict[str, list[float]]],
    calls: dict[str, Any],
    docker_ver: str,
    saved: dict[str, Any] | None = None,
) -> None:
    shape = f"{args.completions}x{args.parallelism}"
    rows, data = [], {}
    for kind in ("tls", "ssh"):
        floor_m, ours_m = statistics.median(times[kind]["floor"]), statistics.median(times[kind]["miniorch"])
        ratio = ours_m / floor_m
        data[kind] = {
            "floor_s": times[kind]["floor"],
            "miniorch_s": times[kind]["miniorch"],
            "floor_median_s": floor_m,
            "miniorch_median_s": ours_m,
            "ratio": ratio,
            "target": TARGETS[kind],
            "calls_per_pod": {s: calls[kind][s]["per_pod"] for s in ("floor", "miniorch")},
            "calls": calls[kind],
        }
        per_pod = data[kind]["calls_per_pod"]
        rows.append(
            f"| {kind} | {floor_m:.2f}s | {ours_m:.2f}s | {ratio:.3f} | <= {TARGETS[kind]} | {per_pod['floor']} | {per_pod['miniorch']} |"
        )
        print(
            f"{kind}: floor {floor_m:.2f}s, miniorch {ours_m:.2f}s, ratio {ratio:.3f} (target <= {TARGETS[kind]}); "
            f"Docker calls per pod: floor {per_pod['floor']}, miniorch {per_pod['miniorch']}"
        )
    result = {
        "date": saved["date"] if saved else dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "docker": docker_ver,
        "load": saved["load"] if saved else os.getloadavg()[0],
        "shape": shape,
        "runs": args.runs,
        "transports": data,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"transports-{shape}.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Throughput over TLS and SSH ({result['date']})",
        "",
        f"{result['cpus']} CPUs, Python {result['python']}, Docker {docker_ver}, load {result['load']:.2f} at the end; "
        f"{shape}, one node each, median of {args.runs}; `bench/transports.py`",
        "",
        "| transport | floor (SDK) | miniorch | miniorch/floor | target | calls/pod floor | calls/pod miniorch |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Calls per pod: the Docker API calls the engine logged during one run of each system, divided by the "
        "pods, without the background ones (heartbeat pings, container-list resyncs, info/version, and the "
        "`HEAD /_ping` that dial-stdio sends on the SSH host for each new channel), which are listed below.",
        "",
    ]
    for kind in ("tls", "ssh"):
        for system in ("floor", "miniorch"):
            listed = ", ".join(f"{k} {v}" for k, v in calls[kind][system]["calls"].items())
            lines.append(f"- {kind} {system}: {listed}")
    (out / f"transports-{shape}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
