"""RBAC preflight: ask the API server (SelfSubjectAccessReview) before relying on any permission.

Mirrors `verifier/rbac.yaml`, the least privilege the checks need: read-only on what they read,
plus `get` and `create` on `pods/exec` (WebSocket exec needs both from Kubernetes 1.35 on).
A denial is reported at once, naming every missing permission (exit 3).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from core.errors import ClusterUnreachable
from verifier.errors import AccessDenied
from verifier.resources import (
    APPLICATIONS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    HELMRELEASES,
    ISTIO_CNIS,
    ISTIO_GATEWAYS,
    ISTIO_REVISION_TAGS,
    ISTIO_REVISIONS,
    ISTIOS,
    KUSTOMIZATIONS,
    MESHGATEWAYS,
    MUTATING_WEBHOOKS,
    NAMESPACES,
    PODS,
    SAIL_ISTIOS,
    SERVICES,
    VALIDATING_WEBHOOKS,
    VIRTUALSERVICES,
    Resource,
)

__all__ = ["Permission", "preflight", "required"]


class Reviewer(Protocol):
    def can_i(
        self,
        verb: str,
        resource: Resource,
        subresource: str = "",
        namespace: str = "",
        until: float | None = None,
    ) -> bool | None: ...


Permission = tuple[str, Resource, str]
REVIEW_WORKERS = 4  # concurrent SelfSubjectAccessReviews: bounded load on the API server
REVIEW_BUDGET = 5.0  # seconds the whole preflight may wait for answers (a gate runs for minutes)


def required(engine: str, probes: bool, flavour: str = "banzai") -> list[Permission]:
    """Permissions for a run: the flavour's and the GitOps engine's objects, exec when needed."""
    needed: list[Permission] = [
        ("list", PODS, ""),
        ("list", NAMESPACES, ""),
        ("get", SERVICES, ""),
        ("get", ENDPOINTS, ""),
        ("get", DEPLOYMENTS, ""),
        ("list", DEPLOYMENTS, ""),
        # the routes through the ingress gateways, probed from the gateways stage on
        ("list", ISTIO_GATEWAYS, ""),
        ("list", VIRTUALSERVICES, ""),
    ]
    if flavour == "helm":  # webhook configurations, and istiod's and the gateways' Services
        needed += [
            ("get", NAMESPACES, ""),
            ("list", SERVICES, ""),
            ("list", MUTATING_WEBHOOKS, ""),
            ("list", VALIDATING_WEBHOOKS, ""),
        ]
    elif flavour == "sail":  # the operator's objects, the CNI DaemonSet, tag webhooks, gateways
        needed += [
            ("list", SAIL_ISTIOS, ""),
            ("list", ISTIO_REVISIONS, ""),
            ("list", ISTIO_REVISION_TAGS, ""),
            ("list", ISTIO_CNIS, ""),
            ("get", DAEMONSETS, ""),
            ("list", MUTATING_WEBHOOKS, ""),
            ("list", SERVICES, ""),
        ]
    else:
        needed += [("list", ISTIOS, ""), ("list", MESHGATEWAYS, "")]
    if engine in ("argocd", "none"):
        needed.append(("get", APPLICATIONS, ""))
    if engine in ("flux", "none"):
        needed += [("get", KUSTOMIZATIONS, ""), ("get", HELMRELEASES, "")]
    if flavour == "helm":  # the node agents' DaemonSets (releases of the cni/ztunnel charts)
        needed.append(("get", DAEMONSETS, ""))
    if probes:
        needed += [("get", PODS, "exec"), ("create", PODS, "exec")]
    return needed


def preflight(reviewer: Reviewer, needed: Sequence[Permission]) -> list[str]:
    """Raise AccessDenied naming what is missing; return notes (e.g. review API absent).

    The reviews run concurrently (at most REVIEW_WORKERS at once) and each is bounded by the
    reviewer's own request limits, so a hanging review API costs the gate one short wait, not
    one read timeout per permission. Reviews that get no answer are noted and the checks go on:
    a permission really missing still fails its read with a 403, naming it.
    """
    labels = [f"{verb} {res.label}{'/' + sub if sub else ''}" for verb, res, sub in needed]
    until = time.monotonic() + REVIEW_BUDGET
    with ThreadPoolExecutor(max_workers=max(1, min(REVIEW_WORKERS, len(needed)))) as pool:
        futures = [
            pool.submit(reviewer.can_i, verb, res, sub, until=until) for verb, res, sub in needed
        ]
    missing: list[str] = []
    unanswered: list[str] = []
    for label, future in zip(labels, futures, strict=True):
        try:
            allowed = future.result()
        except AccessDenied:
            raise  # the review itself is forbidden: say so, as before
        except ClusterUnreachable as err:
            unanswered.append(f"{label} ({err})")
            continue
        if allowed is None:
            return ["RBAC preflight skipped: the cluster has no SelfSubjectAccessReview API"]
        if not allowed:
            missing.append(label)
    if missing:
        raise AccessDenied(
            "RBAC: the verifier may not " + ", ".join(missing) + " (cluster-wide); "
            "bind the ClusterRole in verifier/rbac.yaml to its identity"
        )
    if unanswered:
        return [
            f"RBAC preflight incomplete: {len(unanswered)} of {len(needed)} access reviews got "
            f"no answer, first {unanswered[0]}; the checks went on"
        ]
    return []
