"""v1 Service, headless only (`clusterIP: None`), as a StatefulSet's `serviceName` names it.

miniorch provides no cluster DNS nor virtual IPs: a headless Service is accepted, kept
and shown with a warning saying so; any other Service is rejected until supported.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from miniorch.spec.base import Issue, K8sModel, NotSupported, ServerSet, Warn, fail
from miniorch.spec.meta import ObjectMeta

NO_DNS = "kept and shown: miniorch provides no cluster DNS; pods reach each other by node address and hostPort"
HEADLESS_HINT = "set clusterIP: None (a headless Service); other Services are not supported yet"


class ServicePort(K8sModel):
    port: Annotated[int, Field(ge=1, le=65535)]
    name: str | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    target_port: int | str | None = None
    app_protocol: str | None = None
    node_port: NotSupported = None


class ServiceSpec(K8sModel):
    """core/v1 ServiceSpec of a headless Service."""

    cluster_ip: Annotated[str | None, Warn(NO_DNS)] = Field(default=None, alias="clusterIP")
    cluster_ips: list[str] | None = Field(default=None, alias="clusterIPs")
    type: Literal["ClusterIP"] = "ClusterIP"
    selector: dict[str, str] = Field(default_factory=dict)
    ports: list[ServicePort] = Field(default_factory=list)
    publish_not_ready_addresses: bool | None = None
    session_affinity: Literal["None"] | None = None
    external_name: NotSupported = None
    external_ips: NotSupported = Field(default=None, alias="externalIPs")
    load_balancer_ip: NotSupported = Field(default=None, alias="loadBalancerIP")
    load_balancer_source_ranges: NotSupported = None
    load_balancer_class: NotSupported = None
    external_traffic_policy: NotSupported = None
    internal_traffic_policy: NotSupported = None
    health_check_node_port: NotSupported = None
    ip_families: NotSupported = None
    ip_family_policy: NotSupported = None
    allocate_load_balancer_node_ports: NotSupported = None
    session_affinity_config: NotSupported = None
    traffic_distribution: NotSupported = None

    @model_validator(mode="before")
    @classmethod
    def _headless(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("clusterIP", data.get("cluster_ip")) != "None":
            value = data.get("clusterIP", data.get("cluster_ip"))
            fail(
                "ServiceSpec",
                [
                    Issue(
                        ("clusterIP",),
                        f"Unsupported value: {value!r}: only headless Services (clusterIP: None) are supported"
                        if value is not None
                        else "Required value: only headless Services (clusterIP: None) are supported",
                        HEADLESS_HINT,
                    )
                ],
            )
        return data

    @model_validator(mode="after")
    def _check(self) -> ServiceSpec:
        if self.cluster_ips not in (None, ["None"]):
            fail("ServiceSpec", [Issue(("clusterIPs",), 'Invalid value: must be ["None"] for a headless Service')])
        return self


class Service(K8sModel):
    """core/v1 Service (headless)."""

    api_version: Literal["v1"] = "v1"
    kind: Literal["Service"] = "Service"
    metadata: ObjectMeta
    spec: ServiceSpec
    status: ServerSet = None
