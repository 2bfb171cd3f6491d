"""The composition root: config, store, leadership, controllers (controllers/wiring.py), API, signals.

`run(config_path)` builds everything, probes the nodes, serves the API on its
unix socket, tells systemd READY=1, and supervises the long-running tasks (all
started through `supervise`): a task that dies takes the daemon down (non-zero exit).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import structlog
import uvicorn

from miniorch import clock as clock_mod
from miniorch import config as config_mod
from miniorch import listeners, logs, memtrace, notify, objectstates, preflight, supervise
from miniorch import metrics as metrics_mod
from miniorch.alerts import delivery as alerts_delivery
from miniorch.api.app import ApiContext, create_app
from miniorch.controllers import wiring
from miniorch.controllers.leadership import AlwaysLeader, Leadership
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.storeio import store_io
from miniorch.listeners import DaemonError as DaemonError  # re-exported: `miniorch daemon` reports it
from miniorch.nodes import records
from miniorch.store import database
from miniorch.store.store import Store

log = structlog.get_logger(__name__)

IO_THREADS = 64


class Daemon:
    def __init__(self, config: config_mod.Config, source: config_mod.Source) -> None:
        self.config = config
        self.config_source = source
        self.clock = clock_mod.SystemClock()
        config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        self.store = _open_store(config)
        _open_secrets(config, self.store)
        self.leadership = _leadership(config, self.store)
        self.metrics = metrics_mod.Metrics()
        self.parts = wiring.build(config, self.store, self.clock, self.metrics, self.leadership.acting)
        _watch_metrics(self.metrics, self.store, self.parts.monitor)
        self.metrics.watch_leadership(self.leadership.acting)
        self.notifier = alerts_delivery.Notifier(
            self.store,
            config.notify,
            self.clock.now,
            self.leadership.acting,
            logs=alerts_delivery.node_log_reader(self.parts.monitor),
        )
        self.metrics.watch_notifications(self.store.notifications.counts)
        self._stop = asyncio.Event()

    def _stop_requested(self) -> None:
        _STOP_REQUESTED.set()
        self._stop.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        supervisor = supervise.install(loop)  # thread and loop errors: structlog, a dead thread ends us
        # Docker calls and store writes run in threads and mostly wait on the engines; Python's
        # default of cpu_count + 4 (6 here) queued the starts of a Job with parallelism 10.
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(IO_THREADS, thread_name_prefix="io"))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop_requested)
        loop.add_signal_handler(signal.SIGHUP, lambda: supervisor.spawn(self.reload(), "config-reload"))
        loop.add_signal_handler(signal.SIGUSR2, memtrace.MemoryReport().report)  # with PYTHONTRACEMALLOC set
        os.umask(0o007)  # the socket is never world-accessible, even for an instant
        listeners.prepare_socket(self.config.api.socket, self.config.api.socket_group)  # refuse a second daemon first
        await self._probe_nodes()
        ha = isinstance(self.leadership, Leadership)
        if not ha:
            self.parts.folder.initial_sync()
        servers, tasks = await self._serve_api()
        if (interval := notify.watchdog_interval()) is not None:
            tasks.append(supervise.spawn(_watchdog(interval), "watchdog"))
        stopper = supervise.spawn(self._stop.wait(), "stop")
        tasks.append(supervise.spawn(self.parts.monitor.run(), "node-monitor"))  # a standby's reads need it too
        tasks.append(supervise.spawn(supervisor.watch(), "threads"))
        if ha and not await self._lead(stopper, tasks):
            return await self._shutdown(servers, tasks, stopper, code=_died(tasks))
        self._start_controllers(loop, tasks)
        notify.notify("READY=1")
        log.info(
            "daemon_ready",
            socket=str(self.config.api.socket),
            nodes=len(self.parts.monitor.nodes),
            database=_redact(self.config.database_url),
            role=self.leadership.role().word,
        )
        await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        return await self._shutdown(servers, tasks, stopper, _died(tasks))

    async def _probe_nodes(self) -> None:
        monitor = self.parts.monitor
        await monitor.probe_all()
        for name, state in sorted(monitor.nodes.items()):
            log.info(
                "node_probed",
                node=name,
                url=state.config.url,
                ready=state.ready,
                docker=state.info.docker_version if state.info else None,
                error=state.last_error or None,
            )

    async def _serve_api(self) -> tuple[list[listeners.Server], list[asyncio.Task[Any]]]:
        """The API on its unix socket (and TCP if configured); the servers and their tasks."""
        parts, sock = self.parts, self.config.api.socket
        context = ApiContext(
            self.store,
            parts.monitor,
            parts.applier,
            parts.wake_all,
            self.metrics,
            parts.workloads.drain,
            role=self.leadership.role,
        )
        app = create_app(context, dashboard=self.config.dashboard.enabled)
        server = listeners.Server(
            uvicorn.Config(
                app,
                uds=str(sock),
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=listeners.GRACEFUL_SECONDS,
            )
        )
        tasks = [supervise.spawn(server.serve(), "api")]
        while not server.started:
            if tasks[0].done():
                await tasks[0]
                raise DaemonError(f"the API server could not listen on {sock}")
            await asyncio.sleep(0.01)
        listeners.secure_socket(sock, self.config.api.mode, self.config.api.socket_group)
        return [
            server,
            *await listeners.serve_tcp(
                app, self.config.api, tasks, self.config.state_dir, self.config.dashboard.enabled
            ),
        ], tasks

    def _start_controllers(self, loop: asyncio.AbstractEventLoop, tasks: list[asyncio.Task[Any]]) -> None:
        parts = self.parts

        def on_docker_event(node: str, action: str, pod: str) -> None:  # called from watcher threads
            loop.call_soon_threadsafe(parts.wakeups.docker_event, node, action, pod)

        parts.watcher.start(on_docker_event)
        tasks += [
            supervise.spawn(parts.folder.run(), "folder-watcher"),
            supervise.spawn(parts.workloads.run(), "workload-controller"),
            supervise.spawn(parts.cronjobs.run(), "cronjob-controller"),
            supervise.spawn(self.notifier.run(), "notifier"),  # facts -> receivers (DESIGN 12)
        ]

    async def _lead(self, stopper: asyncio.Task[Any], tasks: list[asyncio.Task[Any]]) -> bool:
        """As a standby (API up, reads only), wait for the lease; False if told to stop (or a task died) first."""
        assert isinstance(self.leadership, Leadership)
        notify.notify("READY=1")
        role = self.leadership.role()
        log.info("daemon_standby", name=role.name, leader=role.leader, leader_address=role.leader_address)
        waiting = supervise.spawn(self.leadership.wait_until_leading(), "lease-wait")
        done, _ = await asyncio.wait([waiting, stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if waiting not in done:
            waiting.cancel()
            return False
        self.store.forget_cached()  # the previous leader wrote since this daemon last read
        self.leadership.start()
        self.parts.folder.initial_sync()
        return True

    async def _shutdown(
        self, servers: list[listeners.Server], tasks: list[asyncio.Task[Any]], stopper: asyncio.Task[Any], code: int
    ) -> int:
        notify.notify("STOPPING=1")
        log.info("daemon_stopping", exit_code=code)
        for srv in servers:
            srv.should_exit = True
        self.parts.watcher.stop()
        for task in [*tasks, stopper]:
            if task.get_name() not in ("api", "api-tcp"):  # servers finish their requests
                task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
        await self.parts.workloads.cancel()  # the planners' work in flight, then the pods' operations
        if isinstance(self.leadership, Leadership):
            await store_io(self.leadership.release)
        self.parts.monitor.close()
        await store_io(self.store.close)
        with contextlib.suppress(FileNotFoundError):
            self.config.api.socket.unlink()
        log.info("daemon_stopped")
        return code

    async def reload(self) -> None:
        notify.notify("RELOADING=1")
        try:
            config = preflight.validate(self.config_source)
        except config_mod.ConfigError as exc:  # the running config stays
            log.error("config_reload_failed", source=str(self.config_source), errors=list(exc.problems))
        else:
            self.config = config
            parts = self.parts
            removed = set(parts.monitor.nodes) - {n.name for n in config.nodes}
            await parts.daemonsets.release_nodes(removed)  # while they can still be reached
            parts.apply_config(config)
            self.notifier.set_receivers(config.notify)
            await parts.monitor.probe_all()
            parts.folder.reload(config.manifests_dir)
            parts.watcher.refresh()
            log.info("config_reloaded", nodes=sorted(parts.monitor.nodes))
        notify.notify("READY=1")
        self.parts.workloads.wake()


def _died(tasks: list[asyncio.Task[Any]]) -> int:
    """The exit code: 1 when a supervised task ended (each is logged: daemon_task_died), else 0."""
    code = 0
    for task in tasks:
        if task.done():
            error = task.exception() if not task.cancelled() else None
            log.error("daemon_task_died", task=task.get_name(), error=repr(error))
            code = 1
    return code


async def _watchdog(interval: float) -> None:
    """WATCHDOG=1 from the event loop: if the loop hangs, systemd stops hearing it and restarts us."""
    while True:
        notify.notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def _watch_metrics(metrics: metrics_mod.Metrics, store: Store, monitor: NodeMonitor) -> None:
    metrics.watch(
        objects=objectstates.ObjectStates(store),  # finished objects' states remembered (issue 20)
        nodes=lambda: {name: state.ready for name, state in monitor.nodes.items()},
        docker_errors=lambda: {
            (name, error): n for name, state in monitor.nodes.items() for error, n in state.client.errors.items()
        },
        docker_error_kinds=[kind.__name__ for kind in records.NodeError.__subclasses__()],
        node_calls=lambda: {
            name: (state.client.calls.in_flight, state.client.calls.rejected) for name, state in monitor.nodes.items()
        },
        node_dials=lambda: {name: state.client.dials.count for name, state in monitor.nodes.items()},
    )
    metrics.watch_cronjobs(
        lambda: metrics_mod.cron_times((o.namespace, o.name, o.status) for o in store.list_objects("CronJob"))
    )


def _open_store(config: config_mod.Config) -> Store:
    """The Store, waiting out a database that is down; a refusal is a config error (exit 2)."""

    def waiting(error: database.DatabaseError, delay: float) -> None:
        log.warning("database_unavailable", error=str(error), retry_in_seconds=delay)

    try:
        return database.open_store(config.database_url, config_mod.read_database_password(config), on_retry=waiting)
    except database.DatabaseError as exc:
        raise config_mod.ConfigError(str(exc)) from exc


def _open_secrets(config: config_mod.Config, store: Store) -> None:
    """The Secret key (made 0600 at first start); one that does not open the database's secrets is exit 2."""
    from miniorch.store import secretbox

    path = config.secrets_key_file
    try:
        store.use_secrets(secretbox.SecretBox(secretbox.load_or_create_key(path), str(path)))
    except secretbox.SecretsKeyError as exc:
        store.close()
        raise config_mod.ConfigError(str(exc)) from exc


def _leadership(config: config_mod.Config, store: Store) -> Leadership | AlwaysLeader:
    name = config.ha.name or socket.gethostname()
    address = config.api.tcp or f"{socket.gethostname()}:{config.api.socket}"
    if not config.ha.enabled:
        return AlwaysLeader(name, address)
    leadership = Leadership(
        store.leases,
        name,
        address,
        config.ha.lease_seconds,
        config.timing.node_heartbeat_seconds,
        on_lost=_step_down,
    )
    # A pass under way when the lease lapsed (a frozen process waking) plans nothing more: it met
    # nodes it had not heard from meanwhile as lost, and replaced their pods next to the new leader.
    store.fence_writes(lambda: not leadership.lost)
    return leadership


#: Set by SIGTERM/SIGINT: a step-down then ends the process instead of executing it afresh.
_STOP_REQUESTED = threading.Event()
#: A signal the kernel delivered just before a step-down is handled by the event loop within
#: this time; without the wait, the fresh process would run on, the stop lost with the old one.
_SIGNAL_GRACE_SECONDS = 0.1


def _step_down(why: str) -> None:
    """The lease is lost: act on nothing more (the guard has already stopped the acting). The
    daemon executes itself afresh and comes back as a standby (the same pid for systemd; no
    state of the old leadership survives in memory), unless it was asked to stop: then it ends."""
    stopping = _STOP_REQUESTED.wait(_SIGNAL_GRACE_SECONDS)
    log.warning("daemon_stepping_down", reason=why, then="exit" if stopping else "standby")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if stopping:
        os._exit(0)  # stopping anyway, and a leader that lost its lease must not act on its way out
    os.execv(sys.executable, sys.orig_argv)


def _redact(url: str) -> str:
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


#: The collector's thresholds: a young collection every 50,000 allocations, not every 700. Reading
#: 20,000 Jobs from the store (each a manifest and a status of nested dicts) spent half its time in
#: the collector at the default (1.2-1.8 s against 0.6-0.7 s); nothing here depends on prompt cycle
#: collection (the full collections' own rule, a quarter more long-lived objects, is unchanged).
GC_THRESHOLDS = (50_000, 20, 10)


def run(config_path: Path | None) -> int:
    """Run in the foreground until SIGTERM; returns the exit code. Every config problem is found first."""
    source = config_mod.resolve(config_path)
    config = preflight.validate(source)
    logs.configure(config.log.format, config.log.level)
    log.info("config_loaded", source=source.origin, path=str(source.path) if source.path else None)
    daemon = Daemon(config, source)
    assert threading.current_thread() is threading.main_thread()
    gc.set_threshold(*GC_THRESHOLDS)
    return asyncio.run(daemon.run())
