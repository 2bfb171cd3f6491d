"""Pod template and container validation, shared by all workload kinds."""

from __future__ import annotations

import pytest

from miniorch.spec import loader, models

from .manifests import PI_JOB, edit, errors_of, one_error

CONTAINER = "      - name: pi\n        image: perl:5.34.0\n"


def with_container(extra: str) -> str:
    """The pi Job with extra lines added to its container."""
    lines = "".join(f"        {line}\n" for line in extra.strip().splitlines())
    return edit(PI_JOB, CONTAINER, CONTAINER + lines)


def with_pod(extra: str) -> str:
    """The pi Job with extra lines added to its pod spec."""
    lines = "".join(f"      {line}\n" for line in extra.strip().splitlines())
    return edit(PI_JOB, "      restartPolicy: Never\n", "      restartPolicy: Never\n" + lines)


def load_pod(text: str) -> models.PodSpec:
    """The pod spec of the single Job in `text`."""
    [manifest] = loader.load_text(text, "pod.yaml")
    assert isinstance(manifest.obj, models.Job)
    return manifest.obj.spec.template.spec


def test_supported_container_fields_load() -> None:
    """Every supported container field is accepted and parsed."""
    pod = load_pod(
        with_pod(
            "volumes: [{name: data, emptyDir: {medium: Memory, sizeLimit: 1Gi}}, {name: logs, hostPath: {path: /var/log, type: Directory}}]\nhostNetwork: true\nhostname: calc\nnodeSelector: {zone: a}"
        ).replace(
            CONTAINER,
            CONTAINER
            + "".join(
                f"        {line}\n"
                for line in [
                    "args: [x]",
                    "env: [{name: A, value: '1'}, {name: EMPTY}]",
                    "workingDir: /work",
                    "resources: {limits: {cpu: 500m, memory: 64Mi}, requests: {cpu: 250m, memory: 1e6}}",
                    "ports: [{containerPort: 80, hostPort: 8080, name: http}, {containerPort: 53, protocol: UDP}]",
                    "volumeMounts: [{name: data, mountPath: /data}, {name: logs, mountPath: /logs, readOnly: true}]",
                    "imagePullPolicy: Never",
                    "securityContext: {privileged: true, runAsUser: 1000}",
                    "readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 5}",
                ]
            ),
        )
    )
    container = pod.container
    assert container.resources.limits.cpu_cores == 0.5
    assert container.resources.limits.memory_bytes == 64 * 2**20
    assert container.resources.requests.memory_bytes == 1_000_000
    assert container.env[1].value == ""
    assert container.ports[1].protocol == "UDP" and container.ports[0].protocol == "TCP"
    assert container.security_context is not None and container.security_context.run_as_user == 1000
    assert container.readiness_probe is not None and container.readiness_probe.failure_threshold == 3
    assert pod.volumes[0].empty_dir is not None and pod.volumes[1].host_path is not None
    assert (pod.host_network, pod.hostname, pod.node_selector) == (True, "calc", {"zone": "a"})


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("registry.local:5000/busybox", "Always"),
        ("registry.local:5000/busybox:1.36", "IfNotPresent"),
        ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
        ("perl:5.34.0", "IfNotPresent"),
    ],
)
def test_image_pull_policy_defaults_like_kubernetes(image: str, policy: str) -> None:
    """imagePullPolicy defaults to Always for :latest or untagged images, else IfNotPresent."""
    assert load_pod(edit(PI_JOB, "perl:5.34.0", image)).container.image_pull_policy == policy


def test_two_containers_are_rejected() -> None:
    """A pod with two containers is refused: one container per pod for now."""
    error = one_error(edit(PI_JOB, CONTAINER, CONTAINER + "      - name: sidecar\n        image: busybox\n"))
    assert (error.path, error.line) == ("spec.template.spec.containers", 9)
    assert error.message == "only one container per pod is supported"


@pytest.mark.parametrize(
    ("text_edit", "path", "message"),
    [
        (
            ("initContainers: [{name: a, image: b}]", "pod"),
            "spec.template.spec.initContainers",
            "not supported",
        ),
        (
            ("volumes: [{name: v, persistentVolumeClaim: {claimName: c}}]", "pod"),
            "spec.template.spec.volumes[0].persistentVolumeClaim",
            "not supported",
        ),
        (
            ("volumes: [{name: v}]", "pod"),
            "spec.template.spec.volumes[0]",
            "must specify exactly one of: `hostPath`, `emptyDir`, `configMap` or `secret`",
        ),
        (
            ("affinity: {podAntiAffinity: {}}", "pod"),
            "spec.template.spec.affinity.podAntiAffinity",
            "not supported",
        ),
        (
            (
                "affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: In}]}]}}}",
                "pod",
            ),
            "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
            "Required value",
        ),
        (
            ("livenessProbe: {exec: {command: [x]}}", "container"),
            "spec.template.spec.containers[0].livenessProbe",
            "not supported",
        ),
        (
            ("readinessProbe: {httpGet: {port: 80}, exec: {command: [x]}}", "container"),
            "spec.template.spec.containers[0].readinessProbe.httpGet",
            "not supported",
        ),
        (
            ("env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]", "container"),
            "spec.template.spec.containers[0].env[0].valueFrom.fieldRef",
            "not supported",
        ),
        (("tty: true", "container"), "spec.template.spec.containers[0].tty", "not supported"),
        (
            ("securityContext: {capabilities: {add: [NET_ADMIN]}}", "container"),
            "spec.template.spec.containers[0].securityContext.capabilities",
            "not supported",
        ),
        (
            ("volumeMounts: [{name: nowhere, mountPath: /x}]", "container"),
            "spec.template.spec.containers[0].volumeMounts[0].name",
            "Not found: 'nowhere'",
        ),
        (
            ("resources: {limits: {memory: 64MB}}", "container"),
            "spec.template.spec.containers[0].resources.limits.memory",
            "quantities must match",
        ),
        (
            ("resources: {limits: {cpu: lots}}", "container"),
            "spec.template.spec.containers[0].resources.limits.cpu",
            "quantities must match",
        ),
        (
            ("resources: {limits: {cpu: 1}, requests: {cpu: 2}}", "container"),
            "spec.template.spec.containers[0].resources.requests.cpu",
            "less than or equal to cpu limit",
        ),
        (
            ("ports: [{containerPort: 70000}]", "container"),
            "spec.template.spec.containers[0].ports[0].containerPort",
            "less than or equal to 65535",
        ),
        (
            ("imagePullPolicy: Sometimes", "container"),
            "spec.template.spec.containers[0].imagePullPolicy",
            'supported values: "Always", "IfNotPresent", "Never"',
        ),
        (
            ("env: [{name: PORT, value: 8080}]", "container"),
            "spec.template.spec.containers[0].env[0].value",
            "valid string",
        ),
    ],
)
def test_unsupported_and_invalid_pod_fields_are_rejected(text_edit: tuple[str, str], path: str, message: str) -> None:
    """Kubernetes pod fields miniorch cannot honour are rejected at their path, never dropped."""
    extra, where = text_edit
    error = one_error(with_pod(extra) if where == "pod" else with_container(extra))
    assert error.path == path
    assert message in error.message
    assert error.line is not None and error.column is not None


def test_unsupported_field_error_carries_a_hint() -> None:
    """initContainers is rejected with advice on what to do instead."""
    error = one_error(with_pod("initContainers: [{name: a, image: b}]"))
    assert error.hint and "separate Job" in error.hint
    assert str(error).endswith(f"(hint: {error.hint})")


def test_unsupported_volume_type_points_at_the_source_key_line() -> None:
    """An unsupported volume source is reported on the line where it appears."""
    text = with_pod("volumes:\n- name: config\n  nfs:\n    server: nas")
    error = one_error(text)
    assert (error.path, error.line, error.message) == (
        "spec.template.spec.volumes[0].nfs",
        16,
        "not supported",
    )


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("Pi", "lowercase RFC 1123 label"),
        ("pi_job", "lowercase RFC 1123 label"),
        ("-pi", "lowercase RFC 1123 label"),
        ("p" * 64, "no more than 63 characters"),
    ],
)
def test_bad_names_are_rejected(name: str, fragment: str) -> None:
    """metadata.name must be a DNS-1123 label of at most 63 characters."""
    error = one_error(edit(PI_JOB, "metadata:\n  name: pi\n", f"metadata:\n  name: {name}\n"))
    assert (error.path, error.line, error.column) == ("metadata.name", 4, 9)
    assert fragment in error.message


def test_ignored_pod_fields_give_warnings_not_errors() -> None:
    """serviceAccountName and friends load, each with a warning at its line."""
    [manifest] = loader.load_text(
        with_pod("serviceAccountName: builder\ntolerations: [{operator: Exists}]\ndnsPolicy: ClusterFirst"),
        "w.yaml",
    )
    assert [(w.path, w.line, w.message) for w in manifest.warnings] == [
        ("spec.template.spec.serviceAccountName", 13, "ignored: no effect on a Docker host"),
        ("spec.template.spec.tolerations", 14, "ignored: no effect on a Docker host"),
        ("spec.template.spec.dnsPolicy", 15, "ignored: no effect on a Docker host"),
    ]
    assert (
        str(manifest.warnings[0])
        == "w.yaml:13:27: spec.template.spec.serviceAccountName: ignored: no effect on a Docker host"
    )


def test_template_labels_are_validated() -> None:
    """Label keys and values follow the Kubernetes label syntax."""
    text = edit(PI_JOB, "  template:\n", "  template:\n    metadata:\n      labels: {'bad key': x, ok: 'not ok!'}\n")
    assert {(e.path, e.line) for e in errors_of(text)} == {
        ('spec.template.metadata.labels["bad key"]', 8),
        ("spec.template.metadata.labels.ok", 8),
    }
