"""The Sail gateways check expects a release of the gateway chart on the old revision until the
gateways stage, and on the new one from then on: the plan `init` wrote for a real git repo."""

from __future__ import annotations

from pathlib import Path

from core.plan import PLAN_PATH, load_plan
from tests.generator.helpers import run
from tests.generator.sail.sailrepo import sail_repo
from tests.generator.sail.test_flow import GATEWAY_RELEASE
from verifier.checks.sail_shared import as_helm
from verifier.expectation import expect_stage


def test_a_gateway_release_is_expected_on_the_new_revision_from_the_gateways_stage(
    tmp_path: Path,
) -> None:
    repo = sail_repo(tmp_path, {"argocd/edge-gateway.yaml": GATEWAY_RELEASE})
    assert run("init", "--repo", str(repo), "--to-version", "1.28.6").exit_code == 0
    plan = load_plan((repo / PLAN_PATH).read_text())
    moved_at = next(s.index for s in plan.stages if s.kind == "gateways")
    for index in range(1, plan.total + 1):
        helm = as_helm(expect_stage(plan, index)).helm
        assert helm is not None
        [(release, cp)] = [(g, cp) for g, cp in helm.gateways if g.name == "edge-gateway"]
        assert (release.namespace, release.form) == ("edge", "argocd-application")
        want = plan.target if index >= moved_at else plan.source
        assert (cp.revision, cp.version) == (want.revision, want.version), index
