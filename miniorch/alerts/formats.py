"""Pure: the body of one delivery, as JSON (`json`) or as a Slack incoming-webhook message (`slack`).

Both carry the delivery's `id` (stable per fact and receiver: a receiver drops a retry it
already has), the object, reason, message, node, time and the failing pod's last log lines.
Nothing else is read: only what `ctl get events` and `ctl logs` show the same user.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from miniorch.alerts.facts import Fact
from miniorch.alerts.receivers import FactType, Format

SLACK_TEXT_LIMIT = 2900  # a Slack section block takes at most 3000 characters

_API_VERSION = {"Job": "batch/v1", "CronJob": "batch/v1", "DaemonSet": "apps/v1", "StatefulSet": "apps/v1"}
_TITLE = {
    FactType.JOB_FAILED: "Job failed",
    FactType.CRONJOB_MISSED: "CronJob missed a run",
    FactType.DAEMONSET_POD_CRASHLOOPING: "DaemonSet pod is crash-looping",
    FactType.STATEFULSET_POD_CRASHLOOPING: "StatefulSet pod is crash-looping",
    FactType.NODE_NOT_READY: "Node is NotReady",
}


def _time(value: dt.datetime) -> str:
    """RFC 3339 in UTC, to the millisecond (a receiver can measure its delay)."""
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_json(fact: Fact, delivery_id: str) -> dict[str, Any]:
    """The fact as one JSON object (the `json` format)."""
    return {
        "id": delivery_id,
        "event": fact.type.value,
        "time": _time(fact.time),
        "object": {
            "apiVersion": _API_VERSION.get(fact.kind, "v1"),
            "kind": fact.kind,
            "namespace": fact.namespace or None,
            "name": fact.name,
            "uid": fact.uid,
        },
        "reason": fact.reason,
        "message": fact.message,
        "node": fact.node,
        "pod": fact.pod,
        "owner": fact.owner,
        "log": fact.log.split("\n") if fact.log else [],
    }


def _object(fact: Fact) -> str:
    where = f"{fact.namespace}/" if fact.namespace else ""
    return f"{fact.kind.lower()} {where}{fact.name}"


def summary(fact: Fact) -> str:
    """One line: what went wrong, where (the Slack `text`, shown in notifications and previews)."""
    on = f" on node {fact.node}" if fact.node and fact.type is not FactType.NODE_NOT_READY else ""
    return f"{_TITLE[fact.type]}: {_object(fact)}{on}: {fact.reason}: {fact.message}"


def _escape(text: str) -> str:
    """Slack mrkdwn's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def as_slack(fact: Fact, delivery_id: str) -> dict[str, Any]:
    """`{"text", "blocks"}` for a Slack-compatible incoming webhook; `text` is the fallback."""
    fields = [
        f"*Object:* `{_escape(_object(fact))}`",
        f"*Reason:* {_escape(fact.reason)}",
        f"*Node:* {_escape(fact.node or '-')}",
        f"*Time:* {_time(fact.time)}",
    ]
    if fact.pod:
        fields.append(f"*Pod:* `{_escape(fact.pod)}`")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _TITLE[fact.type][:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(fact.message)[:SLACK_TEXT_LIMIT]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if fact.log:
        log = _escape(fact.log)[-SLACK_TEXT_LIMIT:]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Last log lines:*\n```{log}```"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"miniorch · id {delivery_id}"}]})
    return {"text": summary(fact)[:SLACK_TEXT_LIMIT], "blocks": blocks}


def body(fmt: Format, fact: Fact, delivery_id: str) -> dict[str, Any]:
    match fmt:
        case Format.JSON:
            return as_json(fact, delivery_id)
        case Format.SLACK:
            return as_slack(fact, delivery_id)
