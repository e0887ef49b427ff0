"""MeshGateways, as the operator of their control plane's version reconciles them.

A MeshGateway becomes a Deployment (``istio-proxy`` at the referenced CR's proxy image, labels
merged with ``istio.io/rev``, ``gateway-name`` and ``gateway-type``), a ServiceAccount and a
Service of ``serviceType``. Moving the gateway to another control plane changes the selector
labels, so the Deployment is recreated while the Service is updated in place: same UID, same
LoadBalancer address (see docs/banzai-operator.md). Status keys are capitalised like the operator writes them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from simcluster.controllers.objects import apply_object, owner_ref
from simcluster.controllers.operator import cr_names

if TYPE_CHECKING:
    from collections.abc import Callable

    from simcluster.controllers import Controllers
    from simcluster.controllers.operator import Operators

__all__ = ["Gateways"]

Obj = dict[str, Any]


def _proxy_image(cr: Obj) -> str:
    spec = cr.get("spec") or {}
    return str(
        (spec.get("proxy") or {}).get("image") or f"docker.io/istio/proxyv2:{spec.get('version')}"
    )


class Gateways:
    """The MeshGateway half of the operators."""

    def __init__(self, ctl: Controllers, operators: Operators) -> None:
        self.ctl = ctl
        self.store = ctl.store
        self.operators = operators

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {"meshgateway": self.sync_meshgateway}

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        kind = obj.get("kind")
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        if kind == "MeshGateway":
            self.ctl.enqueue("meshgateway", ns, meta["name"])
        elif kind == "Istio":
            for mgw in self.store.list("MeshGateway", shared=True)[0]:
                self.ctl.enqueue(
                    "meshgateway", mgw["metadata"]["namespace"], mgw["metadata"]["name"]
                )
        elif kind in ("Deployment", "Service"):
            for ref in meta.get("ownerReferences") or []:
                if ref.get("kind") == "MeshGateway":
                    self.ctl.enqueue("meshgateway", ns, str(ref["name"]))

    def sync_meshgateway(self, ns: str, name: str) -> None:
        mgw = self.store.get("MeshGateway", ns, name)
        if mgw is None or mgw["metadata"].get("deletionTimestamp"):
            return
        spec = mgw.get("spec") or {}
        ref = spec.get("istioControlPlane") or {}
        if ref.get("name"):
            cr = self.store.get("Istio", str(ref.get("namespace") or ns), str(ref["name"]))
        else:  # no reference: the operator falls back to the oldest Istio CR in the cluster
            crs = sorted(
                self.store.list("Istio")[0], key=lambda c: c["metadata"]["creationTimestamp"]
            )
            cr = crs[0] if crs else None
        if cr is None:
            return
        operator = self.operators.operator_for(str((cr.get("spec") or {}).get("version", "")))
        if operator is None:
            return
        names = cr_names(cr)
        labels = {
            **(spec.get("labels") or {}),
            "istio.io/rev": names["revision"],
            "gateway-name": name,
            "gateway-type": str(spec.get("type", "ingress")),
        }
        owner = [owner_ref(mgw)]
        cr_ns = cr["metadata"]["namespace"]
        discovery = f"{names['istiod']}.{cr_ns}.svc:15012"
        apply_object(self.store, {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": f"{name}-service-account", "namespace": ns, "labels": dict(labels), "ownerReferences": owner},
        })  # fmt: skip
        deployment: Obj = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels), "ownerReferences": owner},
            "spec": {
                "replicas": int(spec.get("replicaCount") or 1),
                "selector": {"matchLabels": dict(labels)},
                "template": {
                    "metadata": {"labels": dict(labels), "annotations": {"sidecar.istio.io/inject": "false"}},
                    "spec": {
                        "serviceAccountName": f"{name}-service-account",
                        "containers": [
                            {
                                "name": "istio-proxy",
                                "image": _proxy_image(cr),
                                "args": ["proxy", "router", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--serviceCluster", name],
                                "ports": [{"containerPort": int(p.get("targetPort") or p.get("port")), "name": str(p.get("name", "")), "protocol": "TCP"} for p in spec.get("ports") or []],
                                "env": [
                                    {"name": "CA_ADDR", "value": discovery},
                                    {"name": "PROXY_CONFIG", "value": json.dumps({"discoveryAddress": discovery}, separators=(",", ":"))},
                                    {"name": "ISTIO_META_REVISION", "value": names["revision"]},
                                    {"name": "ISTIO_META_ROUTER_MODE", "value": "sni-dnat"},
                                ],
                                "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 2},
                            }
                        ],
                    },
                },
            },
        }  # fmt: skip
        live = self.store.get("Deployment", ns, name)
        if (
            live is not None
            and (live.get("spec") or {}).get("selector") != deployment["spec"]["selector"]
        ):
            # Selector labels are immutable: the operator recreates the Deployment.
            self.store.delete("Deployment", ns, name)
        apply_object(self.store, deployment)
        svc_labels = {**labels, **(spec.get("serviceLabels") or {})}
        service: Obj = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": svc_labels, "ownerReferences": owner},
            "spec": {
                "type": str(spec.get("serviceType") or "ClusterIP"),
                "selector": dict(labels),
                "ports": [
                    {"name": str(p.get("name", "")), "port": int(p["port"]), "targetPort": int(p.get("targetPort") or p["port"]), "protocol": "TCP"}
                    for p in spec.get("ports") or []
                ],
            },
        }  # fmt: skip
        if spec.get("serviceAnnotations"):
            service["metadata"]["annotations"] = dict(spec["serviceAnnotations"])
        if spec.get("loadBalancerIP"):
            service["spec"]["loadBalancerIP"] = spec["loadBalancerIP"]
        svc = apply_object(self.store, service)
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        status = dict(mgw.get("status") or {})
        if service["spec"]["type"] == "LoadBalancer" and not ingress:
            status.update(
                {
                    "Status": "ReconcileFailed",
                    "ErrorMessage": "ingress gateway endpoint address is pending",
                }
            )
        else:
            addresses = [str(i.get("ip") or i.get("hostname")) for i in ingress]
            status.update({"Status": "Available", "ErrorMessage": "", "GatewayAddress": addresses})
        if status != mgw.get("status"):
            mgw["status"] = status
            self.store.update(mgw, status_only=True)
