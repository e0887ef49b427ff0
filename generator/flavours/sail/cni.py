"""cni (Sail): upgrade the IstioCNI in place, once the skew rule allows it.

The CNI node agent is one DaemonSet for the whole cluster, serving every revision, so it has no
canary: the operator rolls it in place when `spec.version` changes. Sail documents that CNI 1.x
works with control planes 1.x and 1.x+1, so the control plane goes first; while the old revision
runs, a newer CNI would be ahead of it. The stage therefore comes after cleanup, when the new
revision is the only one (init refuses a jump of two minors when an IstioCNI is present: the old
CNI could not serve the new control plane in between).
"""

from __future__ import annotations

from typing import Any

from core.plan import Plan, Stage
from core.sailplan import spec_version
from generator.flavours.sail.manifests import find_sail, require_sail, sail_version
from generator.flavours.sail.planning import SailOutline
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline
from generator.yamledit import set_value

__all__ = ["KIND"]


class CniKind:
    """One stage, present when the plan has an IstioCNI not at the target version."""

    name: KindName = "cni"

    def stages(self, outline: Outline) -> list[Stage]:
        if not (isinstance(outline, SailOutline) and outline.upgrades_cni):
            return []
        return [Stage(0, "cni", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        cni = plan.sail.cni if plan.sail is not None else None
        if cni is None or not any(s.kind == "cni" for s in plan.stages):
            return []
        doc = find_sail(index, "IstioCNI", cni.name)
        if doc is None:
            return [f"IstioCNI {cni.name} is not in the repo"]
        have, want = sail_version(plan, doc), plan.cni_version()
        if have != want:
            return [
                f"IstioCNI {cni.name} has spec.version {have or '(none)'}, the plan says {want}"
            ]
        return []

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        cni = plan.sail.cni if plan.sail is not None else None
        assert cni is not None
        head = f"istio-canary {stage.index}/{plan.total}"
        return [
            f"{head}: IstioCNI {cni.name} {cni.version_from} -> {cni.version_to}, in place",
            f"{head}: IstioCNI {cni.name} to {cni.version_to}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        cni = ctx.plan.sail.cni if ctx.plan.sail is not None else None
        assert cni is not None
        doc = require_sail(ctx.index, "IstioCNI", cni.name)
        new = spec_version(cni.version_to)
        ctx.editor.edit(doc, set_value(doc.pos, ("spec", "version"), new))
        return {
            "changes": [
                f"IstioCNI {cni.name}: spec.version {spec_version(cni.version_from)} -> {new}"
            ]
        }


KIND = CniKind()
