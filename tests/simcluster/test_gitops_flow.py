"""The canary upgrade as GitOps commits (what the generator writes), synced into the simulation.

Each commit is hand-written here the way the stages in docs/stages.md describe them, so this
checks the simulation end to end under GitOps: the control plane comes up next to the old one,
the adopted gateway moves without a new LoadBalancer, namespaces move with their rollouts, and
cleanup either keeps or garbage-collects the gateway depending on who owns it.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from simcluster.gitops import Syncer
from tests.simcluster.simhelp import Sim, cr_v17, run
from tests.simcluster.test_gitops import commit, converge, make_repo
from tests.simcluster.test_kubectl_seed import OPERATOR_V17

pytestmark = pytest.mark.slow

Obj = dict[str, Any]
V17 = "istio-sample-v17x.istio-system"
CODE = ("-sS", "-o", "/dev/null", "-w", "%{http_code}")


def write(path: pathlib.Path, *docs: Obj) -> None:
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))


def load(path: pathlib.Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def proxies(sim: Sim, ns: str) -> set[str]:
    return {
        c["image"]
        for p in sim.pods(ns)
        for c in p["spec"]["containers"]
        if c["name"] == "istio-proxy"
    }


def adopted_gateway(*, keep_owner: bool) -> Obj:
    mgw: Obj = {
        "apiVersion": "istio.banzaicloud.io/v1beta1",
        "kind": "MeshGateway",
        "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system", "labels": {"app": "istio-ingressgateway", "istio": "ingressgateway"}},
        "spec": {
            "type": "ingress",
            "istioControlPlane": {"name": "istio-sample-v17x", "namespace": "istio-system"},
            "serviceType": "LoadBalancer",
            "replicaCount": 1,
            "labels": {"app": "istio-ingressgateway", "istio": "ingressgateway"},
            "ports": [
                {"name": "status-port", "port": 15021, "targetPort": 15021},
                {"name": "http2", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443, "targetPort": 8443},
                {"name": "tls", "port": 15443, "targetPort": 15443},
            ],
        },
    }  # fmt: skip
    if not keep_owner:
        mgw["metadata"]["ownerReferences"] = []
    return mgw


def upgrade(repo: pathlib.Path, *, drop_owner: bool) -> None:
    """Commits for stages control-plane and gateways (the namespaces follow in the tests)."""
    write(repo / "argocd/istio-operator-v17x.yaml", OPERATOR_V17)
    write(repo / "istio-system/istio-v17x.yaml", cr_v17())
    kustomization = load(repo / "istio-system/kustomization.yaml")[0]
    kustomization["resources"].append("istio-v17x.yaml")
    write(repo / "istio-system/kustomization.yaml", kustomization)
    commit(repo, "control-plane")
    write(repo / "istio-system/gateway.yaml", adopted_gateway(keep_owner=not drop_owner))
    kustomization["resources"].append("gateway.yaml")
    write(repo / "istio-system/kustomization.yaml", kustomization)
    commit(repo, "gateways")


def move_namespace(repo: pathlib.Path, ns: str) -> str:
    namespaces = load(repo / "apps/namespaces.yaml")
    for doc in namespaces:
        if doc["metadata"]["name"] == ns:
            doc["metadata"]["labels"] = {"istio.io/rev": V17}
    write(repo / "apps/namespaces.yaml", *namespaces)
    cr_path = repo / "istio-system/istio.yaml"
    (cr,) = load(cr_path)
    cr["spec"]["autoInjectionNamespaces"] = [
        n for n in cr["spec"]["autoInjectionNamespaces"] if n != ns
    ]
    write(cr_path, cr)
    app_path = repo / f"apps/{ns}/app-{ns[-1]}.yaml"
    deployment, service = load(app_path)
    deployment["spec"]["template"]["metadata"]["annotations"] = {"istio-canary/revision": V17}
    write(app_path, deployment, service)
    return commit(repo, f"namespaces {ns}")


def cleanup(repo: pathlib.Path) -> str:
    (repo / "istio-system/istio.yaml").unlink()
    (repo / "argocd/istio-operator-v16x.yaml").unlink()
    kustomization = load(repo / "istio-system/kustomization.yaml")[0]
    kustomization["resources"].remove("istio.yaml")
    write(repo / "istio-system/kustomization.yaml", kustomization)
    return commit(repo, "cleanup")


def test_gitops_canary_upgrade_with_the_gateway_released_from_the_old_cr(
    tmp_path: pathlib.Path,
) -> None:
    repo = make_repo(tmp_path)

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        await converge(sim, syncer)
        lb = sim.store.get("Service", "istio-system", "istio-ingressgateway")
        assert lb is not None
        upgrade(repo, drop_owner=True)
        await converge(sim, syncer)
        cr = sim.store.get("Istio", "istio-system", "istio-sample-v17x")
        assert cr is not None and cr["status"]["Status"] == "Available"
        mgw = sim.store.get("MeshGateway", "istio-system", "istio-ingressgateway")
        assert mgw is not None and not mgw["metadata"].get("ownerReferences")
        assert {
            c["image"]
            for p in sim.pods("istio-system", "gateway-name=istio-ingressgateway")
            for c in p["spec"]["containers"]
        } == {"docker.io/istio/proxyv2:1.7.8"}
        same = sim.store.get("Service", "istio-system", "istio-ingressgateway")
        assert (
            same is not None
            and same["metadata"]["uid"] == lb["metadata"]["uid"]
            and same["status"] == lb["status"]
        )
        for ns in ("demo-a", "demo-b"):
            sha = move_namespace(repo, ns)
            assert syncer.sync_once() == sha
            await sim.settle()
            assert proxies(sim, ns) == {"docker.io/istio/proxyv2:1.7.8"}
            labels = (sim.store.get("Namespace", None, ns) or {})["metadata"]["labels"]
            assert "istio-injection" not in labels and labels["istio.io/rev"] == V17
            assert sim.curl("demo-a", "k8s-app=app-a", *CODE, "app-b.demo-b").stdout == b"200"
            assert sim.curl("demo-b", "k8s-app=app-b", *CODE, "app-a.demo-a").stdout == b"200"
            status = sim.store.get("Application", "argocd", "demo-apps")
            assert (
                status is not None
                and status["status"]["operationState"]["syncResult"]["revision"] == sha
            )
        sha = cleanup(repo)
        assert syncer.sync_once() == sha
        await sim.settle()
        assert sim.store.get("Istio", "istio-system", "istio-sample") is None
        assert sim.store.get("Deployment", "istio-system", "istiod") is None
        assert sim.store.get("StatefulSet", "istio-system", "istio-operator-v16x") is None
        kept = sim.store.get("Service", "istio-system", "istio-ingressgateway")
        assert kept is not None and kept["metadata"]["uid"] == lb["metadata"]["uid"]
        new = sim.store.get("Istio", "istio-system", "istio-sample-v17x")
        assert new is not None and new["status"]["Status"] == "Available"
        assert sim.curl("demo-a", "k8s-app=app-a", *CODE, "app-b.demo-b").stdout == b"200"
        syncer.close()

    run(scenario())


def test_cleanup_with_the_gateway_still_owned_loses_the_load_balancer(
    tmp_path: pathlib.Path,
) -> None:
    repo = make_repo(tmp_path)

    async def scenario() -> None:
        sim = Sim()
        syncer = Syncer(repo, "main", sim.store, sim.faults)
        await converge(sim, syncer)
        upgrade(repo, drop_owner=False)  # apply keeps the owner the operator set
        await converge(sim, syncer)
        mgw = sim.store.get("MeshGateway", "istio-system", "istio-ingressgateway")
        assert mgw is not None and mgw["metadata"]["ownerReferences"][0]["name"] == "istio-sample"
        for ns in ("demo-a", "demo-b"):
            move_namespace(repo, ns)
            syncer.sync_once()
            await sim.settle()
        cleanup(repo)
        syncer.sync_once()
        await sim.settle()
        assert sim.store.get("Service", "istio-system", "istio-ingressgateway") is None
        # Argo CD recreates the MeshGateway from git on its next sync, with a new LB address.
        syncer.sync_once()
        await sim.settle()
        again = sim.store.get("MeshGateway", "istio-system", "istio-ingressgateway")
        assert again is not None and again["metadata"]["uid"] != mgw["metadata"]["uid"]
        syncer.close()

    run(scenario())
