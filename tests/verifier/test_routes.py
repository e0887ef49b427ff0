"""Which VirtualServices route through a planned gateway, read as Istio reads them (pure)."""

from __future__ import annotations

from typing import Any

from verifier.routes import Route, bound_routes, destinations, service_of

GW_PODS = {"istio-system/istio-ingressgateway": [{"istio": "ingressgateway", "app": "x"}]}


def gateway(
    name: str, ns: str, selector: dict[str, str], hosts: tuple[str, ...] = ("*",)
) -> dict[str, Any]:
    servers = [{"port": {"number": 80, "protocol": "HTTP"}, "hosts": list(hosts)}]
    return {
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": selector, "servers": servers},
    }


def vs(name: str, ns: str, gateways: list[str], hosts: list[str], dest: str) -> dict[str, Any]:
    http = [
        {"match": [{"uri": {"prefix": "/api"}}], "route": [{"destination": {"host": dest}}]},
    ]
    spec = {"gateways": gateways, "hosts": hosts, "http": http}
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def test_service_of_resolves_like_istio_from_the_virtualservice_namespace() -> None:
    assert service_of("app-b", "demo-b") == ("demo-b", "app-b")
    assert service_of("app-b.demo-c", "demo-b") == ("demo-c", "app-b")
    assert service_of("app-b.demo-c.svc.cluster.local", "x") == ("demo-c", "app-b")
    assert service_of("api.example.com", "x") is None  # not a cluster Service


def test_bound_routes_follow_selector_and_gateway_references() -> None:
    gws = [
        gateway("public", "istio-system", {"istio": "ingressgateway"}),
        gateway("other", "istio-system", {"istio": "eastwest"}),  # selects other pods
        gateway("narrow", "demo-c", {"istio": "ingressgateway"}, ("only.example",)),
    ]
    services = [
        vs("b", "demo-b", ["istio-system/public"], ["b.example", "*.wild.example"], "app-b"),
        vs("rel", "istio-system", ["public"], ["rel.example"], "app-a.demo-a"),  # relative name
        vs("wrong-ns", "demo-a", ["public"], ["a.example"], "app-a"),  # demo-a/public: none
        vs("east", "demo-a", ["istio-system/other"], ["e.example"], "app-a"),
        vs("mesh", "demo-a", ["mesh"], ["m.example"], "app-a"),
        # bound, but its Gateway serves only only.example: c.example is not routed
        vs("c", "demo-c", ["narrow"], ["c.example", "only.example"], "app-c"),
    ]
    got = bound_routes(GW_PODS, gws, services)
    gw, via = "istio-system/istio-ingressgateway", "istio-system/public"
    assert got == [
        Route(gw, via, "demo-b/b", "b.example", "/api", "demo-b", "app-b", None),
        Route(
            gw, via, "demo-b/b", "istio-canary-probe.wild.example", "/api", "demo-b", "app-b", None
        ),
        Route(gw, "demo-c/narrow", "demo-c/c", "only.example", "/api", "demo-c", "app-c", None),
        Route(gw, via, "istio-system/rel", "rel.example", "/api", "demo-a", "app-a", None),
    ]
    assert got[0].label == (
        "gateway istio-system/istio-ingressgateway (Host b.example, VirtualService demo-b/b) "
        "-> app-b.demo-b"
    )
    assert bound_routes({gw: []}, gws, services) == []  # no gateway pods: nothing selected
    assert destinations(services) == {("demo-b", "app-b"), ("demo-a", "app-a"), ("demo-c", "app-c")}
