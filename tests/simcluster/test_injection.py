"""Sidecar injection at pod creation, with the webhooks' real label precedence."""

from __future__ import annotations

import json

import pytest

from simcluster.apierrors import StoreError
from simcluster.controllers.injection import InjectionConfig, inject, matches_selector
from tests.simcluster.simhelp import Obj, Sim, cr_v17, operator_release, run

V16 = "istio-sample.istio-system"
V17 = "istio-sample-v17x.istio-system"


def bare_pod(ns: str, name: str = "p", annotations: dict[str, str] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "labels": {"app": "x"}}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "app", "image": "k8s.gcr.io/echoserver:1.10", "ports": [{"containerPort": 8080}]}]},
    }  # fmt: skip


def proxy(pod: Obj) -> Obj | None:
    return next((c for c in pod["spec"]["containers"] if c["name"] == "istio-proxy"), None)


def test_inject_adds_containers_labels_and_status_annotation() -> None:
    pod = bare_pod("demo-a")
    pod["metadata"]["generateName"] = "app-a-5d8f7c9b4-"
    pod["metadata"]["labels"]["pod-template-hash"] = "5d8f7c9b4"
    cfg = InjectionConfig.from_cr(cr_v17())
    inject(pod, cfg)
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-init"]
    assert pod["spec"]["initContainers"][0]["image"] == "docker.io/istio/proxyv2:1.7.8"
    sidecar = proxy(pod)
    assert sidecar is not None and sidecar["image"] == "docker.io/istio/proxyv2:1.7.8"
    env = {e["name"]: e.get("value") for e in sidecar["env"]}
    assert env["ISTIO_META_REVISION"] == V17
    assert env["CA_ADDR"] == "istiod-istio-sample-v17x.istio-system.svc:15012"
    assert json.loads(env["PROXY_CONFIG"]) == {
        "discoveryAddress": "istiod-istio-sample-v17x.istio-system.svc:15012"
    }
    assert env["ISTIO_META_WORKLOAD_NAME"] == "app-a"
    labels = pod["metadata"]["labels"]
    assert labels["istio.io/rev"] == V17 and labels["security.istio.io/tlsMode"] == "istio"
    status = json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])
    assert status["initContainers"] == ["istio-init"] and status["containers"] == ["istio-proxy"]
    assert "istio-envoy" in status["volumes"] and "version" in status


def test_proxy_image_annotation_and_existing_rev_label_win() -> None:
    pod = bare_pod("demo-a", annotations={"sidecar.istio.io/proxyImage": "my/proxyv2:dev"})
    pod["metadata"]["labels"]["istio.io/rev"] = "custom"
    inject(pod, InjectionConfig.from_cr(cr_v17()))
    sidecar = proxy(pod)
    assert sidecar is not None and sidecar["image"] == "my/proxyv2:dev"
    assert pod["metadata"]["labels"]["istio.io/rev"] == "custom"


def test_label_selector_operators() -> None:
    sel = {
        "matchLabels": {"a": "1"},
        "matchExpressions": [
            {"key": "b", "operator": "DoesNotExist"},
            {"key": "c", "operator": "In", "values": ["x", "y"]},
        ],
    }
    assert matches_selector(sel, {"a": "1", "c": "y"})
    assert not matches_selector(sel, {"a": "1", "b": "", "c": "y"})
    assert not matches_selector(sel, {"a": "1", "c": "z"})
    assert matches_selector({}, {}) and matches_selector(None, {"x": "1"})
    assert not matches_selector(
        {"matchExpressions": [{"key": "k", "operator": "NotIn", "values": ["v"]}]}, {"k": "v"}
    )


@pytest.mark.parametrize(
    ("labels", "annotations", "expected"),
    [
        ({"istio-injection": "enabled"}, None, "1.6.14"),
        ({"istio-injection": "enabled", "istio.io/rev": V17}, None, "1.6.14"),  # legacy label wins
        ({"istio.io/rev": V17}, None, "1.7.8"),
        ({"istio.io/rev": V16}, None, "1.6.14"),  # the global CP's secondary webhook
        ({"istio-injection": "disabled", "istio.io/rev": V17}, None, None),
        ({"istio.io/rev": "nope.istio-system"}, None, None),
        ({}, None, None),
        ({"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "false"}, None),
    ],
)
def test_precedence(
    labels: dict[str, str], annotations: dict[str, str] | None, expected: str | None
) -> None:
    async def scenario() -> None:
        sim = Sim()
        await sim.seed()
        sim.apply(*operator_release("istio-operator-v17x", "0.7.14"), cr_v17())
        await sim.settle()
        sim.ensure_ns("probe", labels)
        created = sim.store.create(bare_pod("probe", annotations=annotations))
        sidecar = proxy(created)
        if expected is None:
            assert sidecar is None and "sidecar.istio.io/status" not in (
                created["metadata"].get("annotations") or {}
            )
        else:
            assert sidecar is not None and sidecar["image"].endswith(f":{expected}")

    run(scenario())


def test_direct_pod_create_is_denied_while_istiod_is_down() -> None:
    async def scenario() -> None:
        sim = Sim(faults=("stuck-rollout",))
        sim.apply(*operator_release("istio-operator-v16x", "0.6.12", "1.6"))
        await sim.settle()
        sim.faults.set("stuck-rollout", False)
        await sim.settle()
        sim.faults.set("stuck-rollout", True)
        sim.apply(cr_v17() | {"spec": {**cr_v17()["spec"], "version": "1.6.14", "global": None}})
        await sim.settle()
        sim.ensure_ns("probe", {"istio-injection": "enabled"})
        with pytest.raises(StoreError) as err:
            sim.store.create(bare_pod("probe"))
        assert err.value.code == 500 and err.value.reason == "InternalError"
        assert 'no endpoints available for service "istiod"' in str(err.value.args[0])

    run(scenario())
