"""The `notify:` key of the config: receivers of failure notifications, their filters and format.

Each receiver is a URL that gets one POST per matching fact (DESIGN 12). Errors name the
receiver and the key (`notify[0] (ops-chat).url: ...`). A receiver's URL often carries a
token, so only `display_url` (scheme, host and port) ever reaches a log or `ctl`.
"""

from __future__ import annotations

import enum
import urllib.parse
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class FactType(enum.StrEnum):
    """What went wrong: the `events` a receiver may filter on."""

    JOB_FAILED = "JobFailed"
    CRONJOB_MISSED = "CronJobMissed"
    DAEMONSET_POD_CRASHLOOPING = "DaemonSetPodCrashLooping"
    STATEFULSET_POD_CRASHLOOPING = "StatefulSetPodCrashLooping"
    NODE_NOT_READY = "NodeNotReady"


class Format(enum.StrEnum):
    JSON = "json"  # the fact as one JSON object
    SLACK = "slack"  # {"text", "blocks"}: what a Slack (or Mattermost, Rocket.Chat) incoming webhook takes


def _who(info: ValidationInfo) -> str:
    name = info.data.get("name")
    return f"receiver {name!r}" if name else "this receiver"


class Receiver(BaseModel):
    """One webhook. `events` defaults to every fact type; `namespaces: []` means every namespace."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", max_length=63)
    url: str
    format: Format = Format.JSON
    events: tuple[FactType, ...] = tuple(FactType)
    namespaces: tuple[str, ...] = ()
    headers: dict[str, str] = Field(default_factory=dict)  # e.g. Authorization; never logged nor shown
    timeout_seconds: float = Field(default=10, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{_who(info)}: the url must be http(s)://host/path, e.g. https://hooks.slack.com/services/..., "
                f"not {display_url(value)!r}"
            )
        return value

    @field_validator("events", mode="before")
    @classmethod
    def _events(cls, value: object, info: ValidationInfo) -> object:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{_who(info)}: events is a list, e.g. [JobFailed, NodeNotReady]")
        known = [t.value for t in FactType]
        for item in value:
            if item not in known:
                raise ValueError(f"{_who(info)}: unknown event {item!r}; known events: {', '.join(known)}")
        return tuple(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for key in value:
            if key.lower() in ("content-type", "content-length", "host"):
                raise ValueError(f"{_who(info)}: header {key!r} is set by miniorch; leave it out")
        return value

    @property
    def where(self) -> str:
        """The URL without path, query or credentials: what logs and `ctl` show."""
        return display_url(self.url)

    def wants(self, fact: FactType, namespace: str) -> bool:
        """The receiver's filters let this fact through (a node's, namespace "", passes any namespace filter)."""
        return fact in self.events and (not self.namespaces or not namespace or namespace in self.namespaces)


def display_url(url: str) -> str:
    """`scheme://host[:port]` of `url`: its path, query and user info often hold a token."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if _port(parts) else ""
    return f"{parts.scheme or '?'}://{host}{port}"


def _port(parts: urllib.parse.SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def unique_names(receivers: Sequence[Receiver]) -> None:
    """Raise ValueError naming a receiver name used twice (deliveries are keyed by it)."""
    seen: set[str] = set()
    for receiver in receivers:
        if receiver.name in seen:
            raise ValueError(f"receiver name {receiver.name!r} appears twice; give each receiver its own name")
        seen.add(receiver.name)
