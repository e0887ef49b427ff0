"""default-revision (Helm): `base`'s `defaultRevision` names the new revision.

The default revision validates Istio config for the whole cluster (base's validator calls
`istiod-<defaultRevision>`), so it must move before the old istiod is deleted: after that, a
validator pointing at the old istiod would reject every Istio resource. The `default` revision
tag moves in the same commit, so the two never disagree at a gate: a tag kept as manifests is
pointed at the new istiod; a tag the old release listed (it let go at tags-drop) is added to the
new release.
"""

from __future__ import annotations

from typing import Any

from core.helmplan import DEFAULT_REVISION
from core.plan import Plan, Stage
from generator.flavours.helm.discovery import tag_manifests
from generator.flavours.helm.manifests import find_release, require_release
from generator.flavours.helm.tags import retarget_ops
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline

__all__ = ["KIND"]


class DefaultRevisionKind:
    name: KindName = "default-revision"

    def stages(self, outline: Outline) -> list[Stage]:
        return [Stage(0, "default-revision", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        h = plan.helm
        assert h is not None
        base = find_release(index, h.base)
        if base is None:
            return [f"the base release {h.base.name} is not in {h.base.file}"]
        have = str(base.values.get("defaultRevision") or "default")
        if have != plan.default_revision():
            return [
                f"base {h.base.name} has defaultRevision {have}, but the plan expects "
                f"{plan.default_revision()}"
            ]
        return []

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: make {plan.target.revision} the default revision",
            f"{head}: move the default revision",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        h = ctx.plan.helm
        assert h is not None
        plan = ctx.plan
        base = require_release(ctx.index, h.base)
        ctx.editor.edit(base.doc, *base.set_ops("defaultRevision", plan.target.revision))
        changes = [f"{base.label}: defaultRevision {plan.target.revision}"]
        if DEFAULT_REVISION in h.istiod_from.tags:
            # the old release let go of it at tags-drop; nothing selected it since
            new = require_release(ctx.index, h.istiod_to)
            if DEFAULT_REVISION not in new.tags:
                for doc, ops in new.list_ops("revisionTags", (), [DEFAULT_REVISION]):
                    ctx.editor.edit(doc, *ops)
                changes.append(f"{new.label}: revisionTags gains default")
        if DEFAULT_REVISION in h.manifest_tags:
            for d in tag_manifests(ctx.index).get(DEFAULT_REVISION, []):
                ops = retarget_ops(d, plan.source.revision, plan.target.revision)
                ctx.editor.edit(d, *ops)
                changes.append(
                    f"{d.kind} {d.name} ({d.file}): tag default -> {plan.target.revision}"
                )
        return {"changes": changes}


KIND = DefaultRevisionKind()
