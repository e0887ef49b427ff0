"""Requests through the ingress gateway: routed by its Gateways and VirtualServices, then a
second hop from the gateway's proxy, which needs a shared root with the destination."""

from __future__ import annotations

from simcluster.meshroutes import host_matches
from tests.simcluster.simhelp import Obj, Sim, cr_v17, operator_release, run
from tests.simcluster.test_mesh import CODE, headers

GATEWAY_URL = "http://istio-ingressgateway.istio-system/"
GATEWAY_SPIFFE = "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"


def routes() -> list[Obj]:
    gateway = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "demo", "namespace": "istio-system"},
        "spec": {
            "selector": {"istio": "ingressgateway"},
            "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
            ],
        },
    }
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "app-b", "namespace": "demo-b"},
        "spec": {
            "hosts": ["app-b.demo.example"],
            "gateways": ["istio-system/demo"],
            "http": [
                {"match": [{"uri": {"prefix": "/api"}}], "route": [{"destination": {"host": "nowhere"}}]},
                {"route": [{"destination": {"host": "app-b", "port": {"number": 80}}}]},
            ],
        },
    }  # fmt: skip
    return [gateway, vs]


def via_gateway(sim: Sim, host: str, *args: str, path: str = "/") -> tuple[bytes, int]:
    result = sim.curl(
        "demo-a", "k8s-app=app-a", *args, "-H", f"Host: {host}", GATEWAY_URL + path.lstrip("/")
    )
    return result.stdout, result.exit_code


def test_host_patterns_match_as_istio_matches_them() -> None:
    assert host_matches("*", "a.b")
    assert host_matches("*.demo.example", "app.demo.example")
    assert not host_matches("*.demo.example", "demo.example")
    assert host_matches("demo-b/app-b.demo.example", "APP-B.demo.example")
    assert not host_matches("app-b.demo.example", "app-a.demo.example")


def test_the_gateway_routes_by_host_and_calls_the_destination_over_mtls() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        assert via_gateway(sim, "app-b.demo.example", *CODE) == (b"404", 0)  # no routes yet
        sim.apply(*routes())
        await sim.settle()
        body, code = via_gateway(sim, "app-b.demo.example", "-sS")
        assert code == 0 and b"Hostname: app-b-" in body, body
        seen = headers(body)
        assert seen["host"] == "app-b.demo.example"
        assert seen["x-forwarded-client-cert"].startswith(
            "By=spiffe://cluster.local/ns/demo-b/sa/default;"
        )
        assert seen["x-forwarded-client-cert"].endswith(f";URI={GATEWAY_SPIFFE}")
        assert via_gateway(sim, "app-a.demo.example", *CODE) == (b"404", 0)  # another host
        # the first matching http route wins: /api goes to a Service that does not exist
        assert via_gateway(sim, "app-b.demo.example", *CODE, path="/api/x") == (b"503", 0)

    run(scenario())


def test_a_gateway_on_another_root_fails_tls_on_its_hop_to_the_app() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.apply(*routes())
        sim.faults.set("split-trust", True)  # the canary control plane gets its own root
        sim.apply(*operator_release("istio-operator-v17x", "0.7.14"), cr_v17())
        await sim.settle()
        assert via_gateway(sim, "app-b.demo.example", *CODE) == (b"200", 0)  # both on the old root
        sim.edit(
            "MeshGateway",
            "istio-system",
            "istio-ingressgateway",
            lambda mgw: mgw["spec"].update(
                istioControlPlane={"name": "istio-sample-v17x", "namespace": "istio-system"}
            ),
        )
        await sim.until(
            lambda: all(
                p["metadata"]["labels"].get("istio.io/rev") == "istio-sample-v17x.istio-system"
                for p in sim.pods("istio-system", "gateway-name=istio-ingressgateway")
            ),
            what="the gateway pods on the canary",
        )
        await sim.settle()
        body, code = via_gateway(sim, "app-b.demo.example", "-sS", "-w", "\n%{http_code}")
        assert code == 0
        assert body.startswith(b"upstream connect error or disconnect/reset before headers.")
        assert body.endswith(b"CERTIFICATE_VERIFY_FAILED\n503")
        # sidecar to sidecar on the old root is untouched: only the gateway's hop fails
        assert sim.curl("demo-a", "k8s-app=app-a", *CODE, "app-b.demo-b").stdout == b"200"

    run(scenario())
