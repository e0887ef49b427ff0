"""What the Sail flavour's commits say: what changed, why it is safe, what the gate checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.plan import Plan, Stage
from core.trailers import rollback_trailer, stage_trailer
from generator.stages.namespaces import RESTART_ANNOTATION

__all__ = ["commit_message", "plan_message", "rollback_message"]

_WHY: dict[str, str] = {
    "strategy": (
        "An InPlace update rolls the one istiod to the new version under every proxy at once: "
        "that is not a canary, and there is nothing to move back to. Under RevisionBased each "
        "version gets its own IstioRevision. The operator renames the active revision at once, "
        "so it starts {via} at the running version beside {old}; no pod moves, and {old} stays "
        "because the namespaces and pods still use it."
    ),
    "control-plane": (
        "The operator makes IstioRevision {new} beside {old}, with its own istiod and injector. "
        "The version is pinned, never an alias: an alias lands literally in the revision name "
        "(sail#2262). Tags that target the Istio follow {new} now; pods keep their sidecar until "
        "they restart."
    ),
    "namespaces": (
        "Sail moves no workloads. Relabelling alone restarts nothing: the pod-template annotation "
        "{annotation} makes the GitOps engine restart the workloads, and the injector gives them "
        "the {new} sidecar."
    ),
    "gateways": (
        "The gateway Deployments roll in place onto the new proxy; their Services (UID, "
        "load-balancer address) are the same objects."
    ),
    "cleanup": (
        "The operator deletes {old} by itself once nothing has used it for the grace period; "
        "this commit only stops the repo pointing at it. The gate waits until {old} is gone and "
        "no pod, namespace label or tag names it."
    ),
    "cni": (
        "The CNI agent is one DaemonSet for every revision and is upgraded in place. CNI 1.x "
        "works with control planes 1.x and 1.x+1, so it moves only now that {new} is the only "
        "revision."
    ),
}


def _why(plan: Plan, kind: str) -> str:
    return _WHY.get(kind, "").format(
        old=plan.source.revision,
        new=plan.target.revision,
        via=plan.via_revision,
        annotation=RESTART_ANNOTATION,
    )


def plan_message(plan: Plan, subject: str) -> str:
    src, tgt, s = plan.source, plan.target, plan.sail
    assert s is not None
    op = s.operator
    lines = [
        subject,
        "",
        f"Writes .istio-canary/plan.yaml (flavour sail). Istio {src.name} (Sail operator "
        f"{op.version or '?'}, {op.form} {op.name}) moves from revision {src.revision} "
        f"(Istio {src.version}) to {tgt.revision} (Istio {tgt.version}), one reviewed commit "
        "per stage:",
        "",
    ]
    for st in plan.stages:
        what = st.namespaces or st.gateways
        shown = (
            f": {len(what)} namespaces ({sorted(what)[0]} … {sorted(what)[-1]})"
            if len(what) > 10
            else (f": {', '.join(what)}" if what else "")
        )
        lines.append(f"  {st.index}. {st.name}{shown}")
    if op.form == "olm-subscription":
        lines += [
            "",
            f"The operator comes from OLM Subscription {op.name}; istio-canary leaves it alone. "
            f"It must install Istio {tgt.version} before the control-plane stage merges.",
        ]
    lines += [
        "",
        "Nothing in the cluster changes with this commit. The verifier's stage 0 checks the "
        f"starting state: IstioRevision {src.revision} is ready, every meshed pod runs on it, "
        f"and {len(plan.baseline_checks)} connectivity check(s) pass.",
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
    if stage.kind == "cleanup" and not changes:
        changes.append("nothing in the repo points at the old revision any more")
    lines += [f"- {c}" for c in changes]
    lines += ["", _why(plan, stage.kind)]
    if stage.kind == "namespaces":
        lines += [
            "",
            f"The verifier checks: every pod there runs the new proxy and revision, rollouts "
            f"completed, and {len(stage.checks)} cross-revision connectivity check(s) pass with "
            f"mTLS. Undo with `istio-canary rollback --namespace NS` while IstioRevision "
            f"{plan.source.revision} exists.",
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
            f"This works while IstioRevision {plan.source.revision} exists: the operator deletes "
            "it once nothing has used it for the grace period. Recorded in the plan's rolledBack "
            "list; cleanup waits until they are moved again.",
            "",
            rollback_trailer(list(namespaces)),
            "",
        ]
    )
