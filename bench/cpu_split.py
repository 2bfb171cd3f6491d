"""Where the CPU goes during one batch shape: the floor against miniorch, per process group.

On 2 cores the engines, containerd and miniorch share the machine, so every CPU-second the
daemon spends is taken from the engines; this is the tool that showed where to cut.

    .venv/bin/python bench/cpu_split.py --shape 40x4 --nodes 1 --runs 2 [--py-spy DIR]

Prints, per run and system: makespan, CPU seconds of dockerd, containerd, the miniorch
daemon, this process and the rest of the machine (from /proc), and miniorch's reconcile
passes (its /metrics). With --py-spy, records a GIL profile of the daemon per miniorch run.
Uses the bench's nodes in /tmp/miniorch-bench-nodes (started if needed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import job_throughput  # noqa: E402
from support import dockernodes  # noqa: E402
from support.daemon import Daemon  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
NODES_DIR = Path(os.environ.get("MINIORCH_BENCH_DIR", "/tmp/miniorch-bench-nodes"))
GROUPS = ("dockerd", "containerd", "miniorch", "bench", "rest")


def _group(cmd: str, pid: int) -> str:
    if "dockerd" in cmd and str(NODES_DIR) in cmd:
        return "dockerd"
    if "containerd" in cmd and "shim" not in cmd and str(NODES_DIR) in cmd:
        return "containerd"
    if " daemon --config" in cmd and "miniorch" in cmd:
        return "miniorch"
    return "bench" if pid == os.getpid() else "rest"


def cpu_by_group() -> dict[str, float]:
    """CPU seconds so far of the live processes, by group (children they reaped included)."""
    out = dict.fromkeys(GROUPS, 0.0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_text().replace("\0", " ")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        out[_group(cmd, int(entry))] += ticks / TICK
    return out


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK


def passes(d: Daemon) -> float:
    for line in d.api("GET", "/metrics").splitlines():
        if line.startswith("miniorch_reconcile_pass_duration_seconds_count"):
            return float(line.split()[-1])
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="40x4", help="completions x parallelism")
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--py-spy", type=Path, help="write a GIL profile (py-spy raw) of each miniorch run here")
    args = parser.parse_args()
    completions, parallelism = (int(x) for x in args.shape.split("x"))
    nodes = dockernodes.start_nodes(args.nodes, NODES_DIR)
    dockernodes.ensure_test_image(nodes, dockernodes.TEST_IMAGE)
    urls = [n.url for n in nodes]
    work = Path(tempfile.mkdtemp(prefix="miniorch-cpu-"))
    timing = {"node_heartbeat_seconds": 2, "node_timeout_seconds": 10}  # as bench/run.py: the shipped ones
    d = Daemon(
        work, [(n.name, n.url) for n in nodes], timing=timing, extra={"log": {"format": "json", "level": "info"}}
    )
    d.start()
    try:
        job_throughput.floor_run(urls, 4, 2, "warm")
        job_throughput.miniorch_run(d, 4, 2, "warm", False)
        print(
            f"{'run':>3} {'system':8} {'makespan':>8} {'machine':>8} "
            + " ".join(f"{g:>10}" for g in GROUPS)
            + " passes"
        )
        for run in range(args.runs):
            for system in ("floor", "miniorch"):
                spy = None
                if system == "miniorch" and args.py_spy and d.proc is not None:
                    args.py_spy.mkdir(parents=True, exist_ok=True)
                    out = args.py_spy / f"{args.shape}-{run}.txt"
                    spy_cmd = [
                        str(Path(sys.executable).with_name("py-spy")),
                        "record",
                        "-p",
                        str(d.proc.pid),
                        "-r",
                        "200",
                        "-f",
                        "raw",
                        "--gil",
                        "-o",
                        str(out),
                    ]
                    spy = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    time.sleep(1)
                before, machine, p0 = cpu_by_group(), machine_cpu(), passes(d)
                if system == "floor":
                    took = job_throughput.floor_run(urls, completions, parallelism, f"cpu-f{run}")
                else:
                    took = job_throughput.miniorch_run(d, completions, parallelism, f"cpu-m{run}", False)
                after, machine = cpu_by_group(), machine_cpu() - machine
                if spy is not None:
                    spy.send_signal(2)
                    spy.wait()
                split = " ".join(f"{after[g] - before[g]:9.2f}s" for g in GROUPS)
                print(f"{run + 1:>3} {system:8} {took:7.2f}s {machine:7.2f}s {split} {passes(d) - p0:6.0f}", flush=True)
    finally:
        d.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
