"""verifier.cluster reads any kind by the request's data, over real HTTP against simcluster.

A StatefulSet, a DaemonSet and a webhook configuration are read as themselves, not through the
Deployment endpoint; the request paths simcluster saw prove which endpoint answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simcluster.harness import SimCluster
from simcluster.store import Store
from verifier.cluster import Cluster, RetryPolicy
from verifier.errors import NotFound
from verifier.resources import (
    DAEMONSETS,
    DEPLOYMENTS,
    MUTATING_WEBHOOKS,
    STATEFULSETS,
    Read,
)

NS = "mesh-infra"
FAST = RetryPolicy(attempts=2, budget=5, base=0.01, cap=0.05, connect_timeout=2, read_timeout=5)


def _workload(kind: str, name: str, app: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": app}},
        "template": {
            "metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": app, "image": f"example.org/{app}:1"}]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
        "spec": spec,
    }


def _webhook(name: str, revision: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"istio.io/rev": revision}},
        "webhooks": [
            {
                "name": f"sidecar-injector.{revision}.istio.io",
                "clientConfig": {"service": {"name": f"istiod-{revision}", "namespace": NS}},
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
            }
        ],
    }


def _seed(store: Store) -> None:
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    # A Deployment named like the StatefulSet: a read routed to the wrong endpoint finds it.
    store.create(_workload("Deployment", "web", "web-deploy"))
    store.create(_workload("StatefulSet", "web", "web-sts"))
    store.create(_workload("DaemonSet", "node-agent", "agent"))
    store.create(_webhook("istio-sidecar-injector-v16x", "v16x"))
    store.create(_webhook("istio-sidecar-injector-v17x", "v17x"))


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimCluster]:
    with SimCluster(workdir=tmp_path_factory.mktemp("sim"), controllers=False) as cluster:
        cluster.call(_seed)
        yield cluster


@pytest.fixture
def cluster(sim: SimCluster) -> Iterator[Cluster]:
    with Cluster(Path(sim.kubeconfig), retry=FAST) as c:
        yield c


def _paths(sim: SimCluster) -> list[str]:
    return [path for method, path, _ in sim.requests if method == "GET"]


def test_statefulset_and_daemonset_are_read_from_their_own_endpoints(
    sim: SimCluster, cluster: Cluster
) -> None:
    sts = cluster.get(STATEFULSETS, NS, "web")
    assert (sts["kind"], sts["metadata"]["labels"]["app"]) == ("StatefulSet", "web-sts")
    ds = cluster.get(DAEMONSETS, NS, "node-agent")
    assert (ds["kind"], ds["metadata"]["name"]) == ("DaemonSet", "node-agent")
    assert cluster.get(DEPLOYMENTS, NS, "web")["metadata"]["labels"]["app"] == "web-deploy"
    with pytest.raises(NotFound, match=f"get daemonsets.apps {NS}/web: not found"):
        cluster.get(DAEMONSETS, NS, "web")  # only a Deployment and a StatefulSet have that name
    assert [o["kind"] for o in cluster.list(STATEFULSETS, namespace=NS)] == ["StatefulSet"]
    assert [o["metadata"]["name"] for o in cluster.list(DAEMONSETS)] == ["node-agent"]
    paths = _paths(sim)
    assert f"/apis/apps/v1/namespaces/{NS}/statefulsets/web" in paths
    assert f"/apis/apps/v1/namespaces/{NS}/daemonsets/node-agent" in paths
    assert any(p.startswith("/apis/apps/v1/daemonsets?") for p in paths)


def test_webhook_configurations_are_cluster_scoped_and_filtered_by_label(
    sim: SimCluster, cluster: Cluster
) -> None:
    canary = cluster.list(MUTATING_WEBHOOKS, label_selector="istio.io/rev=v17x")
    assert [(o["kind"], o["metadata"]["name"]) for o in canary] == [
        ("MutatingWebhookConfiguration", "istio-sidecar-injector-v17x")
    ]
    one = cluster.get(MUTATING_WEBHOOKS, "", "istio-sidecar-injector-v16x")
    assert one["webhooks"][0]["name"] == "sidecar-injector.v16x.istio.io"
    assert len(cluster.list(MUTATING_WEBHOOKS)) == 2
    paths = _paths(sim)
    prefix = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
    assert f"{prefix}/istio-sidecar-injector-v16x" in paths
    assert any(p.startswith(prefix + "?") and "labelSelector=istio.io" in p for p in paths)


def test_a_read_is_plain_data_that_names_its_path() -> None:
    assert Read(STATEFULSETS, NS, "web").path == f"/apis/apps/v1/namespaces/{NS}/statefulsets/web"
    assert Read(MUTATING_WEBHOOKS, "ignored", "x").path == (
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/x"
    )
    assert Read(DAEMONSETS).path == "/apis/apps/v1/daemonsets"
    assert Read(DAEMONSETS, NS, "a/b").path.endswith("/daemonsets/a%2Fb")
    read = Read(DAEMONSETS, label_selector="app=agent", field_selector="metadata.name=x")
    assert read.query(500, "tok") == [
        ("labelSelector", "app=agent"),
        ("fieldSelector", "metadata.name=x"),
        ("limit", "500"),
        ("continue", "tok"),
    ]
