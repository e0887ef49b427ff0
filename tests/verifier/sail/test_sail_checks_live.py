"""The Sail checks on a live simcluster whose Sail operator runs a RevisionBased canary.

Each test first sees its check pass on the same cluster, then makes the bad state the way it
happens (a simcluster fault, a stopped operator, a forgotten pod) and sees the check name it.
The stage expectations are written out here as data; `test_sail_flow.py` derives them from
plans.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster.sailhelp import Cluster, istio_spec
from tests.verifier.sail.sailsnap import judge_until, read
from verifier.checks import sail_cleanup, sail_cni, sail_controlplane, sail_inuse, sail_tags
from verifier.checks.sail_stage import CniExpectation, RevisionExpectation, SailStage
from verifier.result import Status

pytestmark = pytest.mark.slow

OLD = RevisionExpectation("default-v1-27-9", "1.27.9")
NEW = RevisionExpectation("default-v1-28-6", "1.28.6")
BEFORE = SailStage(
    "default", OLD, (OLD,), tags={"prod": OLD.name}, cni=CniExpectation("1.27.9"), old=OLD.name
)
# the version bumped: the tag follows the Istio at once, the old revision stays for its pods
CANARY = SailStage(
    "default", NEW, (NEW, OLD), tags={"prod": NEW.name}, cni=CniExpectation("1.27.9"), old=OLD.name
)
CLEANUP_GATE = SailStage(
    "default", NEW, (NEW,), (OLD,), tags={"prod": NEW.name}, old=OLD.name, cleanup=True
)
CLEANED = SailStage(
    "default", NEW, (NEW,), gone=(OLD,), tags={"prod": NEW.name}, old=OLD.name, cleanup=True
)


@contextmanager
def mesh(tmp_path: Path, *faults: str) -> Iterator[Cluster]:
    """Istio 1.27.9 (RevisionBased, grace 1 s), a tag `prod` following it, CNI, one app."""
    with SimCluster(workdir=tmp_path, faults=faults) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        c.namespace("istio-cni")
        c.create("Istio", "default", istio_spec("v1.27.9", grace=1))
        c.create("IstioRevisionTag", "prod", {"targetRef": {"kind": "Istio", "name": "default"}})
        c.create("IstioCNI", "default", {"version": "v1.27.9", "namespace": "istio-cni"})
        c.wait_condition("IstioRevision", OLD.name, "Ready", "True")
        c.namespace("demo", **{"istio.io/rev": "prod"})
        c.deployment("demo", "app")
        # (with in-use-forever, a forgotten copy of one of them joins them)
        wait_for(lambda: c.pod_revisions("demo"), lambda r: r.count(OLD.name) >= 2, what="on old")
        yield c


def test_a_canary_passes_stage_by_stage_and_cleanup_waits_for_the_pods(tmp_path: Path) -> None:
    with mesh(tmp_path) as c:
        kc = c.sim.kubeconfig
        for judge in (
            lambda s: sail_controlplane.check(s, BEFORE),
            lambda s: sail_tags.check(s, BEFORE),
            lambda s: sail_cni.check(s, BEFORE),
            sail_inuse.check,
        ):
            judge_until(kc, judge, Status.PASSED, what="the starting state")
        c.patch("Istio", "default", {"version": "v1.28.6"})
        cp = judge_until(
            kc, lambda s: sail_controlplane.check(s, CANARY), Status.PASSED, what="both Ready"
        )
        assert "Istio default Ready on default-v1-28-6" in cp.message
        judge_until(kc, lambda s: sail_tags.check(s, CANARY), Status.PASSED, what="tag moved")
        # the old revision is still used by the two pods it injected: the cleanup gate waits
        gate = sail_cleanup.check(read(kc), CLEANUP_GATE)
        assert gate.status is Status.PENDING, gate
        assert "2 object(s) still name default-v1-27-9: pod demo/app-" in gate.message
        assert "its istio.io/rev annotation (the injector's)" in gate.message
        c.restart("demo", "app", "2026-11-30T20:00:00Z")
        judge_until(
            kc, lambda s: sail_cleanup.check(s, CLEANUP_GATE), Status.PASSED, what="pods moved"
        )
        done = judge_until(
            kc, lambda s: sail_cleanup.check(s, CLEANED), Status.PASSED, what="old pruned"
        )
        assert "default-v1-27-9 deleted" in done.message
        cp = sail_controlplane.check(read(kc), CLEANED)
        assert cp.status is Status.PASSED, cp
        agreed = judge_until(
            kc,
            sail_inuse.check,
            Status.PASSED,
            what="InUse agreeing after the prune",
        )
        assert agreed.message == (
            "InUse agrees with the tags, namespaces and pods: default-v1-28-6: InUse=True, "
            "prod: InUse=True"
        )


def test_a_revision_that_never_gets_ready_holds_the_control_plane_stage(tmp_path: Path) -> None:
    with mesh(tmp_path) as c:
        kc = c.sim.kubeconfig
        judge_until(kc, lambda s: sail_controlplane.check(s, BEFORE), Status.PASSED, what="old")
        c.sim.set_fault("revision-stuck", True)  # for revisions created from now on
        c.patch("Istio", "default", {"version": "v1.28.6"})
        stuck = judge_until(
            kc,
            lambda s: sail_controlplane.check(s, CANARY),
            Status.PENDING,
            what="the new revision named as not Ready",
        )
        wait_for(
            lambda: sail_controlplane.check(read(kc), CANARY).message,
            lambda m: (
                "IstioRevision default-v1-28-6 not Ready" in m
                and "IstiodNotReady (not all istiod pods are ready)" in m
            ),
            what="the operator's reason in the message",
        )
        assert stuck.status is Status.PENDING  # waiting may heal it: the deadline judges
        c.sim.set_fault("revision-stuck", False)
        judge_until(kc, lambda s: sail_controlplane.check(s, CANARY), Status.PASSED, what="heal")


def test_a_forgotten_pod_fails_the_cleanup_gate_naming_the_pod_and_the_command(
    tmp_path: Path,
) -> None:
    with mesh(tmp_path, "in-use-forever") as c:
        kc = c.sim.kubeconfig
        c.patch("Istio", "default", {"version": "v1.28.6"})
        c.wait_condition("IstioRevision", NEW.name, "Ready", "True")
        c.restart("demo", "app", "2026-11-30T20:00:00Z")
        wait_for(
            lambda: c.pod_revisions("demo"),
            lambda r: r.count(OLD.name) == 1 and r.count(NEW.name) >= 2,
            what="the app moved, its forgotten pod left behind",
        )
        gate = judge_until(
            kc, lambda s: sail_cleanup.check(s, CLEANUP_GATE), Status.FAILED, what="the pod named"
        )
        assert gate.message.startswith(
            "pod demo/forgotten-default-v1-27-9 still carries istio.io/rev=default-v1-27-9 and "
            "no controller owns it"
        ), gate.message
        assert "(kubectl delete pod -n demo forgotten-default-v1-27-9)" in gate.message
        # the operator agrees: the revision is in use, so it is never pruned
        assert c.condition("IstioRevision", OLD.name, "InUse")["status"] == "True"
        judge_until(kc, sail_inuse.check, Status.PASSED, what="InUse agreeing with the pod")
        c.core.delete_namespaced_pod("forgotten-default-v1-27-9", "demo")
        judge_until(
            kc, lambda s: sail_cleanup.check(s, CLEANED), Status.PASSED, what="pruned once deleted"
        )


def test_in_use_that_disagrees_with_the_pods_is_named_when_the_operator_stops(
    tmp_path: Path,
) -> None:
    with mesh(tmp_path) as c:
        kc = c.sim.kubeconfig
        judge_until(kc, sail_inuse.check, Status.PASSED, what="InUse agreeing")
        c.apps.delete_namespaced_deployment("sail-operator", "sail-operator")
        c.apps.delete_namespaced_deployment("app", "demo")
        c.label_namespace("demo", {"istio.io/rev": None})
        wait_for(lambda: c.pod_revisions("demo"), lambda r: r == [], what="the app's pods gone")
        # nothing names the tag now, but the stopped operator still says it is in use
        stale = judge_until(kc, sail_inuse.check, Status.PENDING, what="stale InUse named")
        assert (
            "IstioRevisionTag prod says InUse=True ReferencedByWorkloads (" in stale.message
            and "no tag, namespace or pod names it: the operator has not caught up" in stale.message
        ), stale.message


def test_an_istio_cni_upgraded_in_place_passes_once_its_daemonset_rolled(tmp_path: Path) -> None:
    with mesh(tmp_path) as c:
        kc = c.sim.kubeconfig
        after = SailStage("default", OLD, (OLD,), cni=CniExpectation("1.28.6"), old=OLD.name)
        before = sail_cni.check(read(kc), after)
        assert before.status is Status.PENDING
        assert "IstioCNI default is at 1.27.9, expected 1.28.6" in before.message
        assert "not rolled out: its template runs 1.27.9, not 1.28.6" in before.message
        c.patch("IstioCNI", "default", {"version": "v1.28.6"})
        done = judge_until(kc, lambda s: sail_cni.check(s, after), Status.PASSED, what="rolled")
        assert (
            done.message == "IstioCNI default Ready, istio-cni/istio-cni-node rolled out on 1.28.6"
        )


def test_a_revision_whose_cni_is_missing_is_named_until_the_cni_exists(tmp_path: Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-system")
        spec = istio_spec("v1.27.9") | {"values": {"pilot": {"cni": {"enabled": True}}}}
        c.create("Istio", "default", spec)
        stage = SailStage("default", OLD, (OLD,), old=OLD.name)
        missing = judge_until(
            sim.kubeconfig,
            lambda s: sail_controlplane.check(s, stage),
            Status.PENDING,
            what="the missing CNI named",
        )
        wait_for(
            lambda: sail_controlplane.check(read(sim.kubeconfig), stage).message,
            lambda m: (
                "IstioRevision default-v1-27-9: DependenciesHealthy=False IstioCNINotFound" in m
            ),
            what="the operator's reason",
        )
        assert missing.status is Status.PENDING
        c.namespace("istio-cni")
        c.create("IstioCNI", "default", {"version": "v1.27.9", "namespace": "istio-cni"})
        judge_until(
            sim.kubeconfig,
            lambda s: sail_controlplane.check(s, stage),
            Status.PASSED,
            what="healthy once the CNI runs",
        )


def test_a_version_the_operator_refuses_fails_at_once_naming_it(tmp_path: Path) -> None:
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")  # installs 1.27 to 1.29; 1.26 is end-of-life for it
        c.namespace("istio-system")
        c.create("Istio", "default", istio_spec("v1.26.8"))
        eol = RevisionExpectation("default-v1-26-8", "1.26.8")
        refused = judge_until(
            sim.kubeconfig,
            lambda s: sail_controlplane.check(s, SailStage("default", eol, (eol,))),
            Status.FAILED,
            what="the refused version named",
        )
        assert refused.message.startswith(
            "Istio default: the operator refuses its version: version 'v1.26.8' is end-of-life"
        ), refused.message
        assert "set spec.version to a version this operator installs" in refused.message
