"""Gateway routes: traffic through each planned ingress gateway reaches its apps over mTLS.

From the gateways stage on, a gateway on the new control plane fronts apps that may still be on
the old one; if the two do not trust each other (a new root CA), every request through the
gateway fails, though each side looks healthy and sidecar-to-sidecar probes pass. So from that
stage on the gate calls the gateway the way a client does: for each host a VirtualService routes
through a planned gateway (`verifier.routes`), it execs `curl -H 'Host: <host>'
http://<gateway>.<ns>.svc.cluster.local:<port><path>` in a ready pod of a connectivity check's
source and requires what a connectivity probe requires (exit 0, HTTP 200, every endpoint of the
destination answering), with the mTLS evidence naming the gateway: the destination's sidecar
adds an `x-forwarded-client-cert` whose `URI=` is the gateway's SPIFFE identity, since the hop
to the app is the gateway proxy's. A failed answer names the route and Envoy's reason (a TLS
error on the gateway's hop).

When no VirtualService is bound to a planned gateway the complete lists say so, as a fact: the
check passes with "not probed" and the gate adds a note to the report. That is not a probe that
passed: nothing routes through the gateway to the mesh that this gate can see (Ingress or
Gateway API routes are not read). An unreadable list is never taken for an empty one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.plan import ConnectivityCheck
from verifier import pods as P
from verifier import routes as R
from verifier.checks.base import Phase
from verifier.checks.connectivity import Probe, ProbeResult, endpoint_pods
from verifier.expectation import Expectation
from verifier.result import CheckResult, Status
from verifier.snapshot import Snapshot

NAME = "gateway-routes"

__all__ = ["NAME", "GatewayRoutes", "plan_route_probes", "routes_of"]


def routes_of(snap: Snapshot, expect: Expectation) -> list[R.Route]:
    """The routes through the planned gateways (their pods found by `gateway-name`)."""
    planned = {
        f"{g.namespace}/{g.name}": [
            P.labels(p)
            for p in snap.pods_in(g.namespace)
            if P.labels(p).get("gateway-name") == g.name and not P.is_finished(p)
        ]
        for g, _ in expect.gateways
    }
    return R.bound_routes(planned, snap.istio_gateways or (), snap.virtualservices or ())


def _gateway_port(svc: Any) -> int:
    ports = list(((svc or {}).get("spec") or {}).get("ports") or ())
    named = [p for p in ports if str(p.get("name", "")).startswith("http")]
    for p in named or [p for p in ports if p.get("port") == 80] or ports[:1]:
        return int(p.get("port", 80))
    return 80


def _gateway_identity(snap: Snapshot, namespace: str, name: str) -> tuple[str, str] | None:
    pods = [
        p
        for p in snap.pods_in(namespace)
        if P.labels(p).get("gateway-name") == name and P.is_ready(p)
    ]
    if not pods:
        return None
    spec = pods[0].get("spec") or {}
    return (namespace, str(spec.get("serviceAccountName") or "default"))


def _source(snap: Snapshot, expect: Expectation) -> tuple[Any, str, str] | None:
    """A ready pod of one of the stage's connectivity sources, its app container and the
    source's selector."""
    for c in expect.probes:
        ready = sorted(
            (
                p
                for p in snap.pods_in(c.source_namespace)
                if P.match_selector(c.source_selector, P.labels(p)) and P.is_ready(p)
            ),
            key=lambda p: str(P.meta(p).get("name")),
        )
        if ready:
            apps = [
                x.get("name", "")
                for x in (ready[0].get("spec") or {}).get("containers") or ()
                if x.get("name") != P.PROXY
            ]
            container = c.source_container or (apps[0] if apps else "")
            return ready[0], container, c.source_selector
    return None


def plan_route_probes(snap: Snapshot, expect: Expectation, max_time: float = 5.0) -> list[Probe]:
    """One probe per route through a planned gateway."""
    probes: list[Probe] = []
    source = _source(snap, expect)
    t = f"{max_time:g}"
    for route in routes_of(snap, expect):
        gw_ns, gw_name = route.gateway.split("/", 1)
        port = _gateway_port(snap.services.get((gw_ns, gw_name)))
        url = f"http://{gw_name}.{gw_ns}.svc.cluster.local:{port}{route.path}"
        src_ns = P.meta(source[0]).get("namespace", "") if source else ""
        check = ConnectivityCheck(
            str(src_ns),
            source[2] if source else "",
            source[1] if source else "",
            route.service_namespace,
            route.service,
            route.port or 80,
        )
        endpoints, plain = endpoint_pods(snap, check)
        identity = _gateway_identity(snap, gw_ns, gw_name)
        problem = ""
        if source is None:
            problem = "no Ready pod of the stage's connectivity sources to call the gateway from"
        elif identity is None:
            problem = f"no Ready pod of gateway {route.gateway}"
        elif plain:
            problem = "endpoint pod(s) without a sidecar, which answer without mTLS: " + ", ".join(
                f"{route.service_namespace}/{n}" for n in plain
            )
        if problem:
            probes.append(
                Probe(check, problem=problem, route=route.label, endpoints=tuple(endpoints))
            )
            continue
        assert source is not None
        spec = source[0].get("spec") or {}
        argv: tuple[str, ...] = (
            "curl",
            "-sS",
            "-H",
            f"Host: {route.host}",
            "-w",
            "\\n%{http_code}",
        )
        argv += ("--connect-timeout", t, "--max-time", t, url)
        probes.append(
            Probe(
                check,
                namespace=str(src_ns),
                pod=str(P.meta(source[0]).get("name", "")),
                container=source[1],
                service_account=str(spec.get("serviceAccountName") or "default"),
                argv=argv,
                endpoints=tuple(endpoints),
                identity=identity,
                route=route.label,
            )
        )
    return probes


class GatewayRoutes:
    """Judged on the probes through the gateways, from the gateways stage on; the gate runs them
    once the data plane is as expected (`snap.route_probes` is None until then)."""

    name = NAME
    phase = Phase.PROBES

    def applies(self, expect: Expectation) -> bool:
        return expect.gateway_routes

    def evaluate(self, snap: Snapshot, expect: Expectation) -> CheckResult:
        if snap.route_error:
            return CheckResult.pending(
                NAME, f"could not read the gateway routes: {snap.route_error}", unverifiable=True
            )
        if snap.route_probes is None:
            return CheckResult.pending(NAME, "waiting for the data plane before probing")
        return check(snap.route_probes, expect)


def no_routes_note(expect: Expectation) -> str:
    names = ", ".join(f"{g.namespace}/{g.name}" for g, _ in expect.gateways)
    return (
        f"gateway routes not probed: no VirtualService is bound to the planned gateway(s) {names}, "
        "so no request through them was tried (add a Gateway and a VirtualService for an app to "
        "have the gate probe through the gateway)"
    )


def check(results: Sequence[ProbeResult], expect: Expectation) -> CheckResult:
    if not results:
        return CheckResult.passed(NAME, "not probed: " + no_routes_note(expect).split(": ", 1)[1])
    evidence = [r.evidence() for r in results]
    bad = [r for r in results if r.status is not Status.PASSED]
    if bad:
        msg = "; ".join(f"{r.probe.route}: {r.message}" for r in bad)
        return CheckResult.pending(
            NAME, msg, evidence, unverifiable=any(r.unverifiable for r in bad)
        )
    return CheckResult.passed(
        NAME,
        f"{len(results)} route(s) through the gateways answered 200 over mTLS from the gateway",
        evidence,
    )
