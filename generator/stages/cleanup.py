"""cleanup: delete the old `Istio` CR and the old operator release (the document, or its file).

Only once every namespace is on the new revision: a rolled-back namespace still needs the old
control plane, so cleanup refuses until it has been moved again.
"""

from __future__ import annotations

from typing import Any

from core.errors import PlanError, PreconditionError
from core.plan import Plan, Stage
from generator.discovery import ISTIO_GROUP, find_doc, has_release, operator_release
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.control_plane import release_documents
from generator.stages.kind import KindName, Outline, applied

__all__ = ["KIND", "CleanupKind"]


class CleanupKind:
    """The last stage: the old control plane goes."""

    name: KindName = "cleanup"

    def stages(self, outline: Outline) -> list[Stage]:
        return [Stage(0, "cleanup", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        """The old CR and operator release exist exactly until this stage is applied."""
        src = plan.source
        done = applied(plan, self.name)
        out: list[str] = []
        old = find_doc(index, "Istio", src.name, src.namespace, ISTIO_GROUP)
        if not done and old is None:
            out.append(f"the old Istio CR {src.name} is not in the repo")
        if done and old is not None:
            out.append(f"the old Istio CR {src.name} is back in the repo after cleanup")
        if has_release(index, src.operator) == done:
            state = "present" if done else "missing"
            out.append(f"operator release {src.operator.name} ({src.operator.file}) is {state}")
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        src, head = plan.source, f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: remove {src.name} (Istio {src.version}) and its operator",
            f"{head}: remove {src.name} (Istio {src.version})",
            f"{head}: remove the Istio {src.version} control plane",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        return _edit(ctx)


KIND = CleanupKind()


def _edit(ctx: StageContext) -> dict[str, Any]:
    src = ctx.plan.source
    if ctx.plan.rolled_back:
        raise PreconditionError(
            f"namespaces {', '.join(ctx.plan.rolled_back)} were rolled back to {src.name}; "
            "cleanup would leave them without a control plane (to move them again, "
            "`git revert` their rollback commit)"
        )
    old_cr = ctx.old_cr()
    ops_docs = [
        d
        for d in ctx.index.files.get(src.operator.file, [])
        if (rel := operator_release(ctx.index, d)) is not None and rel.name == src.operator.name
    ]
    if ops_docs and src.operator.form == "plain":
        ops_docs = release_documents(ctx.index, ops_docs[0], src.operator.name)
    if not ops_docs:
        raise PlanError(
            f"plan does not match the repo: operator release {src.operator.name} is not in "
            f"{src.operator.file or 'the repo'}"
        )
    deleted = []
    for doc in [old_cr, *ops_docs]:
        ctx.editor.delete(doc)
        deleted.append(f"{doc.kind} {doc.name} ({doc.file})")
    return {"deleted": deleted}
