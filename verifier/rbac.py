"""RBAC preflight: ask the API server (SelfSubjectAccessReview) before relying on any permission.

Mirrors `verifier/rbac.yaml`, the least privilege the checks need: read-only on what they read,
plus `get` and `create` on `pods/exec` (WebSocket exec needs both from Kubernetes 1.35 on).
A denial is reported at once, naming every missing permission (exit 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from verifier.cluster import (
    APPLICATIONS,
    DEPLOYMENTS,
    HELMRELEASES,
    ISTIOS,
    KUSTOMIZATIONS,
    MESHGATEWAYS,
    NAMESPACES,
    PODS,
    SERVICES,
    AccessDenied,
    Resource,
)

__all__ = ["Permission", "preflight", "required"]


class Reviewer(Protocol):
    def can_i(
        self, verb: str, resource: Resource, subresource: str = "", namespace: str = ""
    ) -> bool | None: ...


Permission = tuple[str, Resource, str]


def required(engine: str, probes: bool) -> list[Permission]:
    """Permissions for a run: the GitOps engine's objects and exec only when needed."""
    needed: list[Permission] = [
        ("list", PODS, ""),
        ("list", NAMESPACES, ""),
        ("get", SERVICES, ""),
        ("get", DEPLOYMENTS, ""),
        ("list", ISTIOS, ""),
        ("list", MESHGATEWAYS, ""),
    ]
    if engine in ("argocd", "none"):
        needed.append(("get", APPLICATIONS, ""))
    if engine in ("flux", "none"):
        needed += [("get", KUSTOMIZATIONS, ""), ("get", HELMRELEASES, "")]
    if probes:
        needed += [("get", PODS, "exec"), ("create", PODS, "exec")]
    return needed


def preflight(reviewer: Reviewer, needed: Sequence[Permission]) -> list[str]:
    """Raise AccessDenied naming what is missing; return notes (e.g. review API absent)."""
    missing: list[str] = []
    for verb, resource, sub in needed:
        allowed = reviewer.can_i(verb, resource, sub)
        if allowed is None:
            return ["RBAC preflight skipped: the cluster has no SelfSubjectAccessReview API"]
        if not allowed:
            missing.append(f"{verb} {resource.label}{'/' + sub if sub else ''}")
    if missing:
        raise AccessDenied(
            "RBAC: the verifier may not " + ", ".join(missing) + " (cluster-wide); "
            "bind the ClusterRole in verifier/rbac.yaml to its identity"
        )
    return []
