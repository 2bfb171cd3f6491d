"""The container image: built from the Dockerfile without a registry, run against a node, a Job applied through it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_image_builds_runs_as_non_root_and_runs_a_job(docker_nodes: list[Any]) -> None:
    """scripts/test-image.sh builds the image on node0, runs the daemon in it (healthy, non-root) and completes a Job."""
    node = docker_nodes[0]
    result = subprocess.run(
        [str(ROOT / "scripts" / "test-image.sh"), node.url],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "MINIORCH_IMAGE_CACHE": os.environ.get("MINIORCH_IMAGE_CACHE", "/var/cache/miniorch-image")},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "ok: image" in result.stderr and "condition met" in result.stdout
