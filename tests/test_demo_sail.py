"""`istio-canary demo --flavour sail`: the Sail example's whole upgrade through the real CLI, and
each Sail fault stopped by the gate after the stage it breaks, naming the object and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rehearsal.cli import main

pytestmark = pytest.mark.slow


def demo(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["demo", "--flavour", "sail", *args])
    return result.exit_code, result.output


def test_the_sail_demo_walks_every_stage_to_the_new_revision(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, out = demo("--workdir", str(run))
    assert code == 0, out
    assert "Istio 1.27 (Sail) -> 1.28.6 canary upgrade of examples/sail-argocd" in out
    assert "Done: all 7 stages merged and verified; every meshed pod runs Istio 1.28.6." in out
    rows = [
        line.split() for line in out.splitlines() if line.startswith(("demo-", "istio-ingress"))
    ]
    assert rows and all(r[4:] == ["default-v1-28-6", "1.28.6"] for r in rows), rows
    # the cleanup stage's verification saw the operator delete both retired revisions
    [report] = [json.loads(p.read_text()) for p in (run / "reports").glob("*-stage-6.json")]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["cleanup-safety"]["message"] == (
        "no tag, namespace label or pod names default; default, default-v1-27-9 deleted"
    )
    assert checks["istio-cni"]["status"] == "passed"
    # the operator's own chart release is a GitOps object the gate reads like the others
    [operator] = [e for e in checks["gitops-sync"]["evidence"] if "sail-operator" in e["object"]]
    assert (operator["object"], operator["chartVersion"], operator["health"]) == (
        "Application argocd/sail-operator", "1.29.2", "Healthy")  # fmt: skip
    assert checks["revision-in-use"]["status"] == "passed"


def test_a_revision_that_never_gets_ready_stops_the_next_gate() -> None:
    code, out = demo("--fault", "revision-stuck")
    assert code == 1, out
    # the strategy switch makes the first new revision (at the old version): it never gets Ready
    assert "stopped at the gate of stage 2/7 control-plane (stage 1/7 strategy is merged" in out
    assert (
        "IstioRevision default-v1-27-9 not Ready: Reconciled=True Reconciled; "
        "Ready=False IstiodNotReady (not all istiod pods are ready)"
    ) in out


def test_a_forgotten_pod_is_named_with_the_command_that_removes_it() -> None:
    code, out = demo("--fault", "in-use-forever")
    assert code == 1, out
    assert "stopped at the gate of stage 4/7 namespaces-2 (stage 3/7 namespaces-1 is merged" in out
    assert "pod demo-a/forgotten-default runs revision default's proxy" in out
    assert "delete it (kubectl delete pod -n demo-a forgotten-default)" in out


def test_the_sail_demo_refuses_the_other_flavours_faults() -> None:
    code, out = demo("--fault", "webhook-overlap")
    assert code == 2 and "unknown fault 'webhook-overlap' for the sail flavour" in out
