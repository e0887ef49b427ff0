"""A stage as a pull request: push its branch, then open or update the PR that proposes it.

The parts, one module each: :mod:`.naming` (branch names), :mod:`.gitread` (which stage a commit
is and what it changed, read back from git), :mod:`.title` and :mod:`.body` (what the PR says,
within the forges' limits), :mod:`.marker` (the comment the tool finds its PRs by), :mod:`.auth`
(push credentials), :mod:`.push` (the push and its race retries). This module only orchestrates;
the forge side is :func:`generator.forge.open_or_update`.

Everything the PR says is read back from git (the stage commit and its base), not from the
generator's in-memory edits, so a re-run on the same commit renders the same body byte for byte
and `open_or_update` can tell "unchanged" from "updated".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ForgeError, PreconditionError, UsageError
from core.plan import PLAN_PATH, load_plan
from generator.forge import (
    TOKEN_ENV,
    Forge,
    Outcome,
    PullRequestSpec,
    connect,
    open_or_update,
    resolve_target,
)
from generator.objectdiff import ChangedFile
from generator.pullrequest.auth import RemoteAuth, token_auth
from generator.pullrequest.body import BODY_MAX, render_body
from generator.pullrequest.gitcmd import run_git
from generator.pullrequest.gitread import changed_files, stage_of_commit
from generator.pullrequest.marker import MARKER, parse_marker
from generator.pullrequest.naming import branch_name
from generator.pullrequest.push import Pushed, Rebuild, push_stage_branch
from generator.pullrequest.title import render_title

__all__ = [
    "MARKER",
    "ChangedFile",
    "CommitStage",
    "Published",
    "Pushed",
    "RemoteAuth",
    "branch_name",
    "changed_files",
    "open_next_stage",
    "parse_marker",
    "publish",
    "push_stage_branch",
    "render_body",
    "render_title",
    "stage_of_commit",
    "token_auth",
]


@dataclass(frozen=True)
class Published:
    """The pushed branch, and the PR when a forge was asked to open one."""

    pushed: Pushed
    title: str
    body: str
    outcome: Outcome | None


def publish(
    repo: Path,
    *,
    commit: str = "HEAD",
    remote: str = "origin",
    base: str = "main",
    forge: Forge | None = None,
    rebuild: Rebuild | None = None,
    auth: RemoteAuth | None = None,
    before_push: Callable[[int], None] | None = None,
) -> Published:
    """Push the stage commit `commit` as its stage branch and open or update its PR."""
    sha = run_git(repo, "rev-parse", f"{commit}^{{commit}}").strip()
    plan, stage = stage_of_commit(repo, sha)
    branch = branch_name(plan, stage)
    current = run_git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{branch}", check=False)
    if current.strip() != sha:
        run_git(repo, "branch", "--force", branch, sha)
    pushed = push_stage_branch(
        repo,
        branch,
        remote=remote,
        base=base,
        rebuild=rebuild,
        auth=auth,
        before_push=before_push,
    )
    plan, stage = stage_of_commit(repo, pushed.head_sha)
    files = changed_files(repo, pushed.base_sha, pushed.head_sha)
    title = render_title(plan, stage)
    body = render_body(plan, stage, files, pushed.base_sha, pushed.head_sha, BODY_MAX)
    outcome = None
    if forge is not None:
        outcome = open_or_update(forge, PullRequestSpec(branch, base, title, body))
    return Published(pushed, title, body, outcome)


CommitStage = Callable[[str], str]
"""Commit the plan's next stage on a new branch of the given name; return the commit's sha."""


def open_next_stage(
    repo: Path,
    forge_kind: str,
    commit_stage: CommitStage,
    *,
    remote: str = "origin",
    base: str = "main",
    api_url: str | None = None,
    env: Mapping[str, str] | None = None,
    **http: Any,
) -> Published:
    """`next --open-pr`: check the forge setup, commit the next stage on its branch, publish it.

    Everything that can be wrong with the configuration (forge, token, project, remote, a
    checkout behind the remote) is refused before the stage is committed, so nothing is written.
    """
    env = os.environ if env is None else env
    root = Path(run_git(repo, "rev-parse", "--show-toplevel").strip())
    remote_url = run_git(root, "remote", "get-url", remote, error=UsageError).strip()
    target = resolve_target(forge_kind, remote_url, api_url, env)
    forge = connect(target, env, **http)
    token = env[TOKEN_ENV[target.kind]].strip()
    auth = token_auth(root, remote, target.kind, token)
    refspec = f"+refs/heads/{base}:refs/remotes/{remote}/{base}"
    run_git(root, "fetch", "--quiet", remote, refspec, auth=auth, error=ForgeError)
    head = run_git(root, "rev-parse", "HEAD").strip()
    upstream = run_git(root, "rev-parse", f"refs/remotes/{remote}/{base}").strip()
    if head != upstream:
        raise PreconditionError(
            f"HEAD {head[:12]} is not {remote}/{base} ({upstream[:12]}); the next stage must be "
            f"made on the newest {base}: `git checkout -B {base} {remote}/{base}`"
        )
    plan = load_plan(
        run_git(root, "show", f"HEAD:{PLAN_PATH}", error=PreconditionError), f"HEAD:{PLAN_PATH}"
    )
    stage = plan.next_stage
    if stage is None:
        raise PreconditionError("the upgrade is complete: every stage is applied")
    commit = commit_stage(branch_name(plan, stage))
    return publish(root, commit=commit, remote=remote, base=base, forge=forge, auth=auth)
