"""Revision tags (Helm): hand the stable tags from the old istiod release to the new one.

A tag is a MutatingWebhookConfiguration (and Service) that the istiod release listing it in
`revisionTags` renders, or that the repo keeps as its own manifests (`istioctl tag generate`);
those are edited in place (their `istio.io/rev` label, the istiod Service their webhooks call),
one owner, one commit: `tags-take`. Moving a tag from one release to another in one commit would have two
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

from core.errors import PlanError, PreconditionError
from core.helmplan import DEFAULT_REVISION
from core.plan import Plan, Stage
from generator.flavours.helm.discovery import tag_manifests
from generator.flavours.helm.manifests import REV, find_release, label_ops, require_release
from generator.flavours.helm.namespacelabels import label_holders
from generator.flavours.helm.namespaces import labels_after, require_holder
from generator.flavours.helm.planning import HelmOutline
from generator.index import Document, RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline
from generator.yamledit import Op, set_value

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


def istiod_service(revision: str) -> str:
    """The istiod Service a revision's webhooks call: `istiod` for `default`, else suffixed."""
    return "istiod" if revision == DEFAULT_REVISION else f"istiod-{revision}"


def retarget_ops(doc: Document, source: str, target: str) -> list[Op]:
    """Edits pointing a tag manifest (webhook configuration or Service) from revision `source`
    to `target`: its `istio.io/rev` label, its webhooks' istiod Service, its Service selector."""
    ops: list[Op] = [set_value(doc.pos, ("metadata", "labels", REV), target)]
    for i, hook in enumerate(doc.get("webhooks", default=[]) or []):
        name = (
            hook.get("clientConfig", {}).get("service", {}).get("name")
            if isinstance(hook, dict)
            else None
        )
        if name == istiod_service(source):
            path = ("webhooks", i, "clientConfig", "service", "name")
            ops.append(set_value(doc.pos, path, istiod_service(target)))
    if doc.kind == "Service":
        ops.append(set_value(doc.pos, ("spec", "selector", REV), target))
    return ops


class TakeKind:
    name: KindName = "tags-take"

    def stages(self, outline: Outline) -> list[Stage]:
        if not isinstance(outline, HelmOutline):
            return []
        # `default` is taken at default-revision, together with base's defaultRevision
        tags = tuple(t for t in (*outline.tags, *outline.manifest_tags) if t != DEFAULT_REVISION)
        return [Stage(0, "tags-take", self.name, tags=tags)] if tags else []

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        h = plan.helm
        assert h is not None
        out: list[str] = []
        new = find_release(index, h.istiod_to)
        missing = [
            t
            for t in h.istiod_from.tags
            if new is not None
            and t not in new.tags
            and plan.tag_revision(t) == plan.target.revision
        ]
        if missing:
            out.append(
                f"{h.istiod_to.name} does not list tags {', '.join(missing)} after tags-take"
            )
        for tag in h.tag_manifests:
            want = plan.tag_revision(tag.name)
            for d in tag_manifests(index).get(tag.name, []):
                have = str((d.metadata.get("labels") or {}).get(REV, ""))
                if have != want:
                    out.append(f"{d.kind} {d.name} of tag {tag.name} names {have}, not {want}")
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: point tags {', '.join(stage.tags)} at {plan.target.revision}",
            f"{head}: point the revision tags at {plan.target.revision}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        plan = ctx.plan
        h = plan.helm
        assert h is not None
        _refuse_rolled_back(plan, "moving the stable tags")
        changes: list[str] = []
        released = [t for t in ctx.stage.tags if t in h.istiod_from.tags]
        if released:
            new = require_release(ctx.index, h.istiod_to)
            add = [t for t in released if t not in new.tags]
            for doc, ops in new.list_ops("revisionTags", (), add):
                ctx.editor.edit(doc, *ops)
            changes.append(f"{new.label}: revisionTags gains {', '.join(add)}")
        docs = tag_manifests(ctx.index)
        for tag in h.tag_manifests:
            if tag.name not in ctx.stage.tags:
                continue
            found = docs.get(tag.name, [])
            if not found:
                raise PlanError(
                    f"plan does not match the repo: the manifests of tag {tag.name} are gone"
                )
            for d in found:
                ctx.editor.edit(d, *retarget_ops(d, plan.source.revision, plan.target.revision))
                changes.append(
                    f"{d.kind} {d.name} ({d.file}): tag {tag.name} -> {plan.target.revision}"
                )
        return {"changes": changes}


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
        holders = label_holders(ctx.index)
        for ns in plan.namespaces:
            if not h.canary_of(ns.rev_label):
                continue
            holder = require_holder(holders, ns.name)
            want = labels_after(plan, ns, True, returned=True)
            ctx.editor.edit(
                holder.doc, *label_ops(holder.doc.pos, holder.labels, want, holder.path)
            )
            moved.append(f"{ns.name}: {REV}={ns.rev_label}")
        return {"changes": moved}


DROP = DropKind()
TAKE = TakeKind()
RETURN = ReturnKind()
