"""`istio-canary demo --flavour helm`: the Helm example's whole upgrade through the real CLI, and
each Helm fault stopped by the gate of the stage it breaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rehearsal.cli import main
from rehearsal.faults import FAULTS, HELM_FAULTS
from simcluster.faults import HELM_FAULT_NAMES

pytestmark = pytest.mark.slow


def demo(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["demo", "--flavour", "helm", *args])
    return result.exit_code, result.output


def test_the_helm_demo_walks_every_stage_to_the_new_revision(tmp_path: Path) -> None:
    code, out = demo("--workdir", str(tmp_path / "run"))
    assert code == 0, out
    assert "Istio 1.26 (Helm) -> 1.28.2 canary upgrade of examples/helm-argocd" in out
    assert "Done: all 7 stages merged and verified; every meshed pod runs Istio 1.28.2." in out
    rows = [
        line.split()
        for line in out.splitlines()
        if line.startswith(("demo-", "edge", "istio-ingress"))
    ]
    assert rows and all(r[4:] == ["1-28-2", "1.28.2"] for r in rows), rows
    assert (tmp_path / "run" / "prs" / "7-cleanup.md").is_file()


@pytest.mark.parametrize(
    "fault,caught",
    [
        ("webhook-overlap", "webhooks: double injection in demo-a"),
        ("dangling-validator", "calls Service istio-system/istiod-retired, which does not exist"),
        ("cabundle-drift", "changed during this run: something keeps rewriting istiod's CA bundle"),
    ],
)
def test_each_helm_fault_is_stopped_by_the_first_gate(fault: str, caught: str) -> None:
    code, out = demo("--fault", fault)
    assert code == 1, out
    assert "stopped at the gate of stage 1/7 control-plane" in out
    assert caught in out


def test_the_helm_faults_are_simclusters_and_the_seed_ones_stay_apart() -> None:
    assert set(HELM_FAULTS) <= set(HELM_FAULT_NAMES) and not set(HELM_FAULTS) & set(FAULTS)
    code, out = demo("--fault", "split-trust")
    assert code == 2 and "unknown fault 'split-trust' for the helm flavour" in out
