"""What the gate trusts: the base it chooses, and the PR compared with the stage recomputed there.

Real git and the real generator (run as the external tool the verifier calls); no cluster.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.errors import UsageError
from generator.cli import main as generator_cli
from generator.resources import example_repo_dir
from tests.verifier.simseed import git
from verifier.review import resolve_base, review


def _gen(repo: Path, *args: str) -> None:
    res = CliRunner().invoke(generator_cli, [*args, "--repo", str(repo)])
    assert res.exit_code == 0, res.output


@pytest.fixture
def pr(tmp_path: Path) -> Path:
    """A CI clone of an origin at stage 1, with the stage-2 PR branch checked out."""
    origin = tmp_path / "origin"
    shutil.copytree(example_repo_dir(), origin)
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "seed")
    _gen(origin, "init", "--to-version", "1.7.7")
    _gen(origin, "next")
    work = tmp_path / "ci"
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True)
    _gen(work, "next", "--branch", "istio-canary/stage-2")
    return work


def test_the_base_is_the_merge_base_with_origin_main_and_the_pr_is_exactly_the_stage(
    pr: Path,
) -> None:
    base = resolve_base(pr, None)
    assert base.commit == git(pr, "rev-parse", "origin/main")
    assert "origin/HEAD" in base.how or "origin/main" in base.how
    r = review(pr, base)
    assert r.command == "next" and r.problems == ()
    assert r.plan.applied_index == 2
    assert git(pr, "branch", "--list", "istio-canary-gate/*") == ""  # the scratch branch is gone
    assert len(git(pr, "worktree", "list").splitlines()) == 1


def test_formatting_is_no_difference_but_another_value_is(pr: Path) -> None:
    changed = git(pr, "diff", "--name-only", "HEAD~1", "HEAD").split()
    path = pr / next(p for p in changed if p.endswith("istio-ingressgateway.yaml"))
    path.write_text("# reviewed by a human\n" + path.read_text().replace("\n", "\n\n"))
    git(pr, "commit", "-qa", "--amend", "--no-edit")
    assert review(pr, resolve_base(pr, None)).problems == ()
    path.write_text(path.read_text().replace("name: istio-sample-v17x", "name: istio-sample", 1))
    git(pr, "commit", "-qa", "--amend", "--no-edit")
    problems = review(pr, resolve_base(pr, None)).problems
    assert (
        len(problems) == 1
        and "changes MeshGateway istio-system/istio-ingressgateway" in problems[0]
    )
    assert "spec.istioControlPlane" in problems[0]


def test_a_pr_with_two_stage_commits_is_not_a_stage_pr(pr: Path) -> None:
    _gen(pr, "next")
    (problem,) = review(pr, resolve_base(pr, None)).problems
    assert "2 stage and 0 rollback commits" in problem


def test_without_a_base_branch_the_stage_before_the_pr_is_the_base(pr: Path) -> None:
    git(pr, "remote", "remove", "origin")
    base = resolve_base(pr, None)
    assert base.commit == git(pr, "rev-parse", "HEAD~1") and "stage 1 commit" in base.how
    assert review(pr, base).problems == ()
    with pytest.raises(UsageError, match="--base origin/main: not a commit"):
        resolve_base(pr, "origin/main")


def test_the_checkouts_hooks_and_signing_do_not_run_for_the_scratch_commit(pr: Path) -> None:
    hook = pr / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook ran' >&2\nexit 1\n")
    hook.chmod(0o755)
    git(pr, "config", "commit.gpgsign", "true")
    git(pr, "config", "gpg.program", "/bin/false")
    r = review(pr, resolve_base(pr, None))
    assert r.command == "next" and r.problems == (), r.problems
