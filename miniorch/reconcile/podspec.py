"""Pure checks of a pod template against the daemon's policy (hostNetwork, privileged, hostPath).

Policy refusals are raised by the caller as `PolicyViolation`. The one filesystem read is
resolving hostPath symlinks, through an injectable `resolve` (os.path.realpath by default).
The template's translation into a container is `controllers/containers.py`.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Sequence

from miniorch.errors import MiniorchError
from miniorch.spec.pod import PodTemplateSpec


class PolicyViolation(MiniorchError, ValueError):
    """The template asks for something the daemon's policy forbids."""


def check_policy(
    template: PodTemplateSpec,
    *,
    allow_host_network: bool,
    allow_privileged: bool,
    allowed_host_paths: Sequence[str],
    resolve: Callable[[str], str] = os.path.realpath,
) -> list[str]:
    """Field paths (relative to the template) that the daemon's policy (`policy.*` in its
    config, given as values) refuses, with why."""
    problems = []
    spec = template.spec
    if spec.host_network and not allow_host_network:
        problems.append("spec.hostNetwork: refused by the daemon policy (policy.allow_host_network is false)")
    for i, c in enumerate(spec.containers):
        if c.security_context and c.security_context.privileged and not allow_privileged:
            problems.append(
                f"spec.containers[{i}].securityContext.privileged: refused by the daemon policy "
                "(policy.allow_privileged is false)"
            )
    for i, vol in enumerate(spec.volumes):
        if vol.host_path and not host_path_allowed(vol.host_path.path, allowed_host_paths, resolve):
            problems.append(
                f"spec.volumes[{i}].hostPath.path: {vol.host_path.path!r} is not under policy.allowed_host_paths"
                f" ({', '.join(allowed_host_paths) or 'none allowed'}) once '..' and symlinks are resolved"
            )
    return problems


def host_path_allowed(path: str, allowed: Sequence[str], resolve: Callable[[str], str] = os.path.realpath) -> bool:
    """Whether `path`, with `..` normalised and symlinks resolved, lies inside one of the `allowed` folders.

    Prefixes match whole path components (`/data` allows `/data/x`, not `/database`). Symlinks are
    resolved on the daemon's host by `resolve`, which is the host of `unix://` nodes.
    """
    if not path.startswith("/"):
        return False
    real = resolve(posixpath.normpath(path))
    for prefix in allowed:
        if not prefix.startswith("/"):
            continue
        root = resolve(posixpath.normpath(prefix))
        if real == root or real.startswith(root.rstrip("/") + "/"):
            return True
    return False
