"""What the benches read besides wall-clock time: process CPU from /proc, the daemon's /metrics,
and the engines' own count of Docker calls (their debug log).

CPU seconds and counted calls or connections are what a loaded machine distorts least; the
benches print them next to the makespans, with medians and spreads of interleaved runs.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) the live process `pid` used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def process_rss(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of `pid` in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def metric_values(text: str, name: str) -> dict[str, float]:
    """Samples of metric `name` in a Prometheus text exposition, by their `node` label ("" if none)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        node = head.split('node="', 1)[1].split('"', 1)[0] if 'node="' in head else ""
        out[node] = out.get(node, 0.0) + float(value)
    return out


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of a series (the figures every bench reports)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(values: Sequence[float], digits: int = 2) -> str:
    """`median [min-max]`."""
    s = spread(values)
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]"


# -- the engines' count of Docker calls --------------------------------------------------------


def set_debug(daemon_json: Path, pid: int | None, on: bool) -> None:
    """Turn an engine's debug log on or off (dockerd reloads `debug` from daemon.json on SIGHUP)."""
    daemon_json.write_text(json.dumps({"debug": on}) + "\n")
    if pid is not None:
        os.kill(pid, signal.SIGHUP)
    time.sleep(0.5)


def logged_calls(logfile: Path, offset: int) -> Counter[str]:
    """Docker API calls an engine logged after byte `offset`, by method and path pattern."""
    text = logfile.read_bytes()[offset:].decode(errors="replace")
    out: Counter[str] = Counter()
    for line in text.splitlines():
        if 'msg="Calling ' in line:
            call = line.split('msg="Calling ', 1)[1].split('"', 1)[0]
            method, _, path = call.partition(" ")
            parts = [p for p in path.split("?")[0].split("/") if p and not p.startswith("v1.")]
            shape = "/".join("{id}" if len(p) > 20 or p.startswith(("floor-", "bench-")) else p for p in parts)
            out[f"{method} /{shape}"] += 1
    return out


def per_pod(calls: Counter[str], pods: int, background: set[str]) -> dict[str, Any]:
    own = sum(n for call, n in calls.items() if call not in background)
    return {
        "per_pod": round(own / pods, 2),
        "all_per_pod": round(sum(calls.values()) / pods, 2),
        "calls": dict(calls.most_common()),
    }
