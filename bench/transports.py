"""Throughput over remote transports: a Job of 40 x `true`, 4 at a time, on a TLS node, an SSH
node and a unix-socket node (the TLS node's engine on its socket: only the transport differs).

Side by side in one run, per transport: the floor (the Docker SDK over the same transport: one
docker-py client, a pool of P threads doing create, start, wait, remove) and miniorch (`apply`
until Complete, the Job pinned to that node), interleaved (the order flips each run). Per run:
makespan, CPU per pod of the process doing the work (the daemon, from /proc; for the floor the
bench itself) and connections opened per pod (TLS handshakes, SSH channels: the daemon's
`miniorch_node_connections_opened`). Then one counting run per system with the engines' debug log
on (reloaded by SIGHUP), whose "Calling METHOD /path" lines give the Docker calls per pod.

    .venv/bin/python bench/transports.py [--completions 40] [--parallelism 4] [--runs 5] [--kinds tls,ssh,unix]

The floor connects through miniorch.nodes.transport: stock docker-py cannot be told a CA that
wins over REQUESTS_CA_BUNDLE, nor an SSH key file; the adapter is the only difference.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import job_throughput  # noqa: E402
import probes  # noqa: E402
from support import dockernodes, sshd, tlsdocker  # noqa: E402
from support.daemon import Daemon, job_yaml  # noqa: E402

from miniorch.nodes import transport  # noqa: E402

IMAGE = dockernodes.TEST_IMAGE
BASE = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench-transports"))
TARGETS = {"tls": 1.10, "ssh": 1.15, "unix": 1.10}
KINDS = ("tls", "ssh", "unix")
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
            # The TLS node's engine on its unix socket: the same engine, only the transport differs.
            "unix": transport.Endpoint(self.tls.node.url, transport.UNIX),
        }
        self.engines = {"tls": self.tls.node, "ssh": self.ssh_engine, "unix": self.tls.node}

    def start(self, work: Path) -> Daemon:
        self.tls.start()
        self.ssh_engine.start()
        dockernodes.ensure_test_image([self.ssh_engine])
        self.ssh.start()
        timing = {"node_heartbeat_seconds": 2, "node_timeout_seconds": 10}  # the shipped ones
        entries = [self.tls.node_config("tls"), self.ssh.node_config("ssh"), {"name": "unix", "url": self.tls.node.url}]
        d = Daemon(
            work / "daemon", [], timing=timing, extra={"nodes": entries, "log": {"format": "json", "level": "info"}}
        )
        d.start(timeout=90)  # a loaded machine takes a while to import it all
        d.wait_for(lambda: _all_ready(d), timeout=30, what="the nodes Ready")
        return d

    def stop(self) -> None:
        self.ssh.stop()
        self.tls.stop()
        self.ssh_engine.stop()
        self.ssh_engine.remove_bridge()


def _all_ready(d: Daemon) -> bool:
    items = d.api("GET", "/api/v1/nodes")["items"]
    return len(items) == len(KINDS) and all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"]["conditions"]) for n in items
    )


@dataclasses.dataclass(frozen=True)
class Sample:
    """One timed run: its makespan, the CPU of the process doing the work (the daemon; for the
    floor the bench itself), and the connections that process opened to the engine."""

    seconds: float
    cpu: float
    dials: float


def floor_run(endpoint: transport.Endpoint, completions: int, parallelism: int, tag: str) -> Sample:
    """The Docker SDK over the node's transport: P threads, one client (its pool reused)."""
    dials = transport.Dials()
    cpu0 = time.process_time()
    client = transport.connect(endpoint, timeout=60, dials=dials)

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
    return Sample(elapsed, time.process_time() - cpu0, dials.count)


def _dials(d: Daemon, node: str) -> float:
    return probes.metric_values(d.api("GET", "/metrics"), "miniorch_node_connections_opened").get(node, 0.0)


def miniorch_run(d: Daemon, node: str, completions: int, parallelism: int, tag: str) -> Sample:
    name = f"bench-{node}-{tag}"
    text = job_yaml(
        name,
        "true",
        parallelism=parallelism,
        completions=completions,
        container={"command": ["true"]},
        pod_spec={"nodeSelector": {"kubernetes.io/hostname": node}},
    )
    assert d.proc is not None
    dials0, cpu0 = _dials(d, node), probes.process_cpu(d.proc.pid)
    start = time.perf_counter()
    d.api("POST", "/apply", json={"source": "bench", "text": text})
    while True:
        job = d.job(name)
        if job and any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"].get("conditions", [])):
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    sample = Sample(elapsed, probes.process_cpu(d.proc.pid) - cpu0, _dials(d, node) - dials0)
    d.api("DELETE", f"/apis/batch/v1/namespaces/default/jobs/{name}")
    d.wait_for(lambda: d.job(name) is None, timeout=60, what="job deleted")
    return sample


def count_calls(setup: Setup, d: Daemon, kind: str, completions: int, parallelism: int) -> dict[str, Any]:
    engine = setup.engines[kind]
    probes.set_debug(engine.dir / "daemon.json", engine.pid(), True)
    try:
        result: dict[str, Any] = {}
        for system in ("floor", "miniorch"):
            offset = engine.logfile.stat().st_size
            if system == "floor":
                floor_run(setup.endpoints[kind], completions, parallelism, f"count{kind}")
            else:
                miniorch_run(d, kind, completions, parallelism, "count")
            time.sleep(0.5)
            result[system] = probes.per_pod(probes.logged_calls(engine.logfile, offset), completions, BACKGROUND)
    finally:
        probes.set_debug(engine.dir / "daemon.json", engine.pid(), False)
    return result


Samples = dict[str, dict[str, list[Sample]]]  # transport -> system -> runs


def measure(setup: Setup, d: Daemon, args: argparse.Namespace) -> Samples:
    """Interleaved: each run goes over the transports, floor and miniorch in alternating order."""
    times: Samples = {k: {"floor": [], "miniorch": []} for k in args.kinds}
    for kind in args.kinds:
        floor_run(setup.endpoints[kind], 4, 2, f"warm-{kind}")
        miniorch_run(d, kind, 4, 2, "warm")
    for run in range(args.runs):
        for kind in args.kinds:
            order = ["floor", "miniorch"] if run % 2 == 0 else ["miniorch", "floor"]
            for system in order:
                time.sleep(SETTLE_SECONDS)
                if system == "floor":
                    got = floor_run(setup.endpoints[kind], args.completions, args.parallelism, f"{kind}{run}")
                else:
                    got = miniorch_run(d, kind, args.completions, args.parallelism, str(run))
                times[kind][system].append(got)
                per = 1000 / args.completions
                print(
                    f"run {run + 1}: {kind:4s} {system:8s} {got.seconds:6.2f}s  cpu/pod {got.cpu * per:5.1f} ms  "
                    f"connections/pod {got.dials / args.completions:.2f}",
                    flush=True,
                )
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--completions", type=int, default=40)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kinds", default=",".join(KINDS), help="transports to run, of tls,ssh,unix")
    parser.add_argument("--no-count", action="store_true", help="skip the counting runs (engine debug log)")
    args = parser.parse_args()
    args.kinds = [k for k in args.kinds.split(",") if k]
    work = Path(tempfile.mkdtemp(prefix="miniorch-bench-transports-"))
    setup = Setup(work)
    d: Daemon | None = None
    try:
        d = setup.start(work)
        docker_ver = job_throughput.docker_version(setup.tls.node.url)
        times = measure(setup, d, args)
        calls = (
            {}
            if args.no_count
            else {k: count_calls(setup, d, k, args.completions, args.parallelism) for k in args.kinds}
        )
        lost = sum(1 for e in d.log_events() if e.get("event") == "event_stream_lost")
    finally:
        if d is not None:
            d.stop()
        setup.stop()  # also when the start failed: a left engine would keep its old TLS port next time
    report(args, times, calls, docker_ver, lost)
    return 0


def _row(kind: str, runs: dict[str, list[Sample]], calls: dict[str, Any], pods: int) -> tuple[str, dict[str, Any]]:
    floor = [r.seconds for r in runs["floor"]]
    ours = [r.seconds for r in runs["miniorch"]]
    ratio = statistics.median(ours) / statistics.median(floor)
    pair = [o / f for o, f in zip(ours, floor, strict=True)]  # each run against the floor run next to it
    cpu = {s: [1000 * r.cpu / pods for r in runs[s]] for s in runs}
    dials = {s: [r.dials / pods for r in runs[s]] for s in runs}
    per_pod = {s: calls[s]["per_pod"] for s in calls}
    data = {
        "floor_s": floor,
        "miniorch_s": ours,
        "ratio": ratio,
        "pair_ratios": pair,
        "target": TARGETS[kind],
        "cpu_ms_per_pod": cpu,
        "connections_per_pod": dials,
        "calls_per_pod": per_pod,
        "calls": calls,
    }
    row = (
        f"| {kind} | {probes.fmt(floor)} s | {probes.fmt(ours)} s | {ratio:.3f} ({probes.fmt(pair, 3)}) | "
        f"<= {TARGETS[kind]} | {probes.fmt(cpu['floor'], 1)} | {probes.fmt(cpu['miniorch'], 1)} | "
        f"{probes.fmt(dials['floor'])} | {probes.fmt(dials['miniorch'])} | "
        f"{per_pod.get('floor', '-')} | {per_pod.get('miniorch', '-')} |"
    )
    return row, data


def report(args: argparse.Namespace, times: Samples, calls: dict[str, Any], docker_ver: str, lost: int) -> None:
    shape = f"{args.completions}x{args.parallelism}"
    rows, data = [], {}
    for kind in args.kinds:
        row, data[kind] = _row(kind, times[kind], calls.get(kind, {}), args.completions)
        rows.append(row)
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "docker": docker_ver,
        "load": os.getloadavg()[0],
        "shape": shape,
        "runs": args.runs,
        "event_streams_lost": lost,
        "transports": data,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"transports-{shape}.json").write_text(json.dumps(result, indent=2))
    lines = [
        f"# Throughput over TLS, SSH and a unix socket ({result['date']})",
        "",
        f"{result['cpus']} CPUs, Python {result['python']}, Docker {docker_ver}, load {result['load']:.2f} at the end; "
        f"{shape}, one node each, {args.runs} interleaved runs, median [min-max]; `bench/transports.py`; "
        f"event streams lost during the bench: {lost}",
        "",
        "| transport | floor (SDK) | miniorch | miniorch/floor (per run pair) | target | CPU ms/pod floor (bench) "
        "| CPU ms/pod miniorch (daemon) | connections/pod floor | connections/pod miniorch "
        "| calls/pod floor | calls/pod miniorch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "CPU: the process doing the work (for the floor this bench's own process, for miniorch the daemon), "
        "from /proc. Connections: new connections opened to the engine (over TLS each is a handshake, over "
        "SSH a channel running dial-stdio), the daemon's `miniorch_node_connections_opened`. Calls per pod: "
        "the Docker API calls the engine logged during one more run of each system, divided by the pods, "
        "without the background ones (heartbeat pings, container-list resyncs, info/version, and the "
        "`HEAD /_ping` that dial-stdio sends on the SSH host for each new channel), which are listed below.",
        "",
    ]
    for kind in calls:
        for system in ("floor", "miniorch"):
            listed = ", ".join(f"{k} {v}" for k, v in calls[kind][system]["calls"].items())
            lines.append(f"- {kind} {system}: {listed}")
    text = "\n".join(lines) + "\n"
    (out / f"transports-{shape}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
