"""The Sail operator's own release, as Argo CD or Flux applies it, passes the gate's GitOps check.

simcluster does not render the `sail-operator` chart (its presence is the operator), but it
reports the release the way the engines do once installed: an Application Synced and Healthy
at its chart version, a HelmRelease Ready and Released with a `deployed` history entry. Before
that report exists the gate cannot tell the release was applied, and waits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster.sailhelp import Cluster as SailCluster
from tests.simcluster.sailhelp import istio_spec
from verifier.checks import gitops
from verifier.cluster import Cluster
from verifier.expectation import SyncTarget
from verifier.result import CheckResult, Status
from verifier.snapshot import GitOpsRef, Snapshot

pytestmark = pytest.mark.slow

APPLICATION = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "sail-operator", "namespace": "argocd"},
    "spec": {
        "project": "default",
        "source": {
            "repoURL": "https://istio-ecosystem.github.io/sail-operator",
            "chart": "sail-operator",
            "targetRevision": "1.29.2",
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "sail-operator"},
    },
}
HELMRELEASE = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2",
    "kind": "HelmRelease",
    "metadata": {"name": "sail-operator", "namespace": "flux-system"},
    "spec": {
        "interval": "10m",
        "chart": {
            "spec": {
                "chart": "sail-operator",
                "version": "1.29.2",
                "sourceRef": {"kind": "HelmRepository", "name": "sail-operator"},
            }
        },
    },
}


@pytest.mark.parametrize(
    ("obj", "group", "plural"),
    [
        (APPLICATION, "argoproj.io", "applications"),
        (HELMRELEASE, "helm.toolkit.fluxcd.io", "helmreleases"),
    ],
    ids=["argocd", "flux"],
)
def test_the_operator_release_is_reported_applied_and_runs_the_operator(
    tmp_path: Path, obj: dict[str, object], group: str, plural: str
) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = SailCluster(sim)
        meta = obj["metadata"]
        assert isinstance(meta, dict)
        ns, kind = str(meta["namespace"]), str(obj["kind"])
        c.namespace(ns)
        version = str(obj["apiVersion"]).split("/")[1]
        c.custom.create_namespaced_custom_object(group, version, ns, plural, obj)
        ref = GitOpsRef(kind, ns, "sail-operator")

        def judge() -> CheckResult:
            with Cluster(sim.kubeconfig) as vc:
                live = vc.get_or_none(ref.resource, ns, "sail-operator")
            snap = Snapshot((), {}, {}, {}, {}, gitops={ref: live})
            return gitops.check(snap, SyncTarget("0" * 40, "stage 0"))

        result = wait_for(judge, lambda r: r.status is Status.PASSED, what="release applied")
        [record] = result.evidence
        assert record["chartVersion"] == "1.29.2" and record["problems"] == []
        # and the release is the operator: an Istio gets its revision
        c.namespace("istio-system")
        c.create("Istio", "default", istio_spec("v1.28.6"))
        c.wait_condition("IstioRevision", "default-v1-28-6", "Ready", "True")
