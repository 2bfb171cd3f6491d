"""What the scale benchmarks (scale_nodes, cron_herd, history, soak) share: nodes, a daemon,
process sampling, and results written as bench/results/<name>.md + .json (+ a PNG plot).

Plots need matplotlib (the `bench` extra: `pip install -e '.[bench]'`); it is imported only
when a plot is drawn, so the figures are still written when it is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from support import dockernodes  # noqa: E402
from support.daemon import MINIORCH, Daemon  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TICK = os.sysconf("SC_CLK_TCK")
SHIPPED_NODE_TIMING = {"node_heartbeat_seconds": 2, "node_timeout_seconds": 10}


def nodes_dir() -> Path:
    """The bench's own engines: $MINIORCH_NODES_DIR, else /tmp/miniorch-bench-nodes (never the tests')."""
    return Path(os.environ.get(dockernodes.ENV_BASE_DIR) or "/tmp/miniorch-bench-nodes")


def start_nodes(count: int) -> list[dockernodes.DockerNode]:
    nodes = dockernodes.start_nodes(count, nodes_dir(), timeout=180)
    dockernodes.ensure_test_image(nodes, dockernodes.TEST_IMAGE)
    return nodes


def new_daemon(
    nodes: Sequence[tuple[str, str]],
    label: str,
    timing: Mapping[str, float] | None = None,
    extra: dict[str, Any] | None = None,
) -> Daemon:
    work = Path(tempfile.mkdtemp(prefix=f"miniorch-{label}-"))
    return Daemon(work, list(nodes), timing=timing, extra={"log": {"format": "json", "level": "info"}, **(extra or {})})


def remove_managed(nodes: Iterable[dockernodes.DockerNode]) -> int:
    """Remove every miniorch container left on the nodes; returns how many there were."""
    removed = 0
    for node in nodes:
        if not node.is_running():
            continue
        with dockernodes.client(node.url) as c:
            for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}):
                ctr.remove(force=True)
                removed += 1
    return removed


# -- process figures -------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Sampler:
    """Samples a process (RSS, open fds, CPU) every `period` seconds on a thread; `pid` may change
    (a restarted daemon): `follow` says which process to read."""

    def __init__(self, follow: Callable[[], int | None], period: float = 5.0) -> None:
        self._follow = follow
        self._period = period
        self._stop = threading.Event()
        self.samples: list[dict[str, float]] = []
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            pid = self._follow()
            if pid is None:
                continue
            try:
                sample = {"t_s": round(time.monotonic() - self._t0, 1), "rss_mb": round(rss_mb(pid), 1)}
                sample |= {"fds": open_fds(pid), "cpu_s": round(cpu_seconds(pid), 2), "pid": pid}
            except OSError:  # it just died (kill -9): the next sample finds the new one
                continue
            self.samples.append(sample)

    def stop(self) -> list[dict[str, float]]:
        self._stop.set()
        self._thread.join(timeout=10)
        return self.samples


def api(d: Daemon, method: str, path: str, timeout: float = 120, **kw: Any) -> Any:
    """`Daemon.api` with a longer timeout (a big apply on a loaded machine)."""
    import httpx

    transport = httpx.HTTPTransport(uds=str(d.socket), verify=False)
    with httpx.Client(transport=transport, base_url="http://miniorch", timeout=timeout, verify=False) as c:
        resp = c.request(method, path, **kw)
    resp.raise_for_status()
    return resp.json()


def apply_objects(d: Daemon, objs: Sequence[dict[str, Any]], batch: int = 50) -> None:
    import yaml

    for start in range(0, len(objs), batch):
        text = "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objs[start : start + batch])
        api(d, "POST", "/apply", json={"source": "bench", "text": text})


def metric(d: Daemon, name: str) -> float:
    """One unlabelled sample of the daemon's /metrics (0 when absent)."""
    import httpx

    transport = httpx.HTTPTransport(uds=str(d.socket), verify=False)
    with httpx.Client(transport=transport, base_url="http://miniorch", timeout=120, verify=False) as c:
        text = c.get("/metrics").raise_for_status().text  # the first scrape of a big store reads every object
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return 0.0


def pass_stats(d: Daemon) -> tuple[float, float]:
    """(passes so far, seconds they took) from the reconcile pass histogram."""
    return (
        metric(d, "miniorch_reconcile_pass_duration_seconds_count"),
        metric(d, "miniorch_reconcile_pass_duration_seconds_sum"),
    )


def ctl_time(d: Daemon, *args: str) -> float:
    """Wall time of one `miniorch ctl` command as a user runs it (a new process)."""
    return ctl_cost(d, *args)["wall_s"]


def compile_bytecode() -> None:
    """Compile miniorch's modules as an installed package has them (pip compiles at install). A ctl
    timed from this editable tree under PYTHONDONTWRITEBYTECODE compiled its imports at every run
    (25 ms of `ctl get pods` on this machine type)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "miniorch")], check=True, stdout=subprocess.DEVNULL
    )


def ctl_cost(d: Daemon, *args: str) -> dict[str, float]:
    """One `miniorch ctl` command: its wall time, its own CPU and the daemon's CPU meanwhile.

    On a loaded machine the wall time mostly measures the load; the CPU seconds do not."""
    env = {**os.environ, "MINIORCH_SOCKET": str(d.socket)}
    daemon_pid = d.proc.pid if d.proc is not None else None
    before = cpu_seconds(daemon_pid) if daemon_pid else 0.0
    t0 = time.perf_counter()
    proc = subprocess.Popen([MINIORCH, "ctl", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"ctl {' '.join(args)} exited {proc.returncode}: {stderr[-500:]}")
    return {
        "wall_s": elapsed,
        "ctl_cpu_s": usage.ru_utime + usage.ru_stime,
        "daemon_cpu_s": (cpu_seconds(daemon_pid) - before) if daemon_pid else 0.0,
    }


def median_cost(d: Daemon, *args: str, runs: int = 5) -> dict[str, float]:
    costs = [ctl_cost(d, *args) for _ in range(runs)]
    return {k: round(statistics.median(c[k] for c in costs), 3) for k in costs[0]}


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- results ------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    try:
        docker_version = subprocess.run(["dockerd", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        docker_version = "?"
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "python": platform.python_version(),
        "docker": docker_version,
        "command": " ".join(shlex.quote(a) for a in sys.argv),
    }


def write(
    name: str, title: str, rows: Sequence[tuple[str, Any, str]], data: Mapping[str, Any], notes: str = ""
) -> Path:
    """bench/results/<name>.json (every figure) and <name>.md (the table: figure, value, target/ratio)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = machine()
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": meta, **data}, indent=2, default=str) + "\n")
    lines = [
        f"# {title}",
        "",
        f"`{meta['command']}` on {meta['date']}: {meta['cpus']} CPUs, load average "
        f"{meta['load_average']}, {meta['docker']}, Python {meta['python']}.",
        "",
    ]
    if notes:
        lines += [notes.strip(), ""]
    lines += ["| figure | value | target / against |", "| --- | --- | --- |"]
    lines += [f"| {label} | {value} | {target} |" for label, value, target in rows]
    if (RESULTS / f"{name}.png").exists():
        lines += ["", f"![{title}]({name}.png)"]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    return path


def figure(name: str, panels: int, width: float = 6.0) -> tuple[Any, list[Any]]:
    """A matplotlib figure of `panels` side by side; None axes when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing (pip install -e '.[bench]'): no plot", file=sys.stderr)
        return None, []
    fig, axes = plt.subplots(1, panels, figsize=(width * panels, 4.2), squeeze=False)
    return fig, list(axes[0])


def save_figure(fig: Any, name: str) -> None:
    if fig is None:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png", dpi=90)


def ok(value: float, limit: float) -> str:
    return "met" if value <= limit else "NOT met"
