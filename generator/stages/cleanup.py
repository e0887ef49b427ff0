"""cleanup: delete the old `Istio` CR and the old operator release (the document, or its file).

Only once every namespace is on the new revision: a rolled-back namespace still needs the old
control plane, so cleanup refuses until it has been moved again.
"""

from __future__ import annotations

from typing import Any

from core.errors import PlanError, PreconditionError
from generator.discovery import operator_release
from generator.stages.context import StageContext
from generator.stages.control_plane import release_documents

__all__ = ["KIND", "plan"]

KIND = "cleanup"


def plan(ctx: StageContext) -> dict[str, Any]:
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
