"""CronJob and DaemonSet defaults and validation."""

from __future__ import annotations

import pytest

from miniorch.spec import loader, models

from .manifests import AGENT_DAEMONSET, HELLO_CRONJOB, edit, one_error


def test_hello_cronjob_in_batch_v1beta1_loads_with_defaults() -> None:
    """The Kubernetes docs `hello` CronJob, in the old batch/v1beta1, loads with defaults."""
    [manifest] = loader.load_text(HELLO_CRONJOB, "cron/hello.yaml")
    assert (manifest.kind, manifest.api_version, manifest.name) == ("CronJob", "batch/v1beta1", "hello")
    cron = manifest.obj
    assert isinstance(cron, models.CronJob)
    spec = cron.spec
    assert spec.schedule == "*/1 * * * *"
    assert (spec.concurrency_policy, spec.suspend, spec.time_zone) == ("Allow", False, None)
    assert (
        spec.successful_jobs_history_limit,
        spec.failed_jobs_history_limit,
        spec.starting_deadline_seconds,
    ) == (3, 1, None)
    job = spec.job_template.spec
    assert (job.parallelism, job.completions, job.backoff_limit) == (1, 1, 6)
    container = job.template.spec.container
    assert container.args == ["/bin/sh", "-c", "date; echo Hello from the Kubernetes cluster"]
    assert container.image_pull_policy == "Always"
    assert job.template.spec.restart_policy == "OnFailure"


def test_cronjob_in_batch_v1_with_time_zone_loads() -> None:
    """batch/v1 CronJobs accept an IANA spec.timeZone and the other policies."""
    text = edit(HELLO_CRONJOB, "batch/v1beta1", "batch/v1")
    text = edit(
        text,
        '  schedule: "*/1 * * * *"\n',
        '  schedule: "@hourly"\n  timeZone: Europe/Berlin\n  concurrencyPolicy: Forbid\n  startingDeadlineSeconds: 200\n',
    )
    [manifest] = loader.load_text(text, "c.yaml")
    assert isinstance(manifest.obj, models.CronJob)
    assert (manifest.obj.spec.time_zone, manifest.obj.spec.concurrency_policy) == ("Europe/Berlin", "Forbid")


@pytest.mark.parametrize(
    ("old", "new", "path", "fragment"),
    [
        (
            '  schedule: "*/1 * * * *"\n',
            '  schedule: "*/1 * * * *"\n  timeZone: Mars/Olympus\n',
            "spec.timeZone",
            "unknown time zone Mars/Olympus",
        ),
        (
            '  schedule: "*/1 * * * *"\n',
            '  schedule: "*/1 * * * *"\n  timeZone: Local\n',
            "spec.timeZone",
            "unknown time zone Local",
        ),
        ('"*/1 * * * *"', '"CRON_TZ=UTC 0 * * * *"', "spec.schedule", "use timeZone field instead"),
        ('"*/1 * * * *"', '"  "', "spec.schedule", "Required value"),
        ('  schedule: "*/1 * * * *"\n', "", "spec.schedule", "Required value"),
        (
            '  schedule: "*/1 * * * *"\n',
            '  schedule: "*/1 * * * *"\n  concurrencyPolicy: Sometimes\n',
            "spec.concurrencyPolicy",
            'supported values: "Allow", "Forbid", "Replace"',
        ),
        (
            "restartPolicy: OnFailure",
            "restartPolicy: Always",
            "spec.jobTemplate.spec.template.spec.restartPolicy",
            'Unsupported value: "Always"',
        ),
        ("  name: hello\n", f"  name: {'h' * 53}\n", "metadata.name", "no more than 52 characters"),
    ],
)
def test_invalid_cronjobs_are_rejected(old: str, new: str, path: str, fragment: str) -> None:
    """CronJob fields are validated, and the job template like a Job."""
    error = one_error(edit(HELLO_CRONJOB, old, new))
    assert error.path == path
    assert fragment in error.message
    assert error.line is not None


def test_bad_time_zone_error_has_its_line() -> None:
    """An unknown time zone is reported on the timeZone line with a hint."""
    error = one_error(
        edit(
            HELLO_CRONJOB,
            '  schedule: "*/1 * * * *"\n',
            '  schedule: "*/1 * * * *"\n  timeZone: Mars/Olympus\n',
        )
    )
    assert (error.line, error.column) == (7, 13)
    assert error.hint and "IANA" in error.hint


def test_daemonset_with_selector_loads_with_defaults() -> None:
    """A DaemonSet whose selector matches its template loads with apps/v1 defaults."""
    [manifest] = loader.load_text(AGENT_DAEMONSET, "ds.yaml")
    assert (manifest.kind, manifest.name, manifest.namespace) == ("DaemonSet", "disk-monitor", "ops")
    ds = manifest.obj
    assert isinstance(ds, models.DaemonSet)
    spec = ds.spec
    assert spec.template.spec.restart_policy == "Always"
    assert spec.update_strategy.type == "RollingUpdate"
    assert spec.update_strategy.rolling_update == models.RollingUpdateDaemonSet(max_unavailable=1, max_surge=0)
    assert (spec.min_ready_seconds, spec.revision_history_limit) == (0, 10)
    assert spec.selector.matches({"app": "disk-monitor", "x": "y"})
    assert spec.template.spec.volumes[0].host_path == models.HostPathVolumeSource(path="/dev")


@pytest.mark.parametrize(
    ("old", "new", "path", "fragment"),
    [
        (
            "      labels:\n        app: disk-monitor\n",
            "      labels:\n        app: other\n",
            "spec.template.metadata.labels",
            "selector does not match template labels",
        ),
        (
            "    matchLabels:\n      app: disk-monitor\n",
            "    matchLabels: {}\n",
            "spec.selector",
            "empty selector is invalid for daemonset",
        ),
        ("  selector:\n    matchLabels:\n      app: disk-monitor\n", "", "spec.selector", "Required value"),
        (
            "      nodeSelector:\n",
            "      restartPolicy: Never\n      nodeSelector:\n",
            "spec.template.spec.restartPolicy",
            'supported values: "Always"',
        ),
        (
            "  template:\n",
            "  updateStrategy: {rollingUpdate: {maxUnavailable: 0}}\n  template:\n",
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
            "may not be 0 when maxSurge is 0",
        ),
        (
            "  template:\n",
            "  updateStrategy: {rollingUpdate: {maxUnavailable: 150%}}\n  template:\n",
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
            "percentage",
        ),
        (
            "  template:\n",
            "  updateStrategy: {type: OnDelete, rollingUpdate: {}}\n  template:\n",
            "spec.updateStrategy.rollingUpdate",
            "may not be specified",
        ),
        (
            "  template:\n",
            "  updateStrategy: {type: Recreate}\n  template:\n",
            "spec.updateStrategy.type",
            "Unsupported value",
        ),
    ],
)
def test_invalid_daemonsets_are_rejected(old: str, new: str, path: str, fragment: str) -> None:
    """DaemonSet selectors, restart policy and update strategy are validated."""
    error = one_error(edit(AGENT_DAEMONSET, old, new))
    assert error.path == path
    assert fragment in error.message


def test_selector_mismatch_points_at_template_labels() -> None:
    """The selector/labels mismatch is reported at the template labels, as Kubernetes does."""
    error = one_error(edit(AGENT_DAEMONSET, "        app: disk-monitor\n", "        app: other\n"))
    assert (error.path, error.line) == ("spec.template.metadata.labels", 13)


@pytest.mark.parametrize(
    ("surge", "unavailable"),
    [
        ("maxSurge: 1, maxUnavailable: 0", None),
        ("maxSurge: '25%', maxUnavailable: 0", None),
        ("maxUnavailable: '10%'", None),
    ],
)
def test_rolling_update_accepts_ints_and_percentages(surge: str, unavailable: None) -> None:
    """maxSurge and maxUnavailable take integers or percentages, one of them non-zero."""
    text = edit(AGENT_DAEMONSET, "  template:\n", f"  updateStrategy: {{rollingUpdate: {{{surge}}}}}\n  template:\n")
    [manifest] = loader.load_text(text, "ds.yaml")
    assert isinstance(manifest.obj, models.DaemonSet)


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [(1, 10, True, 1), ("25%", 10, True, 3), ("25%", 10, False, 2), ("100%", 7, True, 7), ("0%", 5, True, 0)],
)
def test_scaled_value_resolves_percentages(value: int | str, total: int, round_up: bool, expected: int) -> None:
    """Percentages resolve against the total, rounding as asked."""
    assert models.scaled_value(value, total, round_up) == expected
