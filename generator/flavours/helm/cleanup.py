"""cleanup (Helm): delete the old istiod release.

Only once every namespace is on the new revision (a rolled-back namespace still needs the old
one). A non-revisioned old istiod injected `istio-injection=enabled` namespaces through its own
webhook; its successor takes that job with a `default` revision tag, added in the same commit so
no namespace is ever selected by two injectors (the two webhooks have different names, so the
sync that deletes one and creates the other never prunes what it creates).
"""

from __future__ import annotations

from typing import Any

from core.errors import PreconditionError
from core.helmplan import DEFAULT_REVISION, adds_default_tag
from core.plan import Plan, Stage
from generator.flavours.helm.manifests import find_release, require_release
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline, applied

__all__ = ["KIND"]


class CleanupKind:
    name: KindName = "cleanup"

    def stages(self, outline: Outline) -> list[Stage]:
        return [Stage(0, "cleanup", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        h = plan.helm
        assert h is not None
        present = find_release(index, h.istiod_from) is not None
        if present == applied(plan, self.name):
            state = "back in the repo after cleanup" if present else "not in the repo"
            return [f"the old istiod release {h.istiod_from.name} is {state}"]
        return []

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        src, head = plan.source, f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: remove istiod {src.revision} (Istio {src.version})",
            f"{head}: remove the Istio {src.version} istiod",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        plan = ctx.plan
        h = plan.helm
        assert h is not None
        if plan.rolled_back:
            raise PreconditionError(
                f"namespaces {', '.join(plan.rolled_back)} were rolled back to "
                f"{plan.source.revision}; cleanup would leave them without a control plane "
                "(to move them again, `git revert` their rollback commit)"
            )
        old = require_release(ctx.index, h.istiod_from)
        ctx.editor.delete(old.doc)
        changes = [f"{old.label}: deleted"]
        if adds_default_tag(plan.helm):
            new = require_release(ctx.index, h.istiod_to)
            for doc, ops in new.list_ops("revisionTags", (), [DEFAULT_REVISION]):
                ctx.editor.edit(doc, *ops)
            changes.append(
                f"{new.label}: revisionTags gains default, so istio-injection=enabled keeps "
                "working without the old istiod"
            )
        return {"changes": changes}


KIND = CleanupKind()
