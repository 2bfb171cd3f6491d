"""The controllers' half of the composition root: build each part once, hand each its collaborators.

`build` makes the node monitor, the model cache, the pod runner and sync, the planners, the
workload and CronJob controllers, the applier, the Docker event watcher and the folder
watcher; nothing reaches through one part to another's collaborators. `daemon.py` owns
the store, leadership, metrics, the API and the process (signals, supervision, shutdown).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from miniorch import clock as clock_mod
from miniorch import config as config_mod
from miniorch import metrics as metrics_mod
from miniorch.controllers.cronjobs import CronJobController
from miniorch.controllers.daemonsets import DaemonSetPlanner
from miniorch.controllers.events import DockerEventWatcher
from miniorch.controllers.folder import FolderWatcher
from miniorch.controllers.jobs import JobPlanner
from miniorch.controllers.models import ModelCache
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.objects import Applier
from miniorch.controllers.pods import PodRunner
from miniorch.controllers.podsync import PodSync
from miniorch.controllers.statefulsets import StatefulSetPlanner
from miniorch.controllers.workloads import Wakeups, WorkloadController
from miniorch.store.store import Store


@dataclasses.dataclass(frozen=True)
class Controllers:
    """The daemon's controllers, wired by `build`."""

    wakeups: Wakeups  # asks the workload loop for a pass
    wake_all: Callable[[], None]  # an object changed (apply, patch, delete, manual run): every controller plans
    monitor: NodeMonitor
    runner: PodRunner
    workloads: WorkloadController
    daemonsets: DaemonSetPlanner
    applier: Applier
    cronjobs: CronJobController
    watcher: DockerEventWatcher
    folder: FolderWatcher

    def apply_config(self, config: config_mod.Config) -> None:
        """A reloaded config (SIGHUP), for the parts that keep some of it; nodes come and go here."""
        self.monitor.apply_config(config)
        self.workloads.apply_config(config)
        self.applier.set_policy(config.policy)


@dataclasses.dataclass(frozen=True)
class PodControllers:
    """The workload loop and what it drives: the part the component tier runs against fake nodes."""

    runner: PodRunner
    sync: PodSync
    workloads: WorkloadController
    daemonsets: DaemonSetPlanner


def build_pods(
    config: config_mod.Config,
    store: Store,
    clock: clock_mod.Clock,
    metrics: metrics_mod.Metrics,
    monitor: NodeMonitor,
    wakeups: Wakeups,
) -> PodControllers:
    """The runner, the sync, the planners and the workload controller over `monitor`'s nodes."""
    models = ModelCache()
    runner = PodRunner(
        store, monitor, clock, wakeups.plan_soon, metrics, done=wakeups.operation_done, look=wakeups.wake
    )
    sync = PodSync(store, monitor, clock, runner, models)
    workloads = WorkloadController(store, clock, wakeups, runner, sync, models, metrics)
    workloads.add(JobPlanner(config, store, sync, models, metrics))
    daemonsets = DaemonSetPlanner(config, store, sync, monitor, runner, models)
    workloads.add(daemonsets)
    workloads.add(StatefulSetPlanner(config, store, sync, monitor, runner, models))
    return PodControllers(runner, sync, workloads, daemonsets)


def build(
    config: config_mod.Config,
    store: Store,
    clock: clock_mod.Clock,
    metrics: metrics_mod.Metrics,
    acting: Callable[[], bool],
) -> Controllers:
    """Every controller of the daemon; `acting()` fences Docker changes (False while not leading)."""
    wakeups = Wakeups()
    monitor = NodeMonitor(config, store, clock, on_change=wakeups.wake)
    monitor.fence = acting  # no Docker change by a daemon that does not lead
    pods = build_pods(config, store, clock, metrics, monitor, wakeups)
    runner, workloads, daemonsets = pods.runner, pods.workloads, pods.daemonsets
    cronjobs: CronJobController  # the applier wakes it, and it applies through the applier

    def wake_all() -> None:  # safe from any thread: API routes and the folder sync run in the thread pool
        wakeups.plan_soon()
        cronjobs.wake()

    applier = Applier(store, config.policy, wake_all, clock.now)
    cronjobs = CronJobController(store, applier, clock, wakeups.plan_soon)
    folder = FolderWatcher.of_folder(config.manifests_dir, applier, store, clock.now, on_change=wakeups.wake)
    watcher = DockerEventWatcher(monitor)
    return Controllers(wakeups, wake_all, monitor, runner, workloads, daemonsets, applier, cronjobs, watcher, folder)
