"""Endpoints from Services and ready pods, and a cloud load balancer for LoadBalancer Services.

Endpoints follow the endpoints controller: one object per selector Service, named like it,
ready pods in ``addresses`` and the others in ``notReadyAddresses``, ports resolved from
``targetPort`` (numbers, or names looked up in the pod's container ports). LoadBalancer Services
get a stable fake address in ``status.loadBalancer.ingress`` the first time they are seen, and
keep it while the Service lives (updates keep it; only delete + create changes it), as a cloud
provider's LB does.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from simcluster.apierrors import StoreError
from simcluster.controllers.kubelet import pod_ready

if TYPE_CHECKING:
    from collections.abc import Callable

    from simcluster.controllers import Controllers

__all__ = ["LB_POOL", "Endpoints", "endpoints_for"]

Obj = dict[str, Any]
LB_POOL = ipaddress.ip_network("172.18.255.0/24")


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _target_port(port: Obj, pod: Obj) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None


def endpoints_for(service: Obj, pods: list[Obj]) -> Obj:
    """The Endpoints object the controller would write for ``service`` given the namespace's pods."""
    meta = service["metadata"]
    selector = (service.get("spec") or {}).get("selector") or {}
    ports = (service.get("spec") or {}).get("ports") or []
    subsets: dict[tuple[tuple[str, int, str], ...], Obj] = {}
    for pod in pods:
        pmeta = pod["metadata"]
        status = pod.get("status") or {}
        if pmeta.get("deletionTimestamp") or not status.get("podIP"):
            continue
        if not _selects(selector, pmeta.get("labels") or {}):
            continue
        resolved = []
        for port in ports:
            number = _target_port(port, pod)
            if number is not None:
                resolved.append(
                    (str(port.get("name", "")), number, str(port.get("protocol", "TCP")))
                )
        key = tuple(resolved)
        subset = subsets.setdefault(
            key,
            {
                "ports": [
                    {**({"name": n} if n else {}), "port": number, "protocol": proto}
                    for n, number, proto in key
                ]
            },
        )
        address = {
            "ip": status["podIP"],
            "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
            "targetRef": {
                "kind": "Pod",
                "namespace": pmeta.get("namespace", ""),
                "name": pmeta["name"],
                "uid": pmeta["uid"],
            },
        }
        bucket = "addresses" if pod_ready(pod) else "notReadyAddresses"
        subset.setdefault(bucket, []).append(address)
    for subset in subsets.values():
        for bucket in ("addresses", "notReadyAddresses"):
            if bucket in subset:
                subset[bucket].sort(key=lambda a: a["ip"])
    out: Obj = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "labels": dict(meta.get("labels") or {}),
        },
    }
    if subsets:
        out["subsets"] = [subsets[k] for k in sorted(subsets)]
    return out


class Endpoints:
    """The endpoints controller plus the load-balancer half of a cloud controller manager."""

    def __init__(self, ctl: Controllers) -> None:
        self.ctl = ctl
        self.store = ctl.store

    def handlers(self) -> dict[str, Callable[[str, str], None]]:
        return {"endpoints": self.sync_endpoints, "loadbalancer": self.sync_loadbalancer}

    def on_event(self, event: str, obj: Obj, old: Obj | None) -> None:
        kind = obj.get("kind")
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        if kind == "Service":
            self.ctl.enqueue("endpoints", ns, meta["name"])
            if (obj.get("spec") or {}).get("type") == "LoadBalancer" and event != "DELETED":
                self.ctl.enqueue("loadbalancer", ns, meta["name"])
        elif kind == "Pod":
            relevant = [obj] if old is None else [obj, old]
            for service in self.store.list("Service", ns, shared=True)[0]:
                selector = (service.get("spec") or {}).get("selector")
                if selector and any(
                    _selects(selector, p["metadata"].get("labels") or {}) for p in relevant
                ):
                    self.ctl.enqueue("endpoints", ns, service["metadata"]["name"])

    def sync_endpoints(self, ns: str, name: str) -> None:
        service = self.store.get("Service", ns, name)
        current = self.store.get("Endpoints", ns, name)
        if service is None or not (service.get("spec") or {}).get("selector"):
            if service is None and current is not None:
                try:
                    self.store.delete("Endpoints", ns, name)
                except StoreError:
                    pass
            return
        desired = endpoints_for(service, self.store.list("Pod", ns, shared=True)[0])
        if current is None:
            self.store.create(desired)
            return
        if current.get("subsets") == desired.get("subsets") and current["metadata"].get(
            "labels"
        ) == desired["metadata"].get("labels"):
            return
        current["metadata"]["labels"] = desired["metadata"]["labels"]
        current.pop("subsets", None)
        if "subsets" in desired:
            current["subsets"] = desired["subsets"]
        self.store.update(current)

    def sync_loadbalancer(self, ns: str, name: str) -> None:
        service = self.store.get("Service", ns, name)
        if service is None or (service.get("spec") or {}).get("type") != "LoadBalancer":
            return
        if ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
            return
        taken = {
            i.get("ip")
            for s in self.store.list("Service", shared=True)[0]
            for i in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        }
        wanted = (service.get("spec") or {}).get("loadBalancerIP") or ""
        if not wanted or wanted in taken:
            wanted = next(str(ip) for ip in LB_POOL.hosts() if str(ip) not in taken)
        service["status"] = {"loadBalancer": {"ingress": [{"ip": wanted, "ipMode": "VIP"}]}}
        self.store.update(service, status_only=True)
