"""apps/v1 StatefulSet and the headless v1 Service: the Kubernetes docs' example, defaults,
fields kept with a warning, and what is refused by path."""

from __future__ import annotations

from pathlib import Path

import pytest

from miniorch.spec import loader
from miniorch.spec.errors import ManifestInvalid
from miniorch.spec.statefulset import StatefulSet

#: content/en/examples/controllers/statefulset.yaml (kubernetes/website), its image replaced.
DOCS_EXAMPLE = (Path(__file__).resolve().parents[2] / "fixtures" / "k8s-docs-statefulset.yaml").read_text()


def test_the_docs_example_validates_with_its_warnings() -> None:
    """Service and StatefulSet load; clusterIP, accessModes, storageClassName, storage are kept and warned about."""
    service, sts = loader.load_text(DOCS_EXAMPLE, "statefulset.yaml")
    assert [(w.line, w.path) for w in service.warnings] == [(12, "spec.clusterIP")]
    assert "no cluster DNS" in service.warnings[0].message
    assert [(w.line, w.path) for w in sts.warnings] == [
        (46, "spec.volumeClaimTemplates[0].spec.accessModes"),
        (47, "spec.volumeClaimTemplates[0].spec.storageClassName"),
        (50, "spec.volumeClaimTemplates[0].spec.resources.requests.storage"),
    ]
    assert "Docker local volume" in sts.warnings[0].message and "no size" in sts.warnings[2].message
    model = sts.obj
    assert isinstance(model, StatefulSet)
    spec = model.spec
    assert (spec.replicas, spec.min_ready_seconds, spec.service_name) == (3, 10, "nginx")
    assert (spec.pod_management_policy, spec.update_strategy.type, spec.update_strategy.partition) == (
        "OrderedReady",
        "RollingUpdate",
        0,
    )
    assert spec.template.spec.restart_policy == "Always"
    retention = spec.persistent_volume_claim_retention_policy
    assert (retention.when_deleted, retention.when_scaled) == ("Retain", "Retain")
    assert spec.volume_name("www", "web", 2) == "www-web-2"
    assert spec.volume_claim_templates[0].spec.resources.requests.storage == "1Gi"


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("  clusterIP: None", "  clusterIP: 10.0.0.1", "spec.clusterIP: Unsupported value: '10.0.0.1': only headless"),
        ('  serviceName: "nginx"', "  ordinals: {start: 1}", "spec.ordinals: not supported"),
        ("      accessModes:", "      dataSource: {name: x}\n      accessModes:", "spec.dataSource: not supported"),
        ("        - name: www", "        - name: wwx", "volumeMounts[0].name: Not found: 'wwx'"),
        ("      app: nginx # has to match .spec.template", "      app: other #", "selector` does not match template"),
        ("      terminationGracePeriodSeconds: 10", "      restartPolicy: Never", 'Unsupported value: "Never"'),
        ("          storage: 1Gi", "          storage: lots", "storage: Invalid value"),
        ("  minReadySeconds: 10", "  updateStrategy: {type: OnDelete, rollingUpdate: {partition: 1}}", "Forbidden"),
    ],
)
def test_what_miniorch_does_not_implement_is_refused_by_path(old: str, new: str, error: str) -> None:
    assert old in DOCS_EXAMPLE
    with pytest.raises(ManifestInvalid) as caught:
        loader.load_text(DOCS_EXAMPLE.replace(old, new, 1), "statefulset.yaml")
    assert error in str(caught.value)


def test_a_service_without_cluster_ip_none_is_refused() -> None:
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n"
    with pytest.raises(ManifestInvalid) as caught:
        loader.load_text(text, "svc.yaml")
    assert "spec.clusterIP: Required value: only headless Services" in str(caught.value)
