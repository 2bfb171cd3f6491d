"""What the owner of a pod wants when the pod's node goes away: the per-kind hook of PodSync.

PodSync and drain are kind-agnostic: they ask the owner kind's policy instead of testing
kind names. The kind registry's entries are the policies (`KindInfo` has both properties).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from miniorch import kinds


class OwnerPolicy(Protocol):
    """How an owner kind's pods fare when their node is lost or drained."""

    @property
    def lost_with_node(self) -> bool:
        """A pod on a NotReady node is lost (NodeLost) and replaced elsewhere; otherwise it shows
        Unknown until its node returns (a DaemonSet's pod belongs to its node)."""
        ...

    @property
    def evicted_by_drain(self) -> bool:
        """`ctl drain` evicts the pod (DisruptionTarget, replaced elsewhere, not counted); otherwise
        drain leaves it (kubectl drain --ignore-daemonsets)."""
        ...


@dataclass(frozen=True)
class PodPolicy:
    lost_with_node: bool = False
    evicted_by_drain: bool = False


#: Pods whose owner kind has no entry: they stay with their node (today's behaviour for any
#: kind but Job).
STAY = PodPolicy()
#: The kinds that own pods, from the kind registry.
BY_KIND: Mapping[str, OwnerPolicy] = {info.kind: info for info in kinds.REGISTRY if info.owns_pods}


def of(policies: Mapping[str, OwnerPolicy], kind: str) -> OwnerPolicy:
    return policies.get(kind, STAY)
