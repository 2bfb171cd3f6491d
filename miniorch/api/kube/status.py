"""Kubernetes `Status` errors for the Kubernetes API's paths (`/api`, `/api/v1/...`, `/apis/...`).

Routes raise `KubeError` (or miniorch's own errors, translated here) and clients get the
`Status` object kubectl and client-go read: `reason`, `code`, `details.causes[]` per field.
miniorch's own routes (`/apply`, `/api/dry-run`, ...) keep their `{"message"}` errors: `install`
wraps the app's existing handlers and only answers differently on Kubernetes paths.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from miniorch.controllers.objects import Busy, Conflict, Immutable, NotFound
from miniorch.errors import MiniorchError
from miniorch.spec.errors import ManifestInvalid
from miniorch.store.errors import StoreUnavailable
from miniorch.store.versions import Gone

Handler = Callable[[Request, Exception], Awaitable[Response]]

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    503: "ServiceUnavailable",
}


class KubeError(MiniorchError):
    """An error answered as a Status with `code` and `reason` (AlreadyExists is a 409 of its own reason)."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason or REASONS.get(code, "InternalError")
        self.details = details or {}


def status(code: int, message: str, reason: str | None = None, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `Status` object (kind Status, apiVersion v1) of a failure."""
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "InternalError"),
        "code": code,
    }
    if details:
        out["details"] = details
    return out


def success(details: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def not_found(resource: str, name: str) -> KubeError:
    """`jobs.batch "x" not found`, as the API server words it."""
    plural, _, group = resource.partition(".")
    return KubeError(404, f'{resource} "{name}" not found', details={"name": name, "group": group, "kind": plural})


def already_exists(resource: str, name: str) -> KubeError:
    plural, _, group = resource.partition(".")
    details = {"name": name, "group": group, "kind": plural}
    return KubeError(409, f'{resource} "{name}" already exists', "AlreadyExists", details)


def is_kube_path(path: str) -> bool:
    """The Kubernetes API's paths; `/apply`, `/api/dry-run`, `/api/notifications` are miniorch's own."""
    return path in ("/api", "/apis", "/version") or path.startswith(("/api/v1", "/apis/"))


def invalid_causes(exc: ManifestInvalid) -> list[dict[str, str]]:
    """One cause per field, with the path and message `ctl apply` prints."""
    causes = []
    for error in exc.errors:
        message = f"{error.message} (hint: {error.hint})" if error.hint else error.message
        causes.append({"type": "FieldValueInvalid", "field": error.path, "message": message or str(error)})
    return causes


def from_exception(exc: Exception) -> dict[str, Any]:
    """The Status of an exception a route raised (the ones `install` handles)."""
    match exc:
        case KubeError():
            return status(exc.code, str(exc), exc.reason, exc.details)
        case ManifestInvalid():
            return status(422, f"the object is invalid: {exc}", details={"causes": invalid_causes(exc)})
        case Immutable():
            return status(422, str(exc))
        case NotFound():
            return status(404, str(exc))
        case Busy() | Conflict():
            return status(409, str(exc))
        case Gone():
            return status(410, str(exc), "Expired")
        case StoreUnavailable():
            return status(503, f"{exc}; the daemon keeps the containers running and retries; try again shortly")
        case RequestValidationError():
            return status(400, f"the request is malformed: {_validation_text(exc)}")
        case HTTPException():
            code = exc.status_code
            text = "the server could not find the requested resource" if code == 404 else str(exc.detail)
            return status(code, text)
        case ValueError():
            return status(400, str(exc))
    return status(500, "internal error")


def _validation_text(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', '')}")
    return "; ".join(parts)


def _wrap(original: Handler | None) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if is_kube_path(request.url.path) or original is None:
            body = from_exception(exc)
            return JSONResponse(body, status_code=body["code"])
        return await original(request, exc)

    return handler


KUBE_ERRORS: tuple[type[Exception], ...] = (KubeError, Gone, RequestValidationError, HTTPException)


def install(app: FastAPI) -> None:
    """Answer Status objects on Kubernetes paths for every error type the app handles, and a few more."""
    handled: dict[Any, Handler] = dict(app.exception_handlers)
    for exc_type in {*handled, *KUBE_ERRORS}:
        if isinstance(exc_type, type):
            original = handled.get(exc_type)
            app.add_exception_handler(exc_type, _wrap(original if exc_type not in (KubeError, Gone) else None))
