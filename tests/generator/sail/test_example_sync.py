"""examples/sail-argocd runs on simcluster: synced as it is, its Istio gets Ready, and each
stage `next` writes, once merged and synced, moves the mesh the way the plan says."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.plan import PLAN_PATH, load_plan
from simcluster.harness import SimCluster
from tests.generator.helpers import run
from tests.generator.sail.sailrepo import VARIANTS, sail_repo
from tests.polling import wait_for
from tests.simcluster.sailhelp import Cluster

pytestmark = pytest.mark.slow

NAMESPACES = ("demo-a", "demo-b")


def _gateway_revisions(c: Cluster) -> list[str]:
    return c.pod_revisions("istio-ingress")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_example_syncs_and_every_stage_moves_the_mesh_as_planned(
    tmp_path: Path, variant: str
) -> None:
    repo = sail_repo(tmp_path / "repo", VARIANTS[variant])
    # the plan commit changes nothing the GitOps engine applies
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.sail is not None
    tag = plan.sail.tags[0].name
    old = plan.source.revision
    with SimCluster(repo=repo, workdir=tmp_path / "sim") as sim:
        c = Cluster(sim)
        c.wait_condition("Istio", "default", "Ready", "True", timeout=60)
        assert c.names("IstioRevision") == [old]
        c.wait_condition("IstioCNI", "default", "Ready", "True")
        for ns in NAMESPACES:
            wait_for(lambda ns=ns: c.pod_revisions(ns), lambda r: r == [old], what=ns)
        wait_for(lambda: _gateway_revisions(c), lambda r: r == [old], what="gateway")

        for stage in plan.stages:
            result = run("next", "--repo", str(repo))
            assert result.exit_code == 0, result.stderr
            sim.sync_now()
            n = stage.index
            active = plan.active_revision(n)
            wait_for(
                lambda: (c.get("Istio", "default") or {}).get("status", {}),
                lambda s, a=active: s.get("activeRevisionName") == a,
                what=f"stage {stage.name}: active revision {active}",
                timeout=30,
            )
            c.wait_condition("IstioRevision", active, "Ready", "True", timeout=30)
            for ns in NAMESPACES:
                want = plan.expected_revision(ns, n)
                wait_for(
                    lambda ns=ns: c.pod_revisions(ns),
                    lambda r, w=want: r == [w],
                    what=f"stage {stage.name}: pods of {ns} on {want}",
                    timeout=30,
                )
            gw = plan.target.revision if plan.gateways_moved(n) else plan.source.revision
            wait_for(
                lambda: _gateway_revisions(c),
                lambda r, w=gw: r == [w],
                what=f"stage {stage.name}: gateway on {gw}",
                timeout=30,
            )
            assert (c.get("IstioRevisionTag", tag) or {}).get("status", {}).get(
                "istioRevision"
            ) == plan.tag_revision(tag, n)
        # the operator retired both older revisions once nothing used them
        wait_for(
            lambda: c.names("IstioRevision"),
            lambda names: names == [plan.target.revision],
            what="only the new revision left",
            timeout=30,
        )
        ds = c.apps.read_namespaced_daemon_set("istio-cni-node", "istio-cni")
        assert ds.spec.template.spec.containers[0].image.endswith(":1.28.6")
