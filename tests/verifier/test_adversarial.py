"""The gate cannot be talked into a pass: each false pass found by adversarial testing, rebuilt.

One simulated upgrade of the seed (real git, simcluster over HTTP, the real generator and the real
verifier CLI, real kubectl for what an operator would type) is shared by the cases that can undo
their tampering; each case builds the bad state, asserts that the gate (or `stage N`) does not
pass and names the cause, undoes it, and shows the same flow passing without the tampering. The
module walks the upgrade forward once: cases run in file order, each first bringing the shared
upgrade to the stage it needs.

The trust principle under test: the gate's trust comes from the base branch and the live
cluster, never from the pull request under review.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main as generator_cli
from generator.resources import example_repo_dir
from rehearsal.commands import GatePacing, verify
from tests.conftest import GIT_ENV
from tests.verifier.simseed import Seed, git, seed_cluster

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

NEW_REV = "istio-sample-v17x.istio-system"
OLD_REV = "istio-sample.istio-system"
FAST = 3.0  # seconds a gate may poll a state that must not pass


class Upgrade:
    """The shared upgrade: which stage's PR is open in the CI clone."""

    def __init__(self, seed: Seed) -> None:
        self.seed = seed
        self.open = 0  # the stage whose PR is open (0: none yet)
        self.pr_branch = ""

    def pr(self, stage: int) -> Seed:
        """Bring the upgrade to "stage `stage`'s PR open, everything before it merged"."""
        s = self.seed
        assert stage >= self.open, f"the shared upgrade is past stage {stage}'s PR"
        while self.open < stage:
            if self.open:
                gate = s.verify("gate")
                assert gate.exit_code == 0, gate.output
                s.merge()
            self.opened()
        return s

    def opened(self) -> None:
        """Open the next stage's PR and remember its branch."""
        self.open = int(self.seed.open_pr())
        self.pr_branch = git(self.seed.work, "branch", "--show-current")

    def branch(self) -> str:
        return self.pr_branch


@pytest.fixture(scope="module")
def upgrade(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgrade]:
    tmp = tmp_path_factory.mktemp("adversarial")
    home = tmp / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for key, value in GIT_ENV.items():
            mp.setenv(key, value)
        mp.setenv("GIT_CONFIG_GLOBAL", os.fspath(home / ".gitconfig"))
        mp.setenv("KUBECACHEDIR", os.fspath(home / "kubecache"))
        with seed_cluster(tmp) as seed:
            yield Upgrade(seed)


def tampered(seed: Seed, branch: str, name: str) -> None:
    """Switch the CI clone to a copy of the PR branch that the next commit --amend tampers."""
    git(seed.work, "switch", "-q", "-C", name, branch)


def amend(seed: Seed) -> None:
    git(seed.work, "add", "-A")
    git(seed.work, "commit", "-q", "--amend", "--no-edit")


def kubectl(seed: Seed, *args: str) -> str:
    return seed.kubectl(*args)


# -- 1. the gate looks at what the PR changes ------------------------------------------------


def test_1_a_pr_that_changes_more_than_the_stage_fails_naming_the_extra_objects(
    upgrade: Upgrade,
) -> None:
    seed = upgrade.pr(3)
    pr = upgrade.branch()
    tampered(seed, pr, "tampered/extra-deletes")
    (seed.work / "argocd/istio-operator-v16x.yaml").unlink()  # the old operator release
    istio = seed.work / "istio-system/istio.yaml"
    istio.write_text(istio.read_text().replace("1.6.14", "1.6.15", 1))
    amend(seed)
    bad = seed.verify("gate", timeout=FAST)
    assert bad.exit_code == 1, bad.output
    msg = bad.message("pr-matches-stage")
    assert "argocd/istio-operator-v16x.yaml: deletes Application argocd/istio-operator-v16x" in msg
    assert (
        "istio-system/istio.yaml: changes Istio istio-system/istio-sample beyond the stage" in msg
    )
    assert bad.data["reason"].startswith("pr-matches-stage")  # failed at once, not at the deadline

    git(seed.work, "switch", "-q", pr)  # control: the PR as `next` wrote it
    good = seed.verify("gate")
    assert good.exit_code == 0, good.output
    assert "exactly `istio-canary next`" in good.message("pr-matches-stage")


def test_1_a_pr_that_drops_part_of_the_stage_fails_naming_what_is_missing(
    upgrade: Upgrade,
) -> None:
    seed = upgrade.pr(3)
    pr = upgrade.branch()
    tampered(seed, pr, "tampered/missing")
    git(seed.work, "checkout", "HEAD~1", "--", "apps/demo-a")  # keep the workloads as they were
    amend(seed)
    bad = seed.verify("gate", timeout=FAST)
    assert bad.exit_code == 1
    assert "changes Deployment demo-a/app-a beyond the stage" in bad.message("pr-matches-stage")
    git(seed.work, "switch", "-q", pr)


# -- 2. expectations come from the base branch's plan ----------------------------------------


def test_2_a_pr_that_empties_its_connectivity_checks_fails_and_the_base_plan_is_used(
    upgrade: Upgrade,
) -> None:
    seed = upgrade.pr(3)
    pr = upgrade.branch()
    tampered(seed, pr, "tampered/plan")
    plan_file = seed.work / ".istio-canary/plan.yaml"
    lines = plan_file.read_text().splitlines(keepends=True)
    kept: list[str] = []
    skipping = False
    for line in lines:  # drop every connectivity check: the baseline and each stage's
        if line.strip() in ("checks:", "baselineChecks:"):
            skipping, indent = True, len(line) - len(line.lstrip())
            continue
        if skipping and (
            len(line) - len(line.lstrip()) > indent or line.lstrip().startswith("- from")
        ):
            continue
        skipping = False
        kept.append(line)
    plan_file.write_text("".join(kept))
    assert "- from:" not in plan_file.read_text()  # the PR's plan has no connectivity check left
    amend(seed)
    bad = seed.verify("gate", timeout=FAST)
    assert bad.exit_code == 1
    msg = bad.message("pr-matches-stage")
    assert ".istio-canary/plan.yaml: changes UpgradePlan" in msg
    assert "baselineChecks" in msg and "stages" in msg
    # the expectations still came from the base plan: its probes ran, though the PR emptied them
    probes = bad.check("connectivity")["evidence"]
    assert probes and all(p["httpCode"] == "200" for p in probes)
    assert any("trusted base" in n for n in bad.data["notes"])
    git(seed.work, "switch", "-q", pr)
    assert seed.verify("gate").exit_code == 0


# -- 8. `stage N` is tied to this cluster ------------------------------------------------------


def test_8_stage_n_on_the_checkout_of_another_repo_does_not_pass(
    upgrade: Upgrade, tmp_path: Path
) -> None:
    seed = upgrade.pr(3)
    other = tmp_path / "other"
    shutil.copytree(example_repo_dir(), other)
    git(other, "init", "-q", "-b", "main")
    git(other, "add", "-A")
    git(other, "commit", "-qm", "another team's copy of the seed")
    res = CliRunner().invoke(generator_cli, ["init", "--repo", str(other), "--to-version", "1.7.7"])
    assert res.exit_code == 0, res.output
    for _ in range(2):
        res = CliRunner().invoke(generator_cli, ["next", "--repo", str(other)])
        assert res.exit_code == 0, res.output
    bad = verify(
        ["stage", "2"],
        repo=other,
        kubeconfig=Path(seed.sim.kubeconfig),
        report=tmp_path / "other.json",
        pacing=GatePacing(timeout=FAST, successes=2, probe_timeout=2),
    )
    assert bad.exit_code == 1
    assert "which is not in this checkout" in bad.message("gitops-sync")
    git(seed.work, "switch", "-q", "main")
    try:
        good = seed.verify("stage", "2")  # control: the repo this cluster applies
    finally:
        git(seed.work, "switch", "-q", upgrade.branch())
    assert good.exit_code == 0, good.output
    assert good.check("gitops-sync")["status"] == "passed"


# -- a meshed namespace added after init -------------------------------------------------------


def test_a_meshed_namespace_outside_the_plan_is_named_by_every_gate(upgrade: Upgrade) -> None:
    seed = upgrade.pr(3)
    kubectl(seed, "create", "namespace", "demo-c")
    kubectl(seed, "label", "namespace", "demo-c", "istio-injection=enabled")
    bad = seed.verify("gate", timeout=FAST)
    stage = seed.verify("stage", "2", timeout=FAST)
    kubectl(seed, "label", "namespace", "demo-c", "istio-injection-")
    for r in (bad, stage):
        assert r.exit_code == 1
        assert "meshed namespace(s) not in the plan: demo-c (istio-injection=enabled)" in r.message(
            "namespace-labels"
        )
        assert r.data["reason"].startswith("namespace-labels")  # at once, not at the deadline
    assert seed.verify("gate").exit_code == 0


# -- 4. live namespace labels ------------------------------------------------------------------


def test_4_a_moved_namespace_relabelled_for_the_old_control_plane_does_not_pass(
    upgrade: Upgrade,
) -> None:
    seed = upgrade.pr(4)  # demo-a moved by stage 3
    seed.sim.set_fault("no-sync", True)
    try:
        kubectl(seed, "label", "namespace", "demo-a", "istio-injection=enabled", "istio.io/rev-")
        bad_gate = seed.verify("gate", timeout=FAST)
        bad_stage = seed.verify("stage", "3", timeout=FAST)
    finally:
        kubectl(seed, "label", "namespace", "demo-a", "istio-injection-", f"istio.io/rev={NEW_REV}")
        seed.sim.set_fault("no-sync", False)
    for r in (bad_gate, bad_stage):
        assert r.exit_code == 1, r.output
        msg = r.message("namespace-labels")
        assert f"namespace demo-a has istio-injection=enabled (injected by {OLD_REV})" in msg
    seed.sim.sync_now()
    seed.sim.wait_settled(20)
    assert seed.verify("gate").exit_code == 0


# -- 6. connectivity probes every endpoint, each answer must be mTLS ---------------------------


def test_6_sidecar_less_pods_behind_a_target_fail_connectivity(upgrade: Upgrade) -> None:
    seed = upgrade.pr(4)
    for name in ("plain-1", "plain-2"):
        kubectl(
            seed, "run", name, "-n", "demo-a", "--image=k8s.gcr.io/echoserver:1.10",
            "--labels=k8s-app=app-a", "--annotations=sidecar.istio.io/inject=false",
            "--port=8080",
        )  # fmt: skip
    seed.sim.wait_settled(20)
    try:
        bad = seed.verify("gate", timeout=FAST)
    finally:
        kubectl(seed, "delete", "pod", "-n", "demo-a", "plain-1", "plain-2", "--wait=false")
        seed.sim.wait_settled(20)
    assert bad.exit_code == 1, bad.output
    msg = bad.message("connectivity")
    assert "without a sidecar, which answer without mTLS: demo-a/plain-1, demo-a/plain-2" in msg
    good = seed.verify("gate")
    assert good.exit_code == 0, good.output
    probes = good.check("connectivity")["evidence"]
    to_a = [p for p in probes if p["target"].startswith("app-a.")]
    assert to_a and all(set(p["answeredBy"]) == set(p["endpoints"]) for p in to_a)


# -- 3. the revision is what injected the proxy, not the label ---------------------------------


def test_3_a_pod_labelled_for_the_new_revision_but_injected_by_the_old_one_fails(
    upgrade: Upgrade,
) -> None:
    seed = upgrade.pr(4)  # demo-b still on the old control plane (istio-injection=enabled)
    kubectl(
        seed, "run", "impostor", "-n", "demo-b", "--image=k8s.gcr.io/echoserver:1.10",
        f"--labels=k8s-app=impostor,istio.io/rev={NEW_REV}",
    )  # fmt: skip
    seed.sim.wait_settled(20)
    try:
        pod = json.loads(kubectl(seed, "get", "pod", "-n", "demo-b", "impostor", "-o", "json"))
        assert pod["metadata"]["labels"]["istio.io/rev"] == NEW_REV
        proxy = next(c for c in pod["spec"]["containers"] if c["name"] == "istio-proxy")
        assert proxy["image"].endswith(":1.6.14")
        bad = seed.verify("gate", timeout=FAST)
    finally:
        kubectl(seed, "delete", "pod", "-n", "demo-b", "impostor", "--wait=false")
        seed.sim.wait_settled(20)
    assert bad.exit_code == 1
    assert (
        f"demo-b/impostor labelled {NEW_REV} but its proxy 1.6.14 was injected by {OLD_REV}"
        in bad.message("data-plane")
    )
    assert bad.data["reason"].startswith("data-plane")  # at once: a restart is needed
    assert seed.verify("gate").exit_code == 0


# -- exit codes --------------------------------------------------------------------------------


def test_under_api_flaky_a_definite_failure_is_exit_1_not_could_not_verify(
    upgrade: Upgrade,
) -> None:
    seed = upgrade.pr(4)
    seed.sim.set_fault("no-sync", True)
    kubectl(seed, "label", "namespace", "demo-b", f"istio.io/rev={NEW_REV}", "istio-injection-")
    seed.sim.faults.flaky_share = 0.5
    seed.sim.set_fault("api-flaky", True)
    try:
        bad = seed.verify("gate", "--request-timeout", "1", timeout=8)
    finally:
        seed.sim.set_fault("api-flaky", False)
        kubectl(seed, "label", "namespace", "demo-b", "istio-injection=enabled", "istio.io/rev-")
        seed.sim.set_fault("no-sync", False)
    assert bad.exit_code == 1, bad.output
    assert "namespace demo-b has istio.io/rev=" + NEW_REV in bad.data["reason"]
    seed.sim.sync_now()
    seed.sim.wait_settled(20)
    assert seed.verify("gate").exit_code == 0


def test_a_paused_rollout_fails_early_naming_it(upgrade: Upgrade) -> None:
    seed = upgrade.pr(4)
    kubectl(seed, "rollout", "pause", "deployment/app-b", "-n", "demo-b")
    seed.merge()  # stage 4 changes app-b's template; the paused Deployment does not roll
    try:
        bad = seed.verify("stage", "4", timeout=30)
    finally:
        kubectl(seed, "rollout", "resume", "deployment/app-b", "-n", "demo-b")
        seed.sim.wait_settled(20)
    assert bad.exit_code == 1
    assert "Deployment demo-b/app-b rollout is paused" in bad.message("data-plane")
    assert "kubectl rollout resume deployment/app-b -n demo-b" in bad.message("data-plane")
    assert bad.data["reason"].startswith("data-plane")  # early, not after the 30 s deadline
    good = seed.verify("stage", "4")
    assert good.exit_code == 0, good.output
    upgrade.opened()  # the cleanup PR


def test_3_at_the_cleanup_gate_a_pod_anywhere_still_on_the_old_istiod_is_named(
    upgrade: Upgrade, tmp_path: Path
) -> None:
    seed = upgrade.pr(5)
    # The one manual step of the seed's cleanup: orphan the gateway the old CR still owns.
    kubectl(
        seed, "patch", "mgw", "-n", "istio-system", "istio-ingressgateway", "--type=json",
        '-p=[{"op":"remove","path":"/metadata/ownerReferences"}]',
    )  # fmt: skip
    # A pod outside the plan's namespaces, injected by the old istiod but labelled for the new
    # revision (e.g. copied from an old manifest and relabelled).
    impostor = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "impostor",
            "namespace": "default",
            "labels": {"app": "impostor", "istio.io/rev": NEW_REV},
            "annotations": {"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'},
        },
        "spec": {
            "containers": [
                {"name": "app", "image": "k8s.gcr.io/echoserver:1.10"},
                {
                    "name": "istio-proxy",
                    "image": "docker.io/istio/proxyv2:1.6.14",
                    "env": [{"name": "CA_ADDR", "value": "istiod.istio-system.svc:15012"}],
                },
            ]
        },
    }
    manifest = tmp_path / "impostor.json"
    manifest.write_text(json.dumps(impostor))
    kubectl(seed, "apply", "-f", str(manifest))
    seed.sim.wait_settled(20)
    try:
        bad = seed.verify("gate", timeout=FAST)
    finally:
        kubectl(seed, "delete", "pod", "-n", "default", "impostor", "--wait=false")
        seed.sim.wait_settled(20)
    assert bad.exit_code == 1, bad.output
    assert f"1 pod(s) still on {OLD_REV}: default/impostor" in bad.message("cleanup-safety")
    good = seed.verify("gate")  # control: the cleanup PR passes once it is gone
    assert good.exit_code == 0, good.output


def test_non_finite_seconds_are_a_usage_error(upgrade: Upgrade) -> None:
    seed = upgrade.seed
    for option in ("--timeout", "--interval"):
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "istio-canary-verify"),
                "gate", "--repo", str(seed.work), "--kubeconfig", str(seed.sim.kubeconfig),
                option, "nan",
            ],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "finite" in done.stderr


# -- 5. a stuck istiod rollout is not ready ----------------------------------------------------


def test_5_a_stuck_istiod_rollout_is_not_ready(upgrade: Upgrade) -> None:
    seed = upgrade.seed  # stage 4 applied, the cleanup PR open
    before = seed.verify("stage", "4")
    assert before.exit_code == 0, before.output  # control: the finished rollout is ready
    # The new istiod's next pod cannot pull its image while the old pod stays Ready.
    seed.sim.set_fault("no-sync", True)
    image = '{"spec":{"pilot":{"image":"docker.io/istio/pilot:1.7.99"}}}'
    kubectl(
        seed,
        "patch",
        "istio",
        "istio-sample-v17x",
        "-n",
        "istio-system",
        "--type=merge",
        "-p",
        image,
    )
    seed.sim.wait_settled(20)
    try:
        dep = json.loads(
            kubectl(
                seed,
                "get",
                "deploy",
                "istiod-istio-sample-v17x",
                "-n",
                "istio-system",
                "-o",
                "json",
            )
        )
        assert dep["status"]["readyReplicas"] == 1  # what the old check took for "ready"
        bad = seed.verify("stage", "4", timeout=FAST)
    finally:
        undo = '{"spec":{"pilot":{"image":null}}}'
        kubectl(
            seed,
            "patch",
            "istio",
            "istio-sample-v17x",
            "-n",
            "istio-system",
            "--type=merge",
            "-p",
            undo,
        )
        seed.sim.set_fault("no-sync", False)
        seed.sim.sync_now()
        seed.sim.wait_settled(20)
    assert bad.exit_code == 1
    msg = bad.message("control-planes")
    assert "istiod istio-system/istiod-istio-sample-v17x cannot start" in msg
    assert "ImagePullBackOff (docker.io/istio/pilot:1.7.99)" in msg
    assert bad.data["reason"].startswith("control-planes")  # at once
    after = seed.verify("stage", "4")
    assert after.exit_code == 0, after.output
