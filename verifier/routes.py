"""Which VirtualServices route through a planned ingress gateway, read as Istio reads them. Pure.

A planned gateway (a MeshGateway) runs pods; an Istio `Gateway` whose `spec.selector` matches
those pods' labels (in any namespace: Istio's default) configures them; a VirtualService bound to
that Gateway (`spec.gateways` entry `name`, relative to its own namespace, or `namespace/name`)
routes its `hosts` through them to the first destination of each `http` route. The gateway
route probe (`verifier.checks.gatewayroutes`) calls the gateway with each such host.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Route", "bound_routes", "destinations", "service_of"]

Obj = Mapping[str, Any]

# A wildcard host is probed with a name it matches: `*.example.com` -> `probe.example.com`.
WILDCARD_LABEL = "istio-canary-probe"


@dataclass(frozen=True)
class Route:
    """One host a VirtualService routes through a planned gateway, and where it goes."""

    gateway: str  # the planned gateway, namespace/name (the MeshGateway and its Service)
    istio_gateway: str  # the networking.istio.io Gateway that binds it, namespace/name
    virtual_service: str  # namespace/name
    host: str  # the Host header to send
    path: str  # a path the route matches
    service_namespace: str
    service: str
    port: int | None  # the destination port; None: the Service's only one

    @property
    def label(self) -> str:
        """`istio-system/istio-ingressgateway (Host app-b.example, VirtualService demo-b/app-b)
        -> app-b.demo-b`."""
        return (
            f"gateway {self.gateway} (Host {self.host}, VirtualService {self.virtual_service}) "
            f"-> {self.service}.{self.service_namespace}"
        )


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"


def service_of(host: str, namespace: str) -> tuple[str, str] | None:
    """(namespace, name) of the cluster Service a destination host names, resolved like Istio
    from the VirtualService's namespace; None for a host outside the cluster's Services."""
    parts = host.lower().split(".")
    if len(parts) == 1:
        return (namespace, parts[0])
    if parts[2:] in ([], ["svc"], ["svc", "cluster", "local"]):
        return (parts[1], parts[0])
    return None


def _probe_host(pattern: str) -> str:
    host = pattern.split("/", 1)[-1]
    if host == "*":
        return f"{WILDCARD_LABEL}.invalid"
    return WILDCARD_LABEL + host[1:] if host.startswith("*.") else host


def _first_route(vs: Obj) -> tuple[str, str, str, int | None] | None:
    """(path, destination host, namespace, port) of the first http route with a destination."""
    ns = str((vs.get("metadata") or {}).get("namespace", "default"))
    for http in (vs.get("spec") or {}).get("http") or ():
        path = "/"
        for m in http.get("match") or ():
            uri = m.get("uri") or {}
            path = str(uri.get("exact") or uri.get("prefix") or "/")
            break
        for dest in http.get("route") or ():
            d = dest.get("destination") or {}
            if d.get("host"):
                number = (d.get("port") or {}).get("number")
                return (path, str(d["host"]), ns, int(number) if number else None)
    return None


def destinations(virtualservices: Iterable[Obj]) -> set[tuple[str, str]]:
    """Every cluster Service a VirtualService bound to some gateway routes to (a superset of
    what the planned gateways route to: the snapshot reads their Endpoints)."""
    out: set[tuple[str, str]] = set()
    for vs in virtualservices:
        if not [g for g in (vs.get("spec") or {}).get("gateways") or () if g != "mesh"]:
            continue
        first = _first_route(vs)
        if first and (svc := service_of(first[1], first[2])):
            out.add(svc)
    return out


def _matches(pattern: str, host: str) -> bool:
    """Istio's host match: `*`, `*.suffix`, or the exact name (a `namespace/` prefix dropped)."""
    pattern = pattern.split("/", 1)[-1].lower()
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.lower().endswith(pattern[1:])
    return pattern == host.lower()


def _serves(gateway: Obj, host: str) -> bool:
    servers = (gateway.get("spec") or {}).get("servers") or ()
    return any(_matches(str(h), host) for s in servers for h in s.get("hosts") or ())


def bound_routes(
    planned: Mapping[str, Sequence[Mapping[str, str]]],
    istio_gateways: Sequence[Obj],
    virtualservices: Sequence[Obj],
) -> list[Route]:
    """The routes through each planned gateway, given its pods' label sets by `namespace/name`.

    A VirtualService host that no server of its bound Gateway lists is not routed (Istio skips
    it), so it is not probed."""
    routes: list[Route] = []
    for gateway, pod_labels in sorted(planned.items()):
        binding = sorted(
            ((_key(g), g) for g in istio_gateways if _selects(g, pod_labels)),
            key=lambda kg: kg[0],
        )
        for vs in sorted(virtualservices, key=_key):
            ns = str((vs.get("metadata") or {}).get("namespace", "default"))
            spec = vs.get("spec") or {}
            refs = {g if "/" in g else f"{ns}/{g}" for g in spec.get("gateways") or ()}
            first = _first_route(vs)
            svc = service_of(first[1], first[2]) if first else None
            if first is None or svc is None:
                continue
            for pattern in spec.get("hosts") or ():
                host = _probe_host(str(pattern))
                via = next((k for k, g in binding if k in refs and _serves(g, host)), None)
                if via is not None:
                    r = Route(gateway, via, _key(vs), host, first[0], svc[0], svc[1], first[3])
                    routes.append(r)
    return routes


def _selects(gateway: Obj, pod_labels: Sequence[Mapping[str, str]]) -> bool:
    selector = (gateway.get("spec") or {}).get("selector") or {}
    return bool(selector) and any(
        all(labels.get(k) == v for k, v in selector.items()) for labels in pod_labels
    )
