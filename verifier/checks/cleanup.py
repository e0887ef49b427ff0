"""Cleanup safety: nothing may still use the old control plane when its CR is deleted.

Before the cleanup stage (and after it): no pod anywhere runs a proxy of the old revision, no
namespace is labelled for it (`istio.io/rev=<old>`, or `istio-injection=enabled` when the old CP is
the global one), no MeshGateway is bound to it, and no MeshGateway has an ownerReference to the old
`Istio` CR: deleting that CR would garbage-collect the gateway with its LoadBalancer Service (see
docs/banzai-operator.md on ownerReferences). `createOnly: true` does not remove an existing
ownerReference, so the one command that orphans the gateway is a JSON patch removing it; the
message names it. That state will not heal by waiting, so it fails at once.
"""

from __future__ import annotations

from typing import Any

from verifier import pods as P
from verifier.checks.base import Phase
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

NAME = "cleanup-safety"
_MAX_LISTED = 8


def orphan_command(namespace: str, name: str) -> str:
    return (
        f"kubectl patch mgw -n {namespace} {name} --type=json "
        """-p='[{"op":"remove","path":"/metadata/ownerReferences"}]'"""
    )


def _on(pod: Any, expect: Expectation) -> bool:
    """On the old revision, judged by what was injected (the istiod its proxy is configured for),
    not by the label; a proxy with no revision signal counts by its version."""
    old = expect.plan.source
    rev, _ = P.decide_revision(pod, expect.istiods)
    return rev == old.revision or (not rev and P.proxy_version(pod) == old.version)


class CleanupSafety:
    """Judged for the cleanup stage: as its precondition in a gate, and after it."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.cleanup_safety

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    old = expect.plan.source
    pending: list[str] = []
    failed: list[str] = []
    evidence: list[dict[str, Any]] = []
    on_old = [
        f"{p['metadata'].get('namespace')}/{p['metadata'].get('name')}"
        for p in snap.pods
        if P.proxy_container(p) is not None and not P.is_finished(p) and _on(p, expect)
    ]
    if on_old:
        evidence.append({"podsOnOldRevision": on_old})
        shown = ", ".join(on_old[:_MAX_LISTED]) + (
            f" (+{len(on_old) - _MAX_LISTED} more)" if len(on_old) > _MAX_LISTED else ""
        )
        pending.append(f"{len(on_old)} pod(s) still on {old.revision}: {shown}")
    labelled = sorted({str((n.get("metadata") or {}).get("name")) for n in snap.old_namespaces})
    if labelled:
        evidence.append({"namespacesLabelledForOldRevision": labelled})
        pending.append(
            f"namespace(s) still labelled for the old control plane: {', '.join(labelled)}"
        )
    for (ns, name), mgw in sorted(snap.meshgateways.items()):
        bound = str(((mgw.get("spec") or {}).get("istioControlPlane") or {}).get("name", ""))
        if bound == old.name:
            pending.append(f"MeshGateway {ns}/{name} is still bound to {old.name}")
        owners = [
            r
            for r in (mgw.get("metadata") or {}).get("ownerReferences") or ()
            if r.get("kind") == "Istio" and r.get("name") == old.name
        ]
        if owners:
            evidence.append(
                {"meshGateway": f"{ns}/{name}", "ownedBy": f"Istio {old.namespace}/{old.name}"}
            )
            failed.append(
                f"MeshGateway {ns}/{name} is owned by Istio {old.namespace}/{old.name}: deleting that "
                f"CR would garbage-collect the gateway and its LoadBalancer; orphan it first with: "
                f"{orphan_command(ns, name)}"
            )
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    return CheckResult.passed(
        NAME, f"nothing uses {old.revision}; no gateway owned by {old.name}", evidence
    )
