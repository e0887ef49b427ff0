"""gateways: bind every gateway of the old control plane to the new one.

A MeshGateway in the repo gets `spec.istioControlPlane` pointed at the new CR. A gateway the old
operator made from the CR's own `spec.gateways.<type>` block is not in the repo: it is adopted (a
MeshGateway manifest matching what the operator generated, bound to the new CR) and the old CR gets
`createOnly: true` for it, so the old operator drops its ownerReference instead of reverting it and
deleting the old CR in cleanup does not garbage-collect it with its LoadBalancer.
"""

from __future__ import annotations

import posixpath
from typing import Any

from core.errors import PlanError
from core.plan import Plan, Stage
from generator.discovery import ISTIO_GROUP, find_doc, gateways_made_by
from generator.headline import names
from generator.index import RepoIndex
from generator.naming import honours_create_only
from generator.render import render
from generator.stages.context import StageContext
from generator.stages.kind import KindName, Outline, applied
from generator.yamledit import detect_style, set_value

__all__ = ["KIND", "GatewaysKind", "adopted_spec"]

# The MeshGateway v1beta1 spec fields that an Istio CR's `spec.gateways.<type>` block carries
# over into the MeshGateway the operator generates from it (docs/banzai-operator.md).
_FIELDS = (
    "replicaCount",
    "minReplicas",
    "maxReplicas",
    "resources",
    "runAsRoot",
    "additionalEnvVars",
    "sds",
    "requestedNetworkView",
    "serviceType",
    "loadBalancerIP",
    "serviceAnnotations",
    "serviceLabels",
    "serviceExternalTrafficPolicy",
    "ports",
)


def adopted_spec(
    gateway_type: str, block: dict[str, Any], cp_name: str, cp_namespace: str
) -> dict[str, Any]:
    """The MeshGateway spec the operator generated from a CR gateway block, bound to `cp_name`."""
    spec: dict[str, Any] = {
        "type": gateway_type,
        "istioControlPlane": {"name": cp_name, "namespace": cp_namespace},
    }
    labels = {"app": f"istio-{gateway_type}gateway", "istio": f"{gateway_type}gateway"}
    labels.update(block.get("labels") or {})
    spec["labels"] = labels
    for key in _FIELDS:
        if key in block and block[key] not in ("", None):
            spec[key] = block[key]
    return spec


class GatewaysKind:
    """Every gateway of the old control plane moves to the new one in one stage (if any)."""

    name: KindName = "gateways"

    def stages(self, outline: Outline) -> list[Stage]:
        if not outline.gateways:
            return []
        return [Stage(0, "gateways", self.name, gateways=tuple(g.name for g in outline.gateways))]

    def problems(self, index: RepoIndex, plan: Plan) -> list[str]:
        """Once applied, every gateway has its MeshGateway manifest in the repo."""
        if not applied(plan, self.name):
            return []
        return [
            f"MeshGateway {g.name} is missing though gateways is applied"
            for g in plan.gateways
            if find_doc(index, "MeshGateway", g.name, g.namespace, ISTIO_GROUP) is None
        ]

    def subjects(self, plan: Plan, stage: Stage) -> list[str]:
        head, tgt = f"istio-canary {stage.index}/{plan.total}", plan.target.name
        gateways = stage.gateways
        return [
            f"{head}: move gateways {', '.join(gateways)} to {tgt}",
            f"{head}: move {names(gateways, 'gateways', 40)} to {tgt}",
            f"{head}: move {len(gateways)} gateway(s) to {tgt}",
            f"{head}: move the gateways",
        ]

    def edit(self, ctx: StageContext) -> dict[str, Any]:
        return _edit(ctx)


KIND = GatewaysKind()


def _edit(ctx: StageContext) -> dict[str, Any]:
    src, tgt = ctx.plan.source, ctx.plan.target
    bind = {"name": tgt.name, "namespace": tgt.namespace}
    adopted: list[str] = []
    moved: list[str] = []
    old_cr = ctx.old_cr()
    made = {name: (gtype, block) for name, gtype, block in gateways_made_by(old_cr, src.namespace)}
    for ref in ctx.plan.gateways:
        if ref.in_repo:
            doc = ctx.require("MeshGateway", ref.name, ref.namespace, "istio.banzaicloud.io")
            ctx.editor.edit(doc, set_value(doc.pos, ("spec", "istioControlPlane"), bind))
            moved.append(ref.name)
            continue
        if ref.name not in made:
            raise PlanError(
                f"plan does not match the repo: gateway {ref.name} is neither in the repo nor "
                f"made by {src.name}'s spec.gateways"
            )
        gtype, block = made[ref.name]
        style = detect_style(ctx.index.read(old_cr.file))
        text = render(
            "meshgateway.yaml.j2",
            source=src,
            target=tgt,
            name=ref.name,
            gateway_type=gtype,
            metadata={"name": ref.name, "namespace": ref.namespace},
            spec=adopted_spec(gtype, block, tgt.name, tgt.namespace),
            indentless=style.indentless,
            create_only_honoured=honours_create_only(src.operator.version),
        )
        path = ref.file or posixpath.join(posixpath.dirname(old_cr.file), f"{ref.name}.yaml")
        ctx.editor.create(path, text)
        ctx.editor.add_resource(old_cr.file, path)
        ctx.editor.edit(
            old_cr, set_value(old_cr.pos, ("spec", "gateways", gtype, "createOnly"), True)
        )
        adopted.append(ref.name)
    return {
        "adopted": adopted,
        "moved": moved,
        "create_only_honoured": honours_create_only(src.operator.version),
    }
