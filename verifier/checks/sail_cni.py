"""Sail IstioCNI: Ready on the version the plan expects, its DaemonSet rolled out on every node.

The operator upgrades the CNI in place: a new `spec.version` changes the image of the one
`istio-cni-node` DaemonSet, which rolls node by node. Its `Ready` condition only compares ready
pods with scheduled ones (`reconciler.CheckDaemonSetReadiness`), so it is True while old pods
still run the old image; the gate therefore also reads the rollout: the controller observed the
newest template, and every scheduled pod is updated and ready, on the expected image tag.
A container that cannot start fails at once; the rest is pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifier import pods as P
from verifier.checks.base import Phase
from verifier.checks.sail_plan import stage_of
from verifier.checks.sail_stage import SailStage
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.sailview import CNI_DAEMONSET, condition, current
from verifier.snapshot import Snapshot

NAME = "istio-cni"


def daemonset_unrolled(ds: Mapping[str, Any], version: str) -> str:
    """Why the DaemonSet has not finished rolling out `version` ("" when it has)."""
    status = ds.get("status") or {}
    generation = int((ds.get("metadata") or {}).get("generation", 0) or 0)
    if int(status.get("observedGeneration", 0) or 0) < generation:
        return "rollout not observed yet"
    containers = (((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    tags = sorted({str(c.get("image", "")).rsplit(":", 1)[-1] for c in containers})
    if tags != [version]:
        return f"its template runs {', '.join(tags) or 'no image'}, not {version}"
    desired = int(status.get("desiredNumberScheduled", 0) or 0)
    updated = int(status.get("updatedNumberScheduled", 0) or 0)
    ready = int(status.get("numberReady", 0) or 0)
    if desired < 1:
        return "no node runs it (desiredNumberScheduled 0)"
    if updated < desired or ready < desired:
        return f"{updated}/{desired} updated, {ready}/{desired} ready"
    return ""


class SailCNI:
    """Judged at every stage of a Sail plan whose repo has an IstioCNI."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.plan.sail is not None and expect.plan.sail.cni is not None

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, stage_of(expect))


def check(snap: Snapshot, stage: SailStage) -> CheckResult:
    view, want = snap.sail, stage.cni
    if view is None:
        return CheckResult.pending(NAME, "Sail objects not read", unverifiable=True)
    if want is None:
        return CheckResult.passed(NAME, "the plan has no IstioCNI")
    version = want.version.removeprefix("v")
    cni = view.cnis.get(want.name)
    where = f"IstioCNI {want.name}"
    if cni is None:
        return CheckResult.pending(NAME, f"{where} not found: the engine has not applied it")
    ready, reconciled = condition(cni, "Ready"), condition(cni, "Reconciled")
    spec_version = str((cni.get("spec") or {}).get("version") or "").removeprefix("v")
    ds = view.cni_daemonset(cni)
    key = f"{want.namespace}/{CNI_DAEMONSET}"
    evidence: list[dict[str, Any]] = [
        {"istioCNI": want.name, "version": spec_version, "expectedVersion": version,
         "ready": str(ready), "reconciled": str(reconciled), "daemonSet": key,
         "daemonSetStatus": dict((ds or {}).get("status") or {})}
    ]  # fmt: skip
    pending: list[str] = []
    failed: list[str] = []
    if spec_version != version:
        pending.append(f"{where} is at {spec_version or '(none)'}, expected {version}")
    elif not current(cni):
        pending.append(f"{where}: the operator has not reconciled its newest spec yet")
    if not (ready.true and reconciled.true):
        pending.append(f"{where} not Ready: {reconciled}; {ready}")
    if ds is None:
        pending.append(f"DaemonSet {key} not found")
    elif why := daemonset_unrolled(ds, version):
        pending.append(f"DaemonSet {key} not rolled out: {why}")
    for pod in snap.pods_in(want.namespace):
        name = str(P.meta(pod).get("name", ""))
        if name.startswith(f"{CNI_DAEMONSET}-") and (bad := P.bad_waiting_reason(pod)):
            failed.append(f"CNI pod {want.namespace}/{name} {bad}")
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    return CheckResult.passed(NAME, f"{where} Ready, {key} rolled out on {version}", evidence)
