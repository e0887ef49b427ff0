"""Flux `dependsOn` between HelmReleases: a dependency that does not exist holds the release
back, as helm-controller's `checkDependencies` does (fluxcd/helm-controller
internal/controller/helmrelease_controller.go): Ready False, reason DependencyNotReady, the
message naming the dependency, and the release's objects left as they are.
"""

from __future__ import annotations

import pathlib
from typing import Any

import yaml
from kubernetes import client, config

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster import helmrepo

Obj = dict[str, Any]
RELEASES = "clusters/sim/istio.yaml"


def _ready(sim: SimCluster, name: str) -> Obj:
    api = client.CustomObjectsApi(config.new_client_from_config(config_file=str(sim.kubeconfig)))
    hr: Obj = api.get_namespaced_custom_object(
        "helm.toolkit.fluxcd.io", "v2", "flux-system", "helmreleases", name
    )
    conditions = (hr.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


def _rewrite(repo: pathlib.Path, edit: Any) -> None:
    docs = list(yaml.safe_load_all((repo / RELEASES).read_text()))
    helmrepo.write(repo, RELEASES, *[d for d in map(edit, docs) if d is not None])


def test_a_release_whose_dependency_is_deleted_is_held_back(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "repo"
    helmrepo.flux_default(repo, version="1.27.3")

    def depend_on_istiod(doc: Obj) -> Obj:
        if doc["metadata"]["name"] == "istio-ingress":
            doc["spec"]["dependsOn"] = [{"name": "istiod"}]
        return doc

    _rewrite(repo, depend_on_istiod)
    helmrepo.commit(repo, "the gateway waits for istiod")
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        sim.wait_settled()
        assert _ready(sim, "istio-ingress")["status"] == "True"
        apps = client.AppsV1Api(config.new_client_from_config(config_file=str(sim.kubeconfig)))
        uid = apps.read_namespaced_deployment("istio-ingress", "istio-gateways").metadata.uid

        _rewrite(repo, lambda d: None if d["metadata"]["name"] == "istiod" else d)
        helmrepo.commit(repo, "istiod deleted, the gateway still waits for it")
        sim.sync_now()
        ready = wait_for(
            lambda: _ready(sim, "istio-ingress"),
            lambda c: c.get("status") == "False",
            what="the gateway HelmRelease held back",
        )
        assert ready["reason"] == "DependencyNotReady"
        assert ready["message"] == (
            "unable to get 'flux-system/istiod' dependency: "
            'helmreleases.helm.toolkit.fluxcd.io "istiod" not found'
        )
        gateway = apps.read_namespaced_deployment("istio-ingress", "istio-gateways")
        assert gateway.metadata.uid == uid  # not uninstalled, not touched
        assert _ready(sim, "istio-base")["status"] == "True"  # the others carry on
