"""The seed flow on the real control plane: simcluster's Istio behaviours as its controllers.

The Banzai operator, the gateways, the GitOps sync (``simcluster.realserver``) and the mesh behind
``kubectl exec`` (``simcluster.meshexec``) run against the real API server through
``simcluster.apistore``; Deployments, ReplicaSets, Pods, scheduling, Endpoints and garbage
collection are the real controller-manager's and scheduler's, pod lifecycle is kwok's, sidecar
injection is the API server calling our webhook. The rehearsal's own ``Pipeline`` drives it:
generator commits, the verifier's gate, the merge, the sync.
"""

from __future__ import annotations

import contextlib
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from core.plan import Stage
from realcluster import ControlPlane
from realcluster.crds import CRDS
from realcluster.kwokcrds import EXEC_CRD, KWOK_EXEC_ARGS
from rehearsal.commands import GatePacing
from rehearsal.pipeline import Pipeline
from rehearsal.repos import make_repos
from simcluster.realserver import Coordinates, RealSimCluster
from tests.polling import wait_for
from tests.realcluster.conftest import _skip_reason, kubectl

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

TARGET = "1.7.7"
# The real control plane rolls out in seconds, not the simulated one's fraction of one.
PACING = GatePacing(timeout=120.0, interval=1.0, successes=2, probe_timeout=5.0)
# For what must fail: long enough to see it is not a moment's state.
QUICK = GatePacing(timeout=20.0, interval=1.0, successes=2, probe_timeout=5.0)


@contextlib.contextmanager
def seed(tmp: Path, faults: tuple[str, ...] = ()) -> Iterator[Pipeline]:
    """A control plane with the seed synced from origin's main, planned, stage 0 applied."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        cp = stack.enter_context(
            ControlPlane(
                tmp / "cp",
                crds=[*CRDS, EXEC_CRD],
                kwok_args=KWOK_EXEC_ARGS,
                exec_path=[tmp / "mesh"],
            )
        )
        repos = make_repos(tmp / "origin", tmp / "work")
        sim = stack.enter_context(
            RealSimCluster(
                Coordinates.of(cp), repo=repos.origin, sync_interval=1.0, faults=faults,
                mesh_dir=tmp / "mesh",
            )
        )  # fmt: skip
        pipeline = Pipeline(repos, cast(Any, sim), reports=tmp / "reports", pacing=PACING)
        pipeline.generate("init", "--to-version", TARGET)
        repos.push_main()
        pipeline.sync()
        yield pipeline


def advance(pipeline: Pipeline) -> Stage:
    """One stage as CI and the forge do it: PR, gate passes, merge, sync, stage verified."""
    stage = pipeline.open_pr()
    gate = pipeline.verify("gate")
    assert gate.exit_code == 0, f"gate of {stage.name}: {gate.output}"
    pipeline.merge()
    pipeline.sync()
    verdict = pipeline.verify("stage", str(stage.index))
    assert verdict.exit_code == 0, f"stage {stage.name}: {verdict.output}"
    return stage


def gateway_uid(pipeline: Pipeline) -> str:
    return pipeline.kubectl(
        "get", "mgw", "-n", "istio-system", "istio-ingressgateway", "-o", "jsonpath={.metadata.uid}"
    )


def gateway_state(pipeline: Pipeline) -> str:
    """The gateway's MeshGateway and Service uids ("" for one that is absent)."""
    out = []
    for kind in ("mgw", "service"):
        found = kubectl(
            pipeline.kubeconfig, "get", kind, "-n", "istio-system", "istio-ingressgateway",
            "-o", "jsonpath={.metadata.uid}", check=False,
        )  # fmt: skip
        out.append(found.stdout if found.returncode == 0 else "")
    return " ".join(out)


def to_cleanup(pipeline: Pipeline) -> Stage:
    """Every stage before cleanup done; the cleanup PR open and its gate failing on the gateway
    the 0.6 operator made (still owned by the old CR)."""
    names = [advance(pipeline).name for _ in range(4)]
    assert names == ["control-plane", "gateways", "namespaces-1", "namespaces-2"]
    stage = pipeline.open_pr()
    assert stage.kind == "cleanup"
    gate = pipeline.verify("gate", pacing=QUICK)
    assert gate.exit_code == 1, gate.output
    assert "istio-system/istio-ingressgateway" in gate.output and "owned" in gate.output, (
        gate.output
    )
    return stage


def test_the_seed_flow_gate_by_gate_with_the_orphan_patch(tmp_path: Path) -> None:
    """After the manual step the cleanup gate names, the real GC keeps the gateway."""
    with seed(tmp_path) as pipeline:
        assert pipeline.verify("stage", "0").exit_code == 0
        stage = to_cleanup(pipeline)
        uid = gateway_uid(pipeline)
        pipeline.kubectl(
            "patch", "mgw", "-n", "istio-system", "istio-ingressgateway", "--type=json",
            '-p=[{"op":"remove","path":"/metadata/ownerReferences"}]',
        )  # fmt: skip
        gate = pipeline.verify("gate")
        assert gate.exit_code == 0, gate.output
        pipeline.merge()
        pipeline.sync()
        # the old CR is gone (the real GC has acted on what it owned) before we look
        wait_for(
            lambda: kubectl(pipeline.kubeconfig, "get", "istio", "-n", "istio-system",
                            "-o", "name", check=False).stdout,
            lambda out: out.split() == ["istio.istio.banzaicloud.io/istio-sample-v17x"],
            what="only the new CR left", timeout=60,
        )  # fmt: skip
        verdict = pipeline.verify("stage", str(stage.index))
        assert verdict.exit_code == 0, verdict.output
        assert gateway_uid(pipeline) == uid


def test_merging_cleanup_with_the_gateway_still_owned_loses_it_to_the_real_gc(
    tmp_path: Path,
) -> None:
    with seed(tmp_path) as pipeline:
        assert pipeline.verify("stage", "0").exit_code == 0
        stage = to_cleanup(pipeline)
        before = gateway_state(pipeline)
        pipeline.merge()  # against the gate's advice
        pipeline.sync()
        # The real GC deletes the MeshGateway with the old CR, and its Service with it; Argo CD
        # (our sync) recreates the MeshGateway from git, so what comes back is new objects.
        wait_for(
            lambda: set(gateway_state(pipeline).split()).isdisjoint(before.split()),
            what="the gateway collected by the real GC", timeout=90,
        )  # fmt: skip
        verdict = pipeline.verify("stage", str(stage.index), pacing=QUICK)
        assert verdict.exit_code == 1, verdict.output
        assert "istio-ingressgateway was recreated during the upgrade" in verdict.output, (
            verdict.output
        )


def test_split_trust_is_caught_at_the_first_namespace_wave(tmp_path: Path) -> None:
    with seed(tmp_path) as pipeline:
        assert pipeline.verify("stage", "0").exit_code == 0
        cast(RealSimCluster, pipeline.sim).set_fault("split-trust", True)
        assert [advance(pipeline).name for _ in range(2)] == ["control-plane", "gateways"]
        stage = pipeline.open_pr()
        assert stage.name == "namespaces-1"
        assert pipeline.verify("gate").exit_code == 0  # nothing moved yet: both sides on 1.6
        pipeline.merge()
        pipeline.sync()
        verdict = pipeline.verify("stage", str(stage.index), pacing=QUICK)
        assert verdict.exit_code == 1, verdict.output
        assert "connectivity" in verdict.output and "503" in verdict.output, verdict.output


def test_stage_0_and_the_control_plane_stage_pass_their_gates(tmp_path: Path) -> None:
    with seed(tmp_path) as pipeline:
        kc = pipeline.kubeconfig
        # the operator made istiod and the gateway; the echo apps run 2/2 with 1.6 sidecars
        wait_for(
            lambda: kubectl(kc, "get", "istio", "-n", "istio-system", "istio-sample",
                            "-o", "jsonpath={.status.Status}", check=False).stdout,
            lambda s: s == "Available", what="the 1.6 CR Available", timeout=120,
        )  # fmt: skip
        verdict = pipeline.verify("stage", "0")
        assert verdict.exit_code == 0, verdict.output
        stage = pipeline.open_pr()
        assert stage.name == "control-plane"
        verdict = pipeline.verify("gate")
        assert verdict.exit_code == 0, verdict.output
        pipeline.merge()
        pipeline.sync()
        verdict = pipeline.verify("stage", str(stage.index))
        assert verdict.exit_code == 0, verdict.output


def test_simcluster_serve_control_plane_real_runs_the_seed_until_sigterm(tmp_path: Path) -> None:
    """The command line: the seed synced, injected, and curl through kubectl exec answered by
    the mesh with the caller's identity; SIGTERM stops the whole control plane."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    script = shutil.which("simcluster", path=str(Path(sys.executable).parent))
    assert script is not None, "the simcluster console script is not installed in this venv"
    repos = make_repos(tmp_path / "origin", tmp_path / "work")
    kc = tmp_path / "real.kubeconfig"
    proc = subprocess.Popen(
        [script, "serve", "--control-plane", "real", "--repo", str(repos.origin),
         "--kubeconfig", str(kc)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline().strip() if ready else "(nothing within 120 s)"
        match = re.fullmatch(r"simcluster: serving (https://\S+) \(kubeconfig .+; real .+\)", line)
        assert match, f"simcluster serve printed {line!r}"
        wait_for(
            lambda: kubectl(kc, "get", "pods", "-n", "demo-a", "--no-headers", check=False).stdout,
            lambda out: " 2/2 " in out and "Running" in out,
            what="demo-a's pod injected and running", timeout=120,
        )  # fmt: skip
        done = kubectl(
            kc, "exec", "-n", "demo-a", "deploy/app-a", "-c", "echo-service", "--",
            "curl", "-sS", "http://app-b.demo-b.svc.cluster.local:80/",
        )  # fmt: skip
        assert "URI=spiffe://cluster.local/ns/demo-a/sa/default" in done.stdout, done.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    host, port = match.group(1).removeprefix("https://").rsplit(":", 1)
    with pytest.raises(ConnectionRefusedError):  # the API server went with it
        socket.create_connection((host, int(port)), timeout=2).close()


def test_no_sync_holds_a_merged_stage_back_on_the_real_control_plane(tmp_path: Path) -> None:
    with seed(tmp_path) as pipeline:
        sim = cast(RealSimCluster, pipeline.sim)
        sim.set_fault("no-sync", True)
        stage = pipeline.open_pr()
        pipeline.merge()
        pipeline.sync()
        listed = pipeline.kubectl("get", "istio", "-n", "istio-system", "-o", "name")
        assert listed.split() == ["istio.istio.banzaicloud.io/istio-sample"]
        assert pipeline.verify("stage", str(stage.index), pacing=QUICK).exit_code == 1
        sim.set_fault("no-sync", False)
        pipeline.sync()
        verdict = pipeline.verify("stage", str(stage.index))
        assert verdict.exit_code == 0, verdict.output
