"""The control-plane stage gives both istiod Applications Argo CD's resources finalizer, so the
cleanup stage's deletion of the old one deletes its istiod instead of orphaning it; one of Argo
CD's own variants (`/background`, `/foreground`) is kept as it is."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.argocd import RESOURCES_FINALIZER
from tests.generator.helmrepos import argocd_files
from tests.generator.helpers import build_tree, head_message, run


def _finalizers(repo: Path, rel: str) -> list[str]:
    return list(yaml.safe_load((repo / rel).read_text())["metadata"].get("finalizers") or [])


def test_both_istiod_applications_get_the_finalizer_at_control_plane(tmp_path: Path) -> None:
    repo = build_tree(tmp_path / "repo", argocd_files("plain"))
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    assert _finalizers(repo, "argocd/istiod.yaml") == [RESOURCES_FINALIZER]
    assert _finalizers(repo, "argocd/istiod-1-28-2.yaml") == [RESOURCES_FINALIZER]
    assert _finalizers(repo, "argocd/istio-base.yaml") == []  # base is never deleted
    message = head_message(repo)
    assert f"Application istiod: {RESOURCES_FINALIZER}, so that deleting it at cleanup" in message


@pytest.mark.parametrize("variant", ["background", "foreground"])
def test_an_argo_cd_variant_is_left_alone(tmp_path: Path, variant: str) -> None:
    files = argocd_files("plain")
    files["argocd/istiod.yaml"] = files["argocd/istiod.yaml"].replace(
        "  namespace: argocd\n",
        f"  namespace: argocd\n  finalizers:\n    - {RESOURCES_FINALIZER}/{variant}\n",
        1,
    )
    repo = build_tree(tmp_path / "repo", files)
    assert run("init", "--repo", str(repo), "--to-version", "1.28.2").exit_code == 0
    assert run("next", "--repo", str(repo)).exit_code == 0
    assert _finalizers(repo, "argocd/istiod.yaml") == [f"{RESOURCES_FINALIZER}/{variant}"]
    assert _finalizers(repo, "argocd/istiod-1-28-2.yaml") == [f"{RESOURCES_FINALIZER}/{variant}"]
    assert "so that deleting it at cleanup" not in head_message(repo)
