"""gateways (Sail): roll every gateway Deployment of the old revision onto the new one, in place.

The Sail operator deploys no gateways; they are Deployments injected with the gateway template
(`inject.istio.io/templates: gateway`, `image: auto`). Each gets the pod-template label
`istio.io/rev: <new revision>`, which rolls it onto the new proxy while its Service (its UID,
its load-balancer address) stays the same object. A gateway labelled with a tag that follows the
Istio keeps its label and is restarted with the restart annotation instead. Gateways move after
the namespaces, as the Istio docs advise: the mesh behind them is on the new revision by then.
A release of Istio's `gateway` chart on the old revision gets `revision: <new>` and the target
chart version, with the Helm flavour's edit (:func:`generator.flavours.helm.gateways.move_release`).
"""

from __future__ import annotations

from typing import Any

from core.errors import PlanError
from core.plan import Plan, Stage
from generator.flavours.helm.gateways import move_release
from generator.flavours.helm.manifests import find_release, require_release
from generator.flavours.sail.manifests import POD_ANNOTATIONS, POD_LABELS, REV, find_deployment
from generator.index import RepoIndex
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline
from generator.stages.namespaces import RESTART_ANNOTATION
from generator.yamledit import set_value

__all__ = ["KIND"]


class GatewaysKind:
    """One stage moving every gateway of the old revision."""

    name: KindName = "gateways"

    def stages(self, outline: Outline) -> list[Stage]:
        if not outline.gateways:
            return []
        return [Stage(0, "gateways", self.name, gateways=tuple(g.name for g in outline.gateways))]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        s = plan.sail
        assert s is not None
        out: list[str] = []
        for g in s.gateways:
            d = find_deployment(index, g.name, g.file)
            if d is None:
                out.append(f"gateway Deployment {g.name} is not in {g.file}")
                continue
            have = str((d.get(*POD_LABELS, default={}) or {}).get(REV, ""))
            want = plan.expected_gateway_label(g.name)
            if have != want:
                state = "moved" if plan.gateways_moved() else "not moved"
                out.append(
                    f"gateway {g.name} has pod label {REV}={have or '(none)'} but the plan says "
                    f"{state}"
                )
        for r in s.gateway_releases:
            found = find_release(index, r)
            want = plan.target.revision if plan.gateways_moved() else r.revision
            if found is None:
                out.append(f"gateway release {r.name} is not in {r.file}")
            elif found.revision != want:
                state = "moved" if plan.gateways_moved() else "not moved"
                out.append(
                    f"gateway release {r.name} has revision {found.revision} but the plan says "
                    f"{state}"
                )
        return out

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head = f"istio-canary {stage.index}/{plan.total}"
        rev = plan.target.revision
        return [
            f"{head}: move gateways {', '.join(stage.gateways)} to {rev}",
            f"{head}: move {len(stage.gateways)} gateway(s) to {rev}",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        plan = ctx.plan
        s = plan.sail
        assert s is not None
        changes = []
        for g in s.gateways:
            d = find_deployment(ctx.index, g.name, g.file)
            if d is None:
                raise PlanError(
                    f"plan does not match the repo: gateway Deployment {g.name} is not in {g.file}"
                )
            want = plan.expected_gateway_label(g.name, ctx.stage.index)
            if want != g.rev_label:
                ctx.editor.edit(d, set_value(d.pos, (*POD_LABELS, REV), want))
                changes.append(f"Deployment {g.name} ({g.namespace}): pod label {REV}={want}")
            else:
                rev = plan.target.revision
                ctx.editor.edit(d, set_value(d.pos, (*POD_ANNOTATIONS, RESTART_ANNOTATION), rev))
                changes.append(
                    f"Deployment {g.name} ({g.namespace}): {REV}={want} kept (the tag follows "
                    f"the Istio), restarted with {RESTART_ANNOTATION}={rev}"
                )
        for r in s.gateway_releases:
            c = require_release(ctx.index, r)
            changes.append(move_release(ctx, c, plan.target.revision, plan.target.version))
        return {"changes": changes}


KIND = GatewaysKind()
