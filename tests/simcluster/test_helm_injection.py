"""Injection decided as the API server and Istio's injector decide it, with upstream istiods.

Every matching webhook is called (configurations by name, webhooks in order) and the upstream
injector strips an earlier injection before its own (istio/istio pkg/kube/inject ``stripPod``),
so two matching injectors leave the pod on the revision of the one called last.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from simcluster.apierrors import StoreError
from simcluster.charts.istio import render
from simcluster.controllers.injection import matching_webhooks
from tests.simcluster.simhelp import Sim, run

Obj = dict[str, Any]


def pod(ns: str, name: str = "p", **labels: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {"containers": [{"name": "app", "image": "k8s.gcr.io/echoserver:1.10"}]},
    }


async def control_planes(sim: Sim, *releases: tuple[str, str, Obj]) -> None:
    for version, release, values in releases:
        sim.apply(*render("istiod", release, "istio-system", version, values))
    await sim.until(
        lambda: (
            all(
                any(s.get("addresses") for s in (e.get("subsets") or []))
                for e in sim.store.list("Endpoints", "istio-system")[0]
                if e["metadata"]["name"].startswith("istiod")
            )
            and len(sim.store.list("Endpoints", "istio-system")[0]) >= len(releases)
        ),
        what="istiod endpoints",
    )


def revision_of(p: Obj) -> str:
    return str(json.loads(p["metadata"]["annotations"]["sidecar.istio.io/status"])["revision"])


def test_a_default_tag_beside_a_default_istiod_double_injects_the_last_one_wins() -> None:
    async def scenario() -> None:
        sim = Sim()
        await control_planes(
            sim,
            ("1.26.4", "istiod", {}),
            (
                "1.28.2",
                "istiod-1-28-2",
                {"revision": "1-28-2", "revisionTags": ["default", "prod-stable"]},
            ),
        )
        sim.ensure_ns("legacy", {"istio-injection": "enabled"})
        called = matching_webhooks(sim.store, "MutatingWebhookConfiguration", pod("legacy"))
        assert [(c["metadata"]["name"], h["name"]) for c, h in called] == [
            ("istio-revision-tag-default", "namespace.sidecar-injector.istio.io"),
            ("istio-sidecar-injector", "namespace.sidecar-injector.istio.io"),
        ]
        created = sim.store.create(pod("legacy"))
        assert revision_of(created) == "default"  # the tag asked for 1-28-2; the later call won
        assert created["metadata"]["annotations"]["istio.io/rev"] == "default"
        (proxy,) = [c for c in created["spec"]["containers"] if c["name"] == "istio-proxy"]
        assert proxy["image"] == "docker.io/istio/proxyv2:1.26.4"
        assert [c["name"] for c in created["spec"]["initContainers"]] == ["istio-init"]
        assert [v["name"] for v in created["spec"]["volumes"]].count("istio-envoy") == 1
        # istio.io/rev=default is selected by both as well; a tag only the tag webhook selects
        # gives the tag's revision, injected once
        sim.ensure_ns("rev-default", {"istio.io/rev": "default"})
        assert revision_of(sim.store.create(pod("rev-default"))) == "default"
        sim.ensure_ns("tagged", {"istio.io/rev": "prod-stable"})
        tagged = sim.store.create(pod("tagged"))
        assert revision_of(tagged) == "1-28-2"
        assert len([c for c in tagged["spec"]["containers"] if c["name"] == "istio-proxy"]) == 1
        assert "istio.io/rev" not in tagged["metadata"]["labels"]  # the injector writes no label

    run(scenario())


def test_object_selectors_and_opt_out() -> None:
    async def scenario() -> None:
        sim = Sim()
        await control_planes(sim, ("1.27.3", "istiod-1-27-3", {"revision": "1-27-3"}))
        sim.ensure_ns("plain")
        chosen = sim.store.create(pod("plain", "a", **{"istio.io/rev": "1-27-3"}))
        assert revision_of(chosen) == "1-27-3"
        sim.ensure_ns("moved", {"istio.io/rev": "1-27-3"})
        out = sim.store.create(pod("moved", "b", **{"sidecar.istio.io/inject": "false"}))
        assert [c["name"] for c in out["spec"]["containers"]] == ["app"]
        nothing = sim.store.create(pod("plain", "c"))
        assert "sidecar.istio.io/status" not in (nothing["metadata"].get("annotations") or {})

    run(scenario())


def test_an_injector_whose_istiod_is_gone_refuses_the_pod_with_the_api_server_message() -> None:
    async def scenario() -> None:
        sim = Sim()
        await control_planes(sim, ("1.26.4", "istiod-1-26-4", {"revision": "1-26-4"}))
        sim.store.delete("Service", "istio-system", "istiod-1-26-4")
        sim.ensure_ns("moved", {"istio.io/rev": "1-26-4"})
        with pytest.raises(StoreError) as err:
            sim.store.create(pod("moved"))
        assert err.value.message == (
            'Internal error occurred: failed calling webhook "rev.namespace.sidecar-injector.istio.io": '
            'failed to call webhook: Post "https://istiod-1-26-4.istio-system.svc:443/inject?timeout=10s": '
            'service "istiod-1-26-4" not found'
        )

    run(scenario())


def test_a_gateway_pod_injected_twice_keeps_one_filled_in_proxy() -> None:
    async def scenario() -> None:
        sim = Sim()
        await control_planes(
            sim,
            ("1.26.4", "istiod", {}),
            ("1.28.2", "istiod-1-28-2", {"revision": "1-28-2", "revisionTags": ["default"]}),
        )
        sim.ensure_ns("gateways", {"istio-injection": "enabled"})
        gw = pod("gateways", "gw", **{"sidecar.istio.io/inject": "true"})
        gw["metadata"]["annotations"] = {"inject.istio.io/templates": "gateway"}
        gw["spec"]["containers"] = [
            {"name": "istio-proxy", "image": "auto", "env": [{"name": "MINE", "value": "1"}]}
        ]
        created = sim.store.create(gw)
        (proxy,) = created["spec"]["containers"]
        assert proxy["image"] == "docker.io/istio/proxyv2:1.26.4"
        names = [e["name"] for e in proxy["env"]]
        assert len(names) == len(set(names)) and "MINE" in names
        assert "initContainers" not in created["spec"]
        assert revision_of(created) == "default"

    run(scenario())


def test_pods_of_two_upstream_revisions_talk_mtls_and_lose_a_deleted_istiod() -> None:
    from tests.simcluster.simhelp import load

    async def scenario() -> None:
        sim = Sim()
        await control_planes(
            sim,
            ("1.26.4", "istiod-1-26-4", {"revision": "1-26-4"}),
            ("1.28.2", "istiod-1-28-2", {"revision": "1-28-2"}),
        )
        sim.ensure_ns("demo-a", {"istio.io/rev": "1-26-4"})
        sim.ensure_ns("demo-b", {"istio.io/rev": "1-28-2"})
        sim.apply(*load("apps/demo-a/app-a.yaml"), *load("apps/demo-b/app-b.yaml"))
        await sim.settle()
        assert revision_of(sim.pods("demo-b")[0]) == "1-28-2"
        result = sim.curl("demo-a", "k8s-app=app-a", "-sS", "app-b.demo-b")
        assert result.exit_code == 0
        assert (
            b"x-forwarded-client-cert=By=spiffe://cluster.local/ns/demo-b/sa/default"
            in result.stdout
        )
        sim.store.delete("Deployment", "istio-system", "istiod-1-28-2")
        await sim.settle()
        code = sim.curl(
            "demo-a",
            "k8s-app=app-a",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "app-b.demo-b",
        )
        assert code.stdout != b"200"

    run(scenario())


def test_a_gateway_no_injector_matches_keeps_image_auto_and_cannot_pull_it() -> None:
    async def scenario() -> None:
        sim = Sim()
        await control_planes(sim, ("1.27.3", "istiod-1-27-3", {"revision": "1-27-3"}))
        sim.ensure_ns("gateways")  # no label; the pod names no revision; no default revision
        gw = pod("gateways", "gw", **{"sidecar.istio.io/inject": "true"})
        gw["metadata"]["annotations"] = {"inject.istio.io/templates": "gateway"}
        gw["spec"]["containers"] = [{"name": "istio-proxy", "image": "auto"}]
        sim.store.create(gw)

        def waiting() -> str:
            live = sim.store.get("Pod", "gateways", "gw") or {}
            states = [
                s.get("state") or {}
                for s in (live.get("status") or {}).get("containerStatuses") or []
            ]
            return str(((states[0] if states else {}).get("waiting") or {}).get("reason", ""))

        await sim.until(
            lambda: waiting() in ("ErrImagePull", "ImagePullBackOff"), what="pull error"
        )
        assert waiting() in ("ErrImagePull", "ImagePullBackOff")

    run(scenario())


def test_reinvocation_if_needed_gives_the_earlier_injector_the_last_word() -> None:
    async def scenario() -> None:
        sim = Sim()
        reinvoke = {"sidecarInjectorWebhook": {"reinvocationPolicy": "IfNeeded"}}
        await control_planes(
            sim,
            ("1.26.4", "istiod", {}),
            (
                "1.28.2",
                "istiod-1-28-2",
                {"revision": "1-28-2", "revisionTags": ["default"], **reinvoke},
            ),
        )
        sim.ensure_ns("legacy", {"istio-injection": "enabled"})
        created = sim.store.create(pod("legacy"))
        assert revision_of(created) == "1-28-2"  # the tag webhook ran again after the old one
        assert len([c for c in created["spec"]["containers"] if c["name"] == "istio-proxy"]) == 1

    run(scenario())
