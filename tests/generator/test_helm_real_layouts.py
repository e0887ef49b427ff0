"""`init` on real GitOps repos that install Istio with Helm: each plans, or is refused in one line
naming why and what to change; never a crash. The plain Flux one runs through every stage.

The repos are subsets of public repositories, not shipped with this project (they are other
people's code): point ISTIO_CANARY_REAL_HELM at a folder holding one subdirectory per layout,
named as in LAYOUTS. The tests copy each into a temporary git repo, and skip in one line naming
the variable when it is unset or a layout is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from core.plan import PLAN_PATH, load_plan
from tests.generator.helpers import git, head_message, run

ENV = "ISTIO_CANARY_REAL_HELM"
REAL = Path(os.environ[ENV]) if os.environ.get(ENV) else None
LAYOUTS = {
    # name: (target, words the one-line refusal must contain, or None when it plans)
    "lltr__dev-cluster": ("1.22.8", None),
    "xunholy__k8s-gitops": ("1.28.2", None),
    "enchantednatures__HomeCluster": ("1.31.1", None),
    "stefanprodan__gitops-istio": ("1.20.0", ("${version}", "postBuild substitution")),
    "fdmsantos__kubernetes-robo-shop": ("1.16.0", ("${istio_version}", "literally")),
}


def _copy(name: str, tmp: Path) -> Path:
    if REAL is None:
        pytest.skip(f"{ENV} is not set: no folder of real Helm layouts to plan")
    source = REAL / name
    if not source.is_dir():
        pytest.skip(f"real layout {name} not found in {REAL} (set {ENV} to its folder)")
    repo = tmp / name
    shutil.copytree(source, repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", name)
    return repo


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_init_plans_or_refuses_in_one_line(tmp_path: Path, name: str) -> None:
    repo = _copy(name, tmp_path)
    target, refusal = LAYOUTS[name]
    result = run("init", "--repo", str(repo), "--to-version", target)
    if refusal is None:
        assert result.exit_code == 0, result.stderr
        assert load_plan((repo / PLAN_PATH).read_text()).flavour == "helm"
        return
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and all(word in lines[0] for word in refusal), lines


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("target", ["1.22.8", "1.26.8", "1.29.8", "1.31.1"])
def test_any_target_is_a_plan_or_a_one_line_refusal(tmp_path: Path, name: str, target: str) -> None:
    repo = _copy(name, tmp_path)
    result = run("init", "--repo", str(repo), "--to-version", target, "--dry-run")
    assert result.exit_code in (0, 2), result.stderr
    if result.exit_code == 2:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_plain_flux_layout_runs_through_every_stage(tmp_path: Path) -> None:
    repo = _copy("lltr__dev-cluster", tmp_path)
    assert run("init", "--repo", str(repo), "--to-version", "1.22.8").exit_code == 0
    names = []
    while (result := run("next", "--repo", str(repo))).exit_code == 0:
        trailer = [ln for ln in head_message(repo).splitlines() if ln.startswith("Istio-Canary")]
        names.append(trailer[-1].split()[-1])
    assert "nothing to do" in result.stderr
    assert names == ["control-plane", "namespaces-1", "gateways", "default-revision", "cleanup"]
    istiod = repo / "kubernetes/apps/istio-system/istiod/app"
    assert not (istiod / "helmrelease.yaml").exists()
    listed = yaml.safe_load((istiod / "kustomization.yaml").read_text())["resources"]
    assert listed == ["./istiod-1-22-8.yaml"]
    new = yaml.safe_load((istiod / "istiod-1-22-8.yaml").read_text())
    assert new["spec"]["values"]["revision"] == "1-22-8"
    assert new["spec"]["values"]["revisionTags"] == ["default"]
    # the 11 KB of copied chart values (and their comments) came along unchanged
    text = (istiod / "istiod-1-22-8.yaml").read_text()
    assert "# Sidecar injector mutating webhook configuration clientConfig.url value." in text
    ns = yaml.safe_load((repo / "kubernetes/apps/appsplatform/namespace.yaml").read_text())
    assert ns["metadata"]["labels"]["istio.io/rev"] == "1-22-8"
    assert "istio-injection" not in ns["metadata"]["labels"]


def test_an_old_base_is_warned_about_crd_ownership(tmp_path: Path) -> None:
    repo = _copy("lltr__dev-cluster", tmp_path)
    result = run("init", "--repo", str(repo), "--to-version", "1.22.8")
    assert result.exit_code == 0
    assert "invalid ownership metadata" in result.stderr
    assert "meta.helm.sh/release-name=istio-base" in result.stderr
