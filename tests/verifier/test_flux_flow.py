"""The seed's upgrade on its Flux flavour, end to end over real HTTP: generator, simcluster, verifier.

Same flow as the Argo CD one in test_sim_gate.py, but the engine is Flux: Kustomizations that
record `lastAppliedRevision` (`main@sha1:<sha>`), and the operators as HelmReleases whose status
the gate must read too (Ready, observedGeneration, Stalled, the release history).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.plan import load_plan
from tests.verifier.simseed import seed_cluster

pytestmark = pytest.mark.slow


def test_flux_seed_flow_stage_by_stage_to_the_end(tmp_path: Path) -> None:
    with seed_cluster(tmp_path, flux=True) as seed:
        plan = load_plan((seed.work / ".istio-canary/plan.yaml").read_text())
        assert plan.gitops_engine == "flux"
        assert plan.source.operator.form == "helmrelease"
        start = seed.verify("stage", "0")
        assert start.exit_code == 0, start.output
        for index in (1, 2, 3, 4):
            gate = seed.promote()
            assert gate.data["checked"].startswith(f"stage {index - 1}/5")
            sync = gate.check("gitops-sync")
            assert sync["status"] == "passed", sync
            charts = {e["object"]: e.get("chartVersion") for e in sync["evidence"]}
            operators = {"HelmRelease istio-system/istio-operator-v16x": "0.0.88"}
            if index >= 2:  # the control-plane stage added the new operator's HelmRelease
                operators["HelmRelease istio-system/istio-operator-v17x"] = "0.0.88"
            assert charts == {
                "Kustomization flux-system/apps": None,
                "Kustomization flux-system/infrastructure": None,
                **operators,
            }
            after = seed.verify("stage", str(index))
            assert after.exit_code == 0, after.output
        probes = after.check("connectivity")["evidence"]
        assert {p["httpCode"] for p in probes} == {"200"} and all(p["mtls"] for p in probes)

        seed.open_pr()
        stopped = seed.verify("gate")
        assert stopped.exit_code == 1
        assert "owned by Istio istio-system/istio-sample" in stopped.message("cleanup-safety")
        seed.kubectl(
            "patch",
            "mgw",
            "-n",
            "istio-system",
            "istio-ingressgateway",
            "--type=json",
            '-p=[{"op":"remove","path":"/metadata/ownerReferences"}]',
        )
        assert seed.verify("gate").exit_code == 0
        seed.merge()
        end = seed.verify("stage", "5")
        assert end.exit_code == 0, end.output
        assert end.check("control-planes")["status"] == "passed"
        assert seed.kubectl("get", "helmreleases", "-A", "-o", "name").split() == [
            "helmrelease.helm.toolkit.fluxcd.io/istio-operator-v17x"
        ]


def test_a_new_operator_helmrelease_that_never_gets_ready_holds_the_gate(tmp_path: Path) -> None:
    # Operator 0.7.99 was never released: its pod cannot pull, so helm-controller's release
    # stays Ready=Unknown and the gate of the next stage must name that HelmRelease.
    with seed_cluster(tmp_path, flux=True, init_args=("--operator-version", "0.7.99")) as seed:
        seed.promote()
        seed.open_pr()
        r = seed.verify("gate", timeout=3)
        assert r.exit_code == 1
        sync = r.check("gitops-sync")
        assert sync["status"] == "pending"
        assert (
            "HelmRelease istio-system/istio-operator-v17x not Ready (Progressing:"
            in sync["message"]
        )
        assert "istio-operator-v17x observedGeneration unset != generation 1" in sync["message"]
        assert "Kustomization" not in sync["message"]  # the commit itself was applied
        pods = seed.kubectl("get", "po", "-n", "istio-system", "istio-operator-v17x-0")
        assert pods.splitlines()[1].split()[1:3] == ["1/2", "ImagePullBackOff"]  # proxy runs
