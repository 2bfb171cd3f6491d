"""Failure notification latency: fact -> POST, p50/p99 over N failing Jobs (DESIGN 12).

A receiver on 127.0.0.1 records each POST's arrival; the fact's time is the `time` in its
body (the controller's event, to the millisecond, same host clock). Jobs (`exit 1`,
backoffLimit 0) are applied `--batch` at a time, so several facts are queued together.

    MINIORCH_TEST_NODES=... .venv/bin/python bench/notify_latency.py [--jobs 100] [--batch 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import dockernodes  # noqa: E402
from support.daemon import Daemon, job_yaml  # noqa: E402
from support.receivers import Receiver  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args()
    nodes = dockernodes.parse_nodes_env(os.environ[dockernodes.ENV_NODES])
    with tempfile.TemporaryDirectory(prefix="miniorch-notify-bench-") as tmp, Receiver("ok") as hook:
        d = Daemon(
            Path(tmp),
            [(n.name, n.url) for n in nodes],
            extra={"notify": [{"name": "bench", "url": hook.url}], "log": {"format": "json", "level": "info"}},
        )
        d.start()
        try:
            for start in range(0, args.jobs, args.batch):
                names = [f"fail-{i}" for i in range(start, min(args.jobs, start + args.batch))]
                text = "---\n".join(job_yaml(n, "exit 1", backoff_limit=0) for n in names)
                d.apply(text, f"batch-{start}.yaml")
                deadline = time.monotonic() + 120
                while len(hook.delivered()) < start + len(names) and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            d.stop()
            for node in nodes:
                with dockernodes.client(node.url) as c:
                    for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}):
                        ctr.remove(force=True)
    posts = hook.delivered()
    delays = [p.at - dt.datetime.fromisoformat(p.body["time"].replace("Z", "+00:00")).timestamp() for p in posts]
    result = {
        "jobs": args.jobs,
        "posts": len(posts),
        "distinct_ids": len({p.body["id"] for p in posts}),
        "fact_to_post_p50_s": round(statistics.median(delays), 3),
        "fact_to_post_p99_s": round(percentile(delays, 99), 3),
        "fact_to_post_max_s": round(max(delays), 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
