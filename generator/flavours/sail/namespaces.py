"""namespaces (Sail): move one wave of namespaces to the new revision, restarting their pods.

Sail moves no workloads (its `updateWorkloads` has no implementation), so this is the part of
the upgrade the operator leaves to people. Per namespace, by how it is labelled:

- `istio-injection=enabled`, or `istio.io/rev` naming the old revision: the label is set to
  `istio.io/rev: <new revision>` (`istio-injection` is dropped: it wins over `istio.io/rev`);
- `istio.io/rev` naming a tag that targets the Istio: the tag already points at the new
  revision, so the label stays;
- `istio.io/rev` naming a tag pinned to the old IstioRevision: the namespace is labelled with
  the new revision by name until cleanup points the tag there and gives the label back.

Labels alone restart nothing: every Deployment, StatefulSet and DaemonSet there gets the
pod-template annotation `istio-canary.io/revision: <new revision>`, so the GitOps engine rolls the
pods onto the new sidecar with a diff that says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import PlanError, PreconditionError
from core.plan import MeshNamespace, Plan, Stage
from generator.flavours.helm.namespacelabels import LabelHolder, label_holders
from generator.flavours.sail.manifests import (
    POD_ANNOTATIONS,
    label_ops,
    labels_of,
    wanted_labels,
)
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline
from generator.stages.namespaces import KIND as WAVES
from generator.stages.namespaces import RESTART_ANNOTATION, move_subjects
from generator.yamledit import set_value

__all__ = ["KIND", "follows_istio", "labels_before", "move", "roll_back"]


def labels_before(ns: MeshNamespace) -> dict[str, str]:
    """The injection labels `ns` had when the plan was made."""
    return wanted_labels(ns.rev_label)


def follows_istio(plan: Plan, label: str) -> bool:
    """Whether `label` is a tag that targets the Istio (so it already names the new revision);
    no label (`istio-injection=enabled`) means the tag named `default`, if there is one."""
    t = plan.sail.tag(label or "default") if plan.sail is not None else None
    return t is not None and t.target_kind == "Istio"


def _holder(holders: dict[str, LabelHolder], name: str) -> LabelHolder:
    holder = holders.get(name)
    if holder is None:
        raise PlanError(
            f"plan does not match the repo: Namespace {name} is gone "
            "(re-run init on a clean plan, or restore it)"
        )
    return holder


def move(ctx: StageContext, names: Sequence[str], back: bool) -> None:
    """Queue the edits moving `names` to the new revision (as of this stage), or `back`."""
    plan = ctx.plan
    holders = label_holders(ctx.index)
    for name in names:
        ns = plan.namespace(name)
        holder = _holder(holders, name)
        want = (
            labels_before(ns) if back else wanted_labels(plan.expected_label(name, ctx.stage.index))
        )
        ctx.editor.edit(holder.doc, *label_ops(holder.doc.pos, holder.labels, want, holder.path))
        revision = plan.source.revision if back else plan.target.revision
        for w in ns.workloads:
            doc = ctx.require(w.kind, w.name, ns.name, "apps")
            ctx.editor.edit(
                doc, set_value(doc.pos, (*POD_ANNOTATIONS, RESTART_ANNOTATION), revision)
            )


def roll_back(ctx: StageContext, names: Sequence[str]) -> None:
    """Move `names` back to the old revision while the operator still runs it."""
    plan = ctx.plan
    if plan.applied_by("cleanup"):
        raise PreconditionError(
            f"cleanup is applied: the operator deletes revision {plan.source.revision} once "
            "nothing uses it, so there is nothing to roll back to"
        )
    tagged = [n for n in names if follows_istio(plan, plan.namespace(n).rev_label)]
    if tagged:
        ns = plan.namespace(tagged[0])
        raise PreconditionError(
            f"namespace {ns.name} is on tag {ns.rev_label or 'default'} ("
            f"{'its istio.io/rev label' if ns.rev_label else 'through istio-injection=enabled'}), "
            f"which follows Istio "
            f"{plan.source.name} and so points at {plan.target.revision} already; to roll it "
            f"back, label it istio.io/rev={plan.source.revision} and restart its pods by hand"
        )
    move(ctx, names, back=True)


class NamespacesKind:
    """One stage per wave, probing connectivity across the two revisions (as the others do)."""

    name: KindName = "namespaces"

    def stages(self, outline: Outline) -> list[Stage]:
        return WAVES.stages(outline)

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        out: list[str] = []
        holders = label_holders(index)
        moved = set(plan.migrated_namespaces())
        for ns in plan.namespaces:
            holder = holders.get(ns.name)
            if holder is None:
                out.append(f"Namespace {ns.name} is not in the repo")
                continue
            have = labels_of(holder.labels)
            want = wanted_labels(plan.expected_label(ns.name))
            if have != want:
                state = "moved" if ns.name in moved else "not moved"
                shown = ", ".join(f"{k}={v}" for k, v in have.items()) or "no injection label"
                out.append(f"Namespace {ns.name} has {shown} but the plan says {state}")
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        return move_subjects(head, "move", stage.namespaces, plan.target.revision)

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        stage = ctx.stage
        if not stage.namespaces:
            raise PlanError(f"stage {stage.index} ({stage.name}) names no namespace")
        move(ctx, stage.namespaces, back=False)
        plan = ctx.plan
        labels = {}
        for n in stage.namespaces:
            after = plan.expected_label(n, stage.index)
            before = plan.namespace(n).rev_label
            shown = ", ".join(f"{k}={v}" for k, v in wanted_labels(after).items())
            labels[n] = (
                f"{shown} kept (its tag follows Istio {plan.source.name})"
                if after == before
                else shown
            )
        workloads = sum(len(plan.namespace(n).workloads) for n in stage.namespaces)
        return {"labels": labels, "workloads": workloads}


KIND = NamespacesKind()
