"""The simulated Banzai operators: seed start, canary CP, quirks, gateway hand-over, GC."""

from __future__ import annotations

import pytest

from simcluster.apierrors import StoreError
from simcluster.controllers.kubelet import pod_ready
from simcluster.controllers.operator import OperatorVersion, cr_names
from tests.simcluster.simhelp import Obj, Sim, cr_v17, operator_release, run


def ns_labels(sim: Sim, name: str) -> dict[str, str]:
    ns = sim.store.get("Namespace", None, name)
    assert ns is not None
    return dict(ns["metadata"].get("labels") or {})


def proxy_image(pod: Obj) -> str:
    return next(c["image"] for c in pod["spec"]["containers"] if c["name"] == "istio-proxy")


def relabel(rev: str):  # type: ignore[no-untyped-def]
    def edit(ns: Obj) -> None:
        ns["metadata"]["labels"].pop("istio-injection", None)
        ns["metadata"]["labels"]["istio.io/rev"] = rev

    return edit


def restart(d: Obj) -> None:
    d["spec"]["template"]["metadata"].setdefault("annotations", {})["restarted"] = "1"


V17 = "istio-sample-v17x.istio-system"


@pytest.mark.parametrize(
    ("tag", "create_only", "skips", "strips", "ingress"),
    [
        ("0.6.12", False, False, False, True),
        ("0.6.17", True, True, False, True),
        ("0.7.2", True, False, False, False),
        ("0.7.4", True, True, False, False),
        ("0.7.14", True, True, True, False),
    ],
)
def test_version_quirks(
    tag: str, create_only: bool, skips: bool, strips: bool, ingress: bool
) -> None:
    v = OperatorVersion.parse(tag)
    assert v is not None
    assert (v.honours_create_only, v.skips_rev_labelled, v.strips_legacy_label, v.ingress_default) == (
        create_only, skips, strips, ingress,
    )  # fmt: skip


def test_names_by_revision() -> None:
    assert cr_names(cr_v17())["istiod"] == "istiod-istio-sample-v17x"
    assert cr_names(cr_v17())["injector"] == "istio-sidecar-injector-istio-sample-v17x-istio-system"
    glob = {"metadata": {"name": "istio-sample", "namespace": "istio-system"}, "spec": {}}
    assert cr_names(glob) == {
        "revision": "istio-sample.istio-system",
        "istiod": "istiod",
        "injector": "istio-sidecar-injector",
        "ingress": "istio-ingressgateway",
    }


def test_seed_start_matches_the_guide() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        names = sorted(p["metadata"]["name"] for p in sim.pods("istio-system"))
        assert names[1] == "istio-operator-v16x-0" and names[0].startswith("istio-ingressgateway-")
        assert names[2].startswith("istiod-") and len(names) == 3
        operator = next(
            p for p in sim.pods("istio-system") if p["metadata"]["name"] == "istio-operator-v16x-0"
        )
        assert len(operator["spec"]["containers"]) == 2 and pod_ready(operator)
        cr = sim.store.get("Istio", "istio-system", "istio-sample")
        assert cr is not None and cr["status"]["Status"] == "Available"
        assert (
            cr["status"]["GatewayAddress"]
            and "istio-operator.finializer.banzaicloud.io" in cr["metadata"]["finalizers"]
        )
        mgw = sim.store.get("MeshGateway", "istio-system", "istio-ingressgateway")
        assert mgw is not None and mgw["status"]["Status"] == "Available"
        (owner,) = mgw["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == (
            "Istio",
            "istio-sample",
            True,
        )
        for ns in ("demo-a", "demo-b"):
            assert ns_labels(sim, ns)["istio-injection"] == "enabled"
            (pod,) = sim.pods(ns)
            assert proxy_image(pod) == "docker.io/istio/proxyv2:1.6.14"
            assert pod["metadata"]["labels"]["istio.io/rev"] == "istio-sample.istio-system"
        hook = sim.store.get("MutatingWebhookConfiguration", None, "istio-sidecar-injector")
        assert hook is not None and [w["name"] for w in hook["webhooks"]] == [
            "sidecar-injector.istio.io",
            "secondary.sidecar-injector.istio.io",
        ]

    run(scenario())


def test_canary_cp_is_reconciled_only_by_the_matching_operator() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        states: list[str] = []
        sim.store.subscribe(
            lambda e, o, _: (
                states.append((o.get("status") or {}).get("Status", ""))
                if o.get("kind") == "Istio" and o["metadata"]["name"] == "istio-sample-v17x"
                else None
            )
        )
        sim.apply(cr_v17())
        await sim.settle()
        cr = sim.store.get("Istio", "istio-system", "istio-sample-v17x")
        assert cr is not None and "status" not in cr, "the 0.6.12 operator must not touch a 1.7 CR"
        sim.apply(*operator_release("istio-operator-v17x", "0.7.14"))
        await sim.settle()
        cr = sim.store.get("Istio", "istio-system", "istio-sample-v17x")
        assert (
            cr is not None
            and cr["status"]["Status"] == "Available"
            and "GatewayAddress" not in cr["status"]
        )
        changes = [s for i, s in enumerate(states) if s and (i == 0 or states[i - 1] != s)]
        assert changes[:3] == ["Created", "Reconciling", "Available"]
        istiod = sim.store.get("Deployment", "istio-system", "istiod-istio-sample-v17x")
        assert istiod is not None and istiod["status"]["availableReplicas"] == 1
        assert sim.store.get("Service", "istio-system", "istiod-istio-sample-v17x") is not None
        for cm in ("istio-istio-sample-v17x", "istio-sidecar-injector-istio-sample-v17x"):
            assert sim.store.get("ConfigMap", "istio-system", cm) is not None, cm
        assert (
            sim.store.get(
                "ValidatingWebhookConfiguration", None, "istiod-istio-sample-v17x-istio-system"
            )
            is not None
        )
        assert sim.store.get("ValidatingWebhookConfiguration", None, "istiod") is not None
        hook = sim.store.get(
            "MutatingWebhookConfiguration",
            None,
            "istio-sidecar-injector-istio-sample-v17x-istio-system",
        )
        assert hook is not None
        assert hook["webhooks"][0]["namespaceSelector"]["matchExpressions"] == [
            {"key": "istio-injection", "operator": "DoesNotExist"},
            {"key": "istio.io/rev", "operator": "In", "values": [V17]},
        ]
        assert (
            sim.store.get("MeshGateway", "istio-system", "istio-ingressgateway-istio-sample-v17x")
            is None
        )
        old = sim.store.get("Istio", "istio-system", "istio-sample")
        assert old is not None and old["status"]["Status"] == "Available"

    run(scenario())


def test_0_6_12_re_adds_istio_injection_until_the_namespace_leaves_the_list() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.apply(
            *operator_release("istio-operator-v17x", "0.7.4"), cr_v17()
        )  # 0.7.4: no label strip
        await sim.settle()
        sim.edit("Namespace", None, "demo-a", relabel(V17))
        await sim.settle()
        assert ns_labels(sim, "demo-a")["istio-injection"] == "enabled", "0.6.12 quirk"
        sim.edit("Deployment", "demo-a", "app-a", restart)
        await sim.settle()
        (pod,) = sim.pods("demo-a")
        assert proxy_image(pod).endswith(":1.6.14"), "istio-injection wins over istio.io/rev"
        sim.edit(
            "Istio",
            "istio-system",
            "istio-sample",
            lambda cr: cr["spec"].update(autoInjectionNamespaces=["demo-b"]),
        )
        await sim.settle()
        labels = ns_labels(sim, "demo-a")
        assert "istio-injection" not in labels and "istio-operator-managed-injection" not in labels
        sim.edit(
            "Deployment",
            "demo-a",
            "app-a",
            lambda d: d["spec"]["template"]["metadata"]["annotations"].update(restarted="2"),
        )
        await sim.settle()
        (pod,) = sim.pods("demo-a")
        assert proxy_image(pod) == "docker.io/istio/proxyv2:1.7.8"
        assert pod["metadata"]["labels"]["istio.io/rev"] == V17

    run(scenario())


def test_0_7_14_strips_the_legacy_label_from_its_namespaces() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.apply(*operator_release("istio-operator-v17x", "0.7.14"), cr_v17())
        await sim.settle()
        sim.edit("Namespace", None, "demo-a", relabel(V17))
        await sim.settle()
        labels = ns_labels(sim, "demo-a")
        assert "istio-injection" not in labels and labels["istio.io/rev"] == V17
        sim.edit("Deployment", "demo-a", "app-a", restart)
        await sim.settle()
        (pod,) = sim.pods("demo-a")
        assert proxy_image(pod) == "docker.io/istio/proxyv2:1.7.8"

    run(scenario())


def test_gateway_hand_over_keeps_service_and_old_owner_then_gc_on_cr_delete() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.apply(*operator_release("istio-operator-v17x", "0.7.14"), cr_v17())
        await sim.settle()
        before = sim.store.get("Service", "istio-system", "istio-ingressgateway")
        assert before is not None
        sim.edit(
            "MeshGateway",
            "istio-system",
            "istio-ingressgateway",
            lambda m: m["spec"]["istioControlPlane"].update(name="istio-sample-v17x"),
        )
        await sim.settle()
        (gw_pod,) = sim.pods("istio-system", "gateway-name=istio-ingressgateway")
        assert proxy_image(gw_pod) == "docker.io/istio/proxyv2:1.7.8"
        assert gw_pod["metadata"]["labels"]["istio.io/rev"] == V17
        after = sim.store.get("Service", "istio-system", "istio-ingressgateway")
        assert after is not None and after["metadata"]["uid"] == before["metadata"]["uid"]
        assert after["status"] == before["status"]
        mgw = sim.store.get("MeshGateway", "istio-system", "istio-ingressgateway")
        assert (
            mgw is not None and mgw["spec"]["istioControlPlane"]["name"] == "istio-sample-v17x"
        ), "not reverted"
        assert mgw["metadata"]["ownerReferences"][0]["name"] == "istio-sample", (
            "0.6.12 ignores createOnly"
        )
        # Remove the owner by hand; the 0.6.12 operator must not put it back.
        sim.edit(
            "MeshGateway",
            "istio-system",
            "istio-ingressgateway",
            lambda m: m["metadata"].pop("ownerReferences"),
        )
        sim.edit(
            "Istio",
            "istio-system",
            "istio-sample",
            lambda cr: cr["spec"].update(autoInjectionNamespaces=["demo-b"]),
        )
        await sim.settle()
        mgw = sim.store.get("MeshGateway", "istio-system", "istio-ingressgateway")
        assert mgw is not None and "ownerReferences" not in mgw["metadata"]
        sim.store.delete("Istio", "istio-system", "istio-sample")
        await sim.settle()
        assert sim.store.get("Istio", "istio-system", "istio-sample") is None
        assert sim.store.get("Deployment", "istio-system", "istiod") is None
        kept = sim.store.get("Service", "istio-system", "istio-ingressgateway")
        assert kept is not None and kept["metadata"]["uid"] == before["metadata"]["uid"]

    run(scenario())


def test_deleting_the_old_cr_with_an_owned_gateway_garbage_collects_it() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.apply(*operator_release("istio-operator-v17x", "0.7.14"), cr_v17())
        await sim.settle()
        sim.edit(
            "MeshGateway",
            "istio-system",
            "istio-ingressgateway",
            lambda m: m["spec"]["istioControlPlane"].update(name="istio-sample-v17x"),
        )
        await sim.settle()
        sim.store.delete("Istio", "istio-system", "istio-sample")
        await sim.settle()
        assert sim.store.get("MeshGateway", "istio-system", "istio-ingressgateway") is None
        assert sim.store.get("Service", "istio-system", "istio-ingressgateway") is None
        assert sim.store.get("MutatingWebhookConfiguration", None, "istio-sidecar-injector") is None

    run(scenario())


def test_injector_down_fails_pod_creation_as_failed_create() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.apply(*operator_release("istio-operator-v17x", "0.7.14"))
        await sim.settle()
        sim.faults.set("stuck-rollout", True)  # the new istiod never becomes ready
        sim.apply(cr_v17())
        await sim.settle()
        sim.edit("Namespace", None, "demo-b", relabel(V17))
        sim.edit(
            "Istio",
            "istio-system",
            "istio-sample",
            lambda cr: cr["spec"].update(autoInjectionNamespaces=["demo-a"]),
        )
        await sim.settle()
        sim.edit("Deployment", "demo-b", "app-b", restart)
        await sim.settle()
        d = sim.store.get("Deployment", "demo-b", "app-b")
        assert d is not None
        failure = next(c for c in d["status"]["conditions"] if c["type"] == "ReplicaFailure")
        assert failure["reason"] == "FailedCreate"
        assert 'failed calling webhook "sidecar-injector.istio.io"' in failure["message"]
        assert 'no endpoints available for service "istiod-istio-sample-v17x"' in failure["message"]
        events = [e for e in sim.store.list("Event", "demo-b")[0] if e["reason"] == "FailedCreate"]
        assert (
            events
            and events[0]["type"] == "Warning"
            and events[0]["involvedObject"]["kind"] == "ReplicaSet"
        )
        (old_pod,) = sim.pods("demo-b")
        assert proxy_image(old_pod).endswith(":1.6.14") and pod_ready(old_pod)
        # istiod becomes ready: the Endpoints change makes the ReplicaSet retry, and it succeeds.
        sim.faults.set("stuck-rollout", False)
        await sim.settle()
        (pod,) = sim.pods("demo-b")
        assert proxy_image(pod).endswith(":1.7.8") and pod_ready(pod)
        d = sim.store.get("Deployment", "demo-b", "app-b")
        assert d is not None and "ReplicaFailure" not in {
            c["type"] for c in d["status"]["conditions"]
        }

    run(scenario())


def test_removing_an_operator_release_stops_it_and_marks_crs_unmanaged() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.apply(*operator_release("istio-operator-v17x", "0.7.14"), cr_v17())
        await sim.settle()
        states: list[str] = []
        sim.store.subscribe(
            lambda e, o, _: (
                states.append(o["status"]["Status"])
                if o.get("kind") == "Istio"
                and o["metadata"]["name"] == "istio-sample-v17x"
                and o.get("status")
                else None
            )
        )
        sim.store.delete("StatefulSet", "istio-system", "istio-operator-v16x")
        await sim.settle()
        old = sim.store.get("Istio", "istio-system", "istio-sample")
        assert (
            old is not None
            and old["status"]["Status"] == "Unmanaged"
            and not old["metadata"].get("finalizers")
        )
        assert "Unmanaged" in states and states[-1] == "Available", "1.7 CR flaps back to Available"
        # With no 1.6 operator left, edits to the 1.6 CR are not reconciled any more.
        sim.edit(
            "Istio",
            "istio-system",
            "istio-sample",
            lambda cr: cr["spec"].update(autoInjectionNamespaces=[]),
        )
        await sim.settle()
        assert ns_labels(sim, "demo-a").get("istio-injection") == "enabled"

    run(scenario())


def test_flux_helmrelease_and_argo_application_install_the_operator_chart() -> None:
    async def scenario() -> None:
        sim = Sim()
        sim.ensure_ns("flux-system")
        sim.ensure_ns("argocd")
        sim.apply(
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": "istio-operator-v17x", "namespace": "flux-system"},
                "spec": {
                    "targetNamespace": "istio-system",
                    "releaseName": "istio-operator-v17x",
                    "chart": {"spec": {"chart": "istio-operator", "version": "0.0.69", "sourceRef": {"kind": "HelmRepository", "name": "banzaicloud"}}},
                    "values": {"operator": {"image": {"tag": "0.7.14"}}},
                },
            },
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "op16", "namespace": "argocd"},
                "spec": {
                    "source": {"chart": "istio-operator", "targetRevision": "0.0.60", "helm": {"releaseName": "istio-operator-v16x", "values": "operator:\n  image:\n    tag: '0.6.12'\nistioVersion: '1.6'\n"}},
                    "destination": {"namespace": "istio-system"},
                    "syncPolicy": {"automated": {"prune": True}},
                },
            },
        )  # fmt: skip
        await sim.settle()
        ss = sim.store.get("StatefulSet", "istio-system", "istio-operator-v17x")
        assert ss is not None
        images = [c["image"] for c in ss["spec"]["template"]["spec"]["containers"]]
        assert "ghcr.io/banzaicloud/istio-operator:0.7.14" in images
        hr = sim.store.get("HelmRelease", "flux-system", "istio-operator-v17x")
        assert hr is not None
        ready = next(c for c in hr["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("True", "InstallSucceeded")
        assert hr["status"]["observedGeneration"] == hr["metadata"]["generation"]
        app = sim.store.get("Application", "argocd", "op16")
        assert app is not None and app["status"]["health"]["status"] == "Healthy"
        assert (
            app["status"]["sync"]["revision"]
            == app["status"]["operationState"]["syncResult"]["revision"]
            == "0.0.60"
        )
        v16 = sim.store.get("StatefulSet", "istio-system", "istio-operator-v16x")
        assert v16 is not None and "banzaicloud/istio-operator:0.6.12" in [
            c["image"] for c in v16["spec"]["template"]["spec"]["containers"]
        ]
        # Deleting the release uninstalls its StatefulSet (the operator stops).
        sim.store.delete("HelmRelease", "flux-system", "istio-operator-v17x")
        await sim.settle()
        assert sim.store.get("StatefulSet", "istio-system", "istio-operator-v17x") is None
        assert sim.pods("istio-system", "app.kubernetes.io/instance=istio-operator-v17x") == []

    run(scenario())


def test_a_second_global_cr_is_denied_while_an_operator_serves_the_webhook() -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        second = cr_v17()
        del second["spec"]["global"]
        with pytest.raises(StoreError) as err:
            sim.store.create(second)
        assert err.value.code == 403
        assert "'global' property must be set to false" in str(err.value.args[0])
        sim.store.create(cr_v17())  # global: false is fine

    run(scenario())
