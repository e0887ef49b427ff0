"""gateways: bind every gateway of the old control plane to the new one.

A MeshGateway in the repo gets `spec.istioControlPlane` pointed at the new CR. A gateway the old
operator made from the CR's own `spec.gateways.<type>` block is not in the repo: it is adopted (a
MeshGateway manifest matching what the operator generated, bound to the new CR) and the old CR gets
`createOnly: true` for it, so the old operator drops its ownerReference instead of reverting it and
deleting the old CR in cleanup does not garbage-collect it with its LoadBalancer.
"""

from __future__ import annotations

import copy
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

__all__ = [
    "KIND",
    "GatewaysKind",
    "adopted_spec",
    "mesh_expansion_gateways",
    "mesh_expansion_ports",
]

# What the operator copies from an Istio CR's `spec.gateways.<type>` block into the MeshGateway
# it generates: the whole embedded MeshGatewayConfiguration plus `ports` (pkg/resources/
# ingressgateway and egressgateway, MeshGatewayConfiguration in meshgateway_types.go; 1.7 adds
# serviceExternalTrafficPolicy). `labels` is handled apart (the operator merges its own).
_FIELDS = (
    "replicaCount",
    "minReplicas",
    "maxReplicas",
    "resources",
    "nodeSelector",
    "affinity",
    "tolerations",
    "podAnnotations",
    "securityContext",
    "serviceType",
    "loadBalancerIP",
    "serviceAnnotations",
    "serviceLabels",
    "serviceExternalTrafficPolicy",
    "sds",
    "requestedNetworkView",
    "additionalEnvVars",
    "runAsRoot",
    "ports",
)


def _port(port: int, target: int, name: str) -> dict[str, Any]:
    return {"name": name, "port": port, "protocol": "TCP", "targetPort": target}


# What a 1.6 operator served when the block leaves a field out (release-1.6 defaults.go and
# meshgateway_defaults.go). A 1.7 operator defaults differently (no ports, maxReplicas 1,
# runAsRoot false), so an adopted gateway states each of them.
_DEFAULT_PORTS = {
    "ingress": [
        _port(15021, 15021, "status-port"),
        _port(80, 8080, "http2"),
        _port(443, 8443, "https"),
        _port(15443, 15443, "tls"),
    ],
    "egress": [_port(80, 8080, "http2"), _port(443, 8443, "https"), _port(15443, 15443, "tls")],
}
_DEFAULTS: dict[str, Any] = {
    "replicaCount": 1,
    "minReplicas": 1,
    "maxReplicas": 5,
    "runAsRoot": True,
}
_SERVICE_TYPE = {"ingress": "LoadBalancer", "egress": "ClusterIP"}


def _enabled(spec: dict[str, Any], key: str, default: bool) -> bool:
    block = spec.get(key)
    value = block.get("enabled") if isinstance(block, dict) else None
    return default if value is None else bool(value)


def mesh_expansion_ports(cr_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The ports a 1.6 operator adds to the ingress gateway's Service of a mesh-expansion CR.

    A 1.7 operator adds them only to the gateway named after its own CR, so an adopted gateway
    would lose them: they are written into its `ports` instead.
    """
    if cr_spec.get("meshExpansion") is not True:
        return []
    mixer = _enabled(cr_spec, "mixer", False)
    out = [_port(853, 8853, "tcp-dns-tls")]
    for key, default, port, name in (
        ("istiod", True, 15012, "tcp-istiod-grpc-tls"),
        ("pilot", True, 15011, "tcp-pilot-grpc-tls"),
        ("telemetry", mixer, 15004, "tcp-mixer-grpc-tls"),
        ("citadel", False, 8060, "tcp-citadel-grpc-tls"),
    ):
        if _enabled(cr_spec, key, default):
            out.append(_port(port, port, name))
    return out


def _server(name: str, protocol: str, number: int, hosts: str = "*") -> dict[str, Any]:
    server: dict[str, Any] = {"port": {"name": name, "protocol": protocol, "number": number}}
    if protocol == "TLS":
        server["tls"] = {"mode": "AUTO_PASSTHROUGH"}
    server["hosts"] = [hosts]
    return server


def mesh_expansion_gateways(
    cr_spec: dict[str, Any], namespace: str, cp_name: str, revision: str, labels: dict[str, str]
) -> list[dict[str, Any]]:
    """The mesh-expansion Istio Gateways of a 1.6 CR, selecting the adopted ingress gateway.

    A 1.6 operator serves mesh expansion through two Gateways it owns, selecting the ingress
    pods by their labels and its own revision (release-1.6 pkg/resources/ingressgateway/
    meshexpansion.go). They stop selecting the gateway once it moves, and go at cleanup; a 1.7
    operator makes its own only for a CR with an enabled gateway. So the same servers are written
    under names of the new CR, selecting the gateway pods by the new revision.
    """
    if cr_spec.get("meshExpansion") is not True:
        return []
    istiod = _enabled(cr_spec, "istiod", True)
    servers = []
    if _enabled(cr_spec, "pilot", True) and not istiod:
        servers.append(_server("tcp-pilot", "TCP", 15011))
    if _enabled(cr_spec, "citadel", False):
        servers.append(_server("tcp-citadel", "TCP", 8060))
    if _enabled(cr_spec, "telemetry", _enabled(cr_spec, "mixer", False)):
        servers.append(_server("tls-mixer", "TLS", 15004))
    if istiod:
        servers.append(_server("tcp-istiod", "TCP", 15012))
    selector = {**labels, "istio.io/rev": revision}
    suffix = cp_name.replace(".", "-")
    out = []
    for name, spec_servers in (
        (f"meshexpansion-gateway-{suffix}", servers),
        (f"cluster-aware-gateway-{suffix}", [_server("tls", "TLS", 443, "*.local")]),
    ):
        out.append(
            {
                "apiVersion": "networking.istio.io/v1alpha3",
                "kind": "Gateway",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"selector": dict(selector), "servers": spec_servers},
            }
        )
    return out


def adopted_spec(
    gateway_type: str,
    block: dict[str, Any],
    cp_name: str,
    cp_namespace: str,
    cr_spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The MeshGateway spec the operator generated from a CR gateway block, bound to `cp_name`.

    Every field the operator copied is kept, and each one it defaulted is written out, so the
    new operator serves the same gateway (same ports, replicas, user) as the old one did.
    """
    spec: dict[str, Any] = {
        "type": gateway_type,
        "istioControlPlane": {"name": cp_name, "namespace": cp_namespace},
    }
    labels = {"app": f"istio-{gateway_type}gateway", "istio": f"{gateway_type}gateway"}
    labels.update(block.get("labels") or {})
    spec["labels"] = labels
    for key in _FIELDS:
        if key in block and block[key] not in ("", None):
            spec[key] = copy.deepcopy(block[key])
    for key, value in _DEFAULTS.items():
        spec.setdefault(key, value)
    spec.setdefault("serviceType", _SERVICE_TYPE.get(gateway_type, "ClusterIP"))
    if not spec.get("ports"):
        spec["ports"] = copy.deepcopy(_DEFAULT_PORTS.get(gateway_type, []))
    if gateway_type == "ingress":
        have = {p.get("port") for p in spec["ports"] if isinstance(p, dict)}
        spec["ports"] += [p for p in mesh_expansion_ports(cr_spec or {}) if p["port"] not in have]
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
    mesh_files: list[str] = []
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
            spec=adopted_spec(gtype, block, tgt.name, tgt.namespace, old_cr.data.get("spec") or {}),
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
        if gtype == "ingress":
            extra = mesh_expansion_gateways(
                old_cr.data.get("spec") or {},
                ref.namespace,
                tgt.name,
                tgt.revision,
                adopted_spec(gtype, block, tgt.name, tgt.namespace)["labels"],
            )
            if extra:
                path = posixpath.join(
                    posixpath.dirname(old_cr.file), f"{tgt.name}-meshexpansion.yaml"
                )
                ctx.editor.create(
                    path,
                    render(
                        "meshexpansion-gateways.yaml.j2",
                        source=src,
                        target=tgt,
                        documents=extra,
                        indentless=style.indentless,
                    ),
                )
                ctx.editor.add_resource(old_cr.file, path)
                mesh_files.append(path)
    return {
        "adopted": adopted,
        "moved": moved,
        "create_only_honoured": honours_create_only(src.operator.version),
        "mesh_expansion": bool(mesh_expansion_ports(old_cr.data.get("spec") or {})),
        "mesh_expansion_files": mesh_files,
        "multi_mesh": (old_cr.data.get("spec") or {}).get("multiMesh") is True,
    }
