"""cleanup (Sail): the tag and label tidy-up; the operator itself deletes the old revision.

Under RevisionBased the operator deletes every revision but the active one once it has been
unused (`InUse` False) for `inactiveRevisionDeletionGracePeriodSeconds`. What keeps the old
revision in use after the waves is what the repo still points at it: an IstioRevisionTag pinned
to it (`targetRef.kind: IstioRevision`). This commit points such tags at the new revision and
gives the namespaces and gateways that used them their tag label back (both name the same
revision, so no pod restarts). With nothing to tidy it only records the stage; its gate waits
until the old IstioRevision is gone and nothing names it.
"""

from __future__ import annotations

from typing import Any

from core.errors import PreconditionError
from core.plan import Plan, Stage
from generator.flavours.helm.namespacelabels import label_holders
from generator.flavours.sail.manifests import (
    POD_LABELS,
    REV,
    find_deployment,
    find_sail,
    label_ops,
    require_sail,
    wanted_labels,
)
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline
from generator.yamledit import set_value

__all__ = ["KIND", "retargeted"]

TARGET_NAME = ("spec", "targetRef", "name")


def retargeted(plan: Plan) -> list[str]:
    """The tags pinned to the old IstioRevision, which cleanup points at the new one."""
    s = plan.sail
    assert s is not None
    return [
        t.name
        for t in s.tags
        if t.target_kind == "IstioRevision" and t.target_name == plan.source.revision
    ]


class CleanupKind:
    name: KindName = "cleanup"

    def stages(self, outline: Outline) -> list[Stage]:
        return [Stage(0, "cleanup", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        out = []
        for tag in retargeted(plan):
            doc = find_sail(index, "IstioRevisionTag", tag)
            if doc is None:
                out.append(f"IstioRevisionTag {tag} is not in the repo")
                continue
            have = str(doc.get(*TARGET_NAME, default=""))
            want = plan.tag_revision(tag)
            if have != want:
                out.append(f"IstioRevisionTag {tag} targets {have}, the plan says {want}")
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        src = plan.source
        tags = retargeted(plan)
        if tags:
            return [
                f"{head}: point tags {', '.join(tags)} at {plan.target.revision}; "
                f"{src.revision} goes",
                f"{head}: retire revision {src.revision} (Istio {src.version})",
            ]
        return [
            f"{head}: retire revision {src.revision} (Istio {src.version})",
            f"{head}: retire revision {src.revision}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        plan = ctx.plan
        s = plan.sail
        assert s is not None
        if plan.rolled_back:
            raise PreconditionError(
                f"namespaces {', '.join(plan.rolled_back)} were rolled back to "
                f"{plan.source.revision}; cleanup would let the operator delete it under them "
                "(to move them again, `git revert` their rollback commit)"
            )
        changes = []
        upto = ctx.stage.index
        for tag in retargeted(plan):
            doc = require_sail(ctx.index, "IstioRevisionTag", tag)
            new = plan.tag_revision(tag, upto)
            ctx.editor.edit(doc, set_value(doc.pos, TARGET_NAME, new))
            changes.append(f"IstioRevisionTag {tag}: targetRef IstioRevision {new}")
        holders = label_holders(ctx.index)
        for ns in plan.namespaces:
            holder = holders.get(ns.name)
            want = wanted_labels(plan.expected_label(ns.name, upto))
            was = wanted_labels(plan.expected_label(ns.name, upto - 1))
            if holder is not None and want != was:
                ctx.editor.edit(
                    holder.doc, *label_ops(holder.doc.pos, holder.labels, want, holder.path)
                )
                shown = ", ".join(f"{k}={v}" for k, v in want.items())
                changes.append(f"Namespace {ns.name}: {shown} again (no restart)")
        for g in s.gateways:
            want_label = plan.expected_gateway_label(g.name, upto)
            d = find_deployment(ctx.index, g.name, g.file)
            if d is not None and want_label != plan.expected_gateway_label(g.name, upto - 1):
                ctx.editor.edit(d, set_value(d.pos, (*POD_LABELS, REV), want_label))
                changes.append(f"Deployment {g.name} ({g.namespace}): pod label {REV}={want_label}")
        return {"changes": changes, "retargeted": retargeted(plan)}


KIND = CleanupKind()
