"""gateways (Helm): move every gateway of the old revision to the new one, in place.

A `gateway` chart release gets `revision: <new>` (and the target chart version, from where the
target's charts are published): the chart renders it as the pods' `istio.io/rev` label, so the
Deployment rolls onto the new proxy while its Service, with its UID and load-balancer address, is
the same object. A Deployment injected with the gateway template (`inject.istio.io/templates:
gateway`, `image: auto`) gets the pod-template label `istio.io/rev: <new>`, which rolls it the
same way. Gateways move after the namespaces, as the Istio docs advise: the mesh behind them is
on the new revision by then. A Flux release that `dependsOn` the old istiod's HelmRelease is
pointed at the new one in the same commit: helm-controller holds back (DependencyNotReady) a
release whose dependency no longer exists, which the old one will not after cleanup.
"""

from __future__ import annotations

from typing import Any

from core.errors import PlanError
from core.helmplan import ChartRelease
from core.plan import Plan, Stage
from core.versions import version_key
from generator.flavours.helm.charts import ChartDoc
from generator.flavours.helm.control_plane import repo_ops
from generator.flavours.helm.manifests import REV, find_deployment, find_release, require_release
from generator.index import Document, RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline
from generator.yamledit import set_value

__all__ = ["KIND", "move_release"]

POD_LABELS = ("spec", "template", "metadata", "labels")


def _revision_in_repo(index: RepoIndex, g: ChartRelease) -> str | None:
    if g.form == "deployment":
        d = find_deployment(index, g.name, g.file)
        if d is None:
            return None
        return str((d.get(*POD_LABELS, default={}) or {}).get(REV, g.revision))
    found = find_release(index, g)
    return None if found is None else found.revision


class GatewaysKind:
    """One stage moving every gateway of the old revision."""

    name: KindName = "gateways"

    def stages(self, outline: Outline) -> list[Stage]:
        if not outline.gateways:
            return []
        return [Stage(0, "gateways", self.name, gateways=tuple(g.name for g in outline.gateways))]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        h = plan.helm
        assert h is not None
        out: list[str] = []
        moved = plan.gateways_moved()
        for g in h.gateways:
            rev = _revision_in_repo(index, g)
            if rev is None:
                out.append(f"gateway {g.name} is not in {g.file}")
            elif (rev == plan.target.revision) != moved:
                state = "moved" if moved else "not moved"
                out.append(f"gateway {g.name} is on revision {rev} but the plan says {state}")
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: move gateways {', '.join(stage.gateways)} to {plan.target.revision}",
            f"{head}: move {len(stage.gateways)} gateway(s) to {plan.target.revision}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        h = ctx.plan.helm
        assert h is not None
        rev, changes = ctx.plan.target.revision, []
        for g in h.gateways:
            if g.form == "deployment":
                d = find_deployment(ctx.index, g.name, g.file)
                if d is None:
                    raise PlanError(f"plan does not match the repo: Deployment {g.name} is gone")
                ctx.editor.edit(d, set_value(d.pos, (*POD_LABELS, REV), rev))
                changes.append(f"Deployment {g.name} ({g.namespace}): pod label {REV}={rev}")
                continue
            c = require_release(ctx.index, g)
            changes.append(move_release(ctx, c, rev, ctx.plan.target.version))
            if moved := repo_ops(ctx.index, c, h, ctx.editor):
                changes.append(moved)
            if depends := _depends_on_old_istiod(ctx, c.doc, h.istiod_from, h.istiod_to):
                changes.append(f"{c.label}: {depends}")
        return {"changes": changes}


def move_release(ctx: StageContext, c: ChartDoc, rev: str, target: str) -> str:
    """Queue setting release `c`'s `revision` value to `rev` and its chart version to `target`
    (unless newer already); the change, in one line. The Sail flavour moves its gateway chart
    releases with it too."""
    ctx.editor.edit(c.doc, *c.set_ops("revision", rev))
    if (version_key(c.version) or (0, 0, 0)) < (version_key(target) or ()):
        ctx.editor.edit(c.doc, set_value(c.doc.pos, c.version_path, target))
        return f"{c.label}: revision {rev}, chart version {target}"
    return f"{c.label}: revision {rev} (chart {c.version} kept: not older)"


def _depends_on_old_istiod(
    ctx: StageContext, doc: Document, old: ChartRelease, new: ChartRelease
) -> str:
    """Repoint a Flux `dependsOn` entry naming the old istiod HelmRelease at the new one."""
    if old.form != "helmrelease" or new.form != "helmrelease":
        return ""
    old_doc = find_release(ctx.index, old)
    if old_doc is None:
        return ""
    where, own = ctx.index.namespace_of(old_doc.doc), ctx.index.namespace_of(doc)
    for i, dep in enumerate(doc.get("spec", "dependsOn", default=[]) or []):
        if not isinstance(dep, dict) or dep.get("name") != old.object_name:
            continue
        if (dep.get("namespace") or own) != where:
            continue
        ctx.editor.edit(doc, set_value(doc.pos, ("spec", "dependsOn", i, "name"), new.object_name))
        return f"dependsOn {old.object_name} -> {new.object_name}"
    return ""


KIND = GatewaysKind()
