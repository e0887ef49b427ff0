"""Namespace labels: each namespace is labelled, live, for the control plane this stage expects.

Which control plane injects a namespace's next pod is decided by its labels in the cluster, not
by what the repo says: `istio-injection=enabled` selects the old global control plane and wins
over `istio.io/rev`; `istio.io/rev=<revision>` selects that revision. So after a stage:

- a moved namespace must carry `istio.io/rev=<new revision>` and no `istio-injection=enabled`
  (otherwise the next restart brings back an old proxy, even though every pod looks right now);
- a namespace not yet moved must still be selected by the old control plane
  (`istio-injection=enabled` for a global one, or `istio.io/rev=<old revision>`), and not carry
  the new revision early;
- a namespace the old control plane injects, but that the plan does not list (it was added
  after `init`), is named at every stage: no stage moves it, so cleanup would leave its pods on a
  deleted control plane. That will not heal by waiting, so it fails at once. (A namespace born
  on the new revision needs no stage and is left alone.)

A wrong label on a planned namespace is pending: the GitOps engine may still be applying it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.plan import ControlPlane
from verifier.checks.base import Phase
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.snapshot import Snapshot

NAME = "namespace-labels"
INJECTION = "istio-injection"
REV = "istio.io/rev"


class NamespaceLabels:
    """Judged at every stage: which control plane injects each namespace's next pod."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, expect)


def _labels(ns: Mapping[str, Any] | None) -> Mapping[str, str]:
    return ((ns or {}).get("metadata") or {}).get("labels") or {}


def injected_by(labels: Mapping[str, str], expect: Expectation) -> ControlPlane | None:
    """The plan's control plane that injects a namespace with these labels (None: neither)."""
    plan = expect.plan
    if labels.get(INJECTION) == "enabled":
        return plan.source if plan.source.global_ else None
    if INJECTION in labels:  # istio-injection=disabled (or anything else) turns injection off
        return None
    return expect.control_plane(str(labels.get(REV, "")))


def describe(labels: Mapping[str, str]) -> str:
    shown = [f"{k}={labels[k]}" for k in (INJECTION, REV) if k in labels]
    return ", ".join(shown) or "no injection label"


def check(snap: Snapshot, expect: Expectation) -> CheckResult:
    evidence: list[dict[str, Any]] = []
    pending: list[str] = []
    failed: list[str] = []
    planned = {ns.name for ns in expect.plan.namespaces}
    for ns, cp in sorted(expect.namespaces.items()):
        labels = _labels(snap.meshed_namespaces.get(ns))
        actual = injected_by(labels, expect)
        evidence.append(
            {"namespace": ns, "labels": describe(labels), "expectedRevision": cp.revision}
        )
        if actual is cp and not (cp is expect.plan.target and labels.get(INJECTION) == "enabled"):
            continue
        if cp is expect.plan.target:
            want = f"{REV}={cp.revision} and no {INJECTION} label"
        elif cp.global_:
            want = f"{INJECTION}=enabled or {REV}={cp.revision}"
        else:
            want = f"{REV}={cp.revision}"
        now = f"injected by {actual.revision}" if actual else "injected by no control plane"
        pending.append(
            f"namespace {ns} has {describe(labels)} ({now}), expected {want}: its next pod "
            "would not get the sidecar this stage expects"
        )
    unplanned = []
    for ns, obj in sorted(snap.meshed_namespaces.items()):
        if ns in planned:
            continue
        # Only the old control plane's: a namespace born on the new revision needs no stage.
        if injected_by(_labels(obj), expect) is expect.plan.source:
            unplanned.append(f"{ns} ({describe(_labels(obj))})")
    if unplanned:
        evidence.append({"meshedNamespacesNotInThePlan": unplanned})
        failed.append(
            f"meshed namespace(s) not in the plan: {', '.join(unplanned)}; they were added after "
            "`istio-canary init`, so no stage moves them and cleanup would leave their pods on a "
            "deleted control plane: with them in the repo, `istio-canary next` takes them into the "
            "next wave (re-create this stage's PR from the current base)"
        )
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    return CheckResult.passed(
        NAME,
        f"{len(expect.namespaces)} namespace(s) labelled for their expected revision",
        evidence,
    )
