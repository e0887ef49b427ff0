"""What an Istio ingress gateway does with a request: its Gateways and VirtualServices.

A request that reaches a gateway pod is matched as Istio's gateway configuration matches it:

- the `networking.istio.io` Gateways whose `spec.selector` matches the pod's labels (in any
  namespace, Istio's default `PILOT_SCOPE_GATEWAY_TO_NAMESPACE=false`) and one of whose servers
  lists the request's host (`*`, `*.suffix`, an exact name; a `namespace/` prefix is dropped);
- the VirtualServices bound to one of those Gateways (`spec.gateways` entries `name`, relative to
  the VirtualService's namespace, or `namespace/name`) whose `hosts` match the Host header;
- the first `http` route whose `match` is empty or has a `uri` `prefix`/`exact` matching the path;
  its first destination (`host`, optional `port.number`) is the Service the gateway calls.

Headers, rewrites, weights, TLS servers and Gateway server ports are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Route", "find_route", "host_matches"]

Obj = dict[str, Any]


class Objects(Protocol):
    def list(
        self,
        kind: str,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[Obj], str]: ...


@dataclass(frozen=True)
class Route:
    """Where a gateway sends a request: the destination host as written, resolved from
    `namespace` (the VirtualService's), on `port` (None: the Service's only port)."""

    virtual_service: str  # namespace/name
    host: str
    namespace: str
    port: int | None


def host_matches(pattern: str, host: str) -> bool:
    """Istio's host match: `*`, `*.suffix` (one or more labels), or the exact name."""
    pattern = pattern.split("/", 1)[-1].lower()
    host = host.lower()
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def _selects(gateway: Obj, labels: dict[str, str]) -> bool:
    selector = (gateway.get("spec") or {}).get("selector") or {}
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _serves(gateway: Obj, host: str) -> bool:
    servers = (gateway.get("spec") or {}).get("servers") or []
    return any(host_matches(h, host) for s in servers for h in s.get("hosts") or [])


def _path_matches(route: Obj, path: str) -> bool:
    matches = route.get("match") or []
    if not matches:
        return True
    for m in matches:
        uri = m.get("uri") or {}
        if not uri:
            return True
        if "exact" in uri and path == uri["exact"]:
            return True
        if "prefix" in uri and path.startswith(str(uri["prefix"])):
            return True
    return False


def find_route(store: Objects, gateway_pod: Obj, host: str, path: str) -> Route | None:
    """The route the gateway pod takes for `host` and `path`, or None (Envoy's 404)."""
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    labels = (gateway_pod.get("metadata") or {}).get("labels") or {}
    gateways, _ = store.list("Gateway")
    bound = {
        f"{g['metadata'].get('namespace', 'default')}/{g['metadata']['name']}"
        for g in gateways
        if _selects(g, labels) and _serves(g, host)
    }
    if not bound:
        return None
    services, _ = store.list("VirtualService")
    for vs in sorted(services, key=lambda v: str(v["metadata"].get("creationTimestamp", ""))):
        meta, spec = vs["metadata"], vs.get("spec") or {}
        ns = str(meta.get("namespace", "default"))
        refs = {g if "/" in g else f"{ns}/{g}" for g in spec.get("gateways") or []}
        if not refs & bound or not any(host_matches(h, host) for h in spec.get("hosts") or []):
            continue
        for http in spec.get("http") or []:
            if not _path_matches(http, path):
                continue
            for dest in http.get("route") or []:
                d = dest.get("destination") or {}
                if d.get("host"):
                    number = (d.get("port") or {}).get("number")
                    port = int(number) if number else None
                    return Route(f"{ns}/{meta['name']}", str(d["host"]), ns, port)
    return None
