"""A Sail plan's stages judged by the registry's checks over `collect`, on a live simcluster.

The plan is a plan file's text; each stage's change is made through the API the way the GitOps
engine would apply its commit (the Istio's version, a restart annotation, the CNI's version).
After each, every snapshot check the registry picks for that stage must pass, read with the
verifier's own client over real HTTP; before it, the stage's control-plane expectations do not.
The same reads, recorded, are what `rbac.required` asks for and `verifier/rbac.yaml` grants.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.plan import Plan, load_plan
from simcluster.harness import SimCluster
from tests.polling import wait_for
from tests.simcluster.sailhelp import Cluster, istio_spec
from verifier import rbac
from verifier.checks import Phase, checks_for
from verifier.cluster import Cluster as VerifierCluster
from verifier.expectation import Expectation, expect_stage
from verifier.resources import Resource
from verifier.result import CheckResult, Status
from verifier.snapshot import collect

pytestmark = pytest.mark.slow

OLD, NEW = "default-v1-27-9", "default-v1-28-6"
PLAN = f"""\
apiVersion: istio-canary.io/v1alpha1
kind: UpgradePlan
flavour: sail
from: {{controlPlane: {{name: default, namespace: istio-system, version: 1.27.9, revision: {OLD}}}}}
to: {{controlPlane: {{name: default, namespace: istio-system, version: 1.28.6, revision: {NEW}}}}}
sail:
  istio: {{name: default, namespace: istio-system, updateStrategy: RevisionBased,
          inactiveRevisionDeletionGracePeriodSeconds: 1}}
  operator: {{form: olm-subscription, name: sail-operator}}
  tags: [{{name: prod, targetKind: Istio, targetName: default}}]
  cni: {{name: default, namespace: istio-cni, from: 1.27.9, to: 1.28.6}}
namespaces:
- {{name: demo, workloads: [{{kind: Deployment, name: app}}], meshedBy: [istio.io/rev],
   revLabel: prod}}
stages:
- {{index: 1, name: control-plane, kind: control-plane}}
- {{index: 2, name: namespaces-1, kind: namespaces, namespaces: [demo]}}
- {{index: 3, name: cleanup, kind: cleanup}}
- {{index: 4, name: cni, kind: cni}}
"""
RBAC_YAML = Path(rbac.__file__).with_name("rbac.yaml")


class Recording:
    """The verifier's client, noting each (verb, resource) it is asked for."""

    def __init__(self, cluster: VerifierCluster) -> None:
        self.cluster = cluster
        self.asked: set[tuple[str, Resource]] = set()

    def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        chunk: int = 500,
    ) -> Sequence[Any]:
        self.asked.add(("list", resource))
        return self.cluster.list(resource, namespace, label_selector, chunk)

    def get_or_none(self, resource: Resource, namespace: str, name: str) -> Any:
        self.asked.add(("get", resource))
        return self.cluster.get_or_none(resource, namespace, name)


def judge(kubeconfig: Path, expect: Expectation) -> list[CheckResult]:
    with VerifierCluster(kubeconfig) as c:
        snap = collect(c, expect)
    return [chk.evaluate(snap, expect) for chk in checks_for(expect, Phase.SNAPSHOT)]


def passes(
    kubeconfig: Path, plan: Plan, index: int, *, gate: bool = False, timeout: float = 20
) -> list[CheckResult]:
    """Every snapshot check of stage `index` (with the next stage's preconditions for a gate)."""
    expect = expect_stage(plan, index, with_next_preconditions=gate)
    return wait_for(
        lambda: judge(kubeconfig, expect),
        lambda rs: rs and all(r.status is Status.PASSED for r in rs),
        what=lambda: f"every check of stage {index} passing",
        timeout=timeout,
    )


def test_each_stage_of_a_sail_plan_passes_once_applied_and_not_before(tmp_path: Path) -> None:
    plan = load_plan(PLAN)
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        kc = sim.kubeconfig
        c.install_operator("1.29.2")
        for ns in ("istio-system", "istio-cni"):
            c.namespace(ns)
        c.create("Istio", "default", istio_spec("v1.27.9", grace=1))
        c.create("IstioRevisionTag", "prod", {"targetRef": {"kind": "Istio", "name": "default"}})
        c.create("IstioCNI", "default", {"version": "v1.27.9", "namespace": "istio-cni"})
        c.namespace("demo", **{"istio.io/rev": "prod"})
        c.deployment("demo", "app")
        names = [r.name for r in passes(kc, plan, 0)]
        assert names == ["control-planes", "revision-in-use", "revision-tags", "istio-cni",
                         "data-plane", "namespace-labels", "gateways"]  # fmt: skip
        early = {r.name: r for r in judge(kc, expect_stage(plan, 1))}
        assert early["control-planes"].status is Status.PENDING
        assert f"active revision is {OLD}, expected {NEW}" in early["control-planes"].message

        c.patch("Istio", "default", {"version": "v1.28.6"})  # stage 1: control-plane
        passes(kc, plan, 1)
        early = {r.name: r for r in judge(kc, expect_stage(plan, 2))}
        assert early["data-plane"].status is Status.PENDING

        c.restart("demo", "app", "2026-11-30T20:00:00Z")  # stage 2: the wave's restart
        assert "cleanup-safety" not in [r.name for r in passes(kc, plan, 2)]
        gate = {r.name: r for r in passes(kc, plan, 2, gate=True)}  # the cleanup PR's gate
        assert gate["cleanup-safety"].message.startswith(
            f"no tag, namespace label or pod names {OLD}"
        )
        # cleanup commits nothing here: the operator prunes the old revision by itself
        after = {r.name: r for r in passes(kc, plan, 3)}
        assert f"{OLD} deleted" in after["cleanup-safety"].message
        assert c.names("IstioRevision") == [NEW]

        c.patch("IstioCNI", "default", {"version": "v1.28.6"})  # stage 4: cni
        done = {r.name: r for r in passes(kc, plan, 4)}
        assert "rolled out on 1.28.6" in done["istio-cni"].message


def test_every_read_of_a_sail_evaluation_is_asked_for_and_granted_read_only(
    tmp_path: Path,
) -> None:
    plan = load_plan(PLAN)
    needed = {(verb, res) for verb, res, _ in rbac.required("none", probes=False, flavour="sail")}
    role = yaml.safe_load(RBAC_YAML.read_text())
    with SimCluster(workdir=tmp_path) as sim:
        c = Cluster(sim)
        c.install_operator("1.29.2")
        c.namespace("istio-cni")
        c.create("IstioCNI", "default", {"version": "v1.27.9", "namespace": "istio-cni"})
        with VerifierCluster(sim.kubeconfig) as vc:
            rec = Recording(vc)
            for index in range(plan.total + 1):
                collect(rec, expect_stage(plan, index, with_next_preconditions=True))
    sail_reads = {(v, r) for v, r in rec.asked if r.group == "sailoperator.io"}
    assert {r.plural for _, r in sail_reads} == {
        "istios", "istiorevisions", "istiorevisiontags", "istiocnis"}  # fmt: skip
    assert ("get", next(r for _, r in rec.asked if r.plural == "daemonsets")) in rec.asked
    missing = sorted(f"{v} {r.label}" for v, r in rec.asked - needed)
    assert not missing, f"reads rbac.required does not ask for: {missing}"
    for verb, res in rec.asked:
        assert any(
            res.group in rule["apiGroups"] and res.plural in rule["resources"]
            and verb in rule["verbs"]
            for rule in role["rules"]
        ), f"rbac.yaml does not grant {verb} {res.label}"  # fmt: skip
    [sail_rule] = [r for r in role["rules"] if r["apiGroups"] == ["sailoperator.io"]]
    assert sail_rule == {
        "apiGroups": ["sailoperator.io"],
        "resources": ["istios", "istiorevisions", "istiorevisiontags", "istiocnis"],
        "verbs": ["get", "list"],
    }
    [ds_rule] = [r for r in role["rules"] if "daemonsets" in r["resources"]]
    assert ds_rule["verbs"] == ["get"]
