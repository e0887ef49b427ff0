"""namespaces (Helm): move one wave of namespaces to the new revision, or to a canary tag.

Per namespace: drop `istio-injection` (it wins over `istio.io/rev`), and set `istio.io/rev` to
the canary tag of the stable tag it was on (`prod-stable` -> `prod-canary`, which points at the
new revision, so the namespace can later go back to its stable tag without a second restart), or
else to the new revision itself. On every workload there, the pod-template annotation
`istio-canary.io/revision: <new revision>` makes the GitOps engine roll the pods onto the new
sidecar. Rolled back, the same edits restore the old labels and name the old revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import PlanError, PreconditionError
from core.plan import MeshNamespace, Plan, Stage
from generator.flavours.helm.manifests import INJECTION, REV, label_ops
from generator.flavours.helm.namespacelabels import LabelHolder, label_holders
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline
from generator.stages.namespaces import KIND as WAVES
from generator.stages.namespaces import RESTART_ANNOTATION, move_subjects
from generator.yamledit import set_value

__all__ = ["KIND", "labels_after", "move"]


def labels_after(
    plan: Plan, ns: MeshNamespace, moved: bool, returned: bool = False
) -> dict[str, str]:
    """The istio-injection / istio.io/rev labels `ns` carries once moved (or not)."""
    if not moved:
        return {INJECTION: "enabled"} if INJECTION in ns.meshed_by else {REV: ns.rev_label}
    h = plan.helm
    canary = h.canary_of(ns.rev_label) if h is not None else ""
    if canary:
        return {REV: ns.rev_label if returned else canary}
    return {REV: plan.target.revision}


def require_holder(holders: dict[str, LabelHolder], name: str) -> LabelHolder:
    """Where namespace `name`'s labels are written, or a PlanError saying it is gone."""
    holder = holders.get(name)
    if holder is None:
        raise PlanError(
            f"plan does not match the repo: Namespace {name} is gone "
            "(re-run init on a clean plan, or restore it)"
        )
    return holder


def move(ctx: StageContext, names: Sequence[str], back: bool) -> None:
    """Queue the edits moving `names` to the new revision (or canary tag), or `back`."""
    plan = ctx.plan
    holders = label_holders(ctx.index)
    for name in names:
        ns = plan.namespace(name)
        holder = require_holder(holders, ns.name)
        want = labels_after(plan, ns, moved=not back)
        ctx.editor.edit(holder.doc, *label_ops(holder.doc.pos, holder.labels, want, holder.path))
        revision = plan.source.revision if back else plan.target.revision
        for w in ns.workloads:
            wdoc = ctx.require(w.kind, w.name, ns.name, "apps")
            path = ("spec", "template", "metadata", "annotations", RESTART_ANNOTATION)
            ctx.editor.edit(wdoc, set_value(wdoc.pos, path, revision))


def roll_back(ctx: StageContext, names: Sequence[str]) -> None:
    """Rollback in the Helm flavour: refused once the stable tags left the old release."""
    plan = ctx.plan
    tagged = [n for n in names if plan.helm and plan.helm.canary_of(plan.namespace(n).rev_label)]
    if tagged and (plan.applied_by("tags-drop") or plan.applied_by("tags-take")):
        raise PreconditionError(
            f"namespaces {', '.join(tagged)} use revision tags that no longer point at "
            f"{plan.source.revision} (the tags have moved); rolling them back would not bring "
            "their pods back to it"
        )
    move(ctx, names, back=True)


class NamespacesKind:
    """One stage per wave, probing connectivity across the two revisions (as for Banzai)."""

    name: KindName = "namespaces"

    def stages(self, outline: Outline) -> list[Stage]:
        return WAVES.stages(outline)

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        out: list[str] = []
        moved = set(plan.migrated_namespaces())
        returned = plan.applied_by("tags-return")
        holders = label_holders(index)
        for ns in plan.namespaces:
            holder = holders.get(ns.name)
            if holder is None:
                out.append(f"Namespace {ns.name} is not in the repo")
                continue
            labels = holder.labels
            have = {k: str(labels[k]) for k in (INJECTION, REV) if k in labels}
            want = labels_after(plan, ns, ns.name in moved, returned)
            if have != want:
                state = "moved" if ns.name in moved else "not moved"
                shown = ", ".join(f"{k}={v}" for k, v in have.items()) or "no injection label"
                out.append(f"Namespace {ns.name} has {shown} but the plan says {state}")
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        return move_subjects(head, "move", stage.namespaces, plan.target.revision)

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        if not ctx.stage.namespaces:
            raise PlanError(f"stage {ctx.stage.index} ({ctx.stage.name}) names no namespace")
        move(ctx, ctx.stage.namespaces, back=False)
        plan = ctx.plan
        labels = {
            n: ", ".join(f"{k}={v}" for k, v in labels_after(plan, plan.namespace(n), True).items())
            for n in ctx.stage.namespaces
        }
        workloads = sum(len(plan.namespace(n).workloads) for n in ctx.stage.namespaces)
        return {"labels": labels, "workloads": workloads}


KIND = NamespacesKind()
