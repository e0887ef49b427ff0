"""The Helm flavour refuses what it cannot stage safely: one line naming the object and what to
change, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.plan import PLAN_PATH
from tests.generator.helmrepos import argocd_files, flux_files, helm_repo
from tests.generator.helpers import build_tree, git, run, snapshot

BANZAI_CR = """apiVersion: istio.banzaicloud.io/v1beta1
kind: Istio
metadata:
  name: istio-sample
  namespace: istio-system
spec:
  version: 1.7.7
"""


def _refused(repo: Path, args: list[str], *words: str) -> str:
    head, files = git(repo, "rev-parse", "HEAD"), snapshot(repo)
    result = run(*args, "--repo", str(repo))
    assert result.exit_code == 2, (result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("istio-canary: error: "), lines
    for word in words:
        assert word in lines[0], lines[0]
    assert git(repo, "rev-parse", "HEAD") == head and snapshot(repo) == files
    return lines[0]


INIT = ["init", "--to-version", "1.28.2"]


def test_broken_values_text(tmp_path: Path) -> None:
    files = argocd_files("plain", "values")
    files["argocd/istiod.yaml"] = files["argocd/istiod.yaml"].replace(
        "        meshConfig:\n", "        meshConfig: [oops\n"
    )
    repo = build_tree(tmp_path, files)
    _refused(repo, INIT, "argocd/istiod.yaml", "values text is not valid YAML")


def test_missing_chart_version(tmp_path: Path) -> None:
    files = flux_files("plain")
    files["infra/istio/istiod.yaml"] = files["infra/istio/istiod.yaml"].replace(
        "      version: 1.26.4  # renovate: datasource=helm\n", ""
    )
    repo = build_tree(tmp_path, files)
    _refused(repo, INIT, "HelmRelease istiod", "no chart version", "spec.chart.spec.version")


def test_a_version_from_a_flux_variable(tmp_path: Path) -> None:
    files = flux_files("plain")
    files["infra/istio/istiod.yaml"] = files["infra/istio/istiod.yaml"].replace(
        "version: 1.26.4", 'version: "${istio_version}"'
    )
    repo = build_tree(tmp_path, files)
    _refused(repo, INIT, "${istio_version}", "postBuild substitution", "literally")


def test_a_three_minor_jump(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "argocd", "revisioned")
    _refused(repo, ["init", "--to-version", "1.29.6"], "3 minors ahead", "go to 1.28 first")


def test_a_patch_of_the_running_minor(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "flux", "plain")
    _refused(repo, ["init", "--to-version", "1.26.8"], "patch of the running minor")


def test_a_repo_with_both_flavours(tmp_path: Path) -> None:
    files = flux_files("plain")
    files["banzai/istio.yaml"] = BANZAI_CR
    repo = build_tree(tmp_path, files)
    _refused(repo, INIT, "more than one way", "banzai:", "helm:", "Istio istio-sample")


def test_two_istiod_releases(tmp_path: Path) -> None:
    files = flux_files("plain")
    files["infra/istio/other.yaml"] = files["infra/istio/istiod.yaml"].replace(
        "name: istiod\n", "name: istiod-other\n"
    )
    repo = build_tree(tmp_path, files)
    _refused(repo, INIT, "several releases of the Istio istiod chart", "istiod-other")


def test_no_base_release(tmp_path: Path) -> None:
    files = argocd_files("plain")
    del files["argocd/istio-base.yaml"]
    repo = build_tree(tmp_path, files)
    _refused(repo, INIT, "no release of the Istio base chart")


def test_a_chart_ref(tmp_path: Path) -> None:
    files = flux_files("plain")
    files["infra/istio/istiod.yaml"] = (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: istiod\n"
        "  namespace: istio-system\nspec:\n  chartRef:\n    kind: OCIRepository\n"
        "    name: istiod\n"
    )
    repo = build_tree(tmp_path, files)
    _refused(repo, INIT, "spec.chartRef", "spec.chart.spec")


def test_a_values_config_map_missing_from_the_repo(tmp_path: Path) -> None:
    files = flux_files("revisioned", "valuesFrom")
    del files["infra/istio/istiod-values.yaml"]
    repo = build_tree(tmp_path, files)
    _refused(repo, INIT, "ConfigMap istiod-values", "not in the repo")


def test_operator_version_is_for_banzai(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "flux", "plain")
    _refused(repo, [*INIT, "--operator-version", "0.7.14"], "--operator-version", "Helm")


def test_a_revision_name_in_use(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "argocd", "revisioned")
    _refused(repo, [*INIT, "--name", "1-26-4"], "already in use")


@pytest.mark.parametrize("engine", ["argocd", "flux"])
def test_next_refuses_a_plan_the_repo_no_longer_matches(tmp_path: Path, engine: str) -> None:
    repo = helm_repo(tmp_path, engine, "plain")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    new = "argocd/istiod-1-28-2.yaml" if engine == "argocd" else "infra/istio/istiod-1-28-2.yaml"
    git(repo, "rm", "-q", new)
    git(repo, "commit", "-q", "-m", "oops")
    _refused(repo, ["next"], "does not match the repo", "istiod-1-28-2")


def test_a_plan_of_an_unknown_flavour(tmp_path: Path) -> None:
    repo = helm_repo(tmp_path, "flux", "plain")
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    plan = repo / PLAN_PATH
    plan.write_text(plan.read_text().replace("flavour: helm", "flavour: linkerd"))
    git(repo, "commit", "-q", "-am", "edit")
    _refused(repo, ["next"], "flavour 'linkerd' is not one of banzai, helm, sail")


def test_values_from_value_files(tmp_path: Path) -> None:
    files = argocd_files("revisioned", "valuesObject")
    files["argocd/istiod-1-26-4.yaml"] = files["argocd/istiod-1-26-4.yaml"].replace(
        "      valuesObject:\n",
        "      valueFiles: [$values/istio/istiod.yaml]\n      valuesObject:\n",
    )
    repo = build_tree(tmp_path, files)
    _refused(repo, INIT, "valueFiles", "$values/istio/istiod.yaml", "valuesObject")
