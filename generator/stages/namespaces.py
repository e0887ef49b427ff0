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
from core.plan import MeshNamespace, Plan, Stage
from generator.discovery import find_doc
from generator.headline import count, span
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline
from generator.yamledit import Op, append_item, delete_key, remove_items, rename_key, set_value

__all__ = ["KIND", "RESTART_ANNOTATION", "NamespacesKind", "move", "move_subjects"]

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


def move_subjects(head: str, verb: str, namespaces: Sequence[str], to: str) -> list[str]:
    """`<head>: <verb> <namespaces> to <to>`, naming fewer namespaces in each later candidate."""
    return [
        f"{head}: {verb} {', '.join(namespaces)} to {to}",
        f"{head}: {verb} {span(namespaces, 'namespaces')} to {to}",
        f"{head}: {verb} {count(namespaces, 'namespaces')} to {to}",
        f"{head}: {verb} {count(namespaces, 'namespaces')}",
    ]


class NamespacesKind:
    """One stage per wave of namespaces, each probing connectivity across the two revisions."""

    name: KindName = "namespaces"

    def stages(self, outline: Outline) -> list[Stage]:
        """A wave's checks pair what has moved with what has not (or, in the last wave, with
        the earlier waves), so every gate probes traffic across the two control planes."""
        out: list[Stage] = []
        moved: list[str] = []
        for i, wave in enumerate(outline.waves, start=1):
            before = list(moved)
            moved.extend(wave)
            done = set(moved)  # a set: with 2,500 names a list made this quadratic
            rest = [n for n in outline.namespaces if n not in done]
            if rest:
                checks = outline.probes(moved, rest, wave)
            else:
                checks = outline.probes(wave, before or wave, wave)
            out.append(
                Stage(0, f"namespaces-{i}", self.name, namespaces=tuple(wave), checks=checks)
            )
        return out

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        """Each Namespace is in the repo and on the new revision exactly when the plan says so."""
        out: list[str] = []
        moved = set(plan.migrated_namespaces())
        for ns in plan.namespaces:
            doc = find_doc(index, "Namespace", ns.name, None, "")
            if doc is None:
                out.append(f"Namespace {ns.name} is not in the repo")
                continue
            labels = doc.metadata.get("labels") or {}
            rev = labels.get(REV)
            if (ns.name in moved) != (rev == plan.target.revision):
                has = f"{REV}={rev}" if rev is not None else f"no {REV} label"
                others = [f"{k}={v}" for k, v in labels.items() if k == "istio-injection"]
                if others:
                    has += f" ({', '.join(others)})"
                state = (
                    f"moved (it should carry {REV}={plan.target.revision})"
                    if ns.name in moved
                    else "not moved"
                )
                out.append(f"Namespace {ns.name} has {has} but the plan says {state}")
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        return move_subjects(head, "move", stage.namespaces, plan.target.name)

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        if not ctx.stage.namespaces:
            raise PlanError(f"stage {ctx.stage.index} ({ctx.stage.name}) names no namespace")
        move(ctx, ctx.stage.namespaces, back=False)
        workloads = sum(len(ctx.plan.namespace(n).workloads) for n in ctx.stage.namespaces)
        return {"workloads": workloads, "annotation": RESTART_ANNOTATION}


KIND = NamespacesKind()
