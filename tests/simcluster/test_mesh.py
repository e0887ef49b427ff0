"""The simulated mesh behind exec'd curl: DNS, endpoints, sidecars, mTLS identity, failures."""

from __future__ import annotations

from tests.simcluster.simhelp import Sim, cr_v17, operator_release, run
from tests.simcluster.test_controllers_operator import V17, relabel, restart

CODE = ("-sS", "-o", "/dev/null", "-w", "%{http_code}")


def headers(body: bytes) -> dict[str, str]:
    lines = body.decode().split("\n")
    start = lines.index("Request Headers:") + 1
    out = {}
    for line in lines[start:]:
        if not line.startswith("\t"):
            break
        name, _, value = line[1:].partition("=")
        out[name] = value
    return out


async def migrated(sim: Sim, *namespaces: str) -> None:
    """The seed after the canary CP exists and ``namespaces`` moved to it."""
    await sim.seed()
    sim.apply(*operator_release("istio-operator-v17x", "0.7.14"), cr_v17())
    await sim.settle()
    for ns in namespaces:
        sim.edit("Namespace", None, ns, relabel(V17))
    sim.edit(
        "Istio",
        "istio-system",
        "istio-sample",
        lambda cr: cr["spec"].update(
            autoInjectionNamespaces=[n for n in ("demo-a", "demo-b") if n not in namespaces]
        ),
    )
    await sim.settle()
    for ns in namespaces:
        sim.edit("Deployment", ns, f"app-{ns[-1]}", restart)
    await sim.settle()


def test_same_cp_mtls_names_the_caller_identity() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        result = sim.curl("demo-a", "k8s-app=app-a", "-sS", "app-b.demo-b.svc.cluster.local")
        assert result.exit_code == 0 and result.stderr == b""
        seen = headers(result.stdout)
        assert seen["x-forwarded-client-cert"].startswith(
            "By=spiffe://cluster.local/ns/demo-b/sa/default;Hash="
        )
        assert seen["x-forwarded-client-cert"].endswith(
            ";Subject=&quot;&quot;;URI=spiffe://cluster.local/ns/demo-a/sa/default"
        )
        assert (
            seen["host"] == "app-b.demo-b.svc.cluster.local" and seen["x-forwarded-proto"] == "http"
        )
        assert b"Hostname: app-b-" in result.stdout and b"client_address=127.0.0.1" in result.stdout
        for url in (
            "app-a",
            "app-a.demo-a",
            "app-a.demo-a.svc",
            "http://app-a.demo-a.svc.cluster.local:80/x",
        ):
            assert sim.curl("demo-a", "k8s-app=app-a", *CODE, url).stdout == b"200", url

    run(scenario())


def test_cross_revision_works_with_shared_root_and_fails_with_split_trust() -> None:
    async def scenario() -> None:
        sim = Sim()
        await migrated(sim, "demo-a")
        for ns, sel, url in (
            ("demo-a", "k8s-app=app-a", "app-b.demo-b"),
            ("demo-b", "k8s-app=app-b", "app-a.demo-a"),
        ):
            result = sim.curl(ns, sel, "-sS", url)
            assert result.exit_code == 0 and "x-forwarded-client-cert" in headers(result.stdout)
        sim.faults.set("split-trust", True)
        await sim.settle()
        result = sim.curl("demo-a", "k8s-app=app-a", "-sS", "-w", "\n%{http_code}", "app-b.demo-b")
        assert result.exit_code == 0
        assert result.stdout.endswith(
            b"TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED\n503"
        )
        assert result.stdout.startswith(
            b"upstream connect error or disconnect/reset before headers. reset reason: connection failure"
        )
        # Same revision on both sides still shares its own root.
        sim.faults.set("split-trust", False)
        await sim.settle()
        assert sim.curl("demo-a", "k8s-app=app-a", *CODE, "app-b.demo-b").stdout == b"200"

    run(scenario())


def test_control_plane_gone_breaks_both_directions() -> None:
    async def scenario() -> None:
        sim = Sim()
        await migrated(sim, "demo-a")
        sim.store.delete("Istio", "istio-system", "istio-sample")
        await sim.settle()
        to_old = sim.curl("demo-a", "k8s-app=app-a", *CODE, "app-b.demo-b")
        assert (to_old.stdout, to_old.exit_code) == (b"503", 0)
        from_old = sim.curl("demo-b", "k8s-app=app-b", *CODE, "app-a.demo-a")
        assert (from_old.stdout, from_old.exit_code) == (b"000", 56)
        assert from_old.stderr == b"curl: (56) Recv failure: Connection reset by peer\n"

    run(scenario())


def test_no_ready_endpoint_503_through_sidecar_and_refused_without() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.edit("Deployment", "demo-b", "app-b", lambda d: d["spec"].update(replicas=0))
        await sim.settle()
        result = sim.curl("demo-a", "k8s-app=app-a", "-sS", "-w", " %{http_code}", "app-b.demo-b")
        assert (result.stdout, result.exit_code) == (b"no healthy upstream 503", 0)
        bypass = sim.curl("demo-a", "k8s-app=app-a", *CODE, "app-b.demo-b", container="istio-proxy")
        assert (bypass.stdout, bypass.exit_code) == (b"000", 7)
        assert b"Connection refused" in bypass.stderr

    run(scenario())


def test_sidecar_less_traffic_has_no_client_cert() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        result = sim.curl("demo-a", "k8s-app=app-a", "-s", "app-b.demo-b", container="istio-proxy")
        assert result.exit_code == 0 and "x-forwarded-client-cert" not in headers(result.stdout)

    run(scenario())


def test_curl_transport_errors_and_other_binaries() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        unknown = sim.curl("demo-a", "k8s-app=app-a", *CODE, "app-c.demo-b")
        assert (unknown.stdout, unknown.exit_code) == (b"000", 6)
        assert unknown.stderr == b"curl: (6) Could not resolve host: app-c.demo-b\n"
        wrong_ns = sim.curl("demo-a", "k8s-app=app-a", *CODE, "app-b")  # short name: own namespace
        assert wrong_ns.exit_code == 6
        port = sim.curl("demo-a", "k8s-app=app-a", "-sS", "--max-time", "2", "app-b.demo-b:81")
        assert (
            port.exit_code == 28 and b"Operation timed out after 2000 milliseconds" in port.stderr
        )
        port = sim.curl(
            "demo-a", "k8s-app=app-a", "-sS", "--connect-timeout", "1", "app-b.demo-b:81"
        )
        assert (
            port.exit_code == 28 and b"Connection timed out after 1000 milliseconds" in port.stderr
        )
        pod = sim.pods("demo-a")[0]
        missing = sim.mesh.exec_handler(pod, "echo-service", ["wget", "-q", "app-b"])
        assert missing.exit_code == 126 and missing.error is not None
        assert 'exec: "wget": executable file not found in $PATH' in missing.error
        probe = sim.mesh.exec_handler(pod, "echo-service", ["sh", "-c", "command -v curl"])
        assert (probe.stdout, probe.exit_code) == (b"/usr/bin/curl\n", 0)
        absent = sim.mesh.exec_handler(pod, "echo-service", ["sh", "-c", "command -v wget"])
        assert absent.exit_code == 1
        via_sh = sim.mesh.exec_handler(
            pod, "echo-service", ["sh", "-c", "curl -s -o /dev/null -w '%{http_code}' app-b.demo-b"]
        )
        assert via_sh.stdout == b"200"

    run(scenario())


def test_service_ips_and_the_gateway_load_balancer_address() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        svc = sim.store.get("Service", "demo-b", "app-b")
        assert svc is not None
        by_ip = sim.curl("demo-a", "k8s-app=app-a", *CODE, svc["spec"]["clusterIP"])
        assert (by_ip.stdout, by_ip.exit_code) == (b"200", 0)
        gateway = sim.store.get("Service", "istio-system", "istio-ingressgateway")
        assert gateway is not None
        lb_ip = gateway["status"]["loadBalancer"]["ingress"][0]["ip"]
        no_route = sim.curl("demo-a", "k8s-app=app-a", *CODE, f"http://{lb_ip}/")
        assert (no_route.stdout, no_route.exit_code) == (b"404", 0)  # Envoy: no route for the host
        nowhere = sim.curl("demo-a", "k8s-app=app-a", "-sS", "--max-time", "1", "10.99.99.99")
        assert nowhere.exit_code == 28
        (pod_b,) = sim.pods("demo-b")
        direct = sim.curl(
            "demo-a", "k8s-app=app-a", "-sS", f"http://{pod_b['status']['podIP']}:8080/"
        )
        assert direct.exit_code == 0 and b"Hostname: app-b-" in direct.stdout
        assert "x-forwarded-client-cert" not in headers(direct.stdout)  # passthrough, no mTLS
        closed = sim.curl("demo-a", "k8s-app=app-a", *CODE, f"{pod_b['status']['podIP']}:9999")
        assert (closed.stdout, closed.exit_code) == (b"000", 7)

    run(scenario())


def test_requests_to_a_service_take_its_endpoints_in_turn() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.edit("Deployment", "demo-b", "app-b", lambda d: d["spec"].update(replicas=2))

        def ready() -> int:
            endpoints = sim.store.get("Endpoints", "demo-b", "app-b") or {}
            return sum(len(s.get("addresses") or []) for s in endpoints.get("subsets") or [])

        await sim.until(lambda: ready() == 2, what="two ready endpoints behind app-b")
        pods = {p["metadata"]["name"] for p in sim.pods("demo-b", "k8s-app=app-b")}
        assert len(pods) == 2
        answered = []
        for _ in range(4):
            body = sim.curl("demo-a", "k8s-app=app-a", "-sS", "app-b.demo-b").stdout.decode()
            answered.append(body.split("Hostname: ", 1)[1].split("\n", 1)[0])
        assert set(answered) == pods, answered
        assert answered[:2] == answered[2:], "each endpoint answers once per round"

    run(scenario())
