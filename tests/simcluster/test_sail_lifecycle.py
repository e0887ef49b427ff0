"""A RevisionBased canary of a Sail ``Istio`` (1.27 -> 1.28), read over real HTTP.

The operator makes a second IstioRevision beside the first, a tag that targets the Istio
follows the active revision, the old revision stays ``InUse`` while any pod carries its
``istio.io/rev`` annotation, and once the last one is restarted away it is deleted after the
grace period, with its istiod.
"""

from __future__ import annotations

import datetime as dt
import pathlib

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster.sailhelp import Cluster, istio_spec

OLD, NEW = "default-v1-27-9", "default-v1-28-6"


def test_a_revision_based_upgrade_moves_in_use_with_the_pods_and_prunes_the_old_revision(
    tmp_path: pathlib.Path,
) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.create("Istio", "default", istio_spec("v1.27.9", grace=1))
        c.wait_condition("IstioRevision", OLD, "Ready", "True")
        c.create("IstioRevisionTag", "default", {"targetRef": {"kind": "Istio", "name": "default"}})
        c.namespace("demo", **{"istio-injection": "enabled"})
        c.deployment("demo", "app")
        wait_for(lambda: c.pod_revisions("demo"), lambda r: r == [OLD, OLD], what="pods on old")
        assert c.condition("IstioRevision", OLD, "InUse")["reason"] == "ReferencedByWorkloads"
        assert c.condition("IstioRevisionTag", "default", "InUse")["status"] == "True"

        c.patch("Istio", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", NEW, "Ready", "True")
        istio = wait_for(
            lambda: c.get("Istio", "default"),
            lambda i: (i or {}).get("status", {}).get("revisions") == {"total": 2, "ready": 2, "inUse": 2},
            what="Istio counting two ready revisions in use",
        )  # fmt: skip
        assert istio is not None
        assert istio["status"]["activeRevisionName"] == NEW
        assert istio["status"]["state"] == "Healthy"
        assert c.names("IstioRevision") == [OLD, NEW]
        assert c.get("IstioRevision", NEW)["spec"]["version"] == "v1.28.6"  # type: ignore[index]
        assert c.istiod_image(f"istiod-{OLD}") == "docker.io/istio/pilot:1.27.9"
        assert c.istiod_image(f"istiod-{NEW}") == "docker.io/istio/pilot:1.28.6"
        # the tag follows the active revision: its webhook now names the new one
        tag = wait_for(
            lambda: c.get("IstioRevisionTag", "default"),
            lambda t: (t or {}).get("status", {}).get("istioRevision") == NEW,
            what="tag following the active revision",
        )
        assert tag is not None and tag["status"]["state"] == "Healthy"
        hook = c.webhooks.read_mutating_webhook_configuration("istio-revision-tag-default")
        assert hook.metadata.labels["istio.io/rev"] == NEW
        # the old revision is held only by the pods it injected
        old_in_use = c.condition("IstioRevision", OLD, "InUse")
        assert old_in_use["status"] == "True"

        c.restart("demo", "app", "2026-11-30T18:00:00Z")
        wait_for(lambda: c.pod_revisions("demo"), lambda r: r == [NEW, NEW], what="pods on new")
        gone = wait_for(
            lambda: c.names("IstioRevision"), lambda n: n == [NEW], what="old revision pruned"
        )
        assert gone == [NEW]
        wait_for(
            lambda: c.istiod_image(f"istiod-{OLD}"), lambda i: i is None, what="old istiod gone"
        )
        assert c.istiod_image(f"istiod-{NEW}") == "docker.io/istio/pilot:1.28.6"
        hooks = [h.metadata.name for h in c.webhooks.list_mutating_webhook_configuration().items]
        assert f"istio-sidecar-injector-{OLD}" not in hooks
        assert f"istio-sidecar-injector-{NEW}" in hooks
        final = wait_for(
            lambda: c.get("Istio", "default"),
            lambda i: (i or {}).get("status", {}).get("revisions", {}).get("total") == 1,
            what="Istio counting one revision",
        )
        assert final is not None and final["status"]["revisions"] == {
            "total": 1,
            "ready": 1,
            "inUse": 1,
        }


def test_an_unused_old_revision_waits_out_the_grace_period(tmp_path: pathlib.Path) -> None:
    """With nothing using it the old revision goes at once after the grace period, not before."""
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.create("Istio", "default", istio_spec("v1.27.9", grace=2))
        c.wait_condition("IstioRevision", OLD, "Ready", "True")
        unused = c.wait_condition("IstioRevision", OLD, "InUse", "False")
        assert unused["reason"] == "NotReferencedByAnything"
        c.patch("Istio", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", NEW, "Ready", "True")
        assert OLD in c.names("IstioRevision")  # not yet: the grace period runs from InUse=False
        wait_for(lambda: c.names("IstioRevision"), lambda n: n == [NEW], what="old pruned")


def test_in_place_keeps_one_revision_named_after_the_istio(tmp_path: pathlib.Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.create("Istio", "default", {"version": "v1.27.9"})
        c.wait_condition("IstioRevision", "default", "Ready", "True")
        istio = c.get("Istio", "default")
        assert istio is not None
        assert istio["spec"]["updateStrategy"] == {"type": "InPlace"}  # the CRD's default
        assert istio["spec"]["namespace"] == "istio-system"
        assert c.istiod_image("istiod") == "docker.io/istio/pilot:1.27.9"
        c.patch("Istio", "default", {"version": "v1.28.6"})
        wait_for(
            lambda: c.istiod_image("istiod"),
            lambda i: i == "docker.io/istio/pilot:1.28.6",
            what="istiod upgraded in place",
        )
        assert c.names("IstioRevision") == ["default"]


def test_switching_in_place_to_revision_based_adds_a_revision_and_keeps_the_old_while_used(
    tmp_path: pathlib.Path,
) -> None:
    """The generator's first Sail commit: the same version, a new strategy, a second revision."""
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.create("Istio", "default", istio_spec("v1.27.9", grace=0, strategy="InPlace"))
        c.wait_condition("IstioRevision", "default", "Ready", "True")
        c.namespace("demo", **{"istio-injection": "enabled"})
        c.deployment("demo", "app")
        wait_for(lambda: c.pod_revisions("demo"), lambda r: r == ["default"] * 2, what="pods")
        c.patch("Istio", "default", {"updateStrategy": {"type": "RevisionBased"}})
        c.wait_condition("IstioRevision", OLD, "Ready", "True")
        assert c.names("IstioRevision") == ["default", OLD]
        held = c.condition("IstioRevision", "default", "InUse")
        assert (held["status"], held["reason"]) == ("True", "ReferencedByWorkloads")
        # istio-injection=enabled names the revision "default": the label must go too
        c.label_namespace("demo", {"istio-injection": None, "istio.io/rev": OLD})
        c.restart("demo", "app", "2026-11-30T18:00:00Z")
        wait_for(lambda: c.pod_revisions("demo"), lambda r: r == [OLD] * 2, what="pods moved")
        wait_for(lambda: c.names("IstioRevision"), lambda n: n == [OLD], what="default pruned")
        wait_for(lambda: c.istiod_image("istiod"), lambda i: i is None, what="plain istiod gone")


def test_an_alias_revision_is_upgraded_in_place_when_the_operator_moves_on(
    tmp_path: pathlib.Path,
) -> None:
    """sail#2262: the alias stays in the name, so a newer operator changes the revision in place."""
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.create("Istio", "default", istio_spec("v1.28-latest"))
        c.wait_condition("IstioRevision", "default-v1-28-latest", "Ready", "True")
        image = "istiod-default-v1-28-latest"
        assert c.istiod_image(image) == "docker.io/istio/pilot:1.28.6"
        c.apps.patch_namespaced_deployment(
            "sail-operator",
            "sail-operator",
            {"spec": {"template": {"spec": {"containers": [
                {"name": "sail-operator", "image": "quay.io/sail-dev/sail-operator:1.30.3"}]}}}},
        )  # fmt: skip
        wait_for(
            lambda: c.istiod_image(image),
            lambda i: i == "docker.io/istio/pilot:1.28.10",
            what="the same revision's istiod on 1.28.10",
        )
        assert c.names("IstioRevision") == ["default-v1-28-latest"]
        rev = c.get("IstioRevision", "default-v1-28-latest")
        assert rev is not None and rev["spec"]["version"] == "v1.28.10"


def test_the_default_grace_period_is_thirty_seconds_on_the_operators_clock(
    tmp_path: pathlib.Path,
) -> None:
    """An injected clock: 29 s after InUse turned False the old revision stays; 31 s, it goes."""
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        spec = istio_spec("v1.27.9")
        del spec["updateStrategy"]["inactiveRevisionDeletionGracePeriodSeconds"]
        c.create("Istio", "default", spec)
        c.wait_condition("IstioRevision", OLD, "Ready", "True")
        c.patch("Istio", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", NEW, "Ready", "True")
        since = dt.datetime.strptime(
            c.condition("IstioRevision", OLD, "InUse")["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ"
        ).replace(tzinfo=dt.UTC)
        sail = sim.controllers.sail

        def at(seconds: int) -> None:
            """Move the operator's clock, then touch the Istio so that it reconciles now."""
            now = since + dt.timedelta(seconds=seconds)
            sim.call(lambda _store: setattr(sail, "clock", lambda: now))
            touch = {"metadata": {"annotations": {"test/clock": str(seconds)}}}
            c.custom.patch_cluster_custom_object(
                "sailoperator.io", "v1", "istios", "default", touch
            )
            sim.wait_settled()

        at(29)
        assert c.names("IstioRevision") == [OLD, NEW]
        at(31)
        wait_for(lambda: c.names("IstioRevision"), lambda n: n == [NEW], what="old pruned at 31 s")
