"""`miniorch ctl version` start-up: the figure behind the ≤ 0.2 s bar, and its ratio to a bare Python.

    .venv/bin/python bench/ctl_startup.py [--runs 21] [--miniorch PATH]

A stub daemon (stdlib HTTP on a unix socket, answering `/version`) stands in for the real one, so
the figure is the CLI's own cost: interpreter, imports, one request. The two commands run in
turn (ctl, `python -c pass`, ctl, ...); printed are the medians of wall and CPU seconds (the CPU
of each finished child, from wait4) and the ratios ctl / `python -c pass`. On a loaded machine
read the CPU figures: wall time then measures the queue for a core.
"""

from __future__ import annotations

import argparse
import json
import os
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

BAR_SECONDS = 0.2


class _Version(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = json.dumps({"version": "0.0.0-stub", "python": "3"}).encode()
        self.send_response(200 if self.path == "/version" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run; a failed run stops the bench."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        sys.exit(f"{' '.join(cmd)} failed with exit code {proc.returncode}: {err.strip()}")
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def measure(miniorch: str, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sock = str(Path(tmp) / "miniorch.sock")
        server = _UnixServer(sock, _Version)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env = {**os.environ, "MINIORCH_SOCKET": sock}
        env.pop("MINIORCH_SERVER", None)
        ctl, bare = [miniorch, "ctl", "version"], [sys.executable, "-c", "pass"]
        _run(ctl, env), _run(bare, env)  # warm-up: page cache, .pyc files
        samples: dict[str, list[tuple[float, float]]] = {"ctl": [], "bare": []}
        for _ in range(runs):
            samples["ctl"].append(_run(ctl, env))
            samples["bare"].append(_run(bare, env))
        server.shutdown()
        server.server_close()
    out = {}
    for name, rows in samples.items():
        out[f"{name}_wall"] = statistics.median(w for w, _ in rows)
        out[f"{name}_cpu"] = statistics.median(c for _, c in rows)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--miniorch", default=str(Path(sys.executable).with_name("miniorch")))
    args = parser.parse_args()
    m = measure(args.miniorch, args.runs)
    load = os.getloadavg()[0]
    print(f"ctl version: median wall {m['ctl_wall']:.3f} s, cpu {m['ctl_cpu']:.3f} s (bar {BAR_SECONDS} s)")
    print(f"python -c pass: median wall {m['bare_wall']:.3f} s, cpu {m['bare_cpu']:.3f} s")
    print(
        f"ratio ctl / python -c pass: wall {m['ctl_wall'] / m['bare_wall']:.2f}, cpu {m['ctl_cpu'] / m['bare_cpu']:.2f}"
        f" ({args.runs} runs each, load average {load:.2f} on {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
