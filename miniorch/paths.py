"""Default places on disk: the state folder and the API socket, per user.

Dependency-free, so `miniorch ctl` can find the socket without loading the daemon's code.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/miniorch")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "miniorch"


def default_socket() -> Path:
    """Where the daemon listens and `ctl` looks when nothing else is said."""
    if os.geteuid() == 0:
        return Path("/run/miniorch/miniorch.sock")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "miniorch" / "miniorch.sock"
    return Path(f"/tmp/miniorch-{os.geteuid()}") / "miniorch.sock"
