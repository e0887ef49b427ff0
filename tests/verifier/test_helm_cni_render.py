"""The chart facts the node-agents check is judged against, as simcluster renders them (pure),
and the check's reading of a DaemonSet's rollout status."""

from __future__ import annotations

from typing import Any

import pytest

from simcluster.charts.istio import render
from verifier.checks.helm_cni import rollout_unfinished


def _daemonset(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == "DaemonSet")


def _container(ds: dict[str, Any]) -> dict[str, Any]:
    return dict(ds["spec"]["template"]["spec"]["containers"][0])


@pytest.mark.parametrize(
    "version,values,image",
    [
        ("1.26.4", {}, "docker.io/istio/install-cni:1.26.4"),
        ("1.26.4", {"global": {"hub": "mirror.local/istio"}}, "mirror.local/istio/install-cni:1.26.4"),
        ("1.26.4", {"variant": "distroless"}, "docker.io/istio/install-cni:1.26.4-distroless"),
        ("1.26.4", {"image": "mirror.local/cni:pinned"}, "mirror.local/cni:pinned"),
        # before 1.24 the chart read its image values under `cni.`
        ("1.23.6", {"cni": {"hub": "old.local/istio"}}, "old.local/istio/install-cni:1.23.6"),
        ("1.23.6", {"hub": "ignored.local"}, "docker.io/istio/install-cni:1.23.6"),
    ],
)  # fmt: skip
def test_cni_renders_istio_cni_node_with_the_charts_image(
    version: str, values: dict[str, Any], image: str
) -> None:
    ds = _daemonset(render("cni", "istio-cni", "istio-system", version, values))
    assert ds["metadata"]["name"] == "istio-cni-node"
    assert ds["metadata"]["labels"]["istio.io/rev"] == "default"
    assert ds["spec"]["selector"]["matchLabels"] == {"k8s-app": "istio-cni-node"}
    pod = ds["spec"]["template"]["metadata"]["labels"]
    assert pod["k8s-app"] == "istio-cni-node" and pod["sidecar.istio.io/inject"] == "false"
    assert _container(ds) == {"name": "install-cni", "image": image}


def test_ztunnel_talks_to_the_istiod_of_its_revision() -> None:
    plain = _daemonset(render("ztunnel", "ztunnel", "istio-system", "1.27.9", {}))
    assert plain["metadata"]["name"] == "ztunnel"
    assert plain["spec"]["selector"]["matchLabels"] == {"app": "ztunnel"}
    env = {e["name"]: e["value"] for e in _container(plain)["env"]}
    assert env == {
        "CA_ADDRESS": "istiod.istio-system.svc:15012",
        "XDS_ADDRESS": "istiod.istio-system.svc:15012",
    }
    named = _daemonset(
        render(
            "ztunnel", "zt", "kube-system", "1.27.9", {"revision": "1-27-9", "resourceName": "zt"}
        )
    )
    assert named["metadata"]["name"] == "zt"
    assert named["metadata"]["annotations"] == {"istio.io/rev": "1-27-9"}
    assert _container(named)["env"][0]["value"] == "istiod-1-27-9.istio-system.svc:15012"
    assert _container(named)["image"] == "docker.io/istio/ztunnel:1.27.9"


@pytest.mark.parametrize(
    "generation,status,why",
    [
        (2, {"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3,
             "numberAvailable": 3}, ""),
        (3, {"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3,
             "numberAvailable": 3}, "rollout not observed yet"),
        (2, {"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 2,
             "numberAvailable": 3}, "2/3 updated, 3/3 available"),
        (2, {"observedGeneration": 2, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3,
             "numberAvailable": 1}, "3/3 updated, 1/3 available"),
        (1, {"observedGeneration": 1, "desiredNumberScheduled": 0}, "no node is scheduled to run it"),
        (1, {}, "rollout not observed yet"),
    ],
)  # fmt: skip
def test_a_rollout_is_finished_only_when_every_desired_node_runs_an_available_update(
    generation: int, status: dict[str, int], why: str
) -> None:
    ds = {"metadata": {"generation": generation}, "status": status}
    assert rollout_unfinished(ds) == why
