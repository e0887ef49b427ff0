"""What the Helm flavour's commits say: what changed, why it is safe, what the gate checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.plan import Plan, Stage
from core.trailers import rollback_trailer, stage_trailer
from generator.stages.namespaces import RESTART_ANNOTATION

__all__ = ["commit_message", "plan_message", "rollback_message"]

_WHY: dict[str, str] = {
    "control-plane": (
        "base goes first: its CRDs are shared by every revision and must be the newer ones before "
        "the new istiod starts. The new istiod runs beside the old one; no pod moves yet."
    ),
    "namespaces": (
        "Relabelling alone moves nothing: the pod-template annotation {annotation} makes the GitOps "
        "engine restart the workloads, and the injector gives them the new sidecar."
    ),
    "gateways": (
        "The gateway Deployments roll in place onto the new proxy; their Services (UID, "
        "load-balancer address) are the same objects."
    ),
    "tags-drop": (
        "Every namespace that used these tags is on its canary tag now, so nothing selects them "
        "while no release renders them. Done apart from tags-take, so that no sync has two "
        "releases claim one webhook (Argo CD could prune what the other just created)."
    ),
    "tags-take": "The tags' webhooks come back, pointing at the new revision.",
    "tags-return": (
        "Namespaces go back from the canary tag to their stable tag. Both point at the new "
        "revision, so no pod restarts."
    ),
    "default-revision": (
        "Config validation and the default injection follow base's defaultRevision; it must name "
        "the new revision before the old istiod goes, or every Istio resource would be rejected."
    ),
    "cleanup": "Nothing uses the old revision any more (the gate checks pods, labels, tags, "
    "webhooks, gateways and the default revision before this merges).",
}


def plan_message(plan: Plan, subject: str) -> str:
    src, tgt = plan.source, plan.target
    lines = [
        subject,
        "",
        f"Writes .istio-canary/plan.yaml (flavour helm). istiod {src.name} (revision "
        f"{src.revision}, Istio {src.version}) will be replaced by {tgt.name} (revision "
        f"{tgt.revision}, Istio {tgt.version}), one reviewed commit per stage:",
        "",
    ]
    for s in plan.stages:
        what = s.namespaces or s.gateways or s.tags
        shown = (
            f": {len(what)} namespaces ({sorted(what)[0]} … {sorted(what)[-1]})"
            if len(what) > 10
            else (f": {', '.join(what)}" if what else "")
        )
        lines.append(f"  {s.index}. {s.name}{shown}")
    lines += [
        "",
        "Nothing in the cluster changes with this commit. The verifier's stage 0 checks the "
        f"starting state: istiod {src.revision} is ready, every meshed pod runs on it, and "
        f"{len(plan.baseline_checks)} connectivity check(s) pass.",
        "",
        stage_trailer(0, plan.total, "plan"),
        "",
    ]
    return "\n".join(lines)


def commit_message(plan: Plan, stage: Stage, subject: str, extra: dict[str, Any]) -> str:
    lines = [subject, ""]
    changes: list[str] = list(extra.get("changes", []))
    for ns, labels in (extra.get("labels") or {}).items():
        changes.append(f"Namespace {ns}: {labels}")
    if stage.kind == "namespaces":
        changes.append(
            f"{extra.get('workloads', 0)} workload(s): {RESTART_ANNOTATION}={plan.target.revision}"
        )
    lines += [f"- {c}" for c in changes]
    lines += ["", _WHY.get(stage.kind, "").format(annotation=RESTART_ANNOTATION)]
    if stage.kind == "namespaces":
        lines += [
            "",
            f"The verifier checks: every pod there runs the new proxy and revision, rollouts "
            f"completed, and {len(stage.checks)} cross-revision connectivity check(s) pass with "
            f"mTLS. Undo with `istio-canary rollback --namespace NS` while {plan.source.name} "
            "exists.",
        ]
    lines += ["", stage_trailer(stage.index, plan.total, stage.name), ""]
    return "\n".join(lines)


def rollback_message(plan: Plan, namespaces: Sequence[str], subject: str) -> str:
    return "\n".join(
        [
            subject,
            "",
            f"For {', '.join(namespaces)}: restore the labels that put them on "
            f"{plan.source.revision}, and set the pod-template annotation {RESTART_ANNOTATION}="
            f"{plan.source.revision} so their pods restart on the {plan.source.version} sidecar. "
            "Recorded in the plan's rolledBack list; cleanup waits until they are moved again.",
            "",
            rollback_trailer(list(namespaces)),
            "",
        ]
    )
