"""The ctl side of the API: one method per route, over the daemon's unix socket or TCP listener.

Every URL `ctl` uses is built here, and answers come back as the shared shapes of
`miniorch.api.models`. Transport failures and API errors become `CtlError` with a message
a user can act on; only the CLI entry point turns them into exit codes.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

from miniorch import kinds, paths
from miniorch.api import models
from miniorch.cli import transport
from miniorch.cli.transport import TRANSPORT_ERRORS, Endpoint, Reply, Response
from miniorch.errors import MiniorchError

T = TypeVar("T")


class CtlError(MiniorchError):
    """Printed as `error: ...` and exit code 1."""


class NotFoundError(CtlError):
    pass


def resolve_socket(flag: str | None) -> Path:
    """--socket, then $MINIORCH_SOCKET, then the default socket."""
    if flag:
        return Path(flag)
    env = os.environ.get("MINIORCH_SOCKET")
    return Path(env) if env else paths.default_socket()


def read_token_file(path: str) -> str:
    """The bearer token for --server (the file `api.token_file` of the daemon, or a copy)."""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise CtlError(f"cannot read the token file {path}: {exc.strerror}") from exc


def _given(**params: Any) -> dict[str, Any]:
    """The query parameters that were given (None and "" mean: not asked for)."""
    return {k: v for k, v in params.items() if v is not None and v != ""}


class Http:
    """Requests and streams with the error rules of `ctl` (what failed, where, what to do)."""

    def __init__(
        self,
        socket: Path,
        timeout: float = 30.0,
        server: str | None = None,
        token: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        """Over the unix `socket`, or over TCP to `server` (http(s)://host:port) with a bearer `token`."""
        self.socket = socket
        self.server = server
        self.timeout = timeout
        self._endpoint = Endpoint(socket, server, ca_file)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def close(self) -> None:
        """Nothing to release: each request has its own connection."""

    def _unreachable(self, exc: Exception) -> CtlError:
        if self.server:
            return CtlError(
                f"cannot reach the miniorch daemon at {self.server} ({_why(exc)}); check that its "
                "api.tcp listener is on and the address, and with https the --certificate-authority file"
            )
        why = "no such socket" if not self.socket.exists() else _why(exc)
        return CtlError(
            f"cannot reach the miniorch daemon at {self.socket} ({why}); start it with "
            "'miniorch daemon --config FILE' (or 'systemctl start miniorch'), or point --socket / "
            "MINIORCH_SOCKET at its socket"
        )

    def _open(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, headers: dict[str, str] | None = None
    ) -> Response:
        """The response with its headers read; the caller closes it."""
        try:
            self._endpoint.check()
        except ValueError as exc:
            raise CtlError(str(exc)) from exc
        try:
            head = {**self._headers, **headers} if headers else self._headers
            return transport.send(self._endpoint, self.timeout, method, path, head, params, body)
        except PermissionError as exc:
            raise CtlError(f"permission denied on {self.socket}; run as a member of the socket's group") from exc
        except TRANSPORT_ERRORS as exc:
            raise self._unreachable(exc) from exc

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (or text); a refusal raises CtlError (NotFoundError for 404)."""
        resp = self._open(method, path, params, json, headers)  # `json`: the body, as httpx named it
        try:
            answer = transport.reply(resp)
        except TRANSPORT_ERRORS as exc:
            raise self._unreachable(exc) from exc
        finally:
            resp.close()
        _raise_for(answer)
        return answer.json() if answer.content_type.startswith("application/json") else answer.text

    def _streamed(
        self, path: str, params: dict[str, Any], read: Callable[[Response], Iterator[T]]
    ) -> Generator[T, None, None]:
        """What `read` makes of the response, as it arrives; closing the generator ends the request."""
        resp = self._open("GET", path, params, None)
        try:
            if resp.status >= 400:
                _raise_for(transport.reply(resp))
            resp.sock.settimeout(None)  # a stream may be quiet for a long time
            yield from read(resp)
        except TRANSPORT_ERRORS as exc:
            raise self._unreachable(exc) from exc
        finally:
            resp.close()

    def stream(self, path: str, params: dict[str, Any]) -> Generator[bytes, None, None]:
        """The body as it arrives (a followed log)."""
        return self._streamed(path, params, Response.chunks)

    def watch(self, path: str, params: dict[str, Any]) -> Generator[dict[str, Any], None, None]:
        """The objects of an NDJSON watch stream, as they arrive."""
        return self._streamed(path, params, lambda resp: (json.loads(line) for line in transport.lines(resp)))


class Client(Http):
    """One method per API route: the only place that knows the daemon's URLs."""

    def version(self) -> models.VersionInfo:
        return cast(models.VersionInfo, self.request("GET", "/version"))

    def apply(self, req: models.ApplyRequest) -> models.ApplyResponse:
        return cast(models.ApplyResponse, self.request("POST", "/apply", json=dataclasses.asdict(req)))

    def dry_run(self, req: models.DryRunRequest) -> models.DryRunResponse:
        return cast(models.DryRunResponse, self.request("POST", "/api/dry-run", json=dataclasses.asdict(req)))

    # -- nodes ----------------------------------------------------------------
    def list_nodes(self, selector: str | None = None) -> list[models.Manifest]:
        return self._items("/api/nodes", _given(selector=selector))

    def get_node(self, name: str) -> models.Manifest:
        return cast(models.Manifest, self.request("GET", f"/api/nodes/{name}"))

    def patch_node(self, name: str, patch: models.NodePatch) -> models.Manifest:
        body = {k: v for k, v in dataclasses.asdict(patch).items() if v not in (None, {})}
        return cast(models.Manifest, self.request("PATCH", f"/api/nodes/{name}", json=body))

    def drain_node(self, name: str) -> models.DrainResponse:
        return cast(models.DrainResponse, self.request("POST", f"/api/nodes/{name}/drain"))

    # -- pods, their logs, events ---------------------------------------------
    def list_pods(
        self, namespace: str | None = None, selector: str | None = None, **fields: str
    ) -> list[models.Manifest]:
        """`fields`: owner (a uid), node, phase: the API's narrowing filters."""
        return self._items("/api/pods", _given(namespace=namespace, selector=selector, **fields))

    def get_pod(self, namespace: str, name: str) -> models.Manifest:
        return cast(models.Manifest, self.request("GET", f"/api/pods/{namespace}/{name}"))

    def delete_pod(self, namespace: str, name: str) -> models.Manifest:
        """Stop and remove one pod; its controller replaces it (`ctl delete pod NAME`)."""
        return cast(models.Manifest, self.request("DELETE", f"/api/pods/{namespace}/{name}"))

    def pod_log(self, namespace: str, name: str, **params: Any) -> str:
        """`params` as the route's: tail, since_seconds, timestamps, previous."""
        return str(self.request("GET", f"/api/pods/{namespace}/{name}/log", params=params))

    def follow_log(self, namespace: str, name: str, **params: Any) -> Generator[bytes, None, None]:
        return self.stream(f"/api/pods/{namespace}/{name}/log", {**params, "follow": True})

    def list_events(self, namespace: str | None = None, uid: str | None = None) -> list[models.Manifest]:
        return self._items("/api/events", _given(namespace=namespace, uid=uid))

    def watch_events(self, namespace: str | None = None) -> Generator[models.WatchEvent, None, None]:
        watch = self.watch("/api/events/watch", _given(namespace=namespace))
        return cast(Generator[models.WatchEvent, None, None], watch)

    # -- workload objects -------------------------------------------------------
    def list_objects(
        self, kind: str, namespace: str | None = None, selector: str | None = None
    ) -> list[models.Manifest]:
        return self._items(_objects(kind), _given(namespace=namespace, selector=selector))

    def get_object(self, kind: str, namespace: str, name: str) -> models.Manifest:
        return cast(models.Manifest, self.request("GET", _objects(kind, namespace, name)))

    def delete_object(self, kind: str, namespace: str, name: str) -> models.Manifest:
        return cast(models.Manifest, self.request("DELETE", _objects(kind, namespace, name)))

    def patch_object(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> models.PatchResponse:
        return cast(models.PatchResponse, self.request("PATCH", _objects(kind, namespace, name), json=patch))

    def run_cronjob(self, namespace: str, cronjob: str, job: str) -> models.Manifest:
        """A Job from a CronJob's template now (`create job NAME --from=cronjob/CJ`)."""
        body = dataclasses.asdict(models.InstantiateRequest(job))
        return cast(models.Manifest, self.request("POST", _objects("CronJob", namespace, cronjob) + "/jobs", json=body))

    def revisions(self, namespace: str, daemonset: str, kind: str = "DaemonSet") -> list[models.Manifest]:
        return self._items(_objects(kind, namespace, daemonset) + "/revisions", {})

    def rollback(
        self, namespace: str, daemonset: str, req: models.RollbackRequest, kind: str = "DaemonSet"
    ) -> models.RollbackResponse:
        path = _objects(kind, namespace, daemonset) + "/rollback"
        return cast(models.RollbackResponse, self.request("POST", path, json=dataclasses.asdict(req)))

    def list_table(
        self, kind: str, namespace: str | None = None, selector: str | None = None, include: str = "None"
    ) -> dict[str, Any]:
        """The list as the server's meta.k8s.io/v1 Table (what `kubectl get` reads): the cells of the
        kind's columns, computed by the daemon, and each row's `includeObject` (None or Metadata)."""
        params = _given(labelSelector=selector, includeObject=include)
        return cast(dict[str, Any], self.request("GET", kube_path(kind, namespace), params, headers=_TABLE))

    def _items(self, path: str, params: dict[str, Any]) -> list[models.Manifest]:
        return list(cast(models.ObjectList, self.request("GET", path, params=params))["items"])


_TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}


def kube_path(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """A kind's Kubernetes API path: `/apis/batch/v1/namespaces/NS/jobs[/NAME]`, `/api/v1/pods` (all namespaces)."""
    info = kinds.get(kind)
    path = "/api/v1" if info.api_version == "v1" else f"/apis/{info.api_version}"
    if namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{info.plural}"
    return f"{path}/{name}" if name is not None else path


def _objects(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """The private object routes (`/api/objects/jobs[/NS/NAME]`)."""
    path = f"/api/objects/{kinds.PLURAL[kind]}"
    return f"{path}/{namespace}/{name}" if name is not None else path


def _raise_for(answer: Reply) -> None:
    if answer.status < 400:
        return
    message = _api_message(answer)
    if answer.status == 404:
        raise NotFoundError(message)
    if answer.status == 401:
        raise CtlError(f"{message} (the daemon refused the token; check --token-file)")
    raise CtlError(message)


def _why(exc: BaseException) -> str:
    """A transport failure in a few words (the OS's reason when there is one), not the exception's repr."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return "no answer in time"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return "the connection failed"


def _api_message(answer: Reply) -> str:
    """The daemon's own message for a refused request, as a sentence."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    if isinstance(body, dict) and isinstance(body.get("detail"), list):  # FastAPI's request validation
        parts = []
        for d in (d for d in body["detail"] if isinstance(d, dict)):
            where = ".".join(str(x) for x in d.get("loc", [])[1:])  # loc starts with "body" or "query"
            parts.append(f"{where}: {d.get('msg', 'invalid')}" if where else str(d.get("msg", "invalid")))
        return "the daemon refused the request: " + "; ".join(parts)
    if answer.status >= 500:
        return (
            f"the daemon failed on this request (HTTP {answer.status}); its log says why "
            "(journalctl -u miniorch, or the daemon's stderr)"
        )
    return f"the daemon refused the request (HTTP {answer.status}): {answer.text.strip()[:200] or 'no reason given'}"
