"""A Flux gateway release that `dependsOn` the old istiod follows the gateways to the new one.

helm-controller (`checkDependencies`, internal/controller/helmrelease_controller.go) holds a
HelmRelease back as DependencyNotReady while a dependency cannot be fetched; after cleanup the
old istiod's HelmRelease is gone, so a gateway still depending on it would never reconcile again.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.generator.helmrepos import flux_files
from tests.generator.helpers import build_tree, git, head_message, run


def _depends(repo: Path) -> list[dict[str, str]]:
    return list(
        yaml.safe_load((repo / "infra/istio/gateway.yaml").read_text())["spec"]["dependsOn"]
    )


def _upgrade_to(repo: Path, stage: str) -> None:
    while True:
        assert run("next", "--repo", str(repo)).exit_code == 0
        if head_message(repo).rstrip().endswith(f" {stage}"):
            return


def test_the_gateways_stage_repoints_dependson_at_the_new_istiod(tmp_path: Path) -> None:
    files = flux_files("tagged")
    path = "infra/istio/gateway.yaml"
    files[path] = files[path].replace(
        "spec:\n  interval: 10m\n",
        "spec:\n  interval: 10m\n  dependsOn:\n    - name: istio-base\n      namespace: istio-system\n"
        "    - name: istiod-1-26-4  # its injector first\n      namespace: istio-system\n",
    )
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    _upgrade_to(repo, "namespaces-2")
    assert [d["name"] for d in _depends(repo)] == ["istio-base", "istiod-1-26-4"]
    _upgrade_to(repo, "gateways")
    assert _depends(repo) == [
        {"name": "istio-base", "namespace": "istio-system"},
        {"name": "istiod-1-28-2", "namespace": "istio-system"},
    ]
    assert "dependsOn istiod-1-26-4 -> istiod-1-28-2" in head_message(repo)
    diff = git(repo, "show", "HEAD", "--format=", "--", path)
    assert "-    - name: istiod-1-26-4  # its injector first" in diff
    assert "+    - name: istiod-1-28-2  # its injector first" in diff


def test_a_dependency_on_another_namespaces_release_of_that_name_is_left_alone(
    tmp_path: Path,
) -> None:
    files = flux_files("tagged")
    path = "infra/istio/gateway.yaml"
    files[path] = files[path].replace(
        "spec:\n  interval: 10m\n",
        "spec:\n  interval: 10m\n  dependsOn:\n    - name: istiod-1-26-4\n      namespace: elsewhere\n",
    )
    repo = build_tree(tmp_path, files)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    _upgrade_to(repo, "gateways")
    assert _depends(repo) == [{"name": "istiod-1-26-4", "namespace": "elsewhere"}]


def test_a_real_flux_gateway_waiting_for_istiod_follows_it(tmp_path: Path) -> None:
    # lltr__dev-cluster's gateway HelmRelease waits for `istiod`, the release cleanup deletes
    from tests.generator.test_helm_real_layouts import _copy

    repo = _copy("lltr__dev-cluster", tmp_path)
    path = repo / "kubernetes/apps/istio-system/istio-gateway/app/helmrelease.yaml"
    assert yaml.safe_load(path.read_text())["spec"]["dependsOn"] == [
        {"name": "istiod", "namespace": "istio-system"}
    ]
    assert run("init", "--repo", str(repo), "--to-version", "1.22.8").exit_code == 0
    _upgrade_to(repo, "gateways")
    assert yaml.safe_load(path.read_text())["spec"]["dependsOn"] == [
        {"name": "istiod-1-22-8", "namespace": "istio-system"}
    ]
