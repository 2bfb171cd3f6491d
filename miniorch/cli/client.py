"""The ctl side of the API: one method per call, over the daemon's unix socket or TCP listener.

Every URL `ctl` uses is built here: the Kubernetes API's paths for objects (`path_of`), miniorch's
own routes for apply, dry-run and version. Answers come back as Kubernetes objects or the shared
shapes of `miniorch.api.models`. Transport failures and API errors become `CtlError` with a message
a user can act on; only the CLI entry point turns them into exit codes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import quote

from miniorch import kinds, paths
from miniorch.api import models
from miniorch.cli import transport
from miniorch.cli.transport import TRANSPORT_ERRORS, Endpoint, Reply, Response
from miniorch.errors import MiniorchError

T = TypeVar("T")


class CtlError(MiniorchError):
    """Printed as `error: ...` and exit code 1."""


class ExpiredError(CtlError):
    """A 410: the resourceVersion a watch asked for is older than the daemon's change log keeps."""


class NotFoundError(CtlError):
    """A 404; `name`: the object the API's Status says is missing (None for a path it does not serve)."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name

    def worded(self, name: str, message: str) -> NotFoundError:
        """This error in `message`'s words when it is about `name`, else itself."""
        return NotFoundError(message, name) if self.name == name else self


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
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Any,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The response with its headers read; the caller closes it."""
        try:
            self._endpoint.check()
        except ValueError as exc:
            raise CtlError(str(exc)) from exc
        try:
            head = {**self._headers, **headers} if headers else self._headers
            return transport.send(self._endpoint, self.timeout, method, path, head, params, body, content_type)
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
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The answer's JSON (or text); a refusal raises CtlError (NotFoundError for 404).
        `json`: the body, as httpx named it, sent as `content_type`; `headers` added to the request's."""
        resp = self._open(method, path, params, json, content_type, headers)
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
        """The lines of a watch stream (JSON objects, one a line), as they arrive."""
        return self._streamed(path, params, lambda resp: (json.loads(line) for line in transport.lines(resp)))


class Client(Http):
    """One method per API call: the only place that knows the daemon's URLs.

    Objects, pods, logs, events and nodes go through the Kubernetes API (`path_of`); the few calls
    with no Kubernetes verb are extension subresources on its paths (a node's `drain`, a DaemonSet's
    or StatefulSet's `revisions` and `rollback`). A missing object is told in `ctl`'s own words.
    """

    def version(self) -> models.VersionInfo:
        return cast(models.VersionInfo, self.request("GET", "/version"))

    def apply(self, req: models.ApplyRequest) -> models.ApplyResponse:
        return cast(models.ApplyResponse, self.request("POST", "/apply", json=dataclasses.asdict(req)))

    def dry_run(self, req: models.DryRunRequest) -> models.DryRunResponse:
        return cast(models.DryRunResponse, self.request("POST", "/api/dry-run", json=dataclasses.asdict(req)))

    # -- nodes ----------------------------------------------------------------
    def list_nodes(self, selector: str | None = None) -> list[models.Manifest]:
        return self._items(path_of("Node"), _given(labelSelector=selector))

    def get_node(self, name: str) -> models.Manifest:
        return self._one("GET", path_of("Node", name=name), name, f'node "{name}" not found')

    def patch_node(self, name: str, patch: models.NodePatch) -> models.Manifest:
        """A merge patch of the Node's `metadata.labels` (None removes a label) and `spec.unschedulable`."""
        body: dict[str, Any] = {}
        if patch.labels:
            body["metadata"] = {"labels": patch.labels}
        if patch.unschedulable is not None:
            body["spec"] = {"unschedulable": patch.unschedulable}
        return self._one("PATCH", path_of("Node", name=name), name, f'node "{name}" not found', body, MERGE_PATCH)

    def drain_node(self, name: str) -> models.DrainResponse:
        path = path_of("Node", name=name) + "/drain"
        return cast(models.DrainResponse, self._one("POST", path, name, f'node "{name}" not found'))

    # -- pods, their logs, events ---------------------------------------------
    def list_pods(
        self,
        namespace: str | None = None,
        selector: str | None = None,
        owner: str | None = None,
        node: str | None = None,
        phase: str | None = None,
    ) -> list[models.Manifest]:
        """Narrowed by labels, and by the owner's uid, the node and the phase (field selectors)."""
        wanted = {"metadata.ownerReferences.uid": owner, "spec.nodeName": node, "status.phase": phase}
        fields = ",".join(f"{k}={v}" for k, v in wanted.items() if v is not None)
        return self._items(path_of("Pod", namespace), _given(labelSelector=selector, fieldSelector=fields))

    def get_pod(self, namespace: str, name: str) -> models.Manifest:
        return self._one("GET", path_of("Pod", namespace, name), name, _pod_missing(namespace, name))

    def delete_pod(self, namespace: str, name: str) -> models.Manifest:
        """Stop and remove one pod; its controller replaces it (`ctl delete pod NAME`)."""
        return cast(models.Manifest, self.request("DELETE", path_of("Pod", namespace, name)))

    def pod_log(
        self,
        namespace: str,
        name: str,
        tail: int | None = None,
        since_seconds: float | None = None,
        timestamps: bool = False,
        previous: bool = False,
    ) -> str:
        """The `pods/log` subresource with kubectl's parameters."""
        path = path_of("Pod", namespace, name) + "/log"
        params = _log_params(tail, since_seconds, timestamps, previous)
        return str(self._one("GET", path, name, _pod_missing(namespace, name), params=params))

    def follow_log(
        self,
        namespace: str,
        name: str,
        tail: int | None = None,
        since_seconds: float | None = None,
        timestamps: bool = False,
    ) -> Generator[bytes, None, None]:
        params = {**_log_params(tail, since_seconds, timestamps, False), "follow": True}
        return self._worded(
            self.stream(path_of("Pod", namespace, name) + "/log", params), name, _pod_missing(namespace, name)
        )

    def list_events(self, namespace: str | None = None, uid: str | None = None) -> list[models.Manifest]:
        """Oldest first; `uid`: only those of that object (`involvedObject.uid`)."""
        fields = f"involvedObject.uid={uid}" if uid else None
        return self._items(path_of("Event", namespace), _given(fieldSelector=fields))

    def watch_events(self, namespace: str | None = None) -> Generator[models.WatchEvent, None, None]:
        """The current events (ADDED), then each new one (ADDED) or repeated one (MODIFIED), endlessly: a
        Kubernetes watch from the list's resourceVersion, listed and watched again when the daemon ends it."""
        from miniorch.cli import eventwatch

        return eventwatch.changes(self, path_of("Event", namespace))

    # -- workload objects -------------------------------------------------------
    def list_objects(
        self, kind: str, namespace: str | None = None, selector: str | None = None
    ) -> list[models.Manifest]:
        return self._items(path_of(kind, namespace), _given(labelSelector=selector))

    def get_object(self, kind: str, namespace: str, name: str) -> models.Manifest:
        return self._one("GET", path_of(kind, namespace, name), name, f'{kinds.get(kind).group} "{name}" not found')

    def delete_object(self, kind: str, namespace: str, name: str) -> models.Manifest:
        """The object marked for deletion (its controller removes its pods first), or the API's
        success Status for a kind that goes at once (ConfigMap, Secret)."""
        return self._one("DELETE", path_of(kind, namespace, name), name, _object_missing(kind, namespace, name))

    def patch_object(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> models.PatchResponse:
        """A JSON merge patch; `action` is "patched" when the object changed (its generation moved on), else
        "unchanged"."""
        path = path_of(kind, namespace, name)
        missing = _object_missing(kind, namespace, name)
        before = self._one("GET", path, name, missing)
        after = self._one("PATCH", path, name, missing, patch, MERGE_PATCH)
        changed = (after.get("metadata") or {}).get("generation") != (before.get("metadata") or {}).get("generation")
        return {"action": "patched" if changed else "unchanged", "object": after}

    def run_cronjob(self, namespace: str, cronjob: str, job: str) -> models.Manifest:
        """A Job from a CronJob's template now (`create job NAME --from=cronjob/CJ`), as kubectl makes it:
        a Job naming the CronJob as its controller, which the daemon fills from the template."""
        missing = f'cronjob.batch "{cronjob}" not found in namespace "{namespace}"'
        cj = self._one("GET", path_of("CronJob", namespace, cronjob), cronjob, missing)
        if cj["metadata"].get("deletionTimestamp"):
            raise NotFoundError(missing)
        owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": cronjob, "uid": cj["metadata"]["uid"]}
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": job,
                "namespace": namespace,
                "annotations": {INSTANTIATE_ANNOTATION: "manual"},
                "ownerReferences": [{**owner, "controller": True}],
            },
        }
        return cast(models.Manifest, self.request("POST", path_of("Job", namespace), json=body))

    def revisions(self, namespace: str, daemonset: str, kind: str = "DaemonSet") -> list[models.Manifest]:
        return self._items(path_of(kind, namespace, daemonset) + "/revisions", {})

    def rollback(
        self, namespace: str, daemonset: str, req: models.RollbackRequest, kind: str = "DaemonSet"
    ) -> models.RollbackResponse:
        path = path_of(kind, namespace, daemonset) + "/rollback"
        return cast(models.RollbackResponse, self.request("POST", path, json=dataclasses.asdict(req)))

    def list_printed(
        self, kind: str, namespace: str | None, selector: str | None, printing: dict[str, bool]
    ) -> str | dict[str, Any]:
        """The list as `ctl get` prints it, printed by the daemon (`printing`: showNamespace,
        showLabels, showKind, noHeaders). A daemon older than that answers its meta.k8s.io/v1
        Table instead (the cells of the kind's columns, rows with their metadata when asked)."""
        include = "Metadata" if printing.get("showNamespace") or printing.get("showLabels") else "None"
        flags = {name: "true" for name, on in printing.items() if on}
        params = _given(labelSelector=selector, includeObject=include, **flags)
        return cast(str | dict[str, Any], self.request("GET", path_of(kind, namespace), params, headers=_PRINTED))

    def _items(self, path: str, params: dict[str, Any]) -> list[models.Manifest]:
        return list(cast(models.ObjectList, self.request("GET", path, params=params))["items"])

    def _one(
        self,
        method: str,
        path: str,
        name: str,
        missing: str,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, Any] | None = None,
    ) -> models.Manifest:
        """The object answered (or a log's text); the API's NotFound of `name` is raised as `missing`,
        ctl's wording of it."""
        try:
            return cast(models.Manifest, self.request(method, path, params, body, content_type))
        except NotFoundError as exc:
            raise exc.worded(name, missing) from None

    @staticmethod
    def _worded(stream: Generator[bytes, None, None], name: str, missing: str) -> Generator[bytes, None, None]:
        try:
            yield from stream
        except NotFoundError as exc:
            raise exc.worded(name, missing) from None
        finally:
            stream.close()


MERGE_PATCH = "application/merge-patch+json"
_PRINTED = {"Accept": "text/plain;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io"}
#: kubectl's mark on a Job made by `create job --from=cronjob/...` (reconcile.cronjob reads it).
INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"


def path_of(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    """The Kubernetes API path of a kind's objects: in every namespace (`namespace` None), in one, or
    one object, e.g. `/apis/batch/v1/namespaces/default/jobs/pi`, `/api/v1/nodes/n1`."""
    info = kinds.get(kind)
    path = f"/apis/{info.api_group}/{info.version}" if info.api_group else f"/api/{info.version}"
    if info.namespaced and namespace is not None:
        path += f"/namespaces/{quote(namespace, safe='')}"
    elif info.namespaced and name is not None:
        raise ValueError(f"{info.plural} are namespaced: give the namespace of {name!r}")
    path += f"/{info.plural}"
    return f"{path}/{quote(name, safe='')}" if name is not None else path


def _pod_missing(namespace: str, name: str) -> str:
    return f'pod "{name}" not found in namespace "{namespace}"'


def _object_missing(kind: str, namespace: str, name: str) -> str:
    return f'{kind.lower()} "{name}" not found in namespace "{namespace}"'


def _log_params(tail: int | None, since_seconds: float | None, timestamps: bool, previous: bool) -> dict[str, Any]:
    """kubectl's `pods/log` parameters; `sinceSeconds` is whole seconds, at least 1, as the API takes it."""
    since = max(1, math.ceil(since_seconds)) if since_seconds is not None else None
    return _given(tailLines=tail, sinceSeconds=since, timestamps=timestamps or None, previous=previous or None)


def _raise_for(answer: Reply) -> None:
    if answer.status < 400:
        return
    message = _api_message(answer)
    if answer.status == 404:
        raise NotFoundError(message, _missing_name(answer))
    if answer.status == 401:
        raise CtlError(f"{message} (the daemon refused the token; check --token-file)")
    if answer.status == 410:
        raise ExpiredError(message)
    raise CtlError(message)


def _missing_name(answer: Reply) -> str | None:
    """The name in a NotFound Status's details (`{"details": {"name": "pi", "kind": "jobs"}}`)."""
    try:
        body = answer.json()
    except ValueError:
        return None
    details = body.get("details") if isinstance(body, dict) else None
    name = details.get("name") if isinstance(details, dict) else None
    return name if isinstance(name, str) else None


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
