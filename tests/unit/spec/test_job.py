"""Job defaults and validation, following Kubernetes batch/v1."""

from __future__ import annotations

import pytest

from miniorch.spec import loader, models

from .manifests import PI_JOB, edit, one_error


def load_job(text: str) -> models.Job:
    """The single Job of `text`."""
    [manifest] = loader.load_text(text, "job.yaml")
    assert isinstance(manifest.obj, models.Job)
    return manifest.obj


def with_spec(extra: str) -> str:
    """The pi Job with extra lines (two-space indented YAML) added to its spec."""
    base = PI_JOB.replace("  backoffLimit: 4\n", "") if "backoffLimit:" in extra else PI_JOB
    return base + "".join(f"  {line}\n" for line in extra.strip().splitlines())


def test_pi_job_loads_with_kubernetes_defaults() -> None:
    """The Kubernetes docs `pi` Job loads with parallelism and completions 1."""
    [manifest] = loader.load_text(PI_JOB, "jobs/pi.yaml")
    assert (manifest.kind, manifest.api_version, manifest.name, manifest.namespace) == (
        "Job",
        "batch/v1",
        "pi",
        "default",
    )
    assert (manifest.source, manifest.line, manifest.warnings) == ("jobs/pi.yaml", 1, ())
    job = manifest.obj
    assert isinstance(job, models.Job)
    spec = job.spec
    assert (spec.parallelism, spec.completions, spec.backoff_limit) == (1, 1, 4)
    assert spec.completion_mode == "NonIndexed"
    assert spec.suspend is False
    assert spec.pod_replacement_policy == "TerminatingOrFailed"
    assert spec.template.spec.termination_grace_period_seconds == 30
    container = spec.template.spec.container
    assert container.command == ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]
    assert container.image_pull_policy == "IfNotPresent"


@pytest.mark.parametrize(
    ("extra", "parallelism", "completions"),
    [
        ("", 1, 1),
        ("parallelism: 3", 3, None),
        ("completions: 5", 1, 5),
        ("{parallelism: 2, completions: 4}", 2, 4),
        ("parallelism: 0", 0, None),
    ],
)
def test_parallelism_and_completions_defaults(extra: str, parallelism: int, completions: int | None) -> None:
    """Both unset gives 1/1; parallelism alone leaves completions unset (work-queue mode)."""
    text = PI_JOB if not extra else with_spec(extra.strip("{}").replace(", ", "\n"))
    spec = load_job(text).spec
    assert (spec.parallelism, spec.completions) == (parallelism, completions)


def test_backoff_limit_defaults_to_six_and_to_maxint_per_index() -> None:
    """backoffLimit defaults to 6, or MaxInt32 when backoffLimitPerIndex is set."""
    plain = edit(PI_JOB, "  backoffLimit: 4\n", "")
    assert load_job(plain).spec.backoff_limit == 6
    per_index = with_spec("completionMode: Indexed\ncompletions: 3\nbackoffLimitPerIndex: 1").replace(
        "  backoffLimit: 4\n", ""
    )
    assert load_job(per_index).spec.backoff_limit == 2147483647


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "restartPolicy: Never",
            "restartPolicy: Always",
            'Unsupported value: "Always": supported values: "OnFailure", "Never"',
        ),
        ("      restartPolicy: Never\n", "", 'Required value: valid values: "OnFailure", "Never"'),
    ],
)
def test_restart_policy_must_be_never_or_on_failure(old: str, new: str, message: str) -> None:
    """A Job with restartPolicy Always or unset is rejected in Kubernetes' words."""
    error = one_error(edit(PI_JOB, old, new))
    assert error.path == "spec.template.spec.restartPolicy"
    assert error.message == message
    assert error.hint
    if new:
        assert (error.line, error.column) == (12, 22)
        assert str(error).startswith('test.yaml:12:22: spec.template.spec.restartPolicy: Unsupported value: "Always"')
    else:
        assert error.line == 7  # the `spec:` that lacks it


@pytest.mark.parametrize(
    ("extra", "path", "fragment"),
    [
        ("backoffLimit: -1", "spec.backoffLimit", "greater than or equal to 0"),
        ("parallelism: -1", "spec.parallelism", "greater than or equal to 0"),
        ("activeDeadlineSeconds: 0", "spec.activeDeadlineSeconds", "greater than or equal to 1"),
        ("ttlSecondsAfterFinished: -5", "spec.ttlSecondsAfterFinished", "greater than or equal to 0"),
        ("completionMode: Indexed\nparallelism: 2", "spec.completions", "Required value"),
        ("completionMode: Sometimes", "spec.completionMode", 'supported values: "NonIndexed", "Indexed"'),
        ("maxFailedIndexes: 1", "spec.maxFailedIndexes", "requires indexed completion mode"),
        ("backoffLimitPerIndex: 1", "spec.backoffLimitPerIndex", "requires indexed completion mode"),
        (
            "successPolicy: {rules: [{succeededCount: 1}]}",
            "spec.successPolicy",
            "requires indexed completion mode",
        ),
        ("selector: {matchLabels: {a: b}}", "spec.selector", "not supported"),
        ("manualSelector: true", "spec.manualSelector", "not supported"),
        ("suspend: maybe", "spec.suspend", "valid boolean"),
    ],
)
def test_invalid_job_specs_are_rejected_at_their_path(extra: str, path: str, fragment: str) -> None:
    """Each invalid JobSpec field is reported at its own path."""
    error = one_error(with_spec(extra))
    assert error.path == path
    assert fragment in error.message
    assert error.line is not None and error.line >= 5  # at the field, or at `spec:` when missing


def test_indexed_job_name_must_leave_room_for_the_index() -> None:
    """An Indexed Job's name plus "-<completions-1>" must fit in 63 characters."""
    name = "a" * 60
    text = edit(
        with_spec("completionMode: Indexed\ncompletions: 1000"),
        "metadata:\n  name: pi\n",
        f"metadata:\n  name: {name}\n",
    )
    error = one_error(text)
    assert (error.path, error.line) == ("metadata.name", 4)
    assert "59 characters" in error.message


def test_indexed_job_with_policies_loads() -> None:
    """An Indexed Job with per-index backoff, a success policy and a failure policy loads."""
    text = with_spec(
        """
completionMode: Indexed
completions: 10
parallelism: 3
backoffLimitPerIndex: 2
maxFailedIndexes: 5
successPolicy:
  rules: [{succeededIndexes: "0,2-4", succeededCount: 3}]
podFailurePolicy:
  rules:
  - action: FailIndex
    onExitCodes: {containerName: pi, operator: In, values: [1, 42]}
  - action: Ignore
    onPodConditions: [{type: DisruptionTarget}]
"""
    )
    spec = load_job(text).spec
    assert spec.pod_replacement_policy == "Failed"
    assert spec.pod_failure_policy is not None
    assert spec.pod_failure_policy.rules[1].on_pod_conditions is not None
    assert spec.pod_failure_policy.rules[1].on_pod_conditions[0].status == "True"
    assert models.parse_index_set("0,2-4") == [(0, 0), (2, 4)]


@pytest.mark.parametrize(
    ("policy", "path", "fragment"),
    [
        (
            "rules: [{action: FailJob, onExitCodes: {operator: In, values: [0]}}]",
            "spec.podFailurePolicy.rules[0].onExitCodes.values",
            "must not be 0",
        ),
        (
            "rules: [{action: FailJob, onExitCodes: {operator: In, values: [3, 1]}}]",
            "spec.podFailurePolicy.rules[0].onExitCodes.values",
            "ordered and unique",
        ),
        (
            "rules: [{action: FailJob}]",
            "spec.podFailurePolicy.rules[0]",
            "one of onExitCodes and onPodConditions",
        ),
        (
            "rules: [{action: FailIndex, onExitCodes: {operator: In, values: [1]}}]",
            "spec.podFailurePolicy.rules[0].action",
            "requires backoffLimitPerIndex",
        ),
        (
            "rules: [{action: FailJob, onExitCodes: {containerName: nope, operator: In, values: [1]}}]",
            "spec.podFailurePolicy.rules[0].onExitCodes.containerName",
            "container names",
        ),
        (
            "rules: [{action: Explode, onExitCodes: {operator: In, values: [1]}}]",
            "spec.podFailurePolicy.rules[0].action",
            "Unsupported value",
        ),
    ],
)
def test_pod_failure_policy_validation(policy: str, path: str, fragment: str) -> None:
    """podFailurePolicy rules are checked as Kubernetes checks them."""
    error = one_error(with_spec(f"podFailurePolicy: {{{policy}}}"))
    assert error.path == path
    assert fragment in error.message


def test_pod_failure_policy_requires_restart_policy_never() -> None:
    """podFailurePolicy with restartPolicy OnFailure is rejected."""
    text = edit(
        with_spec("podFailurePolicy: {rules: [{action: Ignore, onPodConditions: [{type: DisruptionTarget}]}]}"),
        "restartPolicy: Never",
        "restartPolicy: OnFailure",
    )
    error = one_error(text)
    assert error.path == "spec.template.spec.restartPolicy"
    assert 'only "Never" is supported' in error.message


@pytest.mark.parametrize(
    ("rule", "path", "fragment"),
    [
        ("{succeededIndexes: '0-9'}", "succeededIndexes", "less than completions"),
        ("{succeededIndexes: '3-1'}", "succeededIndexes", "ends before it starts"),
        ("{succeededIndexes: 'x'}", "succeededIndexes", "invalid interval"),
        ("{succeededIndexes: '0-1', succeededCount: 3}", "succeededCount", "less than or equal to 2"),
        ("{}", "", "at least one of succeededCount or succeededIndexes"),
    ],
)
def test_success_policy_validation(rule: str, path: str, fragment: str) -> None:
    """successPolicy rules must name valid indexes and reachable counts."""
    error = one_error(with_spec(f"completionMode: Indexed\ncompletions: 5\nsuccessPolicy: {{rules: [{rule}]}}"))
    assert error.path == "spec.successPolicy.rules[0]" + (f".{path}" if path else "")
    assert fragment in error.message
