"""The shared data-plane, namespace-label and gateway rules, judged for a Sail plan.

A Sail revision injects exactly as a Helm-installed istiod does (the operator renders the same
`istiod` chart): pods carry the injector's `istio.io/rev` annotation and `sidecar.istio.io/status`,
proxies talk to `istiod-<revision>`, and a gateway is a Deployment injected with the gateway
template whose Service must survive the move. So these checks are the Helm ones, fed the Sail
plan's answers (`Plan.expected_label`, `Plan.gateways_moved`) in the shape they read; nothing is
re-implemented here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.helmplan import ChartRelease
from verifier import pods as P
from verifier.checks import helm_dataplane, helm_gateways, helm_namespaces
from verifier.checks.base import Phase
from verifier.expectation import Expectation, HelmExpectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

__all__ = ["SailDataPlane", "SailGateways", "SailNamespaceLabels", "as_helm"]

Obj = Mapping[str, Any]


def as_helm(expect: Expectation) -> Expectation:
    """`expect` with the Helm-shaped part the shared rules read, answered by the Sail plan."""
    plan, index = expect.plan, expect.index
    sail = plan.sail
    moved = set(plan.migrated_namespaces(upto=index)) - set(plan.rolled_back)
    labels = {
        ns.name: plan.expected_label(ns.name, index) if ns.name in moved else ns.rev_label
        for ns in plan.namespaces
    }
    cp = plan.target if plan.gateways_moved(upto=index) else plan.source
    gateways = tuple(
        (ChartRelease(g.name, g.namespace, "gateway", cp.version, "deployment", g.file), cp)
        for g in (sail.gateways if sail is not None else ())
    )
    # Releases of the gateway chart: the chart names its Deployment after the release.
    gateways += tuple((r, cp) for r in (sail.gateway_releases if sail is not None else ()))
    helm = HelmExpectation(tags={}, default_revision="", labels=labels, gateways=gateways)
    return replace(expect, helm=helm)


def _with_gateway_view(snap: Snapshot) -> Snapshot:
    return replace(snap, helm=snap.sail.gateway_view if snap.sail is not None else None)


def _stranded(pods: list[Obj], expected: str, istiods: Mapping[str, str]) -> list[str]:
    out = []
    for pod in pods:
        meta = P.meta(pod)
        if meta.get("ownerReferences") or P.is_finished(pod) or P.is_terminating(pod):
            continue
        if P.proxy_container(pod) is None:
            continue
        rev, _ = P.decide_revision(pod, istiods)
        if rev and rev != expected:
            ns, name = meta.get("namespace"), meta.get("name")
            out.append(
                f"pod {ns}/{name} runs revision {rev}'s proxy, expected {expected}, and no "
                f"controller owns it, so no rollout or commit will replace it (and Sail keeps "
                f"{rev} in use while it runs): delete it (kubectl delete pod -n {ns} {name})"
            )
    return out


def stranded(snap: Snapshot, expect: Expectation) -> list[str]:
    """Pods no controller owns whose proxy is on another revision than their namespace's now.

    No rollout replaces them and no commit restarts them, and while one runs the old revision's
    proxy the operator keeps that revision in use (never pruned): waiting heals nothing."""
    out = []
    for ns, cp in sorted(expect.namespaces.items()):
        out += _stranded(snap.pods_in(ns), cp.revision, expect.istiods)
    return out


def stranded_gateway_pods(snap: Snapshot, expect: Expectation) -> list[str]:
    """The same, among the pods a planned gateway's Deployment selects (its Service's too)."""
    helm = expect.helm
    out = []
    for g, cp in helm.gateways if helm is not None else ():
        out += _stranded(helm_gateways.gateway_pods(snap, g), cp.revision, expect.istiods)
    return out


class SailDataPlane:
    """Every meshed pod on the revision the plan expects, as its injector recorded it."""

    name = helm_dataplane.NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        shaped = as_helm(expect)
        # `istio-injection=enabled` names Sail's `default` revision or tag (which may well be
        # the new revision), not an old global control plane as in the Banzai rule: what it
        # selects is judged by namespace-labels, revision-tags and revision-in-use instead.
        result = helm_dataplane.check(replace(snap, legacy_injection=None), shaped)
        bare = stranded(snap, shaped)
        if not bare:
            return result
        evidence = [*result.evidence, {"unownedPodsOnAnotherRevision": bare}]
        return CheckResult.failed(self.name, "; ".join([*bare, result.message]), evidence)


class SailNamespaceLabels:
    """Each planned namespace carries, live, the `istio.io/rev` the plan expects now."""

    name = helm_namespaces.NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return helm_namespaces.check(snap, as_helm(expect))


class SailGateways:
    """Each planned gateway's pods on the expected revision, its Service kept."""

    name = helm_gateways.NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        if snap.sail is None:
            return CheckResult.pending(self.name, "Sail objects not read", unverifiable=True)
        shaped = as_helm(expect)
        result = helm_gateways.check(_with_gateway_view(snap), shaped)
        bare = stranded_gateway_pods(snap, shaped)
        if not bare:
            return result
        evidence = [*result.evidence, {"unownedPodsOnAnotherRevision": bare}]
        return CheckResult.failed(self.name, "; ".join([*bare, result.message]), evidence)
