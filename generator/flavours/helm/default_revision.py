"""default-revision (Helm): `base`'s `defaultRevision` names the new revision.

The default revision validates Istio config for the whole cluster (base's validator calls
`istiod-<defaultRevision>`), so it must move before the old istiod is deleted: after that, a
validator pointing at the old istiod would reject every Istio resource. A `default` revision tag,
when the old release lists one, moves with the other tags (tags stages), so the two never
disagree for longer than one stage.
"""

from __future__ import annotations

from typing import Any

from core.plan import Plan, Stage
from generator.flavours.helm.manifests import find_release, require_release
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
        base = require_release(ctx.index, h.base)
        ctx.editor.edit(base.doc, *base.set_ops("defaultRevision", ctx.plan.target.revision))
        return {"changes": [f"{base.label}: defaultRevision {ctx.plan.target.revision}"]}


KIND = DefaultRevisionKind()
