"""The Kubernetes API's figures (issue 15): listing 10,000 pods, watch latency, GET job throughput.

    .venv/bin/python bench/kube_api.py [--pods 10000] [--runs 5] [--changes 100] [--clients 10] [--seconds 10]

One bench node; a seed Job runs and its records are cloned through the Store into `--pods`
finished pods (`control_plane.seed_history`); the daemon restarts on them with its TCP listener
(self-made CA, token) and `ctl config kubeconfig` writes the kubeconfig kubectl uses. Measured:
the median of `--runs` of `kubectl get pods` (targets <= 0.5 s) and `ctl get pods` (<= 0.3 s);
a label change on a Job -> its MODIFIED event on an open `watch=1` stream, p50/p99 over
`--changes` (<= 100 ms); GET of one Job by `--clients` concurrent clients for `--seconds`, per second.
Prints JSON and writes bench/results/kube_api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import os
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import control_plane  # noqa: E402
import httpx  # noqa: E402
import scale_common  # noqa: E402
from support import dockernodes  # noqa: E402
from support.daemon import MINIORCH, Daemon  # noqa: E402

KUBECTL = "/usr/bin/kubectl"
NODES_DIR = Path("/tmp/miniorch-bench-kube-nodes")
JOBS = "/apis/batch/v1/namespaces/default/jobs"


def _median_seconds(command: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        out = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
        times.append(time.monotonic() - t0)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {out.returncode}: {out.stderr[-500:]}")
    return round(statistics.median(times), 3)


def _daemon(node: dockernodes.DockerNode, work: Path) -> Daemon:
    token = work / "token"
    token.write_text(secrets.token_hex(32))
    token.chmod(0o600)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = {"socket": str(work / "run" / "miniorch.sock"), "tcp": f"127.0.0.1:{port}", "token_file": str(token)}
    return Daemon(work, [(node.name, node.url)], extra={"api": api, "log": {"format": "json", "level": "info"}})


def _client(d: Daemon) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(d.socket)), base_url="http://miniorch", timeout=30)


def watch_latency(d: Daemon, changes: int) -> dict[str, Any]:
    """Label changes on one Job, each timed to its MODIFIED event on one open watch stream."""
    with _client(d) as c:
        listed = c.get(JOBS).json()
        name = listed["items"][0]["metadata"]["name"]
        version = listed["metadata"]["resourceVersion"]
        seen: dict[str, float] = {}
        done = threading.Event()

        def read() -> None:
            try:
                follow()
            except httpx.HTTPError:
                if not done.is_set():  # the daemon going away at the end is not a failure
                    raise

        def follow() -> None:
            with (
                _client(d) as w,
                w.stream("GET", JOBS, params={"watch": "1", "resourceVersion": version}, timeout=None) as r,
            ):
                for line in r.iter_lines():
                    event = json.loads(line) if line.strip() else {}
                    value = ((event.get("object") or {}).get("metadata", {}).get("labels") or {}).get("bench")
                    if event.get("type") == "MODIFIED" and value:
                        seen.setdefault(value, time.monotonic())
                    if done.is_set():
                        return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(1)
        sent: dict[str, float] = {}
        for i in range(changes):
            value = f"c{i}"
            sent[value] = time.monotonic()
            patch = {"metadata": {"labels": {"bench": value}}}
            c.patch(f"{JOBS}/{name}", json=patch, headers={"Content-Type": "application/merge-patch+json"})
            deadline = time.monotonic() + 5
            while value not in seen and time.monotonic() < deadline:
                time.sleep(0.001)
        done.set()
    lat = sorted((seen[v] - sent[v]) * 1000 for v in sent if v in seen)
    if not lat:
        return {"changes": changes, "received": 0}
    return {
        "changes": changes,
        "received": len(lat),
        "p50_ms": round(statistics.median(lat), 1),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1),
    }


async def _get_rate(d: Daemon, clients: int, seconds: float) -> dict[str, Any]:
    with _client(d) as c:
        name = c.get(JOBS).json()["items"][0]["metadata"]["name"]
    counts = [0] * clients
    errors = 0
    stop = time.monotonic() + seconds

    async def one(i: int) -> None:
        nonlocal errors
        transport = httpx.AsyncHTTPTransport(uds=str(d.socket))
        async with httpx.AsyncClient(transport=transport, base_url="http://miniorch", timeout=30) as ac:
            while time.monotonic() < stop:
                resp = await ac.get(f"{JOBS}/{name}")
                counts[i] += 1
                errors += resp.status_code != 200

    await asyncio.gather(*(one(i) for i in range(clients)))
    return {
        "clients": clients,
        "seconds": seconds,
        "requests_per_second": round(sum(counts) / seconds, 1),
        "errors": errors,
    }


KUBECTL_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


class _Canned(http.server.BaseHTTPRequestHandler):
    """Answers every GET at once with the server's one body: kubectl's floor, no daemon behind it."""

    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_: Any) -> None:
        pass


def kubectl_floor(d: Daemon, work: Path, kubeconfig: Path, runs: int) -> dict[str, float]:
    """`kubectl get pods` against the daemon's own answer to it, captured once and served from memory by
    a TLS server with the daemon's certificate: what kubectl's decoding and printing cost alone. Also
    with the rows' objects left out (`includeObject=None`), which kubectl cannot ask for."""
    url = "/api/v1/namespaces/default/pods?limit=500"
    with _client(d) as c:
        bodies = {
            "kubectl floor s": c.get(url, headers={"accept": KUBECTL_ACCEPT}).content,
            "kubectl floor, no row objects s": c.get(
                f"{url}&includeObject=None", headers={"accept": KUBECTL_ACCEPT}
            ).content,
        }
    config = kubeconfig.read_text()
    port = config.split("https://127.0.0.1:", 1)[1].split("\n", 1)[0].strip().strip('"')
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(work / "state" / "tls" / "server.crt", work / "state" / "tls" / "server.key")
    out: dict[str, float] = {}
    for name, body in bodies.items():
        handler = type("Canned", (_Canned,), {"body": body})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        floor_port = str(server.server_address[1])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            floor_config = work / f"kubeconfig-floor-{floor_port}"
            floor_config.write_text(config.replace(f"127.0.0.1:{port}", f"127.0.0.1:{floor_port}"))
            cache = work / f"kcache-floor-{floor_port}"
            shutil.copytree(work / "kcache", cache)  # discovery as kubectl cached it from the daemon
            (cache / "discovery" / f"127.0.0.1_{port}").rename(cache / "discovery" / f"127.0.0.1_{floor_port}")
            command = [KUBECTL, "--kubeconfig", str(floor_config), "--cache-dir", str(cache), "get", "pods"]
            out[name] = _median_seconds(command, runs)
        finally:
            server.shutdown()
            server.server_close()
    out["answer MB"] = round(len(bodies["kubectl floor s"]) / 1e6, 2)
    return out


def report(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The figures against their targets, as bench/results/kube_api.md."""
    watch, rate = result.get("watch", {}), result.get("get job", {})
    pods = result.get("history", {}).get("pods")
    floor = result.get("kubectl floor", {})
    ratio = round(result["kubectl get pods s"] / floor["kubectl floor s"], 2) if floor.get("kubectl floor s") else None
    rows = [
        (f"`kubectl get pods`, {pods:,} pods (median of {args.runs})", f"{result['kubectl get pods s']} s", "<= 0.5 s"),
        (
            f"`kubectl get pods` against the daemon's answer ({floor.get('answer MB')} MB) served from memory",
            f"{floor.get('kubectl floor s')} s (miniorch / floor {ratio})",
            "kubectl's own floor",
        ),
        (
            "... the same rows without their objects (`includeObject=None`)",
            f"{floor.get('kubectl floor, no row objects s')} s",
            "kubectl cannot ask for it",
        ),
        (f"`ctl get pods`, {pods:,} pods (median of {args.runs})", f"{result['ctl get pods s']} s", "<= 0.3 s"),
        (
            "`ctl version` (ctl's own start-up and one request)",
            f"{result.get('ctl version s')} s",
            "floor of the above",
        ),
        (
            f"change -> watch event, {watch.get('received')} of {watch.get('changes')}",
            f"p50 {watch.get('p50_ms')} ms, p99 {watch.get('p99_ms')} ms",
            "p99 <= 100 ms",
        ),
        (
            f"`GET job`, {rate.get('clients')} clients, {rate.get('seconds')} s",
            f"{rate.get('requests_per_second')} req/s, {rate.get('errors')} errors",
            "reported",
        ),
    ]
    lines = [
        "# The Kubernetes API (issue 15)",
        "",
        f"`bench/kube_api.py`, load average {result['load_start']:.1f} at the start, {result['load_end']:.1f} at the end.",
        "",
        "| figure | measured | target |",
        "| --- | --- | --- |",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--nodes-dir", type=Path, default=NODES_DIR)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    scale_common.compile_bytecode()
    nodes = dockernodes.start_nodes(1, args.nodes_dir)
    dockernodes.ensure_test_image(nodes)
    work = Path(tempfile.mkdtemp(prefix="miniorch-bench-kube-"))
    d = _daemon(nodes[0], work)
    result: dict[str, Any] = {"load_start": os.getloadavg()[0]}
    try:
        d.start(timeout=120)
        result["history"] = control_plane.seed_history(d, 10, max(1, args.pods // 10))
        d.start(timeout=300)
        kubeconfig = work / "kubeconfig"
        out = subprocess.run(
            [MINIORCH, "ctl", "config", "kubeconfig", "--config", str(d.config_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        kubeconfig.write_text(out.stdout)
        result["kubectl get pods s"] = _median_seconds(
            [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(work / "kcache"), "get", "pods"], args.runs
        )
        result["kubectl floor"] = kubectl_floor(d, work, kubeconfig, args.runs)
        on_daemon = {"MINIORCH_SOCKET": str(d.socket)}
        result["ctl get pods s"] = _median_seconds([MINIORCH, "ctl", "get", "pods"], args.runs, on_daemon)
        result["ctl version s"] = _median_seconds([MINIORCH, "ctl", "version"], args.runs, on_daemon)
        result["watch"] = watch_latency(d, args.changes)
        result["get job"] = asyncio.run(_get_rate(d, args.clients, args.seconds))
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        dockernodes.stop_nodes(args.nodes_dir)
    result["load_end"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kube_api.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "kube_api.md").write_text(report(result, args))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
