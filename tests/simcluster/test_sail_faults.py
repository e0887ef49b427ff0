"""The Sail faults: a new revision that never gets Ready, an old one a forgotten pod keeps."""

from __future__ import annotations

import pathlib

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster.sailhelp import Cluster, istio_spec

OLD, NEW = "default-v1-27-9", "default-v1-28-6"


def test_revision_stuck_keeps_the_new_revision_unready_until_switched_off(
    tmp_path: pathlib.Path,
) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        # nothing uses the old revision here, so a short grace period would let the operator
        # prune it while the machine is slow, and the assertions below are about it still serving
        c.create("Istio", "default", istio_spec("v1.27.9", grace=3600))
        c.wait_condition("IstioRevision", OLD, "Ready", "True")
        sim.set_fault("revision-stuck", True)
        c.patch("Istio", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", NEW, "Ready", "False")
        sim.wait_settled()
        stuck = c.condition("IstioRevision", NEW, "Ready")
        assert (stuck["reason"], stuck["message"]) == (
            "IstiodNotReady",
            "not all istiod pods are ready",
        )
        istio = wait_for(
            lambda: c.get("Istio", "default"),
            lambda i: (i or {}).get("status", {}).get("state") == "IstiodNotReady",
            what="Istio IstiodNotReady",
        )
        assert istio is not None
        assert istio["status"]["revisions"]["ready"] == 1
        assert c.condition("IstioRevision", OLD, "Ready")["status"] == "True"  # the old one serves
        sim.set_fault("revision-stuck", False)
        c.wait_condition("IstioRevision", NEW, "Ready", "True")
        wait_for(
            lambda: c.get("Istio", "default"),
            lambda i: (i or {}).get("status", {}).get("state") == "Healthy",
            what="Istio Healthy",
        )


def test_in_use_forever_leaves_a_pod_that_keeps_the_old_revision(tmp_path: pathlib.Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.create("Istio", "default", istio_spec("v1.27.9", grace=0))
        c.wait_condition("IstioRevision", OLD, "Ready", "True")
        c.namespace("demo", **{"istio.io/rev": OLD})
        c.deployment("demo", "app")
        wait_for(lambda: c.pod_revisions("demo"), lambda r: r == [OLD, OLD], what="pods on old")
        sim.set_fault("in-use-forever", True)
        wait_for(lambda: c.pod_revisions("demo"), lambda r: r == [OLD] * 3, what="a forgotten pod")
        c.patch("Istio", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", NEW, "Ready", "True")
        c.label_namespace("demo", {"istio.io/rev": NEW})
        c.restart("demo", "app", "2026-11-30T18:00:00Z")
        wait_for(
            lambda: c.pod_revisions("demo"),
            lambda r: r == sorted([OLD, NEW, NEW, NEW]),
            what="the deployment on new, the forgotten pod on old",
        )
        # the new pods were seen by the operator; the old revision is still referenced by a pod
        istio = wait_for(
            lambda: c.get("Istio", "default"),
            lambda i: (i or {}).get("status", {}).get("revisions", {}).get("inUse") == 2,
            what="both revisions in use",
        )
        assert istio is not None and istio["status"]["revisions"]["total"] == 2
        held = c.condition("IstioRevision", OLD, "InUse")
        assert (held["status"], held["reason"]) == ("True", "ReferencedByWorkloads")
        forgotten = c.core.read_namespaced_pod(f"forgotten-{OLD}", "demo")
        assert forgotten.metadata.annotations["istio.io/rev"] == OLD
        assert not forgotten.metadata.owner_references
        assert OLD in c.names("IstioRevision")  # grace 0: it would be gone if nothing held it
        sim.set_fault("in-use-forever", False)
        wait_for(lambda: c.names("IstioRevision"), lambda n: n == [NEW], what="old pruned")
