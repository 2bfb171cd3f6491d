"""Building blocks shared by the manifest models.

`K8sModel` fixes the pydantic configuration (camelCase aliases, frozen, unknown
fields forbidden). `NotSupported` marks Kubernetes fields miniorch rejects,
`Ignored[T]` fields it accepts with a warning, and `fail()` reports
cross-field errors at an exact nested path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Final, NamedTuple, TypeAlias, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from miniorch.spec import quantity

T = TypeVar("T")
Loc: TypeAlias = tuple[str | int, ...]

MAX_INT32: Final = 2147483647
MAX_INT64: Final = 2**63 - 1  # Kubernetes' int64 fields (activeDeadlineSeconds)
IGNORED_MESSAGE: Final = "ignored: no effect on a Docker host"

# Why a field is rejected and what to do instead, by python attribute name.
HINTS: Final[dict[str, str]] = {
    "init_containers": "run the setup step in the container's command, or as a separate Job",
    "selector": "miniorch generates the Job selector; remove spec.selector",
    "manual_selector": "miniorch generates the Job selector; remove spec.manualSelector",
    "value_from": "put the value in env[].value",
    "env_from": "list the variables in env[] with literal values",
    "liveness_probe": "use readinessProbe with exec, or let the process exit on failure",
    "stdin": "containers run without a terminal",
    "tty": "containers run without a terminal",
    "pod_affinity": "use nodeSelector or nodeAffinity",
    "pod_anti_affinity": "use nodeSelector or nodeAffinity",
}


class K8sModel(BaseModel):
    """Base of all manifest models: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, alias_generator=to_camel)


class Issue(NamedTuple):
    """A validation problem at `loc`, relative to the model that found it."""

    loc: Loc
    message: str
    hint: str | None = None


def fail(title: str, issues: Sequence[Issue]) -> None:
    """Raise all `issues` at once as one pydantic error (no-op when empty).

    Raising a ValidationError inside a validator keeps each issue's nested loc,
    which the loader turns into a line number.
    """
    if not issues:
        return
    raise ValidationError.from_exception_data(
        title,
        [
            {
                "type": PydanticCustomError("miniorch", "{message}", {"message": i.message, "hint": i.hint}),
                "loc": i.loc,
                "input": None,
            }
            for i in issues
        ],
    )


def _reject(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        return None
    hint = HINTS.get(info.field_name or "")
    raise PydanticCustomError("not_supported", "not supported", {"hint": hint})


# A Kubernetes field miniorch does not implement: any non-null value is an error.
NotSupported: TypeAlias = SkipJsonSchema[Annotated[Any, BeforeValidator(_reject), Field(exclude=True)]]
# Set by the Kubernetes API server in exported objects; accepted and dropped.
ServerSet: TypeAlias = SkipJsonSchema[Annotated[Any, Field(exclude=True)]]


class _IgnoredMarker:
    """Annotation marking a field that is accepted, kept, and warned about."""

    def __repr__(self) -> str:
        return "IGNORED"


IGNORED: Final = _IgnoredMarker()
Ignored: TypeAlias = Annotated[T, IGNORED, Field(description=IGNORED_MESSAGE)]


class Warn(NamedTuple):
    """Annotation marking a field that is accepted, kept and shown, with its own warning
    (`Annotated[str, Warn("kept: Docker volumes have no size")]`)."""

    message: str


def warning_of(metadata: Sequence[Any]) -> str | None:
    """The warning a field's annotations ask for: Ignored's, a Warn's message, or None."""
    if IGNORED in metadata:
        return IGNORED_MESSAGE
    return next((m.message for m in metadata if isinstance(m, Warn)), None)


# --- names and labels -----------------------------------------------------------

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def dns_label_problem(value: str, max_len: int = 63) -> str | None:
    """Why `value` is not a DNS-1123 label of at most `max_len` chars, or None."""
    if len(value) > max_len:
        return f"Invalid value: {value!r}: must be no more than {max_len} characters"
    if not DNS1123_LABEL.match(value):
        return (
            f"Invalid value: {value!r}: a lowercase RFC 1123 label must consist of lower case "
            "alphanumeric characters or '-', and must start and end with an alphanumeric character"
        )
    return None


def _dns_label(value: str) -> str:
    problem = dns_label_problem(value)
    if problem:
        raise PydanticCustomError("invalid_name", problem)
    return value


DnsLabel: TypeAlias = Annotated[str, BeforeValidator(lambda v: _dns_label(v) if isinstance(v, str) else v)]


def _label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return f"Invalid value: {key!r}: prefix part must be a lowercase RFC 1123 subdomain"
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return (
            f"Invalid value: {key!r}: name part must consist of alphanumeric characters, "
            "'-', '_' or '.', start and end with an alphanumeric character, at most 63 characters"
        )
    return None


def _labels(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    issues: list[Issue] = []
    for key, val in value.items():
        if not isinstance(key, str) or not isinstance(val, str):
            continue  # the dict[str, str] schema reports the type error
        problem = _label_key_problem(key)
        if problem:
            issues.append(Issue((key,), problem))
        elif val and (len(val) > 63 or not _LABEL_NAME.match(val)):
            issues.append(
                Issue(
                    (key,),
                    f"Invalid value: {val!r}: a label value must be empty or at most "
                    "63 alphanumeric characters, '-', '_' or '.', starting and ending "
                    "with an alphanumeric character",
                )
            )
    fail("labels", issues)
    return value


Labels: TypeAlias = Annotated[dict[str, str], BeforeValidator(_labels)]


# --- quantities -----------------------------------------------------------------


def _quantity_str(value: Any, check: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value  # let the str schema report the type
    try:
        check(value)
    except quantity.QuantityError as exc:
        raise PydanticCustomError(
            "miniorch",
            'Invalid value: "{value}": {error}',
            {"value": str(value), "error": str(exc), "hint": None},
        ) from exc
    return str(value)


CpuQuantity: TypeAlias = Annotated[str, BeforeValidator(lambda v: _quantity_str(v, quantity.parse_cpu))]
MemoryQuantity: TypeAlias = Annotated[str, BeforeValidator(lambda v: _quantity_str(v, quantity.parse_memory))]
