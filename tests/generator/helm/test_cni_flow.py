"""The `cni` stage on real git: examples/helm-argocd with cni and ztunnel Applications, through
init and every `next`; what the cni commit changes (the chart versions, ztunnel's revision, the
chart repository when 1.31 moved it) and nothing else; the refusals."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from core.plan import PLAN_PATH, load_plan
from tests.generator.helm.cnirepo import cni_example, write_cni_example
from tests.generator.helpers import changed_files, git, head_message, run, snapshot


def _next_until(repo: Path, stage: str) -> None:
    while True:
        result = run("next", "--repo", str(repo))
        assert result.exit_code == 0, result.stderr
        if head_message(repo).rstrip().endswith(stage):
            return


def _changed_lines(repo: Path, path: str) -> list[str]:
    before = git(repo, "show", f"HEAD~1:{path}").splitlines()
    after = (repo / path).read_text().splitlines()
    return [
        ln
        for ln in difflib.unified_diff(before, after, n=0, lineterm="")
        if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
    ]


def test_cni_stage_bumps_the_agents_in_place_before_cleanup(tmp_path: Path) -> None:
    repo = cni_example(tmp_path / "repo")
    init = run("init", "--repo", str(repo), "--to-version", "1.27.9")
    assert init.exit_code == 0, init.stderr
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert [s.name for s in plan.stages][-3:] == ["default-revision", "cni", "cleanup"]
    _next_until(repo, "default-revision")
    before = {p: (repo / p).read_text() for p in ("argocd/istio-cni.yaml", "argocd/ztunnel.yaml")}
    assert "1.26.4" in before["argocd/istio-cni.yaml"]  # untouched by every earlier stage

    _next_until(repo, "cni")
    assert set(changed_files(repo, "HEAD")) == {
        "argocd/istio-cni.yaml",
        "argocd/ztunnel.yaml",
        PLAN_PATH,
    }
    assert _changed_lines(repo, "argocd/istio-cni.yaml") == [
        "-    targetRevision: 1.26.4  # the node agent",
        '+    targetRevision: "1.27.9"  # the node agent',
    ]
    # ztunnel talked to `istiod` (the old, non-revisioned release): it follows the new revision
    assert _changed_lines(repo, "argocd/ztunnel.yaml") == [
        "-    targetRevision: 1.26.4",
        '+    targetRevision: "1.27.9"',
        "+      valuesObject:",
        "+        revision: 1-27-9",
    ]
    message = head_message(repo)
    assert message.splitlines()[0].endswith("upgrade cni, ztunnel to Istio 1.27.9 in place")
    assert "In place: each is one DaemonSet serving every revision" in message
    assert "1.x+1" in message and "before the old istiod goes" in message
    assert load_plan((repo / PLAN_PATH).read_text()).applied_by("cni")

    _next_until(repo, "cleanup")
    assert "argocd/istio-cni.yaml" not in changed_files(repo, "HEAD")


def test_ztunnel_bound_to_a_revision_keeps_its_values_form(tmp_path: Path) -> None:
    # a revisioned ztunnel written as Argo CD parameters: revision set where it is written
    values = "      parameters:\n      - name: revision\n        value: default\n"
    repo = cni_example(tmp_path / "repo", ztunnel_values=values)
    assert run("init", "--repo", str(repo), "--to-version", "1.27.9").exit_code == 0
    _next_until(repo, "cni")
    assert _changed_lines(repo, "argocd/ztunnel.yaml") == [
        "-    targetRevision: 1.26.4",
        '+    targetRevision: "1.27.9"',
        "-        value: default",
        "+        value: 1-27-9",
    ]


def test_to_131_the_agents_follow_the_chart_repository(tmp_path: Path) -> None:
    repo = cni_example(tmp_path / "repo", version="1.30.3")
    assert run("init", "--repo", str(repo), "--to-version", "1.31.1").exit_code == 0
    _next_until(repo, "default-revision")
    assert "storage.googleapis.com" in (repo / "argocd/istio-cni.yaml").read_text()
    _next_until(repo, "cni")
    lines = _changed_lines(repo, "argocd/istio-cni.yaml")
    assert "+    repoURL: https://blob.istio.io/istio-release/charts" in lines
    assert '+    targetRevision: "1.31.1"  # the node agent' in lines
    assert len(lines) == 4


@pytest.mark.parametrize(
    "version,agents,target,why",
    [
        ("1.26.4", "", "1.28.2", "upgrade to 1.27 first, then to 1.28"),
        ("1.26.4", "1.25.5", "1.27.9", "bring it to 1.26 first"),
    ],
)
def test_a_skew_no_order_can_keep_is_refused(
    tmp_path: Path, version: str, agents: str, target: str, why: str
) -> None:
    repo = cni_example(tmp_path / "repo", version=version, agents=agents)
    before = snapshot(repo)
    result = run("init", "--repo", str(repo), "--to-version", target)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "argocd/istio-cni.yaml:1" in lines[0] and "own minor and the next" in lines[0]
    assert why in lines[0]
    assert snapshot(repo) == before


def test_agents_ahead_of_the_running_istiod_are_named_and_moved(tmp_path: Path) -> None:
    # Renovate bumped the agents before istiod (a real layout does this): the canary brings the
    # control plane up to them; refusing would not make the cluster any safer
    repo = cni_example(tmp_path / "repo", agents="1.27.3")
    result = run("init", "--repo", str(repo), "--to-version", "1.27.9")
    assert result.exit_code == 0, result.stderr
    assert "cni 1.27.3 already runs ahead of istiod 1.26.4, outside the skew rule" in result.stderr
    _next_until(repo, "cni")
    assert '+    targetRevision: "1.27.9"  # the node agent' in _changed_lines(
        repo, "argocd/istio-cni.yaml"
    )


def test_agents_at_the_target_already_are_left_alone(tmp_path: Path) -> None:
    repo = cni_example(tmp_path / "repo", agents="1.27.9")
    result = run("init", "--repo", str(repo), "--to-version", "1.27.9")
    assert result.exit_code == 0, result.stderr
    assert "already at 1.27.9, left as it is" in result.stderr
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert "cni" not in [s.kind for s in plan.stages]


def test_ztunnel_of_another_control_plane_is_left_alone(tmp_path: Path) -> None:
    values = "      valuesObject:\n        revision: other\n"
    repo = cni_example(tmp_path / "repo", ztunnel_values=values)
    result = run("init", "--repo", str(repo), "--to-version", "1.27.9")
    assert result.exit_code == 0, result.stderr
    assert "bound to revision other" in result.stderr
    plan = load_plan((repo / PLAN_PATH).read_text())
    assert plan.helm is not None and plan.helm.ztunnel == () and len(plan.helm.cni) == 1


def test_cni_stage_is_refused_while_a_namespace_is_rolled_back(tmp_path: Path) -> None:
    repo = cni_example(tmp_path / "repo")
    assert run("init", "--repo", str(repo), "--to-version", "1.27.9").exit_code == 0
    _next_until(repo, "default-revision")
    rolled = run("rollback", "--repo", str(repo), "--namespace", "demo-a")
    assert rolled.exit_code == 0, rolled.stderr
    before = snapshot(repo)
    result = run("next", "--repo", str(repo))
    assert result.exit_code == 2
    assert "demo-a" in result.stderr and "newer than their control plane" in result.stderr
    assert snapshot(repo) == before


def test_ambient_namespaces_are_named_and_never_touched(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_cni_example(root)
    (root / "apps" / "ambient.yaml").write_text(AMBIENT)
    kustomization = root / "apps" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - ambient.yaml\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "with an ambient namespace")
    init = run("init", "--repo", str(root), "--to-version", "1.27.9")
    assert init.exit_code == 0, init.stderr
    assert "namespaces ambient-a use ambient mode (no sidecars); the plan does not move them" in (
        init.stderr
    )
    plan = load_plan((root / PLAN_PATH).read_text())
    assert "ambient-a" not in {n.name for n in plan.namespaces}
    _next_until(root, "cleanup")
    assert (root / "apps" / "ambient.yaml").read_text() == AMBIENT


AMBIENT = """\
apiVersion: v1
kind: Namespace
metadata:
  name: ambient-a
  labels:
    istio.io/dataplane-mode: ambient
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: ambient-a
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers: [{name: app, image: k8s.gcr.io/echoserver:1.10}]
"""
