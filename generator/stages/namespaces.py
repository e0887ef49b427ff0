"""namespaces: move one wave of namespaces to the new revision (and, inverted, roll them back).

Per namespace: drop `istio-injection` (it wins over `istio.io/rev`), set `istio.io/rev` to the new
revision, drop it from the old CR's `autoInjectionNamespaces` (0.6.12-0.6.14 would re-add the
legacy label), and set a pod-template annotation naming the revision on every workload there, so
Argo CD/Flux roll the pods onto the new sidecar and the diff says why they restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import PlanError
from core.plan import MeshNamespace, Plan
from generator.stages.context import StageContext
from generator.yamledit import Op, append_item, delete_key, remove_items, rename_key, set_value

__all__ = ["KIND", "RESTART_ANNOTATION", "move", "plan"]

KIND = "namespaces"
RESTART_ANNOTATION = "istio-canary.io/revision"
INJECTION = "istio-injection"
REV = "istio.io/rev"


def _labels_ops(pos: int, labels: dict[str, Any], want: dict[str, str]) -> list[Op]:
    """Edits turning `labels` into ones with exactly `want` among istio-injection/istio.io/rev."""
    ops: list[Op] = []
    have = {k: labels.get(k) for k in (INJECTION, REV) if k in labels}
    drop = [k for k in have if k not in want]
    add = {k: v for k, v in want.items() if have.get(k) != v}
    # Prefer renaming a dropped key in place, so the label stays where the reader expects it.
    for key, value in list(add.items()):
        if key in have:
            ops.append(set_value(pos, ("metadata", "labels", key), value))
        elif drop:
            ops.append(rename_key(pos, ("metadata", "labels", drop.pop(0)), key, value))
        else:
            ops.append(set_value(pos, ("metadata", "labels", key), value))
    ops.extend(delete_key(pos, ("metadata", "labels", k)) for k in drop)
    return ops


def move(ctx: StageContext, names: Sequence[str], back: bool) -> None:
    """Queue the edits moving `names` to the new revision, or `back` to the old one."""
    plan: Plan = ctx.plan
    src, tgt = plan.source, plan.target
    old_cr = ctx.old_cr()
    records: list[MeshNamespace] = [plan.namespace(n) for n in names]
    for ns in records:
        doc = ctx.require("Namespace", ns.name, None, "")
        labels = doc.metadata.get("labels") or {}
        if back:
            want = {INJECTION: "enabled"} if INJECTION in ns.meshed_by else {}
            if REV in ns.meshed_by or not want:
                want[REV] = src.revision
        else:
            want = {REV: tgt.revision}
        ctx.editor.edit(doc, *_labels_ops(doc.pos, labels, want))
        for w in ns.workloads:
            wdoc = ctx.require(w.kind, w.name, ns.name, "apps")
            ctx.editor.edit(
                wdoc,
                set_value(
                    wdoc.pos,
                    ("spec", "template", "metadata", "annotations", RESTART_ANNOTATION),
                    src.revision if back else tgt.revision,
                ),
            )
    auto = [str(x) for x in old_cr.get("spec", "autoInjectionNamespaces", default=[]) or []]
    if back:
        for ns in records:
            if "autoInjectionNamespaces" in ns.meshed_by and ns.name not in auto:
                ctx.editor.edit(
                    old_cr, append_item(old_cr.pos, ("spec", "autoInjectionNamespaces"), ns.name)
                )
    else:
        gone = [ns.name for ns in records if ns.name in auto]
        if gone:
            ctx.editor.edit(
                old_cr, remove_items(old_cr.pos, ("spec", "autoInjectionNamespaces"), gone)
            )


def plan(ctx: StageContext) -> dict[str, Any]:
    if not ctx.stage.namespaces:
        raise PlanError(f"stage {ctx.stage.index} ({ctx.stage.name}) names no namespace")
    move(ctx, ctx.stage.namespaces, back=False)
    workloads = sum(len(ctx.plan.namespace(n).workloads) for n in ctx.stage.namespaces)
    return {"workloads": workloads, "annotation": RESTART_ANNOTATION}
