"""The one door to Docker: a blocking client for one node, with timeouts.

Every docker-py call in miniorch happens here; results come back as frozen
records and failures as `miniorch.nodes.records` errors. Callers run these
methods off the event loop on the node's own threads (`await client.run(client.x, ...)`,
bounded by `miniorch.nodes.calls`), so a hung engine never holds anyone else's threads.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import docker
import docker.errors
import docker.types
import docker.utils
import paramiko
import requests.exceptions
import structlog
import urllib3.exceptions

from miniorch.nodes import archive, calls, events, records, shapes, transport, trust, volumes
from miniorch.nodes.records import ArchiveFile, ContainerSpec, ContainerState, NodeInfo

log = structlog.get_logger(__name__)

PULL_REFRESH_SECONDS = 300.0
PRESENT_CACHE_SECONDS = 10.0  # an image seen on a node is trusted to stay that long
# urllib3 and http.client errors escape docker-py's streams (events, log follow) unwrapped
# when a connection breaks mid-stream (dockerd restarted).
_TRANSPORT_ERRORS = (
    requests.exceptions.RequestException,
    ConnectionError,
    OSError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    EOFError,  # paramiko's, when the SSH server closes the connection mid-handshake (sshd restarting)
)
#: Streams (events, logs -f, save, load) read with an idle timeout rather than none: an engine
#: that stops answering ends them instead of holding their thread forever.
EVENTS_IDLE_SECONDS = 30.0  # a quiet event stream is reopened after this long (events are hints)
STREAM_IDLE_SECONDS = 300.0  # logs -f, docker load: silence this long ends the stream
P = ParamSpec("P")
T = TypeVar("T")


class NodeClient:
    """A Docker Engine reached by URL; `timeout` bounds each request."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 30.0,
        endpoint: transport.Endpoint | None = None,
        cluster: str = "",
    ) -> None:
        self.name = name
        self.url = url
        self.endpoint = endpoint or transport.Endpoint(url, transport.kind_of(url))
        self._timeout = timeout
        self._labels = [f"{records.MANAGED}=true"] + ([f"{records.CLUSTER}={cluster}"] if cluster else [])
        self._lock = threading.Lock()
        self._client: docker.DockerClient | None = None
        self._pulled: dict[str, float] = {}
        self._present: dict[str, float] = {}
        self.errors: Counter[str] = Counter()  # failed calls by error class, for /metrics
        self.calls = calls.CallGate(name)
        self.dials = transport.Dials()  # connections opened (TLS handshakes, SSH channels), for /metrics
        self.exits = events.ExitLog()  # run ends told by the event stream (watch_events)
        self._quiet = False  # the last event stream ended by going quiet (not broken)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Await one of this client's blocking methods, run on the node's own bounded threads."""
        return await self.calls.run(functools.partial(fn, *args, **kwargs))

    # -- plumbing -------------------------------------------------------
    def _docker(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = transport.connect(self.endpoint, timeout=max(1.0, self._timeout), dials=self.dials)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _translate(self, exc: Exception, what: str) -> records.NodeError:
        error = self._classify(exc, what)
        with self._lock:
            self.errors[type(error).__name__] += 1
        return error

    def _classify(self, exc: Exception, what: str) -> records.NodeError:
        untrusted = trust.explain(exc, self.endpoint)
        if untrusted is not None:
            return records.NodeUntrusted(self.name, f"{what}: {untrusted}")
        if isinstance(exc, docker.errors.NotFound):
            return records.ContainerNotFound(self.name, f"{what}: {exc.explanation or 'not found'}")
        if isinstance(exc, docker.errors.APIError):
            if exc.status_code == 409:
                return records.ContainerConflict(self.name, f"{what}: {exc.explanation}")
            if exc.status_code is not None and exc.status_code >= 500 and "no such image" not in str(exc).lower():
                return records.EngineError(self.name, f"{what}: {exc.explanation}")
            return records.DockerRejected(self.name, f"{what}: {exc.explanation}")
        dial = trust.dial_failure(exc)
        if dial is not None:
            return records.NodeUnavailable(self.name, f"{what}: {dial}")
        if isinstance(exc, (docker.errors.DockerException, paramiko.SSHException, *_TRANSPORT_ERRORS)):
            why = str(exc) or type(exc).__name__
            return records.NodeUnavailable(self.name, f"{what}: Docker at {self.url} did not answer ({why})")
        raise exc

    # -- node -----------------------------------------------------------
    def info(self) -> NodeInfo:
        """Ping and describe the engine; raises NodeUnavailable if it is down."""
        try:
            api = self._docker().api
            api.ping()
            info = api.info()
            version = api.version()
        except Exception as exc:  # translated at this boundary
            raise self._translate(exc, "probe") from exc
        return NodeInfo(
            name=self.name,
            docker_version=str(version.get("Version", "?")),
            api_version=str(version.get("ApiVersion", "?")),
            cpus=int(info.get("NCPU", 0)),
            memory_bytes=int(info.get("MemTotal", 0)),
            os=str(info.get("OperatingSystem", "?")),
            kernel=str(info.get("KernelVersion", "?")),
            architecture=str(info.get("Architecture", "?")),
        )

    def ping(self) -> None:
        """The cheapest liveness check (`GET /_ping`); raises NodeUnavailable."""
        try:
            self._docker().api.ping()
        except Exception as exc:
            raise self._translate(exc, "ping") from exc

    def volumes(self) -> volumes.Volumes:  # StatefulSet replicas' named volumes; blocking calls
        return volumes.Volumes(self._docker().api, self._translate)

    # -- containers -----------------------------------------------------
    def list_managed(self) -> list[ContainerState]:
        """Every container miniorch made on this node (one API call)."""
        try:
            rows = self._docker().api.containers(all=True, filters={"label": self._labels})
        except Exception as exc:
            raise self._translate(exc, "list containers") from exc
        return [shapes.state_of_row(row, self.name) for row in rows]

    def inspect(self, name: str) -> ContainerState:
        try:
            data = self._docker().api.inspect_container(name)
        except Exception as exc:
            raise self._translate(exc, f"inspect {name}") from exc
        return shapes.state_of_inspect(data, self.name)

    def has_image(self, image: str) -> bool:
        try:
            self._docker().api.inspect_image(image)
            return True
        except docker.errors.ImageNotFound:
            return False
        except Exception as exc:
            raise self._translate(exc, f"inspect image {image}") from exc

    def pull(self, image: str) -> None:
        repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
        try:
            self._docker().api.pull(repo, tag=tag or "latest")
        except Exception as exc:
            why = getattr(exc, "explanation", None) or str(exc)
            raise records.ImageNotFound(
                self.name,
                f"image {image!r} is not on node {self.name!r} and could not be pulled ({why}); "
                "make the registry reachable or load the image on a node ('docker load')",
            ) from exc

    def ensure_image(self, image: str, policy: str) -> None:
        """Apply imagePullPolicy. `Always` pulls at most once per PULL_REFRESH_SECONDS
        per image and node, so a batch of pods does not hammer the registry; a failed
        pull of an image the node already has falls back to the local copy."""
        seen = self._present.get(image)
        present = (seen is not None and time.monotonic() - seen < PRESENT_CACHE_SECONDS) or self.has_image(image)
        if present:
            self._present[image] = time.monotonic()
        if policy == "Never":
            if not present:
                raise records.ImageNotFound(
                    self.name, f"image {image!r} is not on node {self.name!r} and imagePullPolicy is Never"
                )
            return
        if present and policy == "IfNotPresent":
            return
        last = self._pulled.get(image)
        if present and last is not None and time.monotonic() - last < PULL_REFRESH_SECONDS:
            return
        self._pulled[image] = time.monotonic()
        try:
            self.pull(image)
        except records.ImageNotFound:
            if not present:
                raise
            log.warning("image_pull_failed_using_local", node=self.name, image=image)

    def export_image(self, image: str) -> Iterator[bytes]:
        """`docker save` as a stream of chunks, never the whole image in memory; each read
        waits at most the client's timeout."""
        try:
            yield from self._docker().api.get_image(image, chunk_size=1024 * 1024)
        except urllib3.exceptions.HTTPError as exc:
            raise self._translate(ConnectionError(str(exc)), f"save image {image}") from exc
        except Exception as exc:
            raise self._translate(exc, f"save image {image}") from exc

    def import_image(self, chunks: Iterator[bytes]) -> None:
        """`docker load` from a stream (sent chunked, as it arrives)."""
        client = self._stream_client("load image")
        try:
            client.api.load_image(chunks)
        except urllib3.exceptions.HTTPError as exc:  # an idle timeout while reading the stream
            raise self._translate(ConnectionError(str(exc)), "load image") from exc
        except Exception as exc:
            raise self._translate(exc, "load image") from exc
        finally:
            client.close()
        self._present.clear()

    def create(self, spec: ContainerSpec) -> str:
        """Create (not start) the container; returns its id."""
        self.ensure_image(spec.image, spec.pull)
        api = self._docker().api
        host_config = api.create_host_config(**shapes.host_config_args(spec))
        try:
            created = api.create_container(**shapes.create_args(spec), host_config=host_config)
        except Exception as exc:
            raise self._translate(exc, f"create {spec.name}") from exc
        return str(created["Id"])

    def start(self, name: str) -> None:
        try:
            self._docker().api.start(name)
        except Exception as exc:
            raise self._translate(exc, f"start {name}") from exc

    def put_files(self, name: str, files: Sequence[ArchiveFile], mtime: float) -> None:
        """Write files into a created container before it starts (the archive API: any transport)."""
        try:
            self._docker().api.put_archive(name, "/", archive.tar(files, mtime))
        except Exception as exc:
            raise self._translate(exc, f"copy files into {name}") from exc

    def stop(self, name: str, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after the grace period (Docker does both)."""
        try:
            self._docker().api.stop(name, timeout=int(grace_seconds))
        except Exception as exc:
            raise self._translate(exc, f"stop {name}") from exc

    def remove(self, name: str) -> None:
        """Remove the container (forcefully); a missing one is not an error."""
        try:
            self._docker().api.remove_container(name, force=True, v=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and "already in progress" in str(exc):
                return
            raise self._translate(exc, f"remove {name}") from exc
        except Exception as exc:
            raise self._translate(exc, f"remove {name}") from exc

    def logs(
        self,
        name: str,
        tail: int | None = None,
        timestamps: bool = False,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> bytes:
        """A container's output (`timestamps`: each line starts with Docker's RFC 3339 time; only
        lines from `since` and before `until`). One API call: docker-py's `logs()` first inspects
        the container to learn whether it has a TTY, and ours never do (the manifests refuse `tty`)."""
        try:
            api = self._docker().api
            params: dict[str, Any] = {
                "stdout": 1,
                "stderr": 1,
                "timestamps": int(timestamps),
                "follow": 0,
                "tail": "all" if tail is None else tail,
            }
            if since is not None:
                params["since"] = f"{since.timestamp():.6f}"
            if until is not None:
                params["until"] = f"{until.timestamp():.6f}"
            res = api._get(api._url("/containers/{0}/logs", name), params=params, stream=False)
            out = api._get_result_tty(False, res, False)
        except Exception as exc:
            raise self._translate(exc, f"logs {name}") from exc
        return bytes(out)

    def follow_logs(
        self,
        name: str,
        tail: int | None = None,
        timestamps: bool = False,
        since: dt.datetime | None = None,
        on_open: Callable[[Callable[[], None]], None] | None = None,
    ) -> Iterator[bytes]:
        """Stream a container's output until it stops, or until STREAM_IDLE_SECONDS of silence
        (an engine that stopped answering); blocking iterator. `on_open(close)` is handed a
        function that ends the stream from another thread (its reader has gone)."""
        client = self._stream_client(f"logs {name}")
        try:
            stream = client.api.logs(
                name,
                stdout=True,
                stderr=True,
                stream=True,
                follow=True,
                tail=tail if tail is not None else "all",
                timestamps=timestamps,
                since=since.timestamp() if since is not None else None,
            )
            if on_open is not None:
                on_open(functools.partial(transport.end_stream, stream, client))
            yield from stream
        except urllib3.exceptions.HTTPError as exc:
            raise self._translate(ConnectionError(str(exc)), f"logs {name}") from exc
        except Exception as exc:
            raise self._translate(exc, f"logs {name}") from exc
        finally:
            client.close()

    def _stream_client(self, what: str, idle: float = STREAM_IDLE_SECONDS) -> docker.DockerClient:
        """A client of its own for one long stream, reading with `idle` as its timeout (over SSH it
        shares the node's connection). Making it asks the engine its API version: a dead engine
        raises here already, translated."""
        try:
            return transport.connect(self.endpoint, timeout=idle, pool_size=1, share=self._docker(), dials=self.dials)
        except Exception as exc:
            raise self._translate(exc, what) from exc

    def watch_events(
        self,
        on_event: Callable[[str, str], None],
        stop: threading.Event,
        actions: Collection[str] = (),
        on_open: Callable[[], None] | None = None,
    ) -> bool:
        """Call `on_event(action, pod)` for container events (only `actions`, when given) until
        `stop` is set. The engine filters them: a pod's create, attach and destroy are never
        sent, let alone decoded. Each event is noted in `exits` first (the run ends a settle
        takes instead of an inspect). `on_open()` is called once the engine accepted the stream.

        Returns True when the stream was quiet for EVENTS_IDLE_SECONDS: call again at once, it
        goes on from the last event it delivered (`since`), so nothing between is missed.
        Blocking; reconnects are the caller's business (NodeUnavailable is raised when the
        engine does not answer or the stream breaks).
        """
        client = self._stream_client("events", EVENTS_IDLE_SECONDS)  # a dead engine must not end this thread
        filters: dict[str, Any] = {"type": "container", "label": self._labels}
        if actions:
            filters["event"] = sorted(actions)
        params = {"filters": docker.utils.convert_filters(filters)}
        since = self.exits.since()
        if since is not None:
            params["since"] = since
        try:
            # docker-py's events() reads with no timeout at all; the same request, with one.
            api = client.api
            response = api._get(api._url("/events"), params=params, stream=True, timeout=EVENTS_IDLE_SECONDS)
            api._raise_for_status(response)
            stream = docker.types.CancellableStream(api._stream_helper(response, decode=True), response)
            # Quiet before: it goes on where it stopped. Broken: the engine may have restarted.
            self.exits.opened(resumed=since is not None and self._quiet)
            if on_open is not None:
                on_open()
            self._quiet = False
            self._quiet = events.follow(stream, self.exits, on_event, stop)
            return self._quiet
        except urllib3.exceptions.HTTPError as exc:
            raise self._translate(ConnectionError(str(exc)), "events") from exc
        except Exception as exc:
            raise self._translate(exc, "events") from exc
        finally:
            client.close()
