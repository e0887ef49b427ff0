"""Sail revision tags: each IstioRevisionTag resolves to the revision the plan expects now.

A tag targets an `Istio` (it then follows the Istio's active revision, at once when the version
moves) or one `IstioRevision` (it stays until the repo points it elsewhere). The operator writes
the revision it resolved in `status.istioRevision` and renders the istiod chart's tag webhook
(`istio.io/tag=<tag>`, labelled `istio.io/rev=<revision>`, calling `istiod-<revision>`), which is
what the API server calls when a pod is created in a namespace labelled with the tag. So the gate
checks both: the status, and the webhook the next pod will really meet. A difference is pending
(the engine or the operator may still be applying the stage); the deadline names it.
"""

from __future__ import annotations

from typing import Any

from verifier.checks.base import Phase
from verifier.checks.helm_tags import config_revisions
from verifier.checks.sail_plan import stage_of
from verifier.checks.sail_stage import SailStage
from verifier.expectation import Expectation
from verifier.result import CheckResult
from verifier.sailview import condition
from verifier.snapshot import Snapshot

NAME = "revision-tags"


class SailRevisionTags:
    """Judged at every stage of a Sail plan."""

    name = NAME
    phase = Phase.SNAPSHOT

    def applies(self, expect: Expectation) -> bool:
        return True

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        return check(snap, stage_of(expect))


def check(snap: Snapshot, stage: SailStage) -> CheckResult:
    view = snap.sail
    if view is None:
        return CheckResult.pending(NAME, "Sail objects not read", unverifiable=True)
    pending: list[str] = []
    evidence: list[dict[str, Any]] = []
    for tag, want in sorted(stage.tags.items()):
        obj = view.tags.get(tag)
        hooks = view.tag_webhooks(tag)
        names = sorted(str((h.get("metadata") or {}).get("name")) for h in hooks)
        calls = set().union(*(config_revisions(h, "MutatingWebhookConfiguration") for h in hooks))
        labelled = {
            str(((h.get("metadata") or {}).get("labels") or {}).get("istio.io/rev")) for h in hooks
        }
        status = (obj or {}).get("status") or {}
        resolved = str(status.get("istioRevision") or "")
        target = ((obj or {}).get("spec") or {}).get("targetRef") or {}
        evidence.append(
            {"tag": tag, "expectedRevision": want or "(none)", "found": obj is not None,
             "targetRef": f"{target.get('kind', '?')}/{target.get('name', '?')}" if obj else "",
             "istioRevision": resolved, "webhooks": names, "calls": sorted(calls),
             "labelled": sorted(labelled)}
        )  # fmt: skip
        where = f"IstioRevisionTag {tag}"
        if not want:
            if obj is not None or hooks:
                pending.append(
                    f"{where} should not exist after this stage, but "
                    + ", ".join(([where] if obj is not None else []) + names)
                    + " still exist(s)"
                )
            continue
        if obj is None:
            pending.append(f"{where} not found; expected it to resolve to {want}")
            continue
        reconciled = condition(obj, "Reconciled")
        if not reconciled.true:
            pending.append(f"{where}: {reconciled}")
        if resolved != want:
            pending.append(
                f"{where} (targetRef {target.get('kind', '?')}/{target.get('name', '?')}) "
                f"resolves to {resolved or '(none)'}, expected {want}"
            )
        if not hooks:
            pending.append(
                f"{where} has no webhook (MutatingWebhookConfiguration labelled "
                f"istio.io/tag={tag}): namespaces labelled istio.io/rev={tag} get no sidecar"
            )
        elif calls != {want} or labelled != {want}:
            pending.append(
                f"the webhook of {where} ({', '.join(names)}) calls "
                f"{', '.join(sorted(calls))} and is labelled istio.io/rev="
                f"{', '.join(sorted(labelled))}; expected {want}"
            )
    if pending:
        return CheckResult.pending(NAME, "; ".join(pending), evidence)
    shown = ", ".join(f"{t} -> {r or '(none)'}" for t, r in sorted(stage.tags.items()))
    return CheckResult.passed(NAME, f"tags: {shown or 'none planned'}", evidence)
