"""Object metadata and label selectors (metav1.ObjectMeta, metav1.LabelSelector).

Fields the API server sets (uid, resourceVersion, creationTimestamp, ...) are
accepted so that an exported object can be applied again, and then dropped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from miniorch.spec.base import DnsLabel, Issue, K8sModel, Labels, NotSupported, ServerSet, fail


def operator_issues(operator: str, values: list[str]) -> list[Issue]:
    """Kubernetes rule: In/NotIn need values, Exists/DoesNotExist must have none."""
    if operator in ("In", "NotIn") and not values:
        return [Issue(("values",), "Required value: must be specified when `operator` is 'In' or 'NotIn'")]
    if operator in ("Exists", "DoesNotExist") and values:
        return [Issue(("values",), "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'")]
    return []


class ObjectMeta(K8sModel):
    """metadata of a top-level object; `name` is a DNS-1123 label."""

    name: DnsLabel
    namespace: DnsLabel = "default"
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    uid: ServerSet = None
    resource_version: ServerSet = None
    creation_timestamp: ServerSet = None
    deletion_timestamp: ServerSet = None
    deletion_grace_period_seconds: ServerSet = None
    generation: ServerSet = None
    managed_fields: ServerSet = None
    self_link: ServerSet = None

    generate_name: NotSupported = None
    owner_references: NotSupported = None
    finalizers: NotSupported = None


class TemplateMeta(K8sModel):
    """metadata of a pod or job template: labels and annotations only."""

    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    creation_timestamp: ServerSet = None  # kubectl exports `creationTimestamp: null` here
    name: NotSupported = None
    namespace: NotSupported = None
    generate_name: NotSupported = None


class LabelSelectorRequirement(K8sModel):
    """One `matchExpressions` entry of a label selector."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_values(self) -> LabelSelectorRequirement:
        fail("LabelSelectorRequirement", operator_issues(self.operator, self.values))
        return self

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a set of labels satisfies this requirement."""
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return labels.get(self.key) not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


class LabelSelector(K8sModel):
    """matchLabels and matchExpressions, ANDed; an empty selector selects everything."""

    match_labels: Labels = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a set of labels is selected."""
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )

    def is_empty(self) -> bool:
        """True when the selector has no terms (Kubernetes: selects every pod)."""
        return not self.match_labels and not self.match_expressions
