"""The benchmark harness keeps working: its smallest shape, once, on a node of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMOKE_NODES = "/tmp/miniorch-bench-smoke"


def test_bench_runs_the_smallest_shape_for_floor_swarm_and_miniorch(tmp_path: Path) -> None:
    """bench/run.py 40x1 with 1 run writes makespans and both ratios to latest.json and latest.md."""
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--only", "throughput", "--shapes", "40x1"]
    cmd += ["--runs", "1", "--no-warmup", "--nodes-dir", SMOKE_NODES, "--out", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    shape = json.loads((tmp_path / "latest.json").read_text())["throughput"]["shapes"]["40x1"]
    assert set(shape["median_s"]) == {"floor", "swarm", "miniorch"}
    assert shape["miniorch_over_floor"] > 0 and shape["swarm_over_floor"] > 0
    assert "| 40x1 | 1 |" in (tmp_path / "latest.md").read_text()
