"""`simcluster serve` meeting a repo it cannot sync: say so once, on one line, exit 2 at start."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from simcluster.harness import SimCluster
from tests.generator.helpers import build_tree, git
from tests.polling import wait_for

SERVE = str(Path(sys.executable).parent / "simcluster")


def _serve(repo: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [SERVE, "serve", "--repo", str(repo), "--kubeconfig", str(tmp_path / "kc"), *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


def test_repo_without_commits_is_refused_at_start(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    done = _serve(repo, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"simcluster: error: {repo}: branch main has no commits; commit the manifests first"
    )
    assert not (tmp_path / "kc").exists()


def test_unknown_branch_is_refused_at_start(tmp_path: Path) -> None:
    repo = build_tree(tmp_path / "repo", {"a.yaml": "kind: ConfigMap\n"})
    done = _serve(repo, tmp_path, "--branch", "nope")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"simcluster: error: {repo}: branch nope has no commits; commit the manifests first"
    )


def test_a_broken_commit_is_logged_once_not_every_sync(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad_ns = APP.replace("namespace: argocd", "namespace: Not_A_Name")
    repo = build_tree(tmp_path / "repo", {"argocd/apps.yaml": bad_ns})
    caplog.set_level(logging.WARNING)
    with SimCluster(repo=repo, sync_interval=0.02, workdir=tmp_path) as sim:
        wait_for(
            lambda: len(sim._server.sync_errors),
            lambda failures: failures >= 5,
            what="the sync loop to retry the broken commit 5 times",
            timeout=20,
            interval=0.02,
        )
    failed = [r for r in caplog.records if "sync failed" in r.getMessage()]
    assert len(failed) == 1, [r.getMessage() for r in failed]
    assert "Not_A_Name" in failed[0].getMessage()


APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: apps, namespace: argocd}
spec:
  destination: {namespace: default}
  source: {path: apps}
  syncPolicy: {automated: {prune: true}}
"""


def _operation_message(sim: SimCluster) -> str:
    def read(store: object) -> str:
        app = store.get("Application", "argocd", "apps")  # type: ignore[attr-defined]
        return str(((app or {}).get("status") or {}).get("operationState", {}).get("message"))

    return str(sim.call(read))


def test_broken_yaml_is_logged_once_however_often_the_repo_syncs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = build_tree(
        tmp_path / "repo",
        {"argocd/apps.yaml": APP, "apps/cm.yaml": "kind: [unclosed\n"},
        commit=False,
    )
    (repo / "apps" / "latin1.yaml").write_bytes(b"kind: ConfigMap\n# caf\xe9\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "broken yaml and a latin-1 byte")
    caplog.set_level(logging.WARNING)
    with SimCluster(repo=repo, sync_interval=3600, workdir=tmp_path) as sim:
        for _ in range(5):
            sim.sync_now()
        message = _operation_message(sim)
    broken = [r.getMessage() for r in caplog.records if "apps/cm.yaml" in r.getMessage()]
    assert broken == ["apps/cm.yaml:2: not valid YAML: expected ',' or ']', but got '<stream end>'"]
    latin1 = [r.getMessage() for r in caplog.records if "latin1.yaml" in r.getMessage()]
    assert latin1 == ["apps/latin1.yaml:2: not UTF-8 (byte 0xe9); save it as UTF-8"]
    assert message == broken[0]  # the Application's operation names the file too


def test_duplicate_mapping_keys_fail_the_sync_naming_file_and_line(tmp_path: Path) -> None:
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup}\ndata:\n  a: '1'\n  a: '2'\n"
    repo = build_tree(tmp_path / "repo", {"argocd/apps.yaml": APP, "apps/cm.yaml": cm})
    with SimCluster(repo=repo, sync_interval=3600, workdir=tmp_path) as sim:
        sim.sync_now()
        message = _operation_message(sim)
        assert sim.call(lambda store: store.get("ConfigMap", "default", "dup")) is None
    assert 'apps/cm.yaml:6: not valid YAML: mapping key "a" already defined at line 5' in message, (
        message
    )
