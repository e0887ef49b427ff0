"""Helm control planes: each revision's istiod rollout finished and its injector webhook present.

A revision installed from the `istiod` chart is a Deployment and a Service `istiod[-<rev>]` and a
MutatingWebhookConfiguration `istio-sidecar-injector[-<rev>]` labelled `istio.io/rev=<rev>` whose
webhooks call that Service. After each stage the plan says which revisions are present (the new
one from control-plane on) and which are gone (the old one after cleanup). "Available" means the
rollout finished, as for the Banzai istiod (`controlplane._deployment_ready`); an istiod pod that
cannot start fails at once.
"""

from __future__ import annotations

from typing import Any

from core.plan import ControlPlane
from verifier.checks.base import Phase
from verifier.checks.controlplane import _deployment_ready, _stuck_istiod_pods
from verifier.checks.dataplane import paused_rollout
from verifier.expectation import Expectation
from verifier.helmview import HelmView
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

NAME = "control-planes"


def injector_configs(view: HelmView, cp: ControlPlane) -> list[str]:
    """The revision's own injector configurations (not tag webhooks): they call its istiod."""
    return sorted(
        {
            h.config
            for h in view.injectors
            if h.service == cp.istiod
            and h.service_namespace == cp.namespace
            and "istio.io/tag" not in h.labels
        }
    )


class HelmControlPlanes:
    """Judged at every stage of a Helm plan."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.helm is not None

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    view = snap.helm
    if view is None:
        return CheckResult.pending(NAME, "webhook configurations not read", unverifiable=True)
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    failed: list[str] = []
    for cp in expect.present:
        dep = snap.deployments.get((cp.namespace, cp.istiod))
        ready, why = _deployment_ready(dep, snap, cp)
        injectors = injector_configs(view, cp)
        service = view.service(cp.namespace, cp.istiod)
        evidence.append(
            {
                "revision": cp.revision,
                "version": cp.version,
                "istiod": f"{cp.namespace}/{cp.istiod}",
                "istiodReady": ready,
                "service": service is not None,
                "injectors": injectors,
            }
        )
        where = f"istiod {cp.namespace}/{cp.istiod} (revision {cp.revision})"
        if not ready:
            stuck, paused = _stuck_istiod_pods(snap, cp), paused_rollout(dep)
            if stuck:
                failed.append(f"{where} cannot start: {stuck}")
            elif paused:
                failed.append(f"{where} {paused}")
            else:
                pending.append(f"{where} {why}")
        if service is None:
            pending.append(
                f"Service {cp.namespace}/{cp.istiod} of revision {cp.revision} not found"
            )
        if not injectors:
            pending.append(
                f"no injector webhook of revision {cp.revision}: no MutatingWebhookConfiguration "
                f"calls {cp.namespace}/{cp.istiod} (the istiod release renders "
                f"istio-sidecar-injector{'' if cp.revision == 'default' else '-' + cp.revision})"
            )
    for cp in expect.absent:
        left = []
        if snap.deployments.get((cp.namespace, cp.istiod)) is not None:
            left.append(f"Deployment {cp.namespace}/{cp.istiod}")
        if view.service(cp.namespace, cp.istiod) is not None:
            left.append(f"Service {cp.namespace}/{cp.istiod}")
        left += [f"MutatingWebhookConfiguration {c}" for c in injector_configs(view, cp)]
        evidence.append({"revision": cp.revision, "expected": "absent", "left": left})
        if left:
            pending.append(
                f"revision {cp.revision} was removed from the repo but {', '.join(left)} still "
                "exist(s): the engine has not pruned them (an Argo CD Application deleted "
                "without the resources-finalizer.argocd.argoproj.io finalizer leaves its objects "
                "behind; delete them, or `kubectl delete` them by hand)"
            )
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    names = ", ".join(f"{cp.istiod} ({cp.version})" for cp in expect.present)
    gone = "; removed: " + ", ".join(cp.istiod for cp in expect.absent) if expect.absent else ""
    return CheckResult.passed(
        NAME, f"istiod rollout finished with its injector webhook: {names}{gone}", evidence
    )
