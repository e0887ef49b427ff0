"""Revision tags (Helm): hand the stable tags from the old istiod release to the new one.

A tag is a MutatingWebhookConfiguration (and Service) that the istiod release listing it in
`revisionTags` renders. Moving a tag from one release to another in one commit would have two
releases claim one object in the same sync: Argo CD may prune what the other Application has just
created, and Flux's Helm refuses an object another release owns. So it takes three commits, each
safe on its own, and none restarts a pod:

1. `tags-drop`: the old release stops listing the stable tags. By now every namespace that used
   one is on its canary tag (the waves moved them), so nothing selects the stable tags.
2. `tags-take`: the new release lists them; their webhooks come back pointing at the new revision.
3. `tags-return`: namespaces go back from the canary tag to their stable tag: same revision, so
   their pods stay as they are.
"""

from __future__ import annotations

from typing import Any

from core.errors import PreconditionError
from core.plan import Plan, Stage
from generator.discovery import find_doc
from generator.flavours.helm.manifests import REV, find_release, label_ops, require_release
from generator.flavours.helm.namespaces import labels_after
from generator.flavours.helm.planning import HelmOutline
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline

__all__ = ["DROP", "RETURN", "TAKE"]


def _refuse_rolled_back(plan: Plan, what: str) -> None:
    if plan.rolled_back:
        raise PreconditionError(
            f"namespaces {', '.join(plan.rolled_back)} were rolled back to {plan.source.revision}; "
            f"{what} would take their injector away (move them again first: `git revert` "
            "their rollback commit)"
        )


class DropKind:
    name: KindName = "tags-drop"

    def stages(self, outline: Outline) -> list[Stage]:
        tags = outline.tags if isinstance(outline, HelmOutline) else ()
        return [Stage(0, "tags-drop", self.name, tags=tuple(tags))] if tags else []

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        h = plan.helm
        assert h is not None
        old = find_release(index, h.istiod_from)
        if old is None:
            return []
        listed = [t for t in h.istiod_from.tags if t in old.tags]
        if plan.applied_by(self.name) and listed:
            return [f"{h.istiod_from.name} still lists tags {', '.join(listed)} after tags-drop"]
        return []

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: {plan.source.name} lets go of tags {', '.join(stage.tags)}",
            f"{head}: old istiod lets go of its revision tags",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        h = ctx.plan.helm
        assert h is not None
        _refuse_rolled_back(ctx.plan, "dropping the stable tags")
        old = require_release(ctx.index, h.istiod_from)
        for doc, ops in old.list_ops("revisionTags", ctx.stage.tags, ()):
            ctx.editor.edit(doc, *ops)
        return {"changes": [f"{old.label}: revisionTags without {', '.join(ctx.stage.tags)}"]}


class TakeKind:
    name: KindName = "tags-take"

    def stages(self, outline: Outline) -> list[Stage]:
        tags = outline.tags if isinstance(outline, HelmOutline) else ()
        return [Stage(0, "tags-take", self.name, tags=tuple(tags))] if tags else []

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        h = plan.helm
        assert h is not None
        new = find_release(index, h.istiod_to)
        if new is None:
            return []
        missing = [t for t in h.istiod_from.tags if t not in new.tags]
        if plan.applied_by(self.name) and missing:
            return [f"{h.istiod_to.name} does not list tags {', '.join(missing)} after tags-take"]
        return []

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: point tags {', '.join(stage.tags)} at {plan.target.revision}",
            f"{head}: point the revision tags at {plan.target.revision}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        h = ctx.plan.helm
        assert h is not None
        new = require_release(ctx.index, h.istiod_to)
        add = [t for t in ctx.stage.tags if t not in new.tags]
        for doc, ops in new.list_ops("revisionTags", (), add):
            ctx.editor.edit(doc, *ops)
        return {"changes": [f"{new.label}: revisionTags gains {', '.join(add)}"]}


class ReturnKind:
    name: KindName = "tags-return"

    def stages(self, outline: Outline) -> list[Stage]:
        if not (isinstance(outline, HelmOutline) and outline.returning):
            return []
        return [Stage(0, "tags-return", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        return []  # the namespaces kind checks every namespace's labels against the plan

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        h = plan.helm
        tags = ", ".join(t.name for t in h.tags) if h is not None else ""
        return [
            f"{head}: namespaces back to tags {tags} (no restart)",
            f"{head}: namespaces back to their stable tags",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        plan = ctx.plan
        h = plan.helm
        assert h is not None
        _refuse_rolled_back(plan, "returning to the stable tags")
        moved: list[str] = []
        for ns in plan.namespaces:
            if not h.canary_of(ns.rev_label):
                continue
            doc = find_doc(ctx.index, "Namespace", ns.name, None, "")
            if doc is None:
                ctx.require("Namespace", ns.name, None, "")
                continue
            want = labels_after(plan, ns, True, returned=True)
            labels = doc.metadata.get("labels") or {}
            ctx.editor.edit(doc, *label_ops(doc.pos, labels, want, ("metadata", "labels")))
            moved.append(f"{ns.name}: {REV}={ns.rev_label}")
        return {"changes": moved}


DROP = DropKind()
TAKE = TakeKind()
RETURN = ReturnKind()
