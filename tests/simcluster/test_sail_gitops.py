"""A Sail repo synced by the simulated Argo CD and Flux: the operator's release, then its Istio.

The operator is an Argo CD Application (or Flux HelmRelease) of the ``sail-operator`` chart,
which simcluster does not render: its presence is what makes the operator run, and its chart
version picks the Istio versions it installs. The ``Istio`` and the tag are plain manifests.
"""

from __future__ import annotations

import pathlib
from typing import Any

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster import helmrepo
from tests.simcluster.sailhelp import Cluster

Obj = dict[str, Any]
SAIL_CHARTS = "https://istio-ecosystem.github.io/sail-operator"


def istio(version: str) -> Obj:
    return {
        "apiVersion": "sailoperator.io/v1",
        "kind": "Istio",
        "metadata": {"name": "default"},
        "spec": {
            "version": version,
            "namespace": "istio-system",
            "updateStrategy": {
                "type": "RevisionBased",
                "inactiveRevisionDeletionGracePeriodSeconds": 0,
            },
        },
    }


def tag() -> Obj:
    return {
        "apiVersion": "sailoperator.io/v1",
        "kind": "IstioRevisionTag",
        "metadata": {"name": "default"},
        "spec": {"targetRef": {"kind": "Istio", "name": "default"}},
    }


def sail_repo(repo: pathlib.Path, operator: str) -> None:
    helmrepo.init(repo)
    helmrepo.write(repo, "argocd/sail-operator.yaml", helmrepo.argo_chart_app(
        "sail-operator", "sail-operator", operator, "sail-operator", repo_url=SAIL_CHARTS))  # fmt: skip
    helmrepo.write(
        repo, "argocd/control-plane.yaml", helmrepo.argo_path_app("control-plane", "mesh")
    )
    helmrepo.write(repo, "argocd/apps.yaml", helmrepo.argo_path_app("apps", "apps"))
    helmrepo.write(repo, "mesh/istio-system.yaml", helmrepo.namespace("istio-system"))
    helmrepo.write(repo, "mesh/istio.yaml", istio("v1.27.9"), tag())
    helmrepo.write(
        repo, "apps/demo.yaml", helmrepo.namespace("demo", **{"istio-injection": "enabled"}),
        helmrepo.app_deployment("app", "demo"),
    )  # fmt: skip
    helmrepo.commit(repo, "a Sail mesh")


def test_an_argo_cd_repo_installs_the_operator_and_its_istio_and_a_commit_upgrades_it(
    tmp_path: pathlib.Path,
) -> None:
    repo = tmp_path / "repo"
    sail_repo(repo, "1.29.2")
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        c = Cluster(sim)
        c.wait_condition("IstioRevision", "default-v1-27-9", "Ready", "True")
        wait_for(
            lambda: c.pod_revisions("demo"), lambda r: r == ["default-v1-27-9"], what="app injected"
        )
        helmrepo.write(repo, "mesh/istio.yaml", istio("v1.28.6"), tag())
        helmrepo.commit(repo, "upgrade the control plane to 1.28.6")
        sim.sync_now()
        c.wait_condition("IstioRevision", "default-v1-28-6", "Ready", "True")
        assert "default-v1-27-9" in c.names("IstioRevision")  # the app still runs on it
        live = c.get("Istio", "default")
        assert live is not None and live["spec"]["version"] == "v1.28.6"
        c.restart("demo", "app", "2026-11-30T18:00:00Z")
        wait_for(
            lambda: c.pod_revisions("demo"), lambda r: r == ["default-v1-28-6"], what="app moved"
        )
        wait_for(
            lambda: c.names("IstioRevision"), lambda n: n == ["default-v1-28-6"], what="old pruned"
        )


def test_without_the_operator_release_nothing_reconciles_the_istio(tmp_path: pathlib.Path) -> None:
    repo = tmp_path / "repo"
    sail_repo(repo, "1.29.2")
    (repo / "argocd/sail-operator.yaml").unlink()
    helmrepo.commit(repo, "no operator")
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        c = Cluster(sim)
        wait_for(lambda: c.get("Istio", "default"), lambda i: i is not None, what="Istio synced")
        sim.wait_settled()
        assert c.names("IstioRevision") == []
        live = c.get("Istio", "default")
        assert live is not None and "status" not in live


def test_a_flux_helmrelease_of_the_operator_picks_its_version_table(tmp_path: pathlib.Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.namespace("sail-operator")
        c.namespace("istio-system")
        c.custom.create_namespaced_custom_object(
            "helm.toolkit.fluxcd.io", "v2", "sail-operator", "helmreleases",
            {
                "apiVersion": "helm.toolkit.fluxcd.io/v2",
                "kind": "HelmRelease",
                "metadata": {"name": "sail-operator", "namespace": "sail-operator"},
                "spec": {"chart": {"spec": {"chart": "sail-operator", "version": "1.30.3",
                                            "sourceRef": {"kind": "HelmRepository", "name": "sail"}}}},
            },
        )  # fmt: skip
        c.create(
            "Istio",
            "default",
            {"version": "v1.28-latest", "updateStrategy": {"type": "RevisionBased"}},
        )
        c.wait_condition("IstioRevision", "default-v1-28-latest", "Ready", "True")
        rev = c.get("IstioRevision", "default-v1-28-latest")
        assert rev is not None and rev["spec"]["version"] == "v1.28.10"  # 1.30.3's newest 1.28
