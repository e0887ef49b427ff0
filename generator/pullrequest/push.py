"""Pushing a stage branch so it is exactly one stage on top of the remote's newest base.

Two things can move under us: the base (someone merged) and the branch itself (another CI job
pushing the same stage). The first rebuilds the stage on the new base; the second loses the
`--force-with-lease` and is retried after a fresh fetch, a bounded number of times.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import ConflictError, ForgeError, PreconditionError
from core.git import git_status
from generator.forge import redact_url
from generator.pullrequest.auth import RemoteAuth
from generator.pullrequest.gitcmd import clean, run_git

__all__ = ["Pushed", "Rebuild", "push_stage_branch"]

Rebuild = Callable[[str], str]
"""Make the stage commit again on top of the given base sha; return the new commit's sha."""

# What git says when the lease or a fast-forward check lost to a concurrent push.
_LOST_RACE = re.compile(r"stale info|rejected|failed to update ref|fetch first")


@dataclass(frozen=True)
class Pushed:
    """Where the stage branch ended up on the remote."""

    branch: str
    base_sha: str
    head_sha: str
    action: Literal["created", "updated", "unchanged"]
    rebuilt: int = 0


def push_stage_branch(
    repo: Path,
    branch: str,
    *,
    remote: str = "origin",
    base: str = "main",
    rebuild: Rebuild | None = None,
    attempts: int = 3,
    auth: RemoteAuth | None = None,
    before_push: Callable[[int], None] | None = None,
) -> Pushed:
    """Push local `branch` so it is one stage on top of the remote's newest `base`.

    When the remote base moved since the stage was made, the stage is rebuilt on it (default:
    cherry-picked in a scratch worktree); when another push wins the race for the branch, the
    lease fails and we fetch and try again. `before_push` is a test seam that runs just before
    each push attempt (a racing writer in tests).
    """
    auth = auth or RemoteAuth()
    rebuild = rebuild or (lambda new_base: _cherry_pick_onto(repo, branch, new_base))
    rebuilt = 0
    last_error = ""
    for attempt in range(attempts):
        refspec = f"+refs/heads/{base}:refs/remotes/{remote}/{base}"
        run_git(repo, "fetch", "--quiet", remote, refspec, auth=auth, error=ForgeError)
        base_sha = run_git(repo, "rev-parse", f"refs/remotes/{remote}/{base}^{{commit}}").strip()
        head_sha = run_git(repo, "rev-parse", f"refs/heads/{branch}^{{commit}}").strip()
        if not _is_ancestor(repo, base_sha, head_sha):
            head_sha = rebuild(base_sha)
            rebuilt += 1
        if head_sha == base_sha:
            raise PreconditionError(
                f"{remote}/{base} already contains the stage on {branch}; nothing to propose"
            )
        remote_sha = _remote_sha(repo, remote, branch, auth)
        if remote_sha == head_sha:
            return Pushed(branch, base_sha, head_sha, "unchanged", rebuilt)
        if before_push is not None:
            before_push(attempt)
        code, out, err = git_status(
            "push",
            "--quiet",
            "--porcelain",
            f"--force-with-lease=refs/heads/{branch}:{remote_sha}",
            remote,
            f"{head_sha}:refs/heads/{branch}",
            cwd=repo,
            env=auth.environ(),
        )
        if code == 0:
            return Pushed(
                branch, base_sha, head_sha, "updated" if remote_sha else "created", rebuilt
            )
        last_error = clean(err + out, auth.secrets)
        if not _LOST_RACE.search(last_error):
            raise ForgeError(f"git push {redact_url(remote)} {branch} failed: {last_error}")
    raise ForgeError(
        f"git push {branch} lost the race to other pushes {attempts} times: {last_error}"
    )


def _remote_sha(repo: Path, remote: str, branch: str, auth: RemoteAuth) -> str:
    out = run_git(repo, "ls-remote", remote, f"refs/heads/{branch}", auth=auth, error=ForgeError)
    return out.split()[0] if out.strip() else ""


def _is_ancestor(repo: Path, ancestor: str, commit: str) -> bool:
    code, _, _ = git_status("merge-base", "--is-ancestor", ancestor, commit, cwd=repo)
    return code == 0


def _cherry_pick_onto(repo: Path, branch: str, new_base: str) -> str:
    """Replay the branch's own commits on `new_base` without touching the user's work tree."""
    old_head = run_git(repo, "rev-parse", f"refs/heads/{branch}").strip()
    fork = run_git(repo, "merge-base", old_head, new_base).strip()
    with tempfile.TemporaryDirectory(prefix="istio-canary-rebuild-") as scratch:
        tree = Path(scratch) / "tree"
        run_git(repo, "worktree", "add", "--quiet", "--detach", str(tree), new_base)
        try:
            picked, _, _ = git_status("cherry-pick", f"{fork}..{old_head}", cwd=tree)
            if picked != 0:
                conflicted = run_git(tree, "diff", "--name-only", "--diff-filter=U").split()
                git_status("cherry-pick", "--abort", cwd=tree)
                if not conflicted:
                    raise PreconditionError(
                        f"the stage on {branch} is already part of the new base {new_base[:12]}"
                    )
                raise ConflictError(
                    f"the stage on {branch} does not apply on the new base {new_base[:12]} "
                    f"(conflicts in {', '.join(conflicted)}); run `istio-canary next` again"
                )
            new_head = run_git(tree, "rev-parse", "HEAD").strip()
        finally:
            run_git(repo, "worktree", "remove", "--force", str(tree))
    current = run_git(repo, "symbolic-ref", "-q", "HEAD", check=False).strip()
    if current == f"refs/heads/{branch}":
        run_git(repo, "reset", "--quiet", "--keep", new_head)
    else:
        run_git(repo, "update-ref", f"refs/heads/{branch}", new_head, old_head)
    return new_head
