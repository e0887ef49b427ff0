"""An unknown Istio target version: init warns (new patches appear) but still writes the plan."""

from __future__ import annotations

from pathlib import Path

from generator.releases import released_istio_tags, unknown_release
from tests.generator.helpers import example_repo, git, run


def test_unknown_patch_warns_on_stderr_and_the_plan_is_still_written(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    res = run("init", "--repo", str(repo), "--to-version", "1.7.99")
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        "istio-canary: warning: Istio 1.7.99 is not a release istio-canary knows (newest 1.7: "
        "1.7.8); if it exists, go ahead, otherwise the new istiod will not start "
        "(ImagePullBackOff): re-run init with a released version"
    ]
    assert "1.7.99" in (repo / ".istio-canary/plan.yaml").read_text()
    assert git(repo, "status", "--porcelain") == ""


def test_known_releases_and_unknown_minors_say_nothing(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    res = run("init", "--repo", str(repo), "--to-version", "1.7.8")
    assert res.exit_code == 0 and "warning" not in res.stderr
    assert unknown_release("1.6.14") == "" and unknown_release("1.6.15") != ""
    assert unknown_release("1.9.3") == ""  # newer than the table: nothing to compare against
    assert {"1.6.0", "1.6.14", "1.7.0", "1.7.8"} <= released_istio_tags()
    assert "1.7.9" not in released_istio_tags() and len(released_istio_tags()) == 24


def test_the_release_table_agrees_with_the_simulated_registry() -> None:
    """Two tables kept apart on purpose: a release the generator calls known must be pullable in
    simcluster, and the newest patch must be the registry's newest too."""
    from simcluster.registry import RELEASED

    pulled = RELEASED["docker.io/istio/proxyv2"]
    assert released_istio_tags() == {t for t in pulled if t.rsplit(".", 1)[0] in ("1.6", "1.7")}
