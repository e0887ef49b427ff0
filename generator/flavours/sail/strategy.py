"""strategy (Sail): switch the Istio's `updateStrategy.type` from InPlace to RevisionBased.

Under InPlace a new `spec.version` rolls the one istiod in place: every proxy is then talking to
a control plane it was not tested with, and there is nothing to move back to. That is not a
canary, so the switch comes first, in its own reviewed commit. The operator names the active
revision after the version from now on (`<name>-v<version>`), so this sync already makes a second
revision at the running version beside the old one; no pod moves, and the old revision stays
because the namespaces and pods still use it.
"""

from __future__ import annotations

from typing import Any

from core.plan import Plan, Stage
from generator.flavours.sail.manifests import find_sail, require_sail
from generator.flavours.sail.planning import SailOutline
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline, applied
from generator.yamledit import set_value

__all__ = ["KIND"]

TYPE = ("spec", "updateStrategy", "type")


class StrategyKind:
    """One stage, present when the Istio is not RevisionBased yet."""

    name: KindName = "strategy"

    def stages(self, outline: Outline) -> list[Stage]:
        if not (isinstance(outline, SailOutline) and outline.switches_strategy):
            return []
        return [Stage(0, "strategy", self.name)]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        s = plan.sail
        assert s is not None
        if not s.switches_strategy:
            return []
        doc = find_sail(index, "Istio", s.istio.name)
        if doc is None:
            return [f"Istio {s.istio.name} is not in the repo"]
        have = str(doc.get(*TYPE, default="InPlace"))
        want = "RevisionBased" if applied(plan, self.name) else s.istio.strategy
        if have != want:
            return [f"Istio {s.istio.name} has updateStrategy.type {have}, the plan says {want}"]
        return []

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        name = plan.source.name
        return [
            f"{head}: switch Istio {name} to RevisionBased updates (revision {plan.via_revision})",
            f"{head}: switch Istio {name} to RevisionBased updates",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        s = ctx.plan.sail
        assert s is not None
        doc = require_sail(ctx.index, "Istio", s.istio.name)
        ctx.editor.edit(doc, set_value(doc.pos, TYPE, "RevisionBased"))
        return {
            "changes": [
                f"Istio {s.istio.name}: updateStrategy.type {s.istio.strategy} -> RevisionBased"
            ]
        }


KIND = StrategyKind()
