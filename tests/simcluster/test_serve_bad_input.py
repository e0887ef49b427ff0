"""`simcluster serve` meeting a repo it cannot sync: say so once, on one line, exit 2 at start."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simcluster.harness import SimCluster
from tests.generator.helpers import build_tree, git

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
    repo = build_tree(tmp_path / "repo", {"apps/cm.yaml": "kind: ConfigMap\n"})
    (repo / "apps" / "latin1.yaml").write_bytes(b"# caf\xe9\nkind: ConfigMap\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a latin-1 byte")
    caplog.set_level(logging.WARNING)
    with SimCluster(repo=repo, sync_interval=0.02, workdir=tmp_path) as sim:
        deadline = time.monotonic() + 20
        while len(sim._server.sync_errors) < 5:
            assert time.monotonic() < deadline, "the sync loop stopped retrying"
            time.sleep(0.02)  # poll interval while waiting for the condition above
    failed = [r for r in caplog.records if "sync failed" in r.getMessage()]
    assert len(failed) == 1, [r.getMessage() for r in failed]
    assert "can't decode byte 0xe9" in failed[0].getMessage()
