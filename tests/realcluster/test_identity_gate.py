"""The whole seed flow gated with the verifier's least-privilege identity on the real control plane.

`test_rbac.py` proves the ServiceAccount bound to `verifier/rbac.yaml` can read what the verifier
reads, can write nothing, and that a trimmed role makes `stage 0` exit 3 naming what is missing.
That `stage 0` runs on an empty cluster, so its checks fail (exit 1) and most of the gate's reads
(Istio CRs with status, MeshGateways, Argo CD Applications, the probes' exec into injected pods)
never meet a real object there. Here every gate and every stage verification of the seed flow
runs with only that ServiceAccount's token (from `kubectl create token`) as the verifier's
credentials, against the seed's Istio synced onto the real control plane: each passes (the
cleanup gate first fails on the gateway the old CR owns, exit 1 not 3, and passes after the
admin's manual step), and no run notes an incomplete RBAC preflight. Then each rule of the role
is removed in turn at a live gate: the rules the gate needs give exit 3 naming what is lost, the
others are shown unneeded by the gate passing without them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from core.plan import Stage
from realcluster import ControlPlane
from realcluster.crds import CRDS
from realcluster.kwokcrds import EXEC_CRD, KWOK_EXEC_ARGS
from rehearsal.commands import GatePacing, Verdict, verify
from rehearsal.pipeline import Pipeline
from rehearsal.repos import make_repos
from simcluster.realserver import Coordinates, RealSimCluster
from tests.polling import wait_for
from tests.realcluster.conftest import _skip_reason, kubectl
from tests.realcluster.test_rbac import NEEDED, _apply_role, _covers, _label, _rules
from verifier import rbac
from verifier.cluster import Cluster, Resource

pytestmark = [pytest.mark.kubectl, pytest.mark.slow]

RBAC_YAML = Path(rbac.__file__).with_name("rbac.yaml")
SA_NS, SA_NAME = "ci", "istio-canary-verify"
PACING = GatePacing(timeout=120.0, interval=1.0, successes=2, probe_timeout=5.0)
QUICK = GatePacing(timeout=20.0, interval=1.0, successes=2, probe_timeout=5.0)


class TokenGate:
    """Runs `istio-canary-verify` as CI would with the ServiceAccount token; everything else
    (generator, merge, sync, the operator's manual step) is done by the pipeline as admin."""

    def __init__(self, pipeline: Pipeline, kubeconfig: Path) -> None:
        self.pipeline = pipeline
        self.kubeconfig = kubeconfig
        self.runs: list[tuple[str, Verdict]] = []

    def __call__(self, *args: str, pacing: GatePacing = PACING, rbac_ok: bool = True) -> Verdict:
        pipe = self.pipeline
        report = pipe.reports / f"sa-{len(self.runs)}-{'-'.join(args)}.json"
        verdict = verify(
            args, repo=pipe.repos.work, kubeconfig=self.kubeconfig, report=report, pacing=pacing
        )
        notes = " ".join(verdict.data.get("notes") or [])
        if rbac_ok:
            assert "RBAC" not in notes and verdict.exit_code != 3, verdict.output or verdict.data
        self.runs.append((" ".join(args), verdict))
        return verdict


def service_account_kubeconfig(cp: ControlPlane, out: Path) -> Path:
    """verifier/rbac.yaml bound to ci/istio-canary-verify; a kubeconfig with its token only."""
    admin = cp.kubeconfig
    kubectl(admin, "apply", "-f", str(RBAC_YAML))
    kubectl(admin, "create", "namespace", SA_NS)
    kubectl(admin, "create", "serviceaccount", SA_NAME, "-n", SA_NS)
    kubectl(
        admin, "create", "clusterrolebinding", SA_NAME, f"--clusterrole={SA_NAME}",
        f"--serviceaccount={SA_NS}:{SA_NAME}",
    )  # fmt: skip
    token = kubectl(admin, "create", "token", SA_NAME, "-n", SA_NS, "--duration=1h").stdout
    kc = cp.token_kubeconfig(out, token.strip(), SA_NAME)
    who = kubectl(kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").stdout
    assert who == f"system:serviceaccount:{SA_NS}:{SA_NAME}", who
    return kc


@contextlib.contextmanager
def seed_with_identity(tmp: Path) -> Iterator[tuple[Pipeline, TokenGate, ControlPlane]]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with contextlib.ExitStack() as stack:
        cp = stack.enter_context(
            ControlPlane(
                tmp / "cp", crds=[*CRDS, EXEC_CRD], kwok_args=KWOK_EXEC_ARGS,
                exec_path=[tmp / "mesh"],
            )
        )  # fmt: skip
        gate = service_account_kubeconfig(cp, tmp / "verifier.kubeconfig")
        repos = make_repos(tmp / "origin", tmp / "work")
        sim = stack.enter_context(
            RealSimCluster(
                Coordinates.of(cp), repo=repos.origin, sync_interval=1.0, mesh_dir=tmp / "mesh"
            )
        )
        pipeline = Pipeline(repos, cast(Any, sim), reports=tmp / "reports", pacing=PACING)
        pipeline.generate("init", "--to-version", "1.7.7")
        repos.push_main()
        pipeline.sync()
        yield pipeline, TokenGate(pipeline, gate), cp


def advance(pipeline: Pipeline, verifier: TokenGate) -> Stage:
    stage = pipeline.open_pr()
    gate = verifier("gate")
    assert gate.exit_code == 0, f"gate of {stage.name}: {gate.output}"
    pipeline.merge()
    pipeline.sync()
    verdict = verifier("stage", str(stage.index))
    assert verdict.exit_code == 0, f"stage {stage.name}: {verdict.output}"
    return stage


def test_every_gate_of_the_seed_flow_passes_with_the_service_account_token(
    tmp_path: Path,
) -> None:
    with seed_with_identity(tmp_path) as (pipeline, verifier, _cp):
        assert verifier("stage", "0").exit_code == 0
        names = [advance(pipeline, verifier).name for _ in range(4)]
        assert names == ["control-plane", "gateways", "namespaces-1", "namespaces-2"]
        stage = pipeline.open_pr()
        assert stage.kind == "cleanup"
        blocked = verifier("gate", pacing=QUICK)
        assert blocked.exit_code == 1, blocked.output  # the owned gateway, not a denial
        assert "istio-system/istio-ingressgateway" in blocked.output, blocked.output
        pipeline.kubectl(  # the manual step is the operator's (admin), not the verifier's
            "patch", "mgw", "-n", "istio-system", "istio-ingressgateway", "--type=json",
            '-p=[{"op":"remove","path":"/metadata/ownerReferences"}]',
        )  # fmt: skip
        assert verifier("gate").exit_code == 0
        pipeline.merge()
        pipeline.sync()
        final = verifier("stage", str(stage.index))
        assert final.exit_code == 0, final.output
        # Each run read the cluster through every check, probes included, with the token only.
        ran = [args for args, _ in verifier.runs]
        assert ran.count("gate") == 6 and len(ran) == 12, ran
        probed = [
            v for _, v in verifier.runs
            for c in v.data.get("checks") or []
            if c["name"] == "connectivity" and c["status"] == "passed" and c.get("evidence")
        ]  # fmt: skip
        assert len(probed) >= 6, [c["name"] for _, v in verifier.runs for c in v.data["checks"]]


def _can(kubeconfig: Path, verb: str, res: Resource, sub: str) -> bool:
    with Cluster(kubeconfig) as cluster:
        return cluster.can_i(verb, res, sub) is True


def test_each_rule_removed_at_a_live_gate_exits_3_or_is_not_needed(tmp_path: Path) -> None:
    """test_rbac.py removes each rule for `stage 0` on an empty cluster; here for the gate of
    the first namespace wave on the live seed, where every check (probes' exec included) runs:
    a rule the preflight needs gives exit 3 naming exactly what is lost; any other rule is
    truly unneeded, since the gate then passes without it."""
    with seed_with_identity(tmp_path) as (pipeline, verifier, cp):
        for _ in range(2):
            advance(pipeline, verifier)
        assert pipeline.open_pr().name == "namespaces-1"
        assert verifier("gate").exit_code == 0
        rules = _rules()
        denied, unneeded = [], []
        for index, removed in enumerate(rules):
            kept = rules[:index] + rules[index + 1 :]
            missing = [
                p for p in NEEDED if _covers(removed, *p) and not any(_covers(r, *p) for r in kept)
            ]

            def allowed(lost: list[tuple[str, Resource, str]] = missing) -> bool:
                return _can(verifier.kubeconfig, *lost[0])

            _apply_role(cp, kept)
            try:
                if missing:
                    wait_for(allowed, lambda yes: not yes, what="RBAC to drop a rule", timeout=20)
                verdict = verifier("gate", pacing=QUICK, rbac_ok=not missing)
                resources = removed["resources"]
                if missing:
                    labels = ", ".join(_label(*p) for p in missing)
                    assert verdict.exit_code == 3, (resources, verdict.output)
                    assert f"RBAC: the verifier may not {labels} (cluster-wide)" in (
                        verdict.data.get("reason") or ""
                    ), (resources, verdict.data)
                    denied.append(resources[0])
                else:
                    assert verdict.exit_code == 0, (resources, verdict.output)
                    unneeded.append(resources[0])
            finally:
                _apply_role(cp, rules)
                if missing:
                    wait_for(allowed, bool, what="RBAC to grant the rule again", timeout=20)
        # both outcomes occurred: the role has rules this gate needs and rules it does not
        assert denied and unneeded and len(denied) + len(unneeded) == len(rules), (denied, unneeded)
