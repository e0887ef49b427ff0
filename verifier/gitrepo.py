"""The checkout the gate runs in: its plan file and which commit carries each stage (real git).

Stage commits are found by their `Istio-Canary-Stage: <i>/<n> <name>` trailer in HEAD's history
(the newest one per index wins, e.g. after a stage was re-applied); "contains" is
`git merge-base --is-ancestor`, answering None when a revision is unknown to the checkout.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from core.errors import GitError, PlanError, UsageError
from core.git import git, git_status
from core.plan import PLAN_PATH, Plan, read_plan_file
from core.trailers import ROLLBACK_TRAILER, STAGE_TRAILER, parse_rollback, parse_stage

__all__ = ["Checkout"]


class Checkout:
    """A git working tree holding a GitOps repo with an istio-canary plan."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if not root.is_dir():
            raise UsageError(f"--repo {root}: not a directory")
        top = self._git("rev-parse", "--show-toplevel", check=False)
        if top is None:
            raise UsageError(f"--repo {root}: not a git checkout")

    def plan(self) -> Plan:
        path = self.root / PLAN_PATH
        return read_plan_file(path, str(path))

    def stage_commits(self, rev: str = "HEAD") -> dict[int, str]:
        """Stage index -> the newest commit in `rev`'s history whose trailer names it."""
        fmt = f"%H%x1f%(trailers:key={STAGE_TRAILER},valueonly,separator=%x1d)%x1e"
        out = self._git("log", "--topo-order", f"--format={fmt}", rev) or ""
        found: dict[int, str] = {}
        for record in out.split("\x1e"):
            sha, _, trailers = record.strip().partition("\x1f")
            for value in trailers.split("\x1d"):
                mark = parse_stage(value)
                if sha and mark is not None:
                    found.setdefault(mark.index, sha)
        return found

    def rollback_commits(self) -> list[tuple[str, tuple[str, ...]]]:
        """(commit, namespaces) of every rollback commit in HEAD's history, newest first."""
        fmt = f"%H%x1f%(trailers:key={ROLLBACK_TRAILER},valueonly,separator=%x2C)%x1e"
        out = self._git("log", "--topo-order", f"--format={fmt}", "HEAD") or ""
        found: list[tuple[str, tuple[str, ...]]] = []
        for record in out.split("\x1e"):
            sha, _, value = record.strip().partition("\x1f")
            names = parse_rollback(value)
            if sha and names:
                found.append((sha, names))
        return found

    def stage_commit(self, index: int) -> str:
        sha = self.stage_commits().get(index)
        if sha is None:
            raise PlanError(
                f"{self.root}: no commit with trailer `{STAGE_TRAILER}: {index}/...` in HEAD's "
                "history (a shallow clone? fetch the full history, e.g. fetch-depth: 0)"
            )
        return sha

    def contains(self, revision: str, commit: str) -> bool | None:
        """Whether `revision` contains `commit`; None when the checkout does not know `revision`."""
        return _contains(self.root, revision, commit)

    def _git(self, *args: str, check: bool = True) -> str | None:
        try:
            return git(*args, cwd=self.root, timeout=60)
        except GitError:
            if check:
                raise
            return None


@lru_cache(maxsize=1024)
def _contains(root: Path, revision: str, commit: str) -> bool | None:
    known, _, _ = git_status("cat-file", "-e", f"{revision}^{{commit}}", cwd=root, timeout=60)
    if known != 0:
        return None
    code, _, _ = git_status("merge-base", "--is-ancestor", commit, revision, cwd=root, timeout=60)
    return code == 0 if code in (0, 1) else None
