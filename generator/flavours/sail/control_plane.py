"""control-plane (Sail): bump the Istio's `spec.version`; the operator makes the new revision.

Under RevisionBased a new `spec.version` makes the operator create the IstioRevision
`<name>-v<version>` beside the running one, with its own istiod and injector. The version is
always written pinned (`v1.28.6`), never as an alias: an alias would land literally in the
revision name (`default-v1-28-latest`, sail#2262), and that revision would later change version
in place when the operator resolves the alias to a newer patch. Tags that target the Istio follow
the new revision at once; pods keep the sidecar they were injected with until they restart.
"""

from __future__ import annotations

from typing import Any

from core.plan import Plan, Stage
from core.sailplan import spec_version
from generator.flavours.sail.manifests import find_sail, require_sail, sail_version
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline, applied
from generator.yamledit import set_value

__all__ = ["KIND"]

VERSION = ("spec", "version")


class ControlPlaneKind:
    """One stage: the version bump."""

    name: KindName = "control-plane"

    def stages(self, outline: Outline) -> list[Stage]:
        return [Stage(0, "control-plane", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        s = plan.sail
        assert s is not None
        doc = find_sail(index, "Istio", s.istio.name)
        if doc is None:
            return [f"Istio {s.istio.name} is not in the repo"]
        have = sail_version(plan, doc)
        want = plan.target.version if applied(plan, self.name) else plan.source.version
        if have != want:
            return [
                f"Istio {s.istio.name} has spec.version {have or '(none)'}, the plan says {want}"
            ]
        return []

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        src, tgt = plan.source, plan.target
        return [
            f"{head}: Istio {src.name} {src.version} -> {tgt.version} (revision {tgt.revision})",
            f"{head}: Istio {tgt.version} beside {src.version} (revision {tgt.revision})",
            f"{head}: Istio {tgt.version} beside {src.version}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        plan = ctx.plan
        s = plan.sail
        assert s is not None
        doc = require_sail(ctx.index, "Istio", s.istio.name)
        new = spec_version(plan.target.version)
        ctx.editor.edit(doc, set_value(doc.pos, ("spec", "version"), new))
        return {
            "changes": [
                f"Istio {s.istio.name}: spec.version {spec_version(plan.source.version)} -> {new}",
            ]
        }


KIND = ControlPlaneKind()
