"""Sail control planes: the `Istio` Ready on the expected active revision, each needed revision Ready.

The operator copies the active revision's `Reconciled` and `Ready` onto the `Istio` and names it
in `status.activeRevisionName`; an `IstioRevision` is Ready when its istiod Deployment has
replicas and all are ready (`IstiodNotReady` otherwise). That is the operator's word; the gate
also reads the istiod rollout itself (as for every flavour: observed, updated = ready = desired,
no pod of an older template), so a status the operator has not refreshed cannot pass it.

Fails at once on what waiting will not heal: a version the operator refuses (`Reconciled` False
with `ReconcileError` naming the version: end-of-life, unknown, an alias it cannot resolve) and an
istiod pod that cannot start. Everything else is pending: the engine or the operator may still
be applying the stage.
"""

from __future__ import annotations

from typing import Any

from core.plan import ControlPlane, OperatorRelease
from verifier.checks.base import Phase
from verifier.checks.controlplane import _deployment_ready, _stuck_istiod_pods
from verifier.checks.dataplane import paused_rollout
from verifier.checks.sail_plan import stage_of
from verifier.checks.sail_stage import RevisionExpectation, SailStage
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.sailview import SailView, condition, current, has_condition, istiod_name
from verifier.snapshot import Snapshot

NAME = "control-planes"


def revision_cp(rev: RevisionExpectation) -> ControlPlane:
    """The revision as the shared istiod rules address it (namespace, Deployment name)."""
    return ControlPlane(rev.name, rev.namespace, rev.version, OperatorRelease("", "", "", "plain"),
                        rev=rev.name)  # fmt: skip


def version_refused(message: str) -> bool:
    """A ReconcileError about the version itself: only a commit changing `spec.version` heals it."""
    text = message.lower()
    return "version" in text and any(
        w in text for w in ("end-of-life", "not found", "not supported", "resolve")
    )


class SailControlPlanes:
    """Judged at every stage of a Sail plan."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, stage_of(expect))


def _judged(view: SailView, revision: str) -> bool:
    """Whether the revision's own conditions are judged (and named) below: it exists."""
    return revision in view.revisions


def _istio(view: SailView, stage: SailStage, pending: list[str], failed: list[str]) -> Any:
    istio = view.istios.get(stage.istio)
    if istio is None:
        pending.append(
            f"Istio {stage.istio} (sailoperator.io) not found: the engine has not applied it"
        )
        return {"istio": stage.istio, "found": False}
    status = istio.get("status") or {}
    reconciled, ready = condition(istio, "Reconciled"), condition(istio, "Ready")
    active = str(status.get("activeRevisionName") or "")
    where = f"Istio {stage.istio}"
    if reconciled.status == "False" and version_refused(reconciled.message):
        failed.append(
            f"{where}: the operator refuses its version: {reconciled.message}; set "
            f"spec.version to a version this operator installs"
        )
    elif not current(istio):
        pending.append(f"{where}: the operator has not reconciled its newest spec yet")
    elif active != stage.active.name:
        pending.append(
            f"{where}: active revision is {active or '(none)'}, expected {stage.active.name}"
        )
    elif not (reconciled.true and ready.true) and not _judged(view, stage.active.name):
        # the Istio copies its active revision's conditions: name them once, on the revision
        pending.append(f"{where} not Ready: {reconciled}; {ready}")
    return {
        "istio": stage.istio,
        "activeRevision": active,
        "expectedActiveRevision": stage.active.name,
        "state": str(status.get("state") or ""),
        "revisions": status.get("revisions") or {},
    }


def check(snap: Snapshot, stage: SailStage) -> CheckResult:
    view = snap.sail
    if view is None:
        return CheckResult.pending(NAME, "Sail objects not read", unverifiable=True)
    pending: list[str] = []
    failed: list[str] = []
    evidence: list[dict[str, Any]] = [_istio(view, stage, pending, failed)]
    for rev in stage.optional:
        # nothing needs it any more: the operator may prune it at any time, so it is recorded,
        # not judged (a rollback makes it needed again, and then it is judged as such)
        obj = view.revisions.get(rev.name)
        evidence.append(
            {"revision": rev.name, "expected": "may be pruned", "found": obj is not None,
             "ready": str(condition(obj, "Ready")) if obj is not None else ""}
        )  # fmt: skip
    for rev in stage.ready:
        obj = view.revisions.get(rev.name)
        if obj is None:
            evidence.append({"revision": rev.name, "found": False})
            pending.append(f"IstioRevision {rev.name} not found")
            continue
        cp = revision_cp(rev)
        ready, reconciled = condition(obj, "Ready"), condition(obj, "Reconciled")
        version = str((obj.get("spec") or {}).get("version") or "").removeprefix("v")
        dep = snap.workloads.get((rev.namespace, cp.istiod))
        rolled, why = _deployment_ready(dep, snap, cp)
        evidence.append(
            {"revision": rev.name, "version": version, "ready": str(ready),
             "reconciled": str(reconciled),
             "dependenciesHealthy": str(condition(obj, "DependenciesHealthy")),
             "istiod": f"{rev.namespace}/{cp.istiod}", "istiodRolledOut": rolled}
        )  # fmt: skip
        where = f"IstioRevision {rev.name}"
        if reconciled.status == "False" and version_refused(reconciled.message):
            failed.append(f"{where}: the operator refuses its version: {reconciled.message}")
        if version != rev.version.removeprefix("v"):
            pending.append(f"{where} runs {version or '(none)'}, expected {rev.version}")
        if not ready.true or not reconciled.true:
            pending.append(f"{where} not Ready: {reconciled}; {ready}")
        deps = condition(obj, "DependenciesHealthy")
        if has_condition(obj, deps.type) and not deps.true:
            # with pilot.cni.enabled (or ambient) the revision needs the IstioCNI named default
            pending.append(f"{where}: {deps}")
        if not rolled:
            stuck, paused = _stuck_istiod_pods(snap, cp), paused_rollout(dep)
            if stuck:
                failed.append(f"istiod of {where} cannot start: {stuck}")
            elif paused:
                failed.append(f"istiod of {where}: {paused}")
            else:
                pending.append(
                    f"istiod {rev.namespace}/{cp.istiod} of {where}: {why} (see kubectl -n "
                    f"{rev.namespace} describe deployment {cp.istiod})"
                )
    for rev in stage.gone:
        left = []
        if rev.name in view.revisions:
            left.append(f"IstioRevision {rev.name}")
        name = istiod_name(rev.name)
        if snap.workloads.get((rev.namespace, name)) is not None:
            left.append(f"Deployment {rev.namespace}/{name}")
        evidence.append({"revision": rev.name, "expected": "absent", "left": left})
        if left:
            pending.append(
                f"{', '.join(left)} still exist(s): the operator deletes the old revision once "
                f"nothing names it (InUse False) and its grace period passed; "
                f"{condition(view.revisions.get(rev.name), 'InUse')}"
            )
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    names = ", ".join(f"{r.name} ({r.version})" for r in stage.ready)
    gone = "; removed: " + ", ".join(r.name for r in stage.gone) if stage.gone else ""
    return CheckResult.passed(
        NAME, f"Istio {stage.istio} Ready on {stage.active.name}; Ready: {names}{gone}", evidence
    )
