"""Sail cleanup safety: nothing names the old revision, and after cleanup the operator deleted it.

In a Sail canary the operator, not the repo, deletes the old `IstioRevision` (and its istiod,
injector and validator by garbage collection): once nothing names it, its `InUse` turns False
and after the grace period it is pruned. The cleanup commit only tidies labels and tags, so the
gate before it asks the operator's own question, over the objects it read: does any tag
(`status.istioRevision`), namespace label or pod (the injector's `istio.io/rev` annotation, or a
label in an unlabelled namespace) still name the old revision? After cleanup the old revision
must also be gone.

A pod that names it and that no controller owns will never go away by waiting (no rollout
replaces it, no commit restarts it), so it fails at once, naming the pod and the one command
that removes it. Everything else is pending: a rollout or a sync may still be under way.
"""

from __future__ import annotations

from typing import Any

from verifier import pods as P
from verifier.checks.base import Phase
from verifier.checks.cleanup import NAME
from verifier.checks.sail_plan import stage_of
from verifier.checks.sail_stage import SailStage
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.sailview import condition, references
from verifier.snapshot import Snapshot

_MAX = 8


def _shown(items: list[str]) -> str:
    more = f" (+{len(items) - _MAX} more)" if len(items) > _MAX else ""
    return ", ".join(items[:_MAX]) + more


class SailCleanupSafety:
    """Judged for the cleanup stage of a Sail plan: as the gate's precondition, and after it."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return expect.cleanup_safety

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, stage_of(expect))


def check(snap: Snapshot, stage: SailStage) -> CheckResult:
    view = snap.sail
    if view is None:
        return CheckResult.pending(NAME, "Sail objects not read", unverifiable=True)
    old = stage.old
    named = references(view, snap.pods, snap.meshed_namespaces).get(old, [])
    # a tag pinned to the old revision is what the cleanup commit itself retargets
    moving = [f"IstioRevisionTag {t}" for t in stage.retargeted]
    named = [n for n in named if n not in moving]
    by_name = {f"pod {P.meta(p).get('namespace')}/{P.meta(p).get('name')}": p for p in snap.pods}
    orphans: list[str] = []
    pending: list[str] = []
    failed: list[str] = []
    for line in named:
        key = line.split(" (", 1)[0]
        pod = by_name.get(key)
        if pod is not None and not P.meta(pod).get("ownerReferences"):
            orphans.append(key.removeprefix("pod "))
    for pod_key in orphans:
        ns, name = pod_key.split("/", 1)
        failed.append(
            f"pod {pod_key} still carries istio.io/rev={old} and no controller owns it, so no "
            f"rollout will replace it and the operator will keep {old} in use for ever: delete "
            f"it (kubectl delete pod -n {ns} {name})"
        )
    others = [n for n in named if n.split(" (", 1)[0].removeprefix("pod ") not in orphans]
    if others:
        pending.append(f"{len(others)} object(s) still name {old}: {_shown(others)}")
    evidence: list[dict[str, Any]] = [
        {"revision": old, "namedBy": named[: _MAX * 4], "unownedPods": orphans,
         "tagsTheCleanupCommitRetargets": list(stage.retargeted)}
    ]  # fmt: skip
    for rev in stage.gone:
        obj = view.revisions.get(rev.name)
        evidence.append({"revision": rev.name, "expected": "absent", "found": obj is not None})
        if obj is not None and not named and not failed:
            pending.append(
                f"IstioRevision {rev.name} not deleted yet ({condition(obj, 'InUse')}): the "
                "operator deletes it once its grace period (updateStrategy."
                "inactiveRevisionDeletionGracePeriodSeconds) has passed"
            )
    if failed:
        return CheckResult.failed(NAME, "; ".join(failed + pending), evidence)
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    done = f"; {', '.join(r.name for r in stage.gone)} deleted" if stage.gone else ""
    if stage.retargeted:
        done += f"; tag(s) {', '.join(stage.retargeted)} move off it with the cleanup commit"
    other = "other " if stage.retargeted else ""
    return CheckResult.passed(
        NAME, f"no {other}tag, namespace label or pod names {old}{done}", evidence
    )
