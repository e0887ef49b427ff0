"""Rollback on simcluster: once the rollback commit syncs, the verifier accepts the namespace on the
old revision again (and not before), the next stage's gate passes, and cleanup stays blocked.

Real generator (`istio-canary rollback`), real verifier CLI, real kubectl for the independent
look at the pods; the simulated Argo CD applies main.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from generator.cli import main
from tests.verifier.simseed import Seed, git, seed_cluster

pytestmark = pytest.mark.slow
OLD, NEW = "istio-sample.istio-system", "istio-sample-v17x.istio-system"


def proxies(seed: Seed, namespace: str) -> set[tuple[str, str]]:
    """(istio.io/rev label, proxyv2 tag) of every running pod in `namespace`, read with kubectl."""
    pods = json.loads(seed.kubectl("get", "pods", "-n", namespace, "-o", "json"))["items"]
    found = set()
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp") or pod["status"].get("phase") != "Running":
            continue
        tags = [
            c["image"].rsplit(":", 1)[-1]
            for c in pod["spec"]["containers"]
            if "proxyv2" in c["image"]
        ]
        found.add((pod["metadata"]["labels"].get("istio.io/rev", ""), ",".join(tags)))
    return found


def generator(seed: Seed, *args: str) -> Result:
    """`istio-canary ARGS --repo <CI clone>`, whatever its exit code."""
    return CliRunner().invoke(main, [*args, "--repo", str(seed.work)])


def roll_back(seed: Seed, namespace: str) -> str:
    """`istio-canary rollback --namespace NS` on a PR branch of the CI clone; returns the commit."""
    git(seed.work, "switch", "-q", "main")
    git(seed.work, "pull", "-q", "--ff-only", "origin", "main")
    seed.gen("rollback", "--namespace", namespace, "--branch", f"istio-canary/rollback-{namespace}")
    return git(seed.work, "rev-parse", "HEAD")


def test_rolled_back_namespace_is_accepted_on_the_old_revision_once_synced(
    tmp_path: Path,
) -> None:
    with seed_cluster(tmp_path) as seed:
        for _ in range(3):  # control-plane, gateways, namespaces-1 (demo-a) merged and synced
            seed.promote()
        assert proxies(seed, "demo-a") == {(NEW, "1.7.7")}

        commit = roll_back(seed, "demo-a")

        message = git(seed.work, "log", "-1", "--format=%B", commit)
        assert "Istio-Canary-Rollback: demo-a" in message
        plan = (seed.work / ".istio-canary/plan.yaml").read_text()
        assert "rolledBack:\n- demo-a" in plan

        # Merged but not yet applied: the verifier must not accept demo-a on either revision by
        # default; it expects the old one now and fails while the pods still run the new proxy.
        seed.sim.set_fault("no-sync", True)
        seed.push()
        early = seed.verify("stage", "3", timeout=2)
        assert early.exit_code == 1, early.output
        assert "demo-a" in early.message("data-plane")
        assert proxies(seed, "demo-a") == {(NEW, "1.7.7")}

        seed.sim.set_fault("no-sync", False)
        seed.sim.sync_now()
        seed.sim.wait_settled(20)

        after = seed.verify("stage", "3")
        assert after.exit_code == 0, after.output
        assert proxies(seed, "demo-a") == {(OLD, "1.6.14")}
        namespace = json.loads(seed.kubectl("get", "ns", "demo-a", "-o", "json"))
        labels = namespace["metadata"]["labels"]
        assert labels.get("istio-injection") == "enabled" and "istio.io/rev" not in labels
        probes = after.check("connectivity")["evidence"]
        assert probes and all(p["httpCode"] == "200" and p["mtls"] for p in probes)


def test_after_a_rollback_the_next_wave_gates_and_cleanup_stays_blocked(tmp_path: Path) -> None:
    with seed_cluster(tmp_path) as seed:
        for _ in range(3):
            seed.promote()
        roll_back(seed, "demo-a")
        seed.merge()

        gate = seed.promote()  # namespaces-2 (demo-b): its gate accepts demo-a on the old revision
        assert gate.exit_code == 0
        assert proxies(seed, "demo-b") == {(NEW, "1.7.7")}
        assert proxies(seed, "demo-a") == {(OLD, "1.6.14")}
        assert seed.verify("stage", "4").exit_code == 0

        # Cleanup would delete the control plane demo-a runs on: the generator refuses to
        # propose it, and the verifier's cleanup-safety check would refuse to pass it.
        git(seed.work, "switch", "-q", "main")
        git(seed.work, "pull", "-q", "--ff-only", "origin", "main")
        head = git(seed.work, "rev-parse", "HEAD")
        refused = generator(seed, "next")
        assert refused.exit_code == 2 and "demo-a" in refused.output
        assert git(seed.work, "rev-parse", "HEAD") == head


def test_rollback_refuses_a_namespace_that_never_moved(tmp_path: Path) -> None:
    with seed_cluster(tmp_path) as seed:
        seed.promote()
        git(seed.work, "switch", "-q", "main")
        git(seed.work, "pull", "-q", "--ff-only", "origin", "main")
        head = git(seed.work, "rev-parse", "HEAD")

        refused = generator(seed, "rollback", "--namespace", "demo-a")

        assert refused.exit_code == 2 and "demo-a" in refused.output
        assert git(seed.work, "rev-parse", "HEAD") == head
        assert git(seed.work, "status", "--porcelain") == ""
